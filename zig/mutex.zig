//! The robust process-shared mutex: a 64-byte object in shared memory, {magic, layout tag, reserved,
//! lock}, whose lock is libipc's own robust-futex protocol (platform/robust_mutex.zig): the kernel
//! still releases a dead holder's lock through glibc's per-thread robust list, but no glibc mutex
//! call reads the object. Locking spins briefly, then parks on the lock word; waits elsewhere (async
//! waits in JS) use `lockStep`.
//!
//! Why not glibc's pthread_mutex_t, as before (issue 16): glibc reads its kind, owner and robust-list
//! links from the object, and in shared memory those are a peer's to write. A priority-protect kind
//! aborted in a glibc assertion, elision bits executed `xbegin`, and forged list links made unlock
//! write where a peer chose. Validating the fields before each glibc call would leave the window
//! between the check and glibc's read open to a peer writing concurrently; a protocol of our own
//! that never follows a pointer stored in the segment closes it, and costs less than the glibc call
//! (DEVELOPERS.md "Mutex" has the numbers).
//!
//! Invariants:
//! - An object is usable only when its magic and layout tag match; both are written once, by
//!   `init`, the magic last (release), and checked on every call: bytes another process wrote are
//!   input, and a wrong layout must give an error, not undefined behaviour.
//! - Values read from the object (the word, the repair state) decide only what this call returns;
//!   they are never followed as pointers (the list links are written from a private record).
//! - A thread that acquired the mutex after waiting marks the word FUTEX_WAITERS in the taking CAS,
//!   so whoever else sleeps on it is woken by the next unlock.
//! - A waiter that gives up (timeout) passes a wake on, because it may have consumed the one wake an
//!   unlock or an owner's death sent: while the lock is free it wakes one waiter; while it is held
//!   it sets FUTEX_WAITERS on the held word, so that the holder's unlock (or death) wakes the next
//!   one. The second half matters when a thread that never waited (try_lock, the spin) took the
//!   lock between the wake and the give-up: its trylock cleared FUTEX_WAITERS, and without the
//!   bit its unlock would wake nobody while other waiters sleep beside a free lock (issue 15).

const std = @import("std");
const abi = @import("abi.zig");
const platform = @import("platform/root.zig");
const wait = @import("wait.zig");
const rm = platform.robust_mutex;
const Error = abi.Error;

pub const magic: u32 = 0x5854_4d49; // "IMTX" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;
/// Offset of the lock word inside the object.
pub const word_offset: u32 = 16;
/// A value no lock word ever holds (TID 0x3fffffff is not a valid thread id): waiting for it returns
/// at once.
pub const never_value: u32 = 0xffff_ffff;

pub const Mutex = extern struct {
    magic: u32,
    layout: u32,
    reserved: [2]u32,
    lock: [size - word_offset]u8 align(8),

    fn lockMemory(m: *Mutex) *anyopaque {
        return @ptrCast(&m.lock);
    }

    pub fn word(m: *Mutex) *u32 {
        return rm.word(m.lockMemory());
    }
};

comptime {
    std.debug.assert(@sizeOf(Mutex) == size);
    std.debug.assert(@offsetOf(Mutex, "lock") == word_offset);
    std.debug.assert(rm.size <= size - word_offset);
    std.debug.assert(rm.alignment <= alignment);
}

pub const Acquired = rm.Acquired;

fn load(w: *const u32) u32 {
    return @atomicLoad(u32, w, .acquire);
}

/// Makes `memory` an unlocked mutex. Exactly one process initializes a given mutex, before others
/// use it.
pub fn init(memory: *Mutex) Error!void {
    try rm.selfTest();
    @atomicStore(u32, &memory.magic, 0, .release);
    try rm.init(memory.lockMemory());
    memory.layout = rm.layout_tag;
    memory.reserved = .{ 0, 0 };
    @atomicStore(u32, &memory.magic, magic, .release);
}

/// For `Segment.create`'s init hook: a standalone mutex at the start of the segment's data.
pub fn initData(context: ?*anyopaque, data: []u8) Error!void {
    _ = context;
    std.debug.assert(data.len >= size);
    try init(@ptrCast(@alignCast(data.ptr)));
}

