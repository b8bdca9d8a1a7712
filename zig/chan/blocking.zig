//! Closing, wake-ups, the blocking forms and the steps of a channel.
//!
//! Invariants: every blocking form tries once and waits, outside the locks, on the word the try
//! names for the exact value its decision to wait was made on, until its deadline. A commit is followed
//! by a wake of whoever waits on the word it changed (`wakeAfter`): a send wakes one receiver per
//! message (every one on a single-message channel), a receive that frees space wakes every sender. A
//! receiver that leaves what woke it in the channel passes the wake-up on (`passOn`), so a pending
//! message never sleeps beside a parked receiver. Steps serve waits that happen elsewhere (the
//! bindings' async forms): each step tries once and, when it must wait, counts the caller as parked on
//! the word it names until the next step or `unwait`. Closing (`end`, under the send lock) sets bit
//! 31 of both words with an atomic OR, keeping the positions, and commits take care to keep it.

const std = @import("std");
const abi = @import("../abi.zig");
const wait = @import("../wait.zig");
const mutex = @import("../mutex.zig");
const platform = @import("../platform/root.zig");
const Error = abi.Error;
const Chan = @import("layout.zig").Chan;
const Handle = @import("layout.zig").Handle;
const closed_bit = @import("layout.zig").closed_bit;
const flag_single = @import("layout.zig").flag_single;
const position_mask = @import("layout.zig").position_mask;
const at_once = @import("locks.zig").at_once;
const lock = @import("locks.zig").lock;
const lock_busy = @import("locks.zig").lock_busy;
const unlock = @import("locks.zig").unlock;
const trySendMany = @import("send.zig").trySendMany;
const RecvResult = @import("recv.zig").RecvResult;
const tryRecv = @import("recv.zig").tryRecv;
const tryRecvMany = @import("recv.zig").tryRecvMany;
const Loan = @import("views.zig").Loan;
const reap = @import("views.zig").reap;
const reap_interval_ns = @import("views.zig").reap_interval_ns;
const tryRecvLoan = @import("views.zig").tryRecvLoan;
const viewsOut = @import("views.zig").viewsOut;
const trySwap = @import("mvar.zig").trySwap;
const ReadResult = @import("stream.zig").ReadResult;
const WriteResult = @import("stream.zig").WriteResult;
const tryRead = @import("stream.zig").tryRead;
const tryWrite = @import("stream.zig").tryWrite;

/// Closes the channel: sends fail with error.Pipe from now on; receivers drain what is left and
/// then see the end. Closing twice is harmless.
pub fn close(h: Handle) Error!void {
    const c = h.c;
    _ = try end(c, .never);
}

/// Marks the channel closed under the send lock, taken by `deadline` (as for `lock`: false when
/// `at_once` found it held; a reader that saw the writer die then ends without marking it).
pub fn end(c: *Chan, deadline: wait.Deadline) Error!bool {
    if (!try lock(&c.send_lock, deadline)) return false;
    _ = @atomicRmw(u32, &c.readable.value, .Or, closed_bit, .seq_cst);
    @import("../crash.zig").point(.chan_close_readable);
    _ = @atomicRmw(u32, &c.writable.value, .Or, closed_bit, .seq_cst);
    @import("../crash.zig").point(.chan_close_committed);
    unlock(&c.send_lock);
    c.readable.wake(std.math.maxInt(u32));
    c.writable.wake(std.math.maxInt(u32));
    return true;
}

/// Wakes whoever waits for what an operation just committed on `word`.
pub fn wakeAfter(h: Handle, word: *wait.WaitWord) void {
    const c = h.c;
    // Single-message channels have readers that only peek: every one of them may proceed.
    const everyone = c.flags & flag_single != 0 or word == &c.writable;
    word.wake(if (everyone) std.math.maxInt(u32) else 1);
}

/// Wakes receivers for `count` messages a send just committed: one each (every one on a
/// single-message channel, as `wakeAfter`), so a batch does not leave receivers asleep beside it.
fn wakeReceivers(h: Handle, count: usize) void {
    const c = h.c;
    const n: u32 = if (c.flags & flag_single != 0) std.math.maxInt(u32) else @intCast(@min(count, std.math.maxInt(u32)));
    c.readable.wake(n);
}

