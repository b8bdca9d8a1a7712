//! The barrier: a 64-byte object in shared memory that `parties` waiters pass together. Each wait
//! returns a distinct arrival index in [0, parties). A wait that times out, or `abort`, breaks the
//! barrier: everyone waiting and every later wait fails with error.Broken until `reset`. `reset`
//! also breaks the waits in progress (Python's threading.Barrier).
//!
//! One 32-bit state word holds what waiters wait on, so each change is one compare-and-swap:
//!   bits 0..15   arrivals in this generation
//!   bits 16..29  generation (wraps)
//!   bit 31       broken
//! Beside it (the same 64-bit word, changed by the same CAS) a history bitmap: bit g % 32 says
//! whether generation g ended by `reset` rather than by passing. A waiter remembers its generation
//! (its ticket) and waits on the state word; once the generation has moved on, the history says
//! whether it passed or was reset, even if more generations passed meanwhile (up to 31 of them; a
//! waiter further behind is reported as passed).
//!
//! A party that dies after arriving still counts; one that dies before arriving never arrives, and
//! the others wait until their timeout breaks the barrier (the bindings' error says so).
//! Invariant: a word read from shared memory with arrivals >= parties is refused (error.Protocol), and
//! so is a party count above `parties_max`, read once per call (a peer may rewrite it at any time).

const std = @import("std");
const abi = @import("abi.zig");
const wait = @import("wait.zig");
const crash = @import("crash.zig");
const Error = abi.Error;

pub const magic: u32 = 0x5252_4249; // "IBRR" little-endian
pub const size: u32 = 64;
pub const alignment: u32 = 8;
pub const parties_max: u32 = 0xffff;

const count_mask: u32 = 0xffff;
const generation_shift = 16;
const generation_mask: u32 = 0x3fff;
const broken_bit: u32 = 1 << 31;
const history_bits = 32;

pub const Barrier = extern struct {
    magic: u32,
    parties: u32,
    reserved: [2]u32,
    /// Low half: the state word waiters wait on (little-endian: at offset 16). High half: history.
    both: u64,
    padding: [size - 24]u8,

    pub fn stateWord(b: *Barrier) *u32 {
        return @ptrCast(&b.both);
    }
};

comptime {
    std.debug.assert(@sizeOf(Barrier) == size);
    std.debug.assert(@offsetOf(Barrier, "both") % 8 == 0);
    std.debug.assert(@import("builtin").cpu.arch.endian() == .little);
}

fn stateOf(both: u64) u32 {
    return @truncate(both);
}

fn historyOf(both: u64) u32 {
    return @truncate(both >> 32);
}

fn pack(state: u32, history: u32) u64 {
    return @as(u64, history) << 32 | state;
}

/// The history with generation `g`'s ending recorded.
fn record(history: u32, g: u32, by_reset: bool) u32 {
    const bit = @as(u32, 1) << @intCast(g % history_bits);
    return if (by_reset) history | bit else history & ~bit;
}

fn generation(word: u32) u32 {
    return (word >> generation_shift) & generation_mask;
}

fn nextGeneration(word: u32) u32 {
    return ((generation(word) + 1) & generation_mask) << generation_shift;
}

fn loadBoth(b: *const Barrier) u64 {
    return @atomicLoad(u64, &b.both, .seq_cst);
}

fn load(b: *const Barrier) u32 {
    return stateOf(loadBoth(b));
}

pub fn init(b: *Barrier, parties: u32) Error!void {
    if (parties == 0) return error.Invalid;
    if (parties > parties_max) return error.Range;
    @atomicStore(u32, &b.magic, 0, .release);
    b.parties = parties;
    b.reserved = .{ 0, 0 };
    b.both = 0;
    @memset(&b.padding, 0);
    @atomicStore(u32, &b.magic, magic, .release);
}

pub fn validate(b: *const Barrier) Error!void {
    if (@atomicLoad(u32, &b.magic, .acquire) != magic) return error.Protocol;
    if (b.parties == 0 or b.parties > parties_max) return error.Protocol;
}

fn wakeAll(b: *Barrier) void {
    _ = wait.wake(b.stateWord(), std.math.maxInt(u32));
}

pub const Arrival = struct {
    index: u32,
    /// The generation to wait on, or null when this arrival was the last and opened the barrier.
    ticket: ?u32,
};

