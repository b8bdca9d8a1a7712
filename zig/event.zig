//! The event: a 64-byte object in shared memory that is set or clear. A manual-reset event stays
//! set, releasing every waiter, until cleared; an auto-reset event releases one waiter and clears
//! itself as that waiter returns (Win32's two kinds).
//!
//! The state word holds the flag (bit 0) and a count of sets (the other bits), so a manual-reset
//! waiter is released by a set even when the event is cleared again before it runs (Python's
//! semantics); every value is valid. Since any set changes the word for good (the count moves), a
//! waiter decides on one value of the word and waits for exactly that value, never a second load:
//! a set and clear between a decision and a later load would otherwise be waited past. Events have no owner; a waiter that dies after a wake-one
//! (auto reset) picked it leaves the event set for the next waiter, which then finds it set.

const std = @import("std");
const builtin = @import("builtin");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
const platform = @import("platform/root.zig");
const Error = abi.Error;

pub const magic: u32 = 0x5456_4549; // "IEVT" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;
pub const flag_auto_reset: u32 = 1;
pub const flags_all: u32 = flag_auto_reset;

pub const Event = extern struct {
    magic: u32,
    flags: u32,
    reserved: [2]u32,
    state: wait.WaitWord,
    padding: [size - 24]u8,

    fn auto(e: *const Event) bool {
        return e.flags & flag_auto_reset != 0;
    }
};

comptime {
    std.debug.assert(@sizeOf(Event) == size);
}

pub fn init(e: *Event, flags: u32) Error!void {
    if (flags & ~flags_all != 0) return error.Invalid;
    @atomicStore(u32, &e.magic, 0, .release);
    e.flags = flags;
    e.reserved = .{ 0, 0 };
    e.state = .{ .value = 0, .waiters = 0 };
    @memset(&e.padding, 0);
    @atomicStore(u32, &e.magic, magic, .release);
}

pub fn validate(e: *const Event) Error!void {
    if (@atomicLoad(u32, &e.magic, .acquire) != magic) return error.Protocol;
    if (e.flags & ~flags_all != 0) return error.Protocol;
}

const set_bit: u32 = 1;

/// Sets made so far (wrapping): a manual-reset waiter that sees it move was released by a set,
/// even if the event was cleared again before the waiter ran (Python's Event.wait semantics).
fn sets(v: u32) u32 {
    return v >> 1;
}

pub fn isSet(e: *const Event) Error!bool {
    return e.state.load() & set_bit != 0;
}

/// Sets the event: wakes every waiter (manual reset) or one (auto reset).
pub fn set(e: *Event) Error!void {
    var v = e.state.load();
    while (@cmpxchgWeak(u32, &e.state.value, v, (v | set_bit) +% 2, .seq_cst, .seq_cst)) |now| v = now;
    @import("crash.zig").point(.event_set_committed);
    e.state.wake(if (e.auto()) 1 else std.math.maxInt(u32));
}

pub fn clear(e: *Event) Error!void {
    _ = @atomicRmw(u32, &e.state.value, .And, ~set_bit, .seq_cst);
}

/// Returns true if the event is set; an auto-reset event is cleared by the call that sees it set.
pub fn tryWait(e: *Event) Error!bool {
    var v = e.state.load();
    if (!e.auto()) return v & set_bit != 0;
    while (v & set_bit != 0) {
        v = @cmpxchgWeak(u32, &e.state.value, v, v & ~set_bit, .seq_cst, .seq_cst) orelse return true;
    }
    return false;
}

/// Whether a wait that began when the word held `start` is over.
fn released(e: *Event, start: u32) Error!bool {
    if (try tryWait(e)) return true;
    return !e.auto() and sets(e.state.load()) != sets(start);
}

pub fn waitSet(e: *Event, deadline: wait.Deadline) Error!void {
    const start = e.state.load();
    var v = start;
    while (true) {
        // Every decision is made on `v`, and the wait is for `v` itself: a set (and a clear after
        // it) changes the word for good, so nothing can happen between the decision and the wait.
        if (v & set_bit != 0) {
            if (!e.auto()) return;
            v = @cmpxchgWeak(u32, &e.state.value, v, v & ~set_bit, .seq_cst, .seq_cst) orelse return;
            continue;
        }
        if (!e.auto() and sets(v) != sets(start)) return;
        if (builtin.is_test) if (test_hook) |hook| hook(e);
        if (try e.state.wait(v, deadline) == .timed_out) {
            if (try released(e, start)) return;
            return error.TimedOut;
        }
        v = e.state.load();
    }
}