/// Checks that `memory` holds a mutex this process can use. (Whether the thread has a robust list
/// is checked by the lock calls themselves.)
pub inline fn validate(memory: *Mutex) Error!void {
    if (@atomicLoad(u32, &memory.magic, .acquire) != magic) return error.Protocol;
    if (memory.layout != rm.layout_tag) return error.NotSupported;
}

pub inline fn tryLock(m: *Mutex) Error!Acquired {
    if (try rm.lockFast(m.lockMemory())) |acquired| return acquired;
    return rm.tryLock(m.lockMemory());
}

/// Takes the mutex; a thread that waited marks the word so that the next unlock wakes the others.
fn tryAcquire(m: *Mutex, contended: bool) Error!?Acquired {
    return rm.acquire(m.lockMemory(), contended) catch |err| switch (err) {
        error.Busy => return null,
        else => return err,
    };
}

/// Locks, waiting until `deadline`. The uncontended path (`rm.lockFast`) is inlined into the callers.
pub inline fn lock(m: *Mutex, deadline: wait.Deadline) Error!Acquired {
    if (try rm.lockFast(m.lockMemory())) |acquired| return acquired;
    return lockGeneral(m, deadline);
}

/// Locks with a timeout (negative: none): the clock is read only when the lock is not free at once.
pub inline fn lockFor(m: *Mutex, timeout_ns: i64) Error!Acquired {
    if (try rm.lockFast(m.lockMemory())) |acquired| return acquired;
    return lockGeneral(m, wait.Deadline.after(timeout_ns));
}

/// Every case the fast path leaves: the general try (owner died, not recoverable, deadlock, a glibc
/// robust mutex held, a full record), then the wait.
noinline fn lockGeneral(m: *Mutex, deadline: wait.Deadline) Error!Acquired {
    const acquired = rm.tryLock(m.lockMemory()) catch |err| switch (err) {
        error.Busy => return lockContended(m, deadline),
        else => return err,
    };
    return acquired;
}

const Free = struct {
    w: *const u32,
    fn check(f: Free) bool {
        return load(f.w) & rm.tid_mask == 0;
    }
};

noinline fn lockContended(m: *Mutex, deadline: wait.Deadline) Error!Acquired {
    try rm.selfTest();
    const w = m.word();
    // Spin while the holder is likely to let go soon: retry whenever the owner bits clear.
    const budget = wait.budgetFor(w);
    const spin_end = wait.Deadline.earliest(wait.Deadline.after(budget.ns), deadline);
    while (wait.spinUntil(Free{ .w = w }, Free.check, budget, spin_end)) {
        if (try tryAcquire(m, false)) |a| return a;
        if (spin_end.passed(platform.monotonicNs())) break;
    }
    // Park: mark the word as having waiters, sleep until an unlock or an owner's death wakes us.
    while (true) {
        if (deadline.passed(platform.monotonicNs())) {
            passOnWake(m);
            return error.TimedOut;
        }
        switch (try prepare(m, true)) {
            .acquired => |a| return a,
            // Whatever ended the wait, the loop re-checks the deadline and the word.
            .wait => |expected| _ = try wait.parkLock(w, expected, deadline, reapWord),
        }
    }
}

pub const Step = union(enum) {
    acquired: Acquired,
    /// Held by another thread; wait while the lock word holds this value, then step again.
    wait: u32,
};

/// One step of a lock whose waiting happens elsewhere (the async lock of the JS bindings): take the
/// mutex if free, else mark it as having waiters and return the word value to wait on.
pub fn lockStep(m: *Mutex, contended: bool) Error!Step {
    if (try tryAcquire(m, contended)) |a| return .{ .acquired = a };
    try rm.selfTest();
    return prepare(m, contended);
}

const prepare_attempts_max = 64;

fn prepare(m: *Mutex, contended: bool) Error!Step {
    var attempt: u32 = 0;
    while (attempt < prepare_attempts_max) : (attempt += 1) {
        if (waitValue(m)) |expected| return .{ .wait = expected };
        if (try tryAcquire(m, contended)) |a| return .{ .acquired = a };
    }
    // The word kept changing under us: have the caller's wait return at once and step again.
    return .{ .wait = never_value };
}