pub fn arrive(b: *Barrier) Error!Arrival {
    // Read once and checked again here: `validate` ran before, but a peer may have rewritten it since,
    // and a count past `parties_max` would carry into the generation bits.
    const parties = @atomicLoad(u32, &b.parties, .monotonic);
    if (parties == 0 or parties > parties_max) return error.Protocol;
    var both = loadBoth(b);
    while (true) {
        const w = stateOf(both);
        if (w & broken_bit != 0) return error.Broken;
        const count = w & count_mask;
        if (count >= parties) return error.Protocol;
        if (count + 1 == parties) {
            const next = pack(nextGeneration(w), record(historyOf(both), generation(w), false));
            if (@cmpxchgWeak(u64, &b.both, both, next, .seq_cst, .seq_cst)) |now| {
                both = now;
                continue;
            }
            crash.point(.barrier_arrive_opened);
            wakeAll(b);
            return .{ .index = count, .ticket = null };
        }
        both = @cmpxchgWeak(u64, &b.both, both, both + 1, .seq_cst, .seq_cst) orelse {
            crash.point(.barrier_arrive_counted);
            return .{ .index = count, .ticket = generation(w) };
        };
    }
}

pub const Check = union(enum) {
    passed,
    broken,
    /// Still waiting: wait while the word holds this value.
    wait: u32,
};

pub fn check(b: *const Barrier, ticket: u32) Check {
    const both = loadBoth(b);
    const w = stateOf(both);
    const g = generation(w);
    if (g != ticket) {
        const behind = (g -% ticket) & generation_mask;
        if (behind > history_bits - 1) return .passed;
        const ended_by_reset = historyOf(both) & (@as(u32, 1) << @intCast(ticket % history_bits)) != 0;
        return if (ended_by_reset) .broken else .passed;
    }
    if (w & broken_bit != 0) return .broken;
    return .{ .wait = w };
}

/// Breaks generation `ticket` (a waiter's timeout or cancel). Returns false when that generation
/// had already ended (passed or reset): `check` then says which.
pub fn breakGeneration(b: *Barrier, ticket: u32) bool {
    var both = loadBoth(b);
    while (generation(stateOf(both)) == ticket) {
        if (stateOf(both) & broken_bit != 0) return true;
        both = @cmpxchgWeak(u64, &b.both, both, both | broken_bit, .seq_cst, .seq_cst) orelse {
            wakeAll(b);
            return true;
        };
    }
    return false;
}

pub fn abort(b: *Barrier) void {
    _ = @atomicRmw(u64, &b.both, .Or, broken_bit, .seq_cst);
    wakeAll(b);
}

/// Back to empty and unbroken; waits in progress fail with error.Broken.
pub fn reset(b: *Barrier) void {
    var both = loadBoth(b);
    while (true) {
        const w = stateOf(both);
        if (w & (broken_bit | count_mask) == 0) return;
        const next = pack(nextGeneration(w), record(historyOf(both), generation(w), true));
        both = @cmpxchgWeak(u64, &b.both, both, next, .seq_cst, .seq_cst) orelse break;
    }
    wakeAll(b);
}

/// The party count, or error.Protocol for one no barrier holds (`validate` ran, but a peer may have
/// rewritten it since).
pub fn partiesOf(b: *const Barrier) Error!u32 {
    const parties = @atomicLoad(u32, &b.parties, .monotonic);
    if (parties == 0 or parties > parties_max) return error.Protocol;
    return parties;
}

/// Parties waiting now: 0 once broken (its waits have ended).
pub fn waiting(b: *const Barrier) u32 {
    const w = load(b);
    return if (w & broken_bit != 0) 0 else w & count_mask;
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
            .wait => |w| {
                // A wait that ends early (a timeout, or a signal when the process chose interruptible
                // waits) breaks the barrier, as Python's threading.Barrier does: the party has
                // arrived and will not wait, so the others must not wait for it either.
                const ended: ?Error = if (wait.wait(b.stateWord(), w, deadline, null)) |outcome|
                    (if (outcome == .timed_out) error.TimedOut else null)
                else |err| switch (err) {
                    error.Interrupted => error.Interrupted,
                    else => return err,
                };
                if (ended) |err| {
                    // Another party may have broken or opened it meanwhile: that answer wins.
                    if (check(b, ticket) != .wait) continue;
                    if (breakGeneration(b, ticket)) return err;
                }
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
    // The reset waiter is still told so after later generations passed.
    for (0..5) |_| {
        _ = try arrive(&b);
        _ = try arrive(&b);
    }
    try testing.expectEqual(Check.broken, check(&b, arrival.ticket.?));
    try testing.expectEqual(Check.passed, check(&b, one.ticket.?));
}

test "a party count a peer rewrote past the limit is refused, not counted into the generation" {
    var b: Barrier = undefined;
    try init(&b, 2);
    b.parties = 0xffff_fff0;
    try testing.expectError(error.Protocol, arrive(&b));
    try testing.expectError(error.Protocol, partiesOf(&b));
    try testing.expectEqual(@as(u32, 0), load(&b));
}
