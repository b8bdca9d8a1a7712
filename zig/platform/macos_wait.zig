//! macOS: waiting on a 32-bit word until another thread or process wakes it, without polling.
//!
//! One word: os_sync_wait_on_address_with_timeout / os_sync_wake_by_address_any|all (macOS 14.4+,
//! the public API) with OS_SYNC_WAIT_ON_ADDRESS_SHARED / OS_SYNC_WAKE_BY_ADDRESS_SHARED for words in
//! shared memory; they are looked up with dlsym at the first wait, so the library loads on macOS 11
//! to 14.3, where the same waits go through __ulock_wait2 / __ulock_wake with
//! UL_COMPARE_AND_WAIT_SHARED (private words: UL_COMPARE_AND_WAIT), ULF_NO_ERRNO (the result is
//! -errno) and a timeout in nanoseconds. Both are the kernel's ulock: a waker using one wakes a
//! waiter using the other. `LIBIPC_FUTEX=ulock` forces __ulock (tests, or a broken os_sync).
//!
//! Several words: neither call waits on more than one address, so the proxy pool of
//! futex_proxy.zig (the design Linux uses on kernels without futex_waitv, and tests there) parks one
//! proxy thread per word.
//!
//! Deadlines: the interface takes an absolute `monotonicNs` time; both calls take a relative
//! timeout, recomputed from the clock before each wait. A deadline already past is `timed_out`
//! without a call. Neither call says whether it returned for a wake or because the word differed:
//! any non-error return is `woken` (a proxy may then pass on one spurious wake, which waiters
//! tolerate: they re-check their word).

const std = @import("std");
const c = std.c;
const abi = @import("../abi.zig");
const proxy = @import("futex_proxy.zig");
const Error = abi.Error;

pub const WaitWord = proxy.WaitWord;
pub const WaitResult = proxy.WaitResult;
pub const words_max = proxy.words_max;

// <os/os_sync_wait_on_address.h>
const OS_SYNC_WAIT_ON_ADDRESS_NONE: u32 = 0;
const OS_SYNC_WAIT_ON_ADDRESS_SHARED: u32 = 1;
const OS_SYNC_WAKE_BY_ADDRESS_NONE: u32 = 0;
const OS_SYNC_WAKE_BY_ADDRESS_SHARED: u32 = 1;
const OS_CLOCK_MACH_ABSOLUTE_TIME: u32 = 32;

const WaitFn = *const fn (addr: *const anyopaque, value: u64, size: usize, flags: u32, clock: u32, timeout_ns: u64) callconv(.c) c_int;
const WaitForeverFn = *const fn (addr: *const anyopaque, value: u64, size: usize, flags: u32) callconv(.c) c_int;
const WakeFn = *const fn (addr: *const anyopaque, size: usize, flags: u32) callconv(.c) c_int;

const OsSync = struct { wait: WaitFn, wait_forever: WaitForeverFn, wake_any: WakeFn, wake_all: WakeFn };

/// RTLD_DEFAULT on Darwin: search every loaded image.
const rtld_default: ?*anyopaque = @ptrFromInt(@as(usize, @bitCast(@as(isize, -2))));

var os_sync: ?OsSync = null;
var chosen = std.once(choose);

/// Looks the os_sync calls up once per process; all four must exist, or __ulock is used.
fn choose() void {
    if (c.getenv("LIBIPC_FUTEX")) |value| {
        if (std.mem.eql(u8, std.mem.span(value), "ulock")) return;
    }
    const wait = c.dlsym(rtld_default, "os_sync_wait_on_address_with_timeout") orelse return;
    const wait_forever = c.dlsym(rtld_default, "os_sync_wait_on_address") orelse return;
    const wake_any = c.dlsym(rtld_default, "os_sync_wake_by_address_any") orelse return;
    const wake_all = c.dlsym(rtld_default, "os_sync_wake_by_address_all") orelse return;
    os_sync = .{ .wait = @ptrCast(@alignCast(wait)), .wait_forever = @ptrCast(@alignCast(wait_forever)), .wake_any = @ptrCast(@alignCast(wake_any)), .wake_all = @ptrCast(@alignCast(wake_all)) };
}

/// Whether this process waits through os_sync (macOS 14.4+) rather than __ulock.
pub fn usesOsSync() bool {
    chosen.call();
    return os_sync != null;
}

fn ulockOp(private: bool, wake_all: bool) c.UL {
    return .{ .op = if (private) .COMPARE_AND_WAIT else .COMPARE_AND_WAIT_SHARED, .WAKE_ALL = wake_all, .NO_ERRNO = true };
}

/// One wait on one word, ending by `deadline_ns` (absolute `monotonicNs`; null: none).
pub fn waitOne(word: *const u32, expected: u32, private: bool, deadline_ns: ?u64) proxy.Outcome {
    var timeout_ns: u64 = 0;
    if (deadline_ns) |d| {
        const now = monotonicNs();
        if (now >= d) return .timed_out;
        timeout_ns = d - now;
    }
    chosen.call();
    const e: c.E = if (os_sync) |f| blk: {
        const flags = if (private) OS_SYNC_WAIT_ON_ADDRESS_NONE else OS_SYNC_WAIT_ON_ADDRESS_SHARED;
        const rc = if (deadline_ns != null)
            f.wait(word, expected, @sizeOf(u32), flags, OS_CLOCK_MACH_ABSOLUTE_TIME, timeout_ns)
        else
            f.wait_forever(word, expected, @sizeOf(u32), flags);
        break :blk if (rc >= 0) .SUCCESS else @enumFromInt(c._errno().*);
    } else blk: {
        // A zero timeout means none: an unbounded wait has timeout_ns 0 here already.
        const rc = c.__ulock_wait2(ulockOp(private, false), word, expected, timeout_ns, 0);
        break :blk if (rc >= 0) .SUCCESS else @enumFromInt(@as(u16, @intCast(-rc)));
    };
    return switch (e) {
        .SUCCESS => .woken,
        .TIMEDOUT => .timed_out,
        .INTR => .interrupted,
        // EFAULT: the word cannot be read; the caller re-reads it and sees why.
        else => .changed,
    };
}

