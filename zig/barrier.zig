//! The barrier: a 64-byte object in shared memory that `parties` waiters pass together. Each wait
//! returns a distinct arrival index in [0, parties). A wait that times out, or `abort`, breaks the
//! barrier: everyone waiting and every later wait fails with error.Broken until `reset`. `reset`
//! also breaks the waits in progress (Python's threading.Barrier).
//!
//! One 32-bit state word holds everything, so each change is one compare-and-swap:
//!   bits 0..15   arrivals in this generation
//!   bits 16..29  generation (wraps)
//!   bit 30       the previous generation ended by `reset`, not by passing
//!   bit 31       broken
//! A waiter remembers its generation (its ticket) and waits on the word; it has passed when the
//! generation moved on without bit 30, and is broken when bit 31 is set in its generation or the
//! generation moved on with bit 30.
//!
//! A party that dies after arriving still counts; one that dies before arriving never arrives, and
//! the others wait until their timeout breaks the barrier (the bindings' error says so).
//! Invariant: a word read from shared memory with arrivals >= parties is refused (error.Protocol).

const std = @import("std");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
const Error = abi.Error;

pub const magic: u32 = 0x5252_4249; // "IBRR" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;
pub const parties_max: u32 = 0xffff;

const count_mask: u32 = 0xffff;
const generation_shift = 16;
const generation_mask: u32 = 0x3fff;
const reset_bit: u32 = 1 << 30;
const broken_bit: u32 = 1 << 31;

pub const Barrier = extern struct {
    magic: u32,
    parties: u32,
    reserved: [2]u32,
    state: u32,
    padding: [size - 20]u8,
};

comptime {
    std.debug.assert(@sizeOf(Barrier) == size);
}

fn generation(word: u32) u32 {
    return (word >> generation_shift) & generation_mask;
}

fn nextGeneration(word: u32) u32 {
    return ((generation(word) + 1) & generation_mask) << generation_shift;
}

fn load(b: *const Barrier) u32 {
    return @atomicLoad(u32, &b.state, .seq_cst);
}

pub fn init(b: *Barrier, parties: u32) Error!void {
    if (parties == 0) return error.Invalid;
    if (parties > parties_max) return error.Range;
    @atomicStore(u32, &b.magic, 0, .release);
    b.parties = parties;
    b.reserved = .{ 0, 0 };
    b.state = 0;
    @memset(&b.padding, 0);
    @atomicStore(u32, &b.magic, magic, .release);
}

pub fn validate(b: *const Barrier) Error!void {
    if (@atomicLoad(u32, &b.magic, .acquire) != magic) return error.Protocol;
    if (b.parties == 0 or b.parties > parties_max) return error.Protocol;
}

fn wakeAll(b: *Barrier) void {
    _ = wait.wake(&b.state, std.math.maxInt(u32));
}

pub const Arrival = struct {
    index: u32,
    /// The generation to wait on, or null when this arrival was the last and opened the barrier.
    ticket: ?u32,
};

pub fn arrive(b: *Barrier) Error!Arrival {
    var w = load(b);
    while (true) {
        if (w & broken_bit != 0) return error.Broken;
        const count = w & count_mask;
        if (count >= b.parties) return error.Protocol;
        if (count + 1 == b.parties) {
            if (@cmpxchgWeak(u32, &b.state, w, nextGeneration(w), .seq_cst, .seq_cst)) |now| {
                w = now;
                continue;
            }
            wakeAll(b);
            return .{ .index = count, .ticket = null };
        }
        w = @cmpxchgWeak(u32, &b.state, w, w + 1, .seq_cst, .seq_cst) orelse
            return .{ .index = count, .ticket = generation(w) };
    }
}

pub const Check = union(enum) {
    passed,
    broken,
    /// Still waiting: wait while the word holds this value.
    wait: u32,
};

