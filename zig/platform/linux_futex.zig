//! Linux futex waits on one word or on several at once, on every kernel libipc supports (4.18 and
//! later). Waiting on several words is what futex_waitv (Linux 5.16) does; where the kernel lacks
//! it, or `LIBIPC_FUTEX=wait` asks for it, the same call is built from plain futex waits and a pool
//! of proxy threads. The choice is made once per process, at the first wait (`mode`).
//!
//! The fallback ("wait" mode). One word: a FUTEX_WAIT_BITSET with the same absolute CLOCK_MONOTONIC
//! deadline, nothing else. Several words: the OS-neutral proxy pool of futex_proxy.zig (its file
//! comment states the invariants), built here over FUTEX_WAIT_BITSET and FUTEX_WAKE; macOS runs the
//! same pool, so the tests below cover it there too.

const std = @import("std");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const base = @import("linux.zig");
const Error = abi.Error;

const proxy = @import("futex_proxy.zig");
pub const WaitWord = proxy.WaitWord;
pub const WaitResult = proxy.WaitResult;

/// The most words one wait takes (futex_waitv's limit, kept by the fallback too).
pub const words_max = proxy.words_max;
comptime {
    std.debug.assert(words_max == linux.FUTEX2_WAITONE_MAX);
}

pub const Mode = enum(u8) {
    unknown,
    /// futex_waitv (Linux 5.16+).
    waitv,
    /// Plain futex waits and proxy threads (any kernel).
    wait,
};

var mode_chosen = std.atomic.Value(Mode).init(.unknown);

/// How this process waits on several words, decided at the first call: `LIBIPC_FUTEX=wait` forces
/// the fallback; otherwise futex_waitv when the kernel has it.
pub fn mode() Mode {
    const known = mode_chosen.load(.acquire);
    if (known != .unknown) return known;
    const chosen = probe();
    mode_chosen.store(chosen, .release);
    return chosen;
}

/// Tests only: forces a mode for the rest of the process.
pub fn setMode(m: Mode) void {
    mode_chosen.store(m, .release);
}

fn probe() Mode {
    if (std.c.getenv("LIBIPC_FUTEX")) |value| {
        if (std.mem.eql(u8, std.mem.span(value), "wait")) return .wait;
    }
    // No words: EINVAL where the call exists. Old kernels say ENOSYS; seccomp filters that do not
    // know the call (older container runtimes) say EPERM or ENOSYS.
    var none: [1]linux.futex2_waitone = undefined;
    const rc = linux.futex2_waitv(&none, 0, .{}, null, .MONOTONIC);
    return if (errnoOf(rc) == .INVAL) .waitv else .wait;
}

const errnoOf = base.errnoOf;
const fromErrno = base.fromErrno;
const monotonicNs = base.monotonicNs;

/// Waits until one of `words` is woken or does not hold its expected value, or until the absolute
/// CLOCK_MONOTONIC time `deadline_ns` (null: no deadline). At most `words_max` words.
pub fn waitv(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    std.debug.assert(words.len > 0 and words.len <= words_max);
    return switch (mode()) {
        .waitv => kernelWaitv(words, deadline_ns),
        else => if (words.len == 1) waitOne(words[0], deadline_ns) else proxiedWait(words, deadline_ns),
    };
}

/// Wakes up to `count` waiters on `word`; returns how many were woken.
pub fn wake(word: *const u32, count: u32, private: bool) u32 {
    const rc = linux.futex_3arg(word, .{ .cmd = .WAKE, .private = private }, @min(count, std.math.maxInt(i32)));
    return if (errnoOf(rc) == null) @intCast(rc) else 0;
}

fn kernelWaitv(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    var list: [words_max]linux.futex2_waitone = undefined;
    for (words, 0..) |w, i| {
        list[i] = .{ .val = w.expected, .uaddr = @intFromPtr(w.word), .flags = .{ .size = .U32, .private = w.private } };
    }
    var timeout: linux.kernel_timespec = undefined;
    if (deadline_ns) |d| {
        timeout = .{ .sec = @intCast(d / std.time.ns_per_s), .nsec = @intCast(d % std.time.ns_per_s) };
    }
    const rc = linux.futex2_waitv(&list, @intCast(words.len), .{}, if (deadline_ns != null) &timeout else null, .MONOTONIC);
    if (errnoOf(rc)) |e| return switch (e) {
        // EAGAIN: a word did not hold its expected value; which one is not reported.
        .AGAIN => .{ .woken = 0 },
        .TIMEDOUT => .timed_out,
        .INTR => .interrupted,
        else => fromErrno(e),
    };
    return .{ .woken = rc };
}