/// For waiting on a held mutex without taking it (here and in the rwlock): marks the word as having
/// waiters, so that the next unlock or the holder's death wakes, and returns the value to wait
/// for; null when nobody holds it.
pub fn waitValue(m: *Mutex) ?u32 {
    const w = m.word();
    var attempt: u32 = 0;
    while (attempt < prepare_attempts_max) : (attempt += 1) {
        const v = load(w);
        if (v & rm.tid_mask == 0) return null;
        const expected = v | rm.waiters_bit;
        if (v == expected) return v;
        if (@cmpxchgWeak(u32, w, v, expected, .acq_rel, .acquire) == null) return expected;
    }
    return never_value;
}

/// After giving up a wait: the wake this waiter may have consumed goes on (see the file comment).
/// Free: wake one waiter now. Held: mark the word (the same CAS loop as a waiter's, which keeps the
/// owner and OWNER_DIED bits), so that the holder's unlock or death wakes one. The CAS orders the
/// two cases: an unlock between the read and the CAS fails it, and the next read sees the lock free.
pub fn passOnWake(m: *Mutex) void {
    const w = m.word();
    if (waitValue(m)) |v| {
        // The word kept changing (never_value): wake one anyway; a waiter woken for nothing re-checks.
        if (v == never_value) _ = wait.wake(w, 1);
    } else {
        _ = wait.wake(w, 1);
    }
}

/// Whether waiters must judge a lock's holder themselves (the owner-recording protocol): true when
/// nobody else (the kernel's robust list) frees a dead holder's lock.
pub const waiters_judge = @hasDecl(rm, "reap");

/// The mutex whose lock word is `w`, or null when `w` is not one: for a waiter that holds only a word
/// (the native waiter of the async forms), which must not take an arbitrary word for a lock. A lock
/// word sits `word_offset` bytes into an 8-aligned object; the bytes before it are read only when
/// they lie in the word's page (which the caller reads anyway) or in a page that is mapped (a mutex
/// may straddle two pages): reading them cannot fault. The magic and this build's layout tag must be
/// there; bytes a peer forged to look like a mutex only let a waiter judge (and at worst free) a
/// word in the peer's own segment, which the peer could write anyway.
pub fn ofWord(w: *const u32) ?*Mutex {
    const at = @intFromPtr(w);
    if (at % alignment != 0 or at < word_offset) return null;
    if (at % std.heap.page_size_min < word_offset) {
        if (!@hasDecl(rm, "mapped") or !rm.mapped(at - word_offset)) return null;
    }
    const m: *Mutex = @ptrFromInt(at - word_offset);
    if (@atomicLoad(u32, &m.magic, .acquire) != magic) return null;
    if (@atomicLoad(u32, &m.layout, .monotonic) != rm.layout_tag) return null;
    return m;
}

/// For a waiter parked on a lock word without taking it (the native waiter, at each recheck): with
/// the owner-recording protocol, frees the lock if its holder died, as a blocking lock's park does
/// (true: the word changed, look again). False when `w` is no mutex's lock word, when the holder
/// lives, and always with the kernel-list protocol (the kernel frees a dead holder's lock and wakes).
pub fn reapWord(w: *const u32) bool {
    if (!waiters_judge) return false;
    const m = ofWord(w) orelse return false;
    return rm.reap(m.lockMemory());
}

/// Unlocks; the usual case (`rm.unlockFast`) is inlined into the callers.
pub inline fn unlock(m: *Mutex) Error!void {
    if (rm.unlockFast(m.lockMemory())) return;
    return rm.unlock(m.lockMemory());
}

/// Marks the state protected by a mutex acquired with `owner_died` as repaired. Only its holder
/// may; error.Invalid when it is not in that state.
pub fn consistent(m: *Mutex) Error!void {
    return rm.consistent(m.lockMemory());
}

/// The thread id of the holder, or 0 when free.
pub fn holder(m: *Mutex) u32 {
    return load(m.word()) & rm.tid_mask;
}

/// Whether the calling thread holds the mutex.
pub fn heldByCaller(m: *Mutex) bool {
    return rm.holds(m.lockMemory());
}

/// Retires a mutex nobody holds; later calls on it fail with error.Protocol.
pub fn destroy(m: *Mutex) Error!void {
    if (holder(m) != 0) return error.Busy;
    @atomicStore(u32, &m.magic, 0, .release);
    rm.destroy(m.lockMemory());
}

const testing = std.testing;