/// A receiver that was woken and leaves what woke it in the channel (a peek, a buffer too small, a
/// stream read that took part of the bytes) may have used up the one wake-up meant for a receiver
/// that takes it: it passes the wake-up on to the next parked receiver, if any. (Single-message
/// channels wake every receiver already.)
fn passOn(h: Handle) void {
    if (h.c.flags & flag_single == 0) h.c.readable.wake(1);
}

/// Whether bytes are committed and not consumed (a hint: read without a lock).
fn unconsumed(c: *Chan) bool {
    const r = @atomicLoad(u32, &c.readable.value, .acquire);
    const w = @atomicLoad(u32, &c.writable.value, .acquire);
    return (r ^ w) & position_mask != 0;
}

/// Bytes committed and not yet consumed.
pub fn pending(h: Handle) Error!u32 {
    const c = h.c;
    const r = @atomicLoad(u32, &c.readable.value, .acquire);
    const w = @atomicLoad(u32, &c.writable.value, .acquire);
    const n = ((r & position_mask) -% (w & position_mask)) & position_mask;
    if (n > h.capacity) return error.Protocol;
    return n;
}

/// Blocking forms: try, and wait on the word the try names until `deadline`.
pub fn send(h: Handle, message: []const u8, deadline: wait.Deadline) Error!void {
    return sendMany(h, &.{message}, deadline);
}

pub fn sendMany(h: Handle, messages: []const []const u8, deadline: wait.Deadline) Error!void {
    while (true) {
        switch (try trySendMany(h, messages, deadline)) {
            .sent => return wakeReceivers(h, messages.len),
            .blocked => |b| {
                if (!viewsOut(h)) {
                    if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                    continue;
                }
                // Views hold the space: a holder that dies gives nothing back and wakes no one.
                if (try reap(h, deadline)) continue;
                const slice = deadline.earliest(wait.Deadline.after(reap_interval_ns));
                if (try b.word.wait(b.expected, slice) == .timed_out and deadline.passed(platform.monotonicNs())) return error.TimedOut;
            },
        }
    }
}

pub fn recv(h: Handle, out: []u8, peek: bool, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRecv(h, out, peek, deadline);
        switch (r) {
            .received => {
                if (!peek) wakeAfter(h, &c.writable) else if (waited) passOn(h);
                return r;
            },
            .too_small => {
                if (waited) passOn(h);
                return r;
            },
            .ended => return r,
            .blocked => |b| {
                if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                waited = true;
            },
        }
    }
}