/// FUTEX_WAIT_BITSET: the one futex wait whose timeout is an absolute CLOCK_MONOTONIC time, like
/// futex_waitv's. Returns the errno (.SUCCESS when woken).
fn futexWait(word: *const u32, expected: u32, private: bool, deadline_ns: ?u64) linux.E {
    var ts: linux.timespec = undefined;
    if (deadline_ns) |d| ts = .{ .sec = @intCast(d / std.time.ns_per_s), .nsec = @intCast(d % std.time.ns_per_s) };
    const any_bit: u32 = 0xffff_ffff;
    const rc = linux.futex(word, .{ .cmd = .WAIT_BITSET, .private = private }, expected, .{ .timeout = if (deadline_ns != null) &ts else null }, null, any_bit);
    return errnoOf(rc) orelse .SUCCESS;
}

fn waitOne(w: WaitWord, deadline_ns: ?u64) Error!WaitResult {
    return switch (futexWait(w.word, w.expected, w.private, deadline_ns)) {
        .SUCCESS, .AGAIN => .{ .woken = 0 },
        .TIMEDOUT => .timed_out,
        .INTR => .interrupted,
        else => |e| fromErrno(e),
    };
}

// ---------------------------------------------------------------------------------------------------
// The proxy pool (futex_proxy.zig) over plain futex waits.

const Proxies = proxy.Pool(struct {
    pub fn waitOne(word: *const u32, expected: u32, private: bool, deadline_ns: ?u64) proxy.Outcome {
        return switch (futexWait(word, expected, private, deadline_ns)) {
            .SUCCESS => .woken,
            .TIMEDOUT => .timed_out,
            .INTR => .interrupted,
            // EAGAIN: the word differs; EFAULT: it cannot be read.
            else => .changed,
        };
    }
    pub const wake = futex_wake;
    pub const monotonicNs = base.monotonicNs;
});
const futex_wake = wake;

/// Called before memory is unmapped (see futex_proxy.zig).
pub const unmapping = Proxies.unmapping;

fn proxiedWait(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    return Proxies.wait(words, deadline_ns);
}

const testing = std.testing;

fn expectWaits(m: Mode) !void {
    const saved = mode();
    setMode(m);
    defer setMode(saved);
    var a: u32 = 1;
    var b: u32 = 2;
    const changed = try waitv(&.{
        .{ .word = &a, .expected = 1, .private = true },
        .{ .word = &b, .expected = 3, .private = true },
    }, null);
    // futex_waitv does not say which word differed; the fallback does.
    try testing.expect(changed == .woken);
    const start = monotonicNs();
    const timed = try waitv(&.{.{ .word = &a, .expected = 1, .private = false }}, start + 2 * std.time.ns_per_ms);
    try testing.expect(timed == .timed_out);
    try testing.expect(monotonicNs() >= start + 2 * std.time.ns_per_ms);
    const both = try waitv(&.{
        .{ .word = &a, .expected = 1, .private = false },
        .{ .word = &b, .expected = 2, .private = true },
    }, monotonicNs() + 2 * std.time.ns_per_ms);
    try testing.expect(both == .timed_out);
}

test "LIBIPC_FUTEX=wait forces the fallback" {
    const value = std.c.getenv("LIBIPC_FUTEX") orelse return;
    if (std.mem.eql(u8, std.mem.span(value), "wait")) try testing.expectEqual(Mode.wait, mode());
}

test "waits return at once for a changed word and time out on unchanged ones, in both modes" {
    if (probe() == .waitv) try expectWaits(.waitv);
    try expectWaits(.wait);
}

/// A thread that waits on `words` and records what ended the wait.
const Parked = struct {
    words: [3]WaitWord,
    count: usize,
    result: std.atomic.Value(i64) = .init(-1),
    tid: std.atomic.Value(std.Thread.Id) = .init(0),

    fn run(self: *Parked) void {
        self.tid.store(std.Thread.getCurrentId(), .release);
        const r = waitv(self.words[0..self.count], monotonicNs() + 20 * std.time.ns_per_s) catch {
            self.result.store(-2, .release);
            return;
        };
        self.result.store(switch (r) {
            .woken => |i| @intCast(i),
            .timed_out => -3,
            .interrupted => -4,
        }, .release);
    }
};