pub fn check(b: *const Barrier, ticket: u32) Check {
    const w = load(b);
    if (generation(w) != ticket) return if (w & reset_bit != 0 and generation(w) == (ticket + 1) & generation_mask) .broken else .passed;
    if (w & broken_bit != 0) return .broken;
    return .{ .wait = w };
}

/// Breaks generation `ticket` (a waiter's timeout or cancel). Returns false when that generation
/// had already ended (passed or reset): `check` then says which.
pub fn breakGeneration(b: *Barrier, ticket: u32) bool {
    var w = load(b);
    while (generation(w) == ticket) {
        if (w & broken_bit != 0) return true;
        w = @cmpxchgWeak(u32, &b.state, w, w | broken_bit, .seq_cst, .seq_cst) orelse {
            wakeAll(b);
            return true;
        };
    }
    return false;
}

pub fn abort(b: *Barrier) void {
    _ = @atomicRmw(u32, &b.state, .Or, broken_bit, .seq_cst);
    wakeAll(b);
}

/// Back to empty and unbroken; waits in progress fail with error.Broken.
pub fn reset(b: *Barrier) void {
    var w = load(b);
    while (true) {
        if (w & (broken_bit | count_mask) == 0) return;
        w = @cmpxchgWeak(u32, &b.state, w, nextGeneration(w) | reset_bit, .seq_cst, .seq_cst) orelse break;
    }
    wakeAll(b);
}

pub fn waiting(b: *const Barrier) u32 {
    return load(b) & count_mask;
}

pub fn broken(b: *const Barrier) bool {
    return load(b) & broken_bit != 0;
}

/// Arrives and waits until everyone has, until `deadline`. Returns the arrival index.
pub fn arriveAndWait(b: *Barrier, deadline: wait.Deadline) Error!u32 {
    const arrival = try arrive(b);
    const ticket = arrival.ticket orelse return arrival.index;
    while (true) {
        switch (check(b, ticket)) {
            .passed => return arrival.index,
            .broken => return error.Broken,
            .wait => |w| if (try wait.wait(&b.state, w, deadline, null) == .timed_out) {
                if (breakGeneration(b, ticket)) return error.TimedOut;
            },
        }
    }
}

const testing = std.testing;

test "threads pass together with distinct indexes; a timeout breaks it; reset repairs it" {
    var b: Barrier = undefined;
    try init(&b, 3);
    const Party = struct {
        fn run(bb: *Barrier, seen: *std.atomic.Value(u32)) void {
            for (0..100) |_| {
                const index = arriveAndWait(bb, wait.Deadline.after(10 * std.time.ns_per_s)) catch unreachable;
                _ = seen.fetchOr(@as(u32, 1) << @intCast(index), .seq_cst);
            }
        }
    };
    var seen = std.atomic.Value(u32).init(0);
    var threads: [3]std.Thread = undefined;
    for (&threads) |*t| t.* = try std.Thread.spawn(.{}, Party.run, .{ &b, &seen });
    for (threads) |t| t.join();
    try testing.expectEqual(@as(u32, 0b111), seen.load(.seq_cst));
    try testing.expectEqual(@as(u32, 0), waiting(&b));

    try testing.expectError(error.TimedOut, arriveAndWait(&b, wait.Deadline.after(std.time.ns_per_ms)));
    try testing.expect(broken(&b));
    try testing.expectError(error.Broken, arriveAndWait(&b, .never));
    reset(&b);
    try testing.expect(!broken(&b));
    try testing.expectEqual(@as(u32, 0), waiting(&b));
    try testing.expectError(error.Invalid, init(&b, 0));
    try testing.expectError(error.Range, init(&b, parties_max + 1));
}

test "reset breaks the waits in progress" {
    var b: Barrier = undefined;
    try init(&b, 2);
    const arrival = try arrive(&b);
    reset(&b);
    try testing.expectEqual(Check.broken, check(&b, arrival.ticket.?));
    const one = try arrive(&b);
    const two = try arrive(&b);
    try testing.expect(two.ticket == null);
    try testing.expectEqual(Check.passed, check(&b, one.ticket.?));
}