/// One step of a wait done elsewhere; see semaphore.acquireStep. With `registered`, `expected`
/// still holds what the previous step stored there: the value the caller waited on, which is
/// also the wait's start for manual-reset pulses. The decision is made on the value `register`
/// returns, so the wait is for the value the decision was made on.
pub fn waitStep(e: *Event, registered: bool, expected: *u32) Error!bool {
    if (registered) {
        e.state.unregister();
        if (try released(e, expected.*)) return true;
    }
    if (builtin.is_test) if (test_hook) |hook| hook(e);
    var v = e.state.register();
    // A set (and a clear) between `released`'s load and this one also released a manual-reset wait
    // that was in progress: decide on this value against the one the wait was for.
    if (registered and !e.auto() and sets(v) != sets(expected.*)) {
        e.state.unregister();
        return true;
    }
    var attempt: u32 = 0;
    while (v & set_bit != 0) : (attempt += 1) {
        if (!e.auto()) {
            e.state.unregister();
            return true;
        }
        if (attempt == cas_attempts_max) {
            // Contended: wait while the word holds this set value (not at all, as it keeps
            // changing); a clear (another waiter took it) then means: wait for the next set.
            expected.* = v & ~set_bit;
            return false;
        }
        v = @cmpxchgWeak(u32, &e.state.value, v, v & ~set_bit, .seq_cst, .seq_cst) orelse {
            e.state.unregister();
            return true;
        };
    }
    expected.* = v;
    return false;
}

const cas_attempts_max = 64;

/// Unit tests only: runs where another thread's set or clear would break a wait that decided on
/// one load and waited on another (issue 15): just before a waiter parks or registers.
threadlocal var test_hook: if (builtin.is_test) ?*const fn (*Event) void else void = if (builtin.is_test) null else {};

pub fn unwait(e: *Event) void {
    e.state.unregister();
}

const testing = std.testing;

test "manual reset stays set; auto reset releases one waiter" {
    var e: Event = undefined;
    try init(&e, 0);
    try testing.expect(!try tryWait(&e));
    try set(&e);
    try testing.expect(try tryWait(&e));
    try testing.expect(try tryWait(&e));
    try waitSet(&e, .never);
    try clear(&e);
    try testing.expectError(error.TimedOut, waitSet(&e, wait.Deadline.after(std.time.ns_per_ms)));

    var a: Event = undefined;
    try init(&a, flag_auto_reset);
    try set(&a);
    try set(&a);
    try testing.expect(try tryWait(&a));
    try testing.expect(!try tryWait(&a));
    try testing.expectError(error.Invalid, init(&a, 4));
}

test "a set followed at once by a clear still releases a manual-reset waiter" {
    var e: Event = undefined;
    try init(&e, 0);
    const start = e.state.load();
    try set(&e);
    try clear(&e);
    try testing.expect(!try isSet(&e));
    try testing.expect(try released(&e, start));
    var expected = start;
    try testing.expect(!try waitStep(&e, false, &expected));
    try set(&e);
    try clear(&e);
    try testing.expect(try waitStep(&e, true, &expected));
}

test "a waiter wakes when another thread sets the event" {
    var e: Event = undefined;
    try init(&e, flag_auto_reset);
    const Setter = struct {
        fn run(ev: *Event) void {
            std.Thread.sleep(2 * std.time.ns_per_ms);
            set(ev) catch unreachable;
        }
    };
    const t = try std.Thread.spawn(.{}, Setter.run, .{&e});
    try waitSet(&e, wait.Deadline.after(5 * std.time.ns_per_s));
    t.join();
    try testing.expect(!try isSet(&e));
}

test "a set and clear between a waiter's decision and its park release it (manual reset)" {
    var e: Event = undefined;
    try init(&e, 0);
    const Pulse = struct {
        fn run(ev: *Event) void {
            test_hook = null;
            set(ev) catch unreachable;
            clear(ev) catch unreachable;
        }
    };
    test_hook = Pulse.run;
    defer test_hook = null;
    const start = platform.monotonicNs();
    try waitSet(&e, wait.Deadline.after(10 * std.time.ns_per_s));
    // Released by the pulse, not by its timeout (which also reports the pulse).
    try testing.expect(platform.monotonicNs() - start < 5 * std.time.ns_per_s);
}

test "a set and clear between a registered step's check and its registration release it (manual reset)" {
    // A step that runs again while the word still holds its value (a spurious return) checks,
    // then registers: a pulse between the two must release it, not become the value waited on.
    var e: Event = undefined;
    try init(&e, 0);
    var expected: u32 = 0;
    try testing.expect(!try waitStep(&e, false, &expected));
    const Pulse = struct {
        fn run(ev: *Event) void {
            test_hook = null;
            set(ev) catch unreachable;
            clear(ev) catch unreachable;
        }
    };
    test_hook = Pulse.run;
    defer test_hook = null;
    try testing.expect(try waitStep(&e, true, &expected));
    try testing.expectEqual(@as(u32, 0), e.state.waiters);
}

test "a set just before a step registers, cleared after the step, releases the step's wait" {
    var e: Event = undefined;
    try init(&e, 0);
    const Set = struct {
        fn run(ev: *Event) void {
            test_hook = null;
            set(ev) catch unreachable;
        }
    };
    test_hook = Set.run;
    defer test_hook = null;
    var expected: u32 = 0;
    const released_now = try waitStep(&e, false, &expected);
    try clear(&e);
    // Either the step saw the set, or it returned a value the word no longer holds.
    try testing.expect(released_now or e.state.load() != expected);
    if (!released_now) unwait(&e);
    try testing.expectEqual(@as(u32, 0), e.state.waiters);

    var a: Event = undefined;
    try init(&a, flag_auto_reset);
    test_hook = Set.run;
    try testing.expect(try waitStep(&a, false, &expected));
    try testing.expect(!try isSet(&a));
    try testing.expectEqual(@as(u32, 0), a.state.waiters);
}
