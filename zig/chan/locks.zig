//! The channel's internal locks (the send lock, the receive lock) and the repair after a receiver
//! died holding one.
//!
//! Invariants: a lock is taken by a deadline (`at_once` for try forms and steps), so a timed call
//! never waits past its deadline for a stopped holder, and a try form that finds a lock held reports
//! `lock_busy` instead of waiting. Whoever takes the receive lock after its holder died first moves
//! the head over the records that holder received (`lockReceivers`, `repairReceivers`), then marks the
//! lock consistent: a receiver killed between storing the cursor and the head left received records
//! whose space is not yet free. The send lock needs no repair: a sender killed holding it committed
//! nothing. An unlock that glibc refuses (a peer rewrote the word) leaves the call's result standing.

const std = @import("std");
const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const wait = @import("../wait.zig");
const Error = abi.Error;
const Handle = @import("layout.zig").Handle;
const isStream = @import("layout.zig").isStream;
const positions = @import("ring.zig").positions;
const advanceHead = @import("recv.zig").advanceHead;

/// The deadline of try forms and steps: an internal lock is taken only if it is free now.
pub const at_once: wait.Deadline = .{ .at = 0 };

/// Takes an internal lock (the send lock, or the receive lock through `lockReceivers`) by
/// `deadline`, so that a timed call never waits past its deadline for a holder that is stopped (or
/// for a lock word that names no live thread): error.TimedOut then. With `at_once` it never waits:
/// false when the lock is held (the caller reports `lockBusy`).
pub fn lock(m: *mutex.Mutex, deadline: wait.Deadline) Error!bool {
    const got = acquire(m, deadline) catch |err| switch (err) {
        error.Busy => return false,
        else => return err,
    };
    if (got == .owner_died) {
        // A dead sender committed nothing half-way (see the file comment): nothing to repair.
        mutex.consistent(m) catch |err| {
            unlock(m);
            return err;
        };
    }
    return true;
}

fn acquire(m: *mutex.Mutex, deadline: wait.Deadline) Error!mutex.Acquired {
    if (deadline.at != 0) return mutex.lock(m, deadline);
    return mutex.tryLock(m);
}

/// What a try form reports when an internal lock is held: blocked on its side's word, with a value
/// the word never holds, so that a step's caller looks again after a short pause (no word announces
/// the lock's release; see `Blocked`) and a try form returns "would block".
pub fn lockBusy(word: *wait.WaitWord) Blocked {
    return .{ .word = word, .expected = lock_busy };
}

/// Takes the receive lock. A receiver killed holding it may have stored the cursor and not the head
/// (see `consume`): what it took counts as received, but its space is not free. So the next holder
/// first moves the head over received records (as a give-back does), then marks the lock consistent.
/// Deadline and result as for `lock`.
pub fn lockReceivers(h: Handle, deadline: wait.Deadline) Error!bool {
    const c = h.c;
    const got = acquire(&c.recv_lock, deadline) catch |err| switch (err) {
        error.Busy => return false,
        else => return err,
    };
    if (got == .owner_died) {
        const repaired = repairReceivers(h);
        mutex.consistent(&c.recv_lock) catch |err| {
            unlock(&c.recv_lock);
            return err;
        };
        _ = repaired catch |err| {
            unlock(&c.recv_lock);
            return err;
        };
    }
    return true;
}

fn repairReceivers(h: Handle) Error!void {
    if (isStream(h.c)) return;
    var p = try positions(h, .receiver, true);
    // Senders that wait for this space were never woken by the receiver that died.
    if (try advanceHead(h, &p, false)) h.c.writable.wake(std.math.maxInt(u32));
}

/// Releases an internal lock. Its word is shared memory: a process that rewrote it (the owner
/// bits) makes glibc refuse the unlock; the lock is then not this thread's to release, and the
/// call's result stands (the damage shows as a protocol error or a timeout elsewhere, never a crash).
pub fn unlock(m: *mutex.Mutex) void {
    mutex.unlock(m) catch {};
}

/// What a try operation found when it could not proceed: the word to wait on and its value now.
pub const Blocked = struct {
    word: *wait.WaitWord,
    expected: u32,
    /// Streams: also wait on the writer's lock word (its value then), to see the writer die.
    writer: ?u32 = null,
};

/// `Blocked.expected` when the try found an internal lock held (`lockBusy`): the value no lock
/// word holds (`mutex.never_value`), which the bindings' steps read as "step again after a pause".
pub const lock_busy: u32 = mutex.never_value;
