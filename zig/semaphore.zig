//! The counting semaphore: a 64-byte object in shared memory holding a value and an optional
//! maximum (a release past it is an error, like Python's BoundedSemaphore).
//!
//! Units have no owner, as with POSIX `sem_t` and Python's semaphores: any process may release, and
//! a unit held by a process that dies is not returned. Waits take timeouts; the bindings' timeout
//! error says so.
//!
//! Invariants: `count.value <= max <= value_max` for every value this library writes; a value read
//! from shared memory above `max` (corruption, or a peer's bug) is refused with error.Protocol, never
//! trusted. `bulk` counts parked waiters that want more than one unit: a release then wakes everyone,
//! because waking `n` waiters could pick ones that cannot proceed while others could.

const std = @import("std");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
const Error = abi.Error;

pub const magic: u32 = 0x4d45_5349; // "ISEM" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;
/// Largest value and maximum: results carry values in an int32_t.
pub const value_max: u32 = 0x7fff_ffff;

pub const Semaphore = extern struct {
    magic: u32,
    max: u32,
    bulk: u32,
    reserved: u32,
    count: wait.WaitWord,
    padding: [size - 24]u8,
};

comptime {
    std.debug.assert(@sizeOf(Semaphore) == size);
}

/// Makes `s` a semaphore holding `value` units; `max` 0 means `value_max`.
pub fn init(s: *Semaphore, initial: u32, max: u32) Error!void {
    const limit = if (max == 0) value_max else max;
    if (limit > value_max) return error.Range;
    if (initial > limit) return error.Range;
    @atomicStore(u32, &s.magic, 0, .release);
    s.max = limit;
    s.bulk = 0;
    s.reserved = 0;
    s.count = .{ .value = initial, .waiters = 0 };
    @memset(&s.padding, 0);
    @atomicStore(u32, &s.magic, magic, .release);
}

pub fn validate(s: *const Semaphore) Error!void {
    if (@atomicLoad(u32, &s.magic, .acquire) != magic) return error.Protocol;
    if (s.max == 0 or s.max > value_max) return error.Protocol;
}

/// The maximum, read once and checked: `validate` ran, but a peer may have rewritten it since, and
/// a value checked against one read and used with another could underflow.
pub fn maxOf(s: *const Semaphore) Error!u32 {
    const max = @atomicLoad(u32, &s.max, .monotonic);
    if (max == 0 or max > value_max) return error.Protocol;
    return max;
}

fn checkUnits(s: *const Semaphore, n: u32) Error!void {
    if (n == 0) return error.Invalid;
    if (n > try maxOf(s)) return error.Range;
}

/// The current value; error.Protocol when shared memory holds an impossible one.
pub fn value(s: *const Semaphore) Error!u32 {
    const max = try maxOf(s);
    const v = s.count.load();
    if (v > max) return error.Protocol;
    return v;
}

/// Takes `n` units if available; never waits.
pub fn tryAcquire(s: *Semaphore, n: u32) Error!bool {
    if (n == 0) return error.Invalid;
    const max = try maxOf(s);
    if (n > max) return error.Range;
    var v = s.count.load();
    while (true) {
        if (v > max) return error.Protocol;
        if (v < n) return false;
        v = @cmpxchgWeak(u32, &s.count.value, v, v - n, .seq_cst, .seq_cst) orelse return true;
    }
}

/// Takes `n` units, waiting until `deadline`.
pub fn acquire(s: *Semaphore, n: u32, deadline: wait.Deadline) Error!void {
    while (!try tryAcquire(s, n)) {
        const v = s.count.load();
        if (v >= n) continue;
        if (n > 1) _ = @atomicRmw(u32, &s.bulk, .Add, 1, .seq_cst);
        defer if (n > 1) {
            _ = @atomicRmw(u32, &s.bulk, .Sub, 1, .seq_cst);
        };
        const outcome = s.count.wait(v, deadline) catch |err| {
            // Interrupted (error.Interrupted): give up as a timeout does, passing on a wake-up.
            passOnWake(s);
            return err;
        };
        if (outcome == .timed_out) {
            // One last try: the units may have arrived with the deadline.
            if (try tryAcquire(s, n)) return;
            passOnWake(s);
            return error.TimedOut;
        }
    }
}

/// A waiter that gives up while units are available may have consumed the wake meant for another.
fn passOnWake(s: *Semaphore) void {
    if (s.count.load() > 0) s.count.wake(1);
}