pub fn swap(h: Handle, message: []const u8, out: []u8, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    while (true) {
        const r = try trySwap(h, message, out, deadline);
        switch (r) {
            .received => {
                wakeAfter(h, &c.readable);
                return r;
            },
            .too_small, .ended => return r,
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn recvMany(h: Handle, out: []u8, lengths: []u32, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRecvMany(h, out, lengths, deadline);
        switch (r.result) {
            .received => {
                wakeAfter(h, &c.writable);
                return .{ .count = r.count, .result = r.result };
            },
            .too_small => {
                if (waited) passOn(h);
                return .{ .count = r.count, .result = r.result };
            },
            .ended => return .{ .count = r.count, .result = r.result },
            .blocked => |b| {
                if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                waited = true;
            },
        }
    }
}

pub fn recvLoan(h: Handle, offsets: []u32, lengths: []u32, loan: *Loan, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    while (true) {
        var moved = false;
        const r = try tryRecvLoan(h, offsets, lengths, loan, &moved, deadline);
        if (moved) wakeAfter(h, &c.writable);
        switch (r.result) {
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
            else => return .{ .count = r.count, .result = r.result },
        }
    }
}

pub fn write(h: Handle, bytes: []const u8, deadline: wait.Deadline) Error!void {
    const c = h.c;
    var done: usize = 0;
    while (done < bytes.len) {
        switch (try tryWrite(h, bytes[done..], deadline)) {
            .wrote => |n| {
                done += n;
                wakeAfter(h, &c.readable);
            },
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn read(h: Handle, out: []u8, deadline: wait.Deadline) Error!ReadResult {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRead(h, out, deadline);
        switch (r) {
            .read => {
                wakeAfter(h, &c.writable);
                if (waited and unconsumed(c)) passOn(h);
                return r;
            },
            .ended => return r,
            .blocked => |b| {
                const outcome = if (b.writer) |w| try waitEither(c, b.expected, w, deadline) else try b.word.wait(b.expected, deadline);
                if (outcome == .timed_out) return error.TimedOut;
                waited = true;
            },
        }
    }
}

/// Waits for data (the readable word to change) or for the writer's lock word to change (its
/// death): spins on the data, then parks on both at once.
fn waitEither(c: *Chan, expected: u32, writer: u32, deadline: wait.Deadline) Error!wait.Outcome {
    const Watch = struct {
        c: *Chan,
        expected: u32,
        writer: u32,
        fn changed(x: @This()) bool {
            return x.c.readable.load() != x.expected or @atomicLoad(u32, x.c.writer.word(), .acquire) != x.writer;
        }
    };
    const watch: Watch = .{ .c = c, .expected = expected, .writer = writer };
    if (wait.spinUntil(watch, Watch.changed, wait.budgetAfterWake(&c.readable.value), deadline)) return .woken;
    const seen = c.readable.register();
    defer c.readable.unregister();
    if (seen != expected) return .woken;
    const words = [_]platform.WaitWord{
        .{ .word = &c.readable.value, .expected = expected, .private = false },
        .{ .word = c.writer.word(), .expected = writer, .private = false },
    };
    // In slices, like every park: a writer killed between its commit and its wake-up is seen.
    return wait.parkWordsLock(&words, 1, deadline, mutex.reapWord);
}

pub const Side = enum(u32) { readable = 0, writable = 1 };

pub fn sideWord(h: Handle, side: Side) *wait.WaitWord {
    const c = h.c;
    return if (side == .readable) &c.readable else &c.writable;
}

pub fn sendStep(h: Handle, messages: []const []const u8, registered: bool, expected: *u32) Error!bool {
    const c = h.c;
    if (registered) c.writable.unregister();
    var r = try trySendMany(h, messages, at_once);
    if (r == .blocked and r.blocked.expected != lock_busy and try reap(h, at_once)) r = try trySendMany(h, messages, at_once);
    switch (r) {
        .sent => {
            wakeReceivers(h, messages.len);
            return true;
        },
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            return false;
        },
    }
}

pub fn recvStep(h: Handle, out: []u8, peek: bool, registered: bool, expected: *u32) Error!RecvResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try tryRecv(h, out, peek, at_once);
    switch (r) {
        // `registered`: this step follows a wait, which a wake-up may have ended (see `passOn`).
        .received => if (!peek) wakeAfter(h, &c.writable) else if (registered) passOn(h),
        .too_small => if (registered) passOn(h),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        .ended => {},
    }
    return r;
}

pub fn recvManyStep(h: Handle, out: []u8, lengths: []u32, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try tryRecvMany(h, out, lengths, at_once);
    switch (r.result) {
        .received => wakeAfter(h, &c.writable),
        .too_small => if (registered) passOn(h),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        .ended => {},
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn recvLoanStep(h: Handle, offsets: []u32, lengths: []u32, loan: *Loan, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (registered) c.readable.unregister();
    var moved = false;
    const r = try tryRecvLoan(h, offsets, lengths, loan, &moved, at_once);
    if (moved) wakeAfter(h, &c.writable);
    if (r.result == .blocked) {
        _ = r.result.blocked.word.register();
        expected.* = r.result.blocked.expected;
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn writeStep(h: Handle, bytes: []const u8, registered: bool, expected: *u32) Error!WriteResult {
    const c = h.c;
    if (registered) c.writable.unregister();
    const r = try tryWrite(h, bytes, at_once);
    switch (r) {
        .wrote => wakeAfter(h, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
    }
    return r;
}

/// `writer_expected`: when blocked with a writer to watch, the value of its lock word to wait on as
/// well (see `ipc_chan_writer_word`); 0 when there is none.
pub fn readStep(h: Handle, out: []u8, registered: bool, expected: *u32, writer_expected: *u32) Error!ReadResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    writer_expected.* = 0;
    const r = try tryRead(h, out, at_once);
    switch (r) {
        .read => {
            wakeAfter(h, &c.writable);
            if (registered and unconsumed(c)) passOn(h);
        },
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            writer_expected.* = b.writer orelse 0;
        },
        .ended => {},
    }
    return r;
}

pub fn swapStep(h: Handle, message: []const u8, out: []u8, registered: bool, expected: *u32) Error!RecvResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try trySwap(h, message, out, at_once);
    switch (r) {
        .received => wakeAfter(h, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        else => {},
    }
    return r;
}

pub fn unwait(h: Handle, side: Side) void {
    sideWord(h, side).unregister();
}