const wake_calls_max = 4096;

/// Wakes up to `count` waiters on `word`; returns how many were woken. Wake-one calls are repeated
/// for a count between one and "all" (the kernel wakes one or every waiter per call).
pub fn futexWake(word: *const u32, count: u32, private: bool) u32 {
    if (count == 0) return 0;
    chosen.call();
    const all = count >= std.math.maxInt(i32);
    if (os_sync) |f| {
        const flags = if (private) OS_SYNC_WAKE_BY_ADDRESS_NONE else OS_SYNC_WAKE_BY_ADDRESS_SHARED;
        if (all) return if (f.wake_all(word, @sizeOf(u32), flags) == 0) 1 else 0;
        var woken: u32 = 0;
        while (woken < count and woken < wake_calls_max) : (woken += 1) {
            // -1 with ENOENT: nobody waits any more.
            if (f.wake_any(word, @sizeOf(u32), flags) != 0) break;
        }
        return woken;
    }
    if (all) return if (c.__ulock_wake(ulockOp(private, true), word, 0) >= 0) 1 else 0;
    var woken: u32 = 0;
    var attempt: u32 = 0;
    while (woken < count and attempt < wake_calls_max) : (attempt += 1) {
        const rc = c.__ulock_wake(ulockOp(private, false), word, 0);
        if (rc >= 0) {
            woken += 1;
        } else if (rc != -@as(c_int, @intFromEnum(c.E.INTR))) break; // -ENOENT: nobody waits.
    }
    return woken;
}

const Proxies = proxy.Pool(struct {
    pub const waitOne = wait_one;
    pub const wake = futexWake;
    pub const monotonicNs = clock;
});
const wait_one = waitOne;
const clock = monotonicNs;

/// Called before memory is unmapped (see futex_proxy.zig).
pub const unmapping = Proxies.unmapping;

/// Waits until one of `words` is woken or does not hold its expected value, or until the absolute
/// `monotonicNs` time `deadline_ns` (null: no deadline). At most `words_max` words.
pub fn futexWaitv(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    std.debug.assert(words.len > 0 and words.len <= words_max);
    if (words.len > 1) return Proxies.wait(words, deadline_ns);
    const w = words[0];
    return switch (waitOne(w.word, w.expected, w.private, deadline_ns)) {
        .woken, .changed => .{ .woken = 0 },
        .timed_out => .timed_out,
        .interrupted => .interrupted,
    };
}

/// CLOCK_MONOTONIC in nanoseconds (mach continuous time: it runs on while the machine sleeps, the
/// same clock in every process).
pub fn monotonicNs() u64 {
    var ts: c.timespec = undefined;
    if (c.clock_gettime(.MONOTONIC, &ts) != 0) return 0;
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

const testing = std.testing;

test "a changed word ends a wait at once; unchanged ones time out, one word or several, in both modes" {
    chosen.call();
    const saved = os_sync;
    defer os_sync = saved;
    for ([_]bool{ true, false }) |use_os_sync| {
        if (use_os_sync and saved == null) continue;
        os_sync = if (use_os_sync) saved else null;
        var a: u32 = 1;
        var b: u32 = 2;
        try testing.expect(try futexWaitv(&.{.{ .word = &a, .expected = 3, .private = false }}, null) == .woken);
        const changed = try futexWaitv(&.{ .{ .word = &a, .expected = 1, .private = true }, .{ .word = &b, .expected = 3, .private = false } }, null);
        try testing.expectEqual(@as(usize, 1), changed.woken);
        const start = monotonicNs();
        try testing.expect(try futexWaitv(&.{.{ .word = &a, .expected = 1, .private = false }}, start + 2 * std.time.ns_per_ms) == .timed_out);
        try testing.expect(monotonicNs() >= start + 2 * std.time.ns_per_ms);
        const both = try futexWaitv(&.{ .{ .word = &a, .expected = 1, .private = false }, .{ .word = &b, .expected = 2, .private = true } }, monotonicNs() + 2 * std.time.ns_per_ms);
        try testing.expect(both == .timed_out);
    }
}

test "a wake reaches a thread parked on a shared word" {
    var word: u32 = 0;
    const Parked = struct {
        fn run(w: *u32, out: *std.atomic.Value(i32)) void {
            const r = futexWaitv(&.{.{ .word = w, .expected = 0, .private = false }}, monotonicNs() + 20 * std.time.ns_per_s) catch return;
            out.store(if (r == .woken) 1 else 2, .release);
        }
    };
    var result = std.atomic.Value(i32).init(0);
    const t = try std.Thread.spawn(.{}, Parked.run, .{ &word, &result });
    // Wake without changing the word until the waiter takes a wake: only a wake ends its wait
    // before the 20 s deadline.
    const give_up = monotonicNs() + 20 * std.time.ns_per_s;
    while (result.load(.acquire) == 0 and monotonicNs() < give_up) {
        _ = futexWake(&word, 1, false);
        std.Thread.sleep(std.time.ns_per_ms);
    }
    t.join();
    try testing.expectEqual(@as(i32, 1), result.load(.acquire));
}