/// Returns `n` units; error.Range (and nothing released) when that would exceed the maximum.
pub fn release(s: *Semaphore, n: u32) Error!void {
    if (n == 0) return error.Invalid;
    const max = try maxOf(s);
    var v = s.count.load();
    while (true) {
        if (v > max) return error.Protocol;
        if (n > max - v) return error.Range;
        v = @cmpxchgWeak(u32, &s.count.value, v, v + n, .seq_cst, .seq_cst) orelse break;
    }
    @import("crash.zig").point(.semaphore_post_committed);
    const everyone = n > 1 or @atomicLoad(u32, &s.bulk, .seq_cst) != 0;
    s.count.wake(if (everyone) std.math.maxInt(u32) else n);
}

/// One step of an acquire whose waiting happens elsewhere. `registered`: the previous step returned
/// a value to wait on (and so counted the caller as parked). Returns true when acquired, else
/// stores the value to wait on in `expected` and counts the caller as parked until the next step
/// or `unwait`.
pub fn acquireStep(s: *Semaphore, n: u32, registered: bool, expected: *u32) Error!bool {
    try checkUnits(s, n);
    if (registered) unwait(s, n);
    var attempt: u32 = 0;
    while (attempt < 64) : (attempt += 1) {
        if (try tryAcquire(s, n)) return true;
        if (n > 1) _ = @atomicRmw(u32, &s.bulk, .Add, 1, .seq_cst);
        const v = s.count.register();
        if (v < n) {
            expected.* = v;
            return false;
        }
        unwait(s, n);
    }
    expected.* = 0xffff_ffff; // a value the word never holds (values stay below 2^31): the wait returns at once
    _ = s.count.register();
    if (n > 1) _ = @atomicRmw(u32, &s.bulk, .Add, 1, .seq_cst);
    return false;
}

/// Ends the parked count of an async acquire that gave up (timeout, cancel).
pub fn unwait(s: *Semaphore, n: u32) void {
    s.count.unregister();
    if (n > 1) _ = @atomicRmw(u32, &s.bulk, .Sub, 1, .seq_cst);
}

const testing = std.testing;

test "acquire, release, bounds and bad counts" {
    var s: Semaphore = undefined;
    try init(&s, 2, 3);
    try validate(&s);
    try testing.expect(try tryAcquire(&s, 2));
    try testing.expect(!try tryAcquire(&s, 1));
    try release(&s, 3);
    try testing.expectError(error.Range, release(&s, 1));
    try testing.expectEqual(@as(u32, 3), try value(&s));
    try testing.expectError(error.Invalid, tryAcquire(&s, 0));
    try testing.expectError(error.Range, tryAcquire(&s, 4));
    try testing.expectError(error.Range, init(&s, 5, 3));
    try acquire(&s, 3, .never);
    try testing.expectError(error.TimedOut, acquire(&s, 1, wait.Deadline.after(0)));
}

test "a waiter for several units wakes when they arrive one by one" {
    var s: Semaphore = undefined;
    try init(&s, 0, 0);
    const Releaser = struct {
        fn run(sem: *Semaphore) void {
            for (0..3) |_| {
                std.Thread.sleep(std.time.ns_per_ms);
                release(sem, 1) catch unreachable;
            }
        }
    };
    const t = try std.Thread.spawn(.{}, Releaser.run, .{&s});
    try acquire(&s, 3, wait.Deadline.after(5 * std.time.ns_per_s));
    t.join();
    try testing.expectEqual(@as(u32, 0), try value(&s));
    try testing.expectError(error.TimedOut, acquire(&s, 1, wait.Deadline.after(std.time.ns_per_ms)));
}

test "a corrupt value is refused" {
    var s: Semaphore = undefined;
    try init(&s, 0, 4);
    s.count.value = 9;
    try testing.expectError(error.Protocol, value(&s));
    try testing.expectError(error.Protocol, tryAcquire(&s, 1));
    try testing.expectError(error.Protocol, release(&s, 1));
}

test "a maximum a peer rewrote past the limit is refused" {
    var s: Semaphore = undefined;
    try init(&s, 1, 4);
    s.max = 0xffff_ffff;
    try testing.expectError(error.Protocol, value(&s));
    try testing.expectError(error.Protocol, maxOf(&s));
    try testing.expectError(error.Protocol, tryAcquire(&s, 1));
    try testing.expectError(error.Protocol, release(&s, 1));
    try testing.expectEqual(@as(u32, 1), s.count.load());
}