test "fallback: a wake on any of several words ends the wait, and reports that word" {
    const saved = mode();
    setMode(.wait);
    defer setMode(saved);
    var words = [3]u32{ 0, 0, 0 };
    for (0..3) |target| {
        var parked: Parked = .{ .count = 3, .words = .{
            .{ .word = &words[0], .expected = 0, .private = false },
            .{ .word = &words[1], .expected = 0, .private = true },
            .{ .word = &words[2], .expected = 0, .private = false },
        } };
        const t = try std.Thread.spawn(.{}, Parked.run, .{&parked});
        // Wake without changing the word, until the waiter (through its proxy) takes the wake:
        // a wake-up is the only thing that can end this wait before its 20 s deadline.
        const give_up = monotonicNs() + 20 * std.time.ns_per_s;
        while (parked.result.load(.acquire) == -1 and monotonicNs() < give_up) {
            _ = wake(&words[target], 1, target == 1);
            std.Thread.sleep(std.time.ns_per_ms);
        }
        t.join();
        try testing.expectEqual(@as(i64, @intCast(target)), parked.result.load(.acquire));
    }
}

test "fallback: a proxy left parked after its call ended passes a wake it takes on" {
    const saved = mode();
    setMode(.wait);
    defer setMode(saved);
    var shared: u32 = 0;
    var other: u32 = 0;
    // A call on two words ends by the second; the first word's proxy stays parked, unbound.
    var first: Parked = .{ .count = 2, .words = .{
        .{ .word = &shared, .expected = 0, .private = false },
        .{ .word = &other, .expected = 0, .private = false },
        undefined,
    } };
    const t1 = try std.Thread.spawn(.{}, Parked.run, .{&first});
    while (first.result.load(.acquire) == -1) {
        _ = wake(&other, 1, false);
        std.Thread.sleep(std.time.ns_per_ms);
    }
    t1.join();
    try testing.expectEqual(@as(i64, 1), first.result.load(.acquire));
    // A plain waiter on the first word, parked beside that stale proxy: a single wake-one must
    // reach it, whichever of the two the kernel picks.
    var second: Parked = .{ .count = 1, .words = .{ .{ .word = &shared, .expected = 0, .private = false }, undefined, undefined } };
    const t2 = try std.Thread.spawn(.{}, Parked.run, .{&second});
    // The plain waiter sleeps in the kernel (its wchan says so), beside the proxy if that is still
    // in its slice: the kernel wakes the earlier one first, the proxy, which must pass it on.
    while (!inFutexWait(second.tid.load(.acquire))) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectEqual(@as(u32, 1), wake(&shared, 1, false));
    t2.join();
    try testing.expectEqual(@as(i64, 0), second.result.load(.acquire));
}

test "fallback: proxies are reused by a caller that waits again on the same words" {
    const saved = mode();
    setMode(.wait);
    defer setMode(saved);
    var a: u32 = 0;
    var b: u32 = 0;
    const words = [_]WaitWord{ .{ .word = &a, .expected = 0, .private = false }, .{ .word = &b, .expected = 0, .private = false } };
    _ = try waitv(&words, monotonicNs() + std.time.ns_per_ms);
    Proxies.lock.lock();
    const before = Proxies.pool_count;
    Proxies.lock.unlock();
    for (0..20) |_| _ = try waitv(&words, monotonicNs() + std.time.ns_per_ms);
    Proxies.lock.lock();
    const after = Proxies.pool_count;
    Proxies.lock.unlock();
    try testing.expect(after <= before + 2);
}

/// Tests only: whether thread `tid` of this process sleeps in a futex wait (its wchan says so).
fn inFutexWait(tid: std.Thread.Id) bool {
    if (tid == 0) return false;
    var path_buf: [64]u8 = undefined;
    const path = std.fmt.bufPrint(&path_buf, "/proc/self/task/{d}/wchan", .{tid}) catch return false;
    var buf: [64]u8 = undefined;
    const text = std.fs.cwd().readFile(path, &buf) catch return false;
    return std.mem.startsWith(u8, text, "futex");
}

const watchingCount = Proxies.watchingCount;

test "fallback: unmapping a range sends the proxies parked there back to idle" {
    const saved = mode();
    setMode(.wait);
    defer setMode(saved);
    var words = [2]u32{ 0, 0 };
    // The call ends by its deadline: both proxies stay parked, unbound, for up to a slice.
    const list = [_]WaitWord{ .{ .word = &words[0], .expected = 0, .private = false }, .{ .word = &words[1], .expected = 0, .private = false } };
    try testing.expect(try waitv(&list, monotonicNs() + std.time.ns_per_ms) == .timed_out);
    unmapping(@intFromPtr(&words[0]), @sizeOf(u32));
    const give_up = monotonicNs() + 20 * std.time.ns_per_s;
    while (watchingCount(&words[0]) != 0 and monotonicNs() < give_up) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectEqual(@as(u32, 0), watchingCount(&words[0]));
}