test "lock, try_lock, unlock and errors on one thread" {
    var m: Mutex = undefined;
    try init(&m);
    try validate(&m);
    try testing.expectEqual(Acquired.locked, try lock(&m, .never));
    try testing.expectError(error.Deadlock, tryLock(&m));
    try testing.expectError(error.Deadlock, lock(&m, .never));
    try testing.expect(holder(&m) == rm.currentTid());
    try testing.expect(heldByCaller(&m));
    try testing.expectError(error.Busy, destroy(&m));
    try unlock(&m);
    try testing.expectError(error.NotOwner, unlock(&m));
    try testing.expectError(error.NotOwner, consistent(&m));
    try destroy(&m);
    try testing.expectError(error.Protocol, validate(&m));
}

test "a waiting thread gets the mutex when the holder unlocks, and times out while held" {
    var m: Mutex = undefined;
    try init(&m);
    defer destroy(&m) catch {};
    _ = try lock(&m, .never);
    const Locker = struct {
        fn run(mm: *Mutex, timed_out: *bool, got: *bool, tried: *std.atomic.Value(u32)) void {
            timed_out.* = if (lock(mm, wait.Deadline.after(std.time.ns_per_ms))) |_| false else |e| e == error.TimedOut;
            tried.store(1, .seq_cst);
            _ = lock(mm, wait.Deadline.after(5 * std.time.ns_per_s)) catch return;
            got.* = true;
            unlock(mm) catch {};
        }
    };
    var timed_out = false;
    var got = false;
    var tried = std.atomic.Value(u32).init(0);
    const t = try std.Thread.spawn(.{}, Locker.run, .{ &m, &timed_out, &got, &tried });
    // Unlock only once the timed attempt has ended (an event, not a sleep: a slow thread start
    // must not let the first attempt find the mutex free).
    while (tried.load(.seq_cst) == 0) std.Thread.sleep(std.time.ns_per_ms);
    try unlock(&m);
    t.join();
    try testing.expect(timed_out);
    try testing.expect(got);
}

test "an owner that exits holding the mutex hands ownerDied to the next locker; unrepaired it is unrecoverable" {
    var m: Mutex = undefined;
    try init(&m);
    const Holder = struct {
        fn run(mm: *Mutex) void {
            _ = lock(mm, .never) catch unreachable;
        }
    };
    const t = try std.Thread.spawn(.{}, Holder.run, .{&m});
    t.join();
    try testing.expectEqual(Acquired.owner_died, try lock(&m, wait.Deadline.after(std.time.ns_per_s)));
    try unlock(&m);
    try testing.expectError(error.NotRecoverable, lock(&m, .never));

    var r: Mutex = undefined;
    try init(&r);
    defer destroy(&r) catch {};
    const t2 = try std.Thread.spawn(.{}, Holder.run, .{&r});
    t2.join();
    try testing.expectEqual(Acquired.owner_died, try tryLock(&r));
    try consistent(&r);
    try unlock(&r);
    try testing.expectEqual(Acquired.locked, try tryLock(&r));
    try unlock(&r);
}

test "lockStep marks the word and returns the value to wait for" {
    var m: Mutex = undefined;
    try init(&m);
    defer destroy(&m) catch {};
    const Holder = struct {
        fn run(mm: *Mutex, step: *?Step, release: *std.atomic.Value(u32)) void {
            _ = lock(mm, .never) catch unreachable;
            step.* = null;
            while (release.load(.acquire) == 0) std.Thread.sleep(std.time.ns_per_ms);
            unlock(mm) catch unreachable;
        }
    };
    var step: ?Step = undefined;
    var release = std.atomic.Value(u32).init(0);
    const t = try std.Thread.spawn(.{}, Holder.run, .{ &m, &step, &release });
    while (holder(&m) == 0) std.Thread.sleep(std.time.ns_per_ms);
    const s = try lockStep(&m, false);
    try testing.expect(s == .wait);
    try testing.expect(s.wait & rm.waiters_bit != 0);
    try testing.expectEqual(s.wait, load(m.word()));
    release.store(1, .release);
    _ = try wait.wait(m.word(), s.wait, wait.Deadline.after(5 * std.time.ns_per_s), null);
    t.join();
    const again = try lockStep(&m, true);
    try testing.expectEqual(Acquired.locked, again.acquired);
    try testing.expect(load(m.word()) & rm.waiters_bit != 0);
    try unlock(&m);
}
