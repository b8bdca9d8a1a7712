//! The event: a 64-byte object in shared memory that is set or clear. A manual-reset event stays
//! set, releasing every waiter, until cleared; an auto-reset event releases one waiter and clears
//! itself as that waiter returns (Win32's two kinds).
//!
//! Invariants: the state word is 0 or 1 for every value this library writes; any other value read
//! from shared memory is refused with error.Protocol. Events have no owner: a process that dies
//! while waiting or after setting changes nothing for the others.

const std = @import("std");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
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

fn state(e: *const Event) Error!bool {
    const v = e.state.load();
    if (v > 1) return error.Protocol;
    return v == 1;
}

pub fn isSet(e: *const Event) Error!bool {
    return state(e);
}

/// Sets the event: wakes every waiter (manual reset) or one (auto reset).
pub fn set(e: *Event) Error!void {
    const was = @atomicRmw(u32, &e.state.value, .Xchg, 1, .seq_cst);
    if (was > 1) return error.Protocol;
    e.state.wake(if (e.auto()) 1 else std.math.maxInt(u32));
}

pub fn clear(e: *Event) Error!void {
    const was = @atomicRmw(u32, &e.state.value, .Xchg, 0, .seq_cst);
    if (was > 1) return error.Protocol;
}

/// Returns true if the event is set; an auto-reset event is cleared by the call that sees it set.
pub fn tryWait(e: *Event) Error!bool {
    if (!e.auto()) return state(e);
    const was = @cmpxchgStrong(u32, &e.state.value, 1, 0, .seq_cst, .seq_cst) orelse return true;
    if (was > 1) return error.Protocol;
    return false;
}

pub fn waitSet(e: *Event, deadline: wait.Deadline) Error!void {
    while (!try tryWait(e)) {
        if (try e.state.wait(0, deadline) == .timed_out) {
            if (try tryWait(e)) return;
            return error.TimedOut;
        }
    }
}

/// One step of a wait done elsewhere; see semaphore.acquireStep.
pub fn waitStep(e: *Event, registered: bool, expected: *u32) Error!bool {
    if (registered) e.state.unregister();
    if (try tryWait(e)) return true;
    const v = e.state.register();
    expected.* = 0;
    if (v != 0) expected.* = 2; // changed meanwhile: a value the word never holds, so the wait returns at once
    return false;
}

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
