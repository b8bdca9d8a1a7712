//! The condition variable: a 64-byte object in shared memory used with a libipc mutex. A sequence
//! word counts notifications; a waiter reads it while holding the mutex, unlocks, waits while it is
//! unchanged, and relocks (the design of Rust's futex condvar).
//!
//! Semantics: `notify(n)` wakes at most n parked waiters, `notifyAll` every one; as with every
//! condition variable a waiter may also return without a notify (a spurious wake-up), so callers
//! re-check their predicate (`waitFor` in the bindings does). A waiter returns holding the mutex
//! again, whatever ended the wait; if the mutex's holder died meanwhile it returns OWNER_DIED.
//!
//! Invariants: a wait that ends by timeout after the sequence moved reports a notification, so a
//! notify is never consumed silently by a waiter that then reports a timeout.

const std = @import("std");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
const mutex = @import("mutex.zig");
const Error = abi.Error;

pub const magic: u32 = 0x444e_4f43; // "COND" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;

pub const Condition = extern struct {
    magic: u32,
    reserved: [3]u32,
    sequence: wait.WaitWord,
    padding: [size - 24]u8,
};

comptime {
    std.debug.assert(@sizeOf(Condition) == size);
}

pub fn init(c: *Condition) void {
    @atomicStore(u32, &c.magic, 0, .release);
    c.reserved = .{ 0, 0, 0 };
    c.sequence = .{ .value = 0, .waiters = 0 };
    @memset(&c.padding, 0);
    @atomicStore(u32, &c.magic, magic, .release);
}

pub fn validate(c: *const Condition) Error!void {
    if (@atomicLoad(u32, &c.magic, .acquire) != magic) return error.Protocol;
}

pub const Woken = struct {
    /// False when the deadline passed with no notification, or a signal interrupted the wait.
    notified: bool,
    /// A signal handler interrupted the wait (only when the process chose interruptible waits).
    interrupted: bool = false,
    relocked: mutex.Acquired,
};

/// Unlocks `m` (which the caller must hold: error.NotOwner otherwise), waits for a notification
/// until `deadline`, and locks `m` again.
pub fn waitNotified(c: *Condition, m: *mutex.Mutex, deadline: wait.Deadline) Error!Woken {
    const seen = try prepare(c, m, false);
    const outcome = c.sequence.wait(seen, deadline) catch |err| {
        // Relocked whatever ended the wait, as after a timeout; the lock itself is never interrupted.
        const relocked = try mutex.lock(m, .never);
        if (err == error.Interrupted) return .{ .notified = false, .interrupted = true, .relocked = relocked };
        return err;
    };
    const notified = outcome != .timed_out or c.sequence.load() != seen;
    return .{ .notified = notified, .relocked = try mutex.lock(m, .never) };
}

/// The first half of a wait done elsewhere: checks the caller holds `m`, reads the sequence,
/// counts the caller as parked if `register`, and unlocks `m`. Returns the value to wait on.
pub fn prepare(c: *Condition, m: *mutex.Mutex, register: bool) Error!u32 {
    if (!mutex.heldByCaller(m)) return error.NotOwner;
    const seen = if (register) c.sequence.register() else c.sequence.load();
    mutex.unlock(m) catch |err| {
        if (register) c.sequence.unregister();
        return err;
    };
    return seen;
}

pub fn unwait(c: *Condition) void {
    c.sequence.unregister();
}

pub fn notify(c: *Condition, n: u32) void {
    if (n == 0) return;
    _ = @atomicRmw(u32, &c.sequence.value, .Add, 1, .seq_cst);
    @import("crash.zig").point(.condition_notify_committed);
    c.sequence.wake(n);
}

pub fn notifyAll(c: *Condition) void {
    notify(c, std.math.maxInt(u32));
}

const testing = std.testing;

test "wait needs the mutex; a notify from another thread ends it; a timeout reports no notification" {
    var m: mutex.Mutex = undefined;
    try mutex.init(&m);
    var c: Condition = undefined;
    init(&c);
    try testing.expectError(error.NotOwner, waitNotified(&c, &m, .never));

    _ = try mutex.lock(&m, .never);
    const timed = try waitNotified(&c, &m, wait.Deadline.after(std.time.ns_per_ms));
    try testing.expect(!timed.notified);
    try testing.expect(mutex.heldByCaller(&m));

    const Notifier = struct {
        fn run(cc: *Condition, mm: *mutex.Mutex, flag: *u32) void {
            _ = mutex.lock(mm, .never) catch unreachable;
            flag.* = 1;
            notify(cc, 1);
            mutex.unlock(mm) catch unreachable;
        }
    };
    var flag: u32 = 0;
    const t = try std.Thread.spawn(.{}, Notifier.run, .{ &c, &m, &flag });
    while (flag == 0) _ = try waitNotified(&c, &m, wait.Deadline.after(5 * std.time.ns_per_s));
    try mutex.unlock(&m);
    t.join();
}
