//! Linux futex waits on one word or on several at once, on every kernel libipc supports (4.18 and
//! later). Waiting on several words is what futex_waitv (Linux 5.16) does; where the kernel lacks
//! it, or `LIBIPC_FUTEX=wait` asks for it, the same call is built from plain futex waits and a pool
//! of proxy threads. The choice is made once per process, at the first wait (`mode`).
//!
//! The fallback ("wait" mode). One word: a FUTEX_WAIT_BITSET with the same absolute CLOCK_MONOTONIC
//! deadline, nothing else. Several words: the caller parks on a private word of its own (`Call.bell`)
//! and each watched word gets a proxy thread parked on it with the caller's expected value. A proxy
//! that returns (woken, or the word differs) while its call is pending "fires": it records its index,
//! sets the bell and wakes the caller. Invariants, all under `pool_lock`:
//! - A proxy belongs to at most one call (`Proxy.call`), and the caller unbinds every proxy of its
//!   call before it returns, so a `Call` on the caller's stack is never touched after that; a proxy
//!   sets and wakes the bell only while bound, under the lock.
//! - No wake is lost: a proxy that took a wake (its wait returned 0) after its call ended passes one
//!   wake on to the word (the rule waiter.zig applies to a wait canceled with its word changed), so
//!   the waiter the waker meant still gets one. A wake taken while the call is pending is the call's,
//!   as futex_waitv would have taken it.
//! - An unbound proxy stays parked until its slice ends (`proxy_slice_ns`), and a new call that
//!   watches the same word for the same value adopts it instead of starting another: a caller that
//!   waits again on the same words (the async waiter's loop, a channel receiver) reuses its proxies,
//!   so the number of threads follows the number of words watched, not the number of waits. Nothing
//!   ever kicks a parked proxy out of the kernel: a kick could not be told from a real wake and
//!   would be passed on as one, which two callers on the same words would bounce forever.
//! - Proxies never read a watched word themselves (only the kernel does, which reports EFAULT for
//!   unmapped memory). Memory is unmapped only through `unmapping` (platform.unmap calls it): it
//!   wakes every waiter on each word in the range that a proxy still watches, and those proxies
//!   pass nothing on (the wake-all leaves no waiter asleep that a wake they took was meant for), so
//!   a proxy never passes a wake on to an address that may by then name another mapping. Left: a
//!   proxy between its lock release and its futex call when the range is unmapped and mapped anew
//!   at the same address may sleep there one slice; a wake it takes then is not passed on, and its
//!   waiter sees the change at its own recheck slice.
//! - Bounded: at most `proxies_max` proxy threads per process; one that cannot be started leaves its
//!   word to the caller's recheck slice (wait.zig: 100 ms). Idle proxies exit after
//!   `proxy_linger_ns`. Proxies block every signal, so signals reach the threads that asked to wait.
//! - A forked child has none of its parent's proxy threads: the pool is reset in the child
//!   (pthread_atfork), with its lock taken across the fork.
//!
//! Cost of the fallback for a wait on n words: n proxies (started once, then reused), one extra
//! context switch per wake-up (proxy, then caller), and a lock round per wait.

const std = @import("std");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const base = @import("linux.zig");
const Error = abi.Error;

/// One word to wait on: `private` words live in memory of this process only (cheaper to hash in the
/// kernel); shared ones may be in shared memory.
pub const WaitWord = struct { word: *const u32, expected: u32, private: bool };

pub const WaitResult = union(enum) {
    /// The word at this index was woken, or did not hold its expected value.
    woken: usize,
    timed_out,
    /// A signal interrupted the wait; the caller re-checks and waits again.
    interrupted,
};

/// The most words one wait takes (futex_waitv's limit, kept by the fallback too).
pub const words_max = linux.FUTEX2_WAITONE_MAX;

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
// The proxy pool (see the file comment).

/// How long a proxy stays parked on its word per kernel wait; also how long an unbound proxy waits
/// to be adopted before it goes idle. The same bound as wait.zig's recheck slice.
pub const proxy_slice_ns: u64 = 100 * std.time.ns_per_ms;
/// How long an idle proxy thread waits for a job before it exits.
pub const proxy_linger_ns: u64 = 1 * std.time.ns_per_s;
pub const proxies_max = 512;
const proxy_stack_bytes = 64 * 1024;

const Call = struct {
    /// The caller parks on it (private); set to 1 by the proxy that fires.
    bell: u32 = 0,
    fired: ?usize = null,
    bound: [words_max]?*Proxy = [_]?*Proxy{null} ** words_max,
};

const Proxy = struct {
    /// Linked list of every live proxy (`pool`).
    next: ?*Proxy = null,
    /// Idle: waits on `job` (a private futex word) for its next word; watching: parked on `word`.
    watching: bool = false,
    job: u32 = 0,
    word: *const u32 = undefined,
    expected: u32 = 0,
    private: bool = false,
    /// The call it reports to, and its index there; null once that call ended (unbound).
    call: ?*Call = null,
    /// Its word is being unmapped (`unmapping`): never adopted, passes nothing on.
    orphaned: bool = false,
    index: usize = 0,
};

var pool_lock: std.Thread.Mutex = .{};
var pool: ?*Proxy = null;
var pool_count: u32 = 0;
var fork_handlers = false;

fn forkPrepare() callconv(.c) void {
    pool_lock.lock();
}

fn forkParent() callconv(.c) void {
    pool_lock.unlock();
}

/// The child has no proxy threads: forget them (their memory is leaked, a few hundred bytes each).
fn forkChild() callconv(.c) void {
    pool = null;
    pool_count = 0;
    pool_lock = .{};
}

/// Under `pool_lock`: a proxy watching `w` for `call`, or null when none can be had.
fn bind(call: *Call, w: WaitWord, index: usize) ?*Proxy {
    var idle: ?*Proxy = null;
    var it = pool;
    while (it) |p| : (it = p.next) {
        if (p.watching and p.call == null and !p.orphaned and p.word == w.word and p.expected == w.expected and p.private == w.private) {
            p.call = call;
            p.index = index;
            return p;
        }
        if (!p.watching and idle == null) idle = p;
    }
    const p = idle orelse spawn() orelse return null;
    p.* = .{ .next = p.next, .watching = true, .job = p.job +% 1, .word = w.word, .expected = w.expected, .private = w.private, .call = call, .index = index };
    _ = wake(&p.job, 1, true);
    return p;
}

/// Under `pool_lock`: a new idle proxy thread, or null at `proxies_max` or when no thread starts.
fn spawn() ?*Proxy {
    if (pool_count >= proxies_max) return null;
    if (!fork_handlers) {
        if (std.c.pthread_atfork(forkPrepare, forkParent, forkChild) != 0) return null;
        fork_handlers = true;
    }
    const p = std.heap.c_allocator.create(Proxy) catch return null;
    p.* = .{ .next = pool };
    // Signals go to the threads that asked to wait (their waits may end on one), never to a proxy:
    // it starts with every signal blocked, inherited from this thread's mask for the moment.
    const all = std.posix.sigfillset();
    var old: std.posix.sigset_t = undefined;
    std.posix.sigprocmask(linux.SIG.SETMASK, &all, &old);
    defer std.posix.sigprocmask(linux.SIG.SETMASK, &old, null);
    const thread = std.Thread.spawn(.{ .stack_size = proxy_stack_bytes }, proxyMain, .{p}) catch {
        std.heap.c_allocator.destroy(p);
        return null;
    };
    thread.setName("ipc-futex") catch {};
    thread.detach();
    pool = p;
    @atomicStore(u32, &pool_count, pool_count + 1, .release);
    return p;
}

/// Under `pool_lock`: removes `p` from the pool.
fn unlink(p: *Proxy) void {
    var link: *?*Proxy = &pool;
    while (link.*) |q| : (link = &q.next) {
        if (q == p) {
            link.* = p.next;
            @atomicStore(u32, &pool_count, pool_count - 1, .release);
            return;
        }
    }
}

fn proxyMain(p: *Proxy) void {
    pool_lock.lock();
    while (true) {
        if (!p.watching) {
            const job = p.job;
            pool_lock.unlock();
            const e = futexWait(&p.job, job, true, monotonicNs() + proxy_linger_ns);
            pool_lock.lock();
            if (!p.watching and p.job == job and e == .TIMEDOUT) break;
            continue;
        }
        const w: WaitWord = .{ .word = p.word, .expected = p.expected, .private = p.private };
        pool_lock.unlock();
        const e = futexWait(w.word, w.expected, w.private, monotonicNs() + proxy_slice_ns);
        pool_lock.lock();
        switch (e) {
            .TIMEDOUT, .INTR => {
                // Still bound: watch on. Unbound and not adopted within a slice: go idle.
                if (p.call == null) p.watching = false;
            },
            else => {
                if (p.call) |call| {
                    // Woken, or the word differs (EAGAIN), or it cannot be read (EFAULT: the
                    // caller re-reads it and sees why): the call's wait is over.
                    call.fired = p.index;
                    @atomicStore(u32, &call.bell, 1, .release);
                    _ = wake(&call.bell, 1, true);
                    unbindAll(call);
                } else if (e == .SUCCESS and !p.orphaned) {
                    // A wake taken for a call that had already ended: pass it on.
                    _ = wake(w.word, 1, w.private);
                }
                p.watching = false;
            },
        }
    }
    unlink(p);
    pool_lock.unlock();
    std.heap.c_allocator.destroy(p);
}

/// Called before [start, start + len) is unmapped: every proxy parked on a word there is orphaned and
/// woken, with every other waiter on that word (see the file comment). Nothing to do, and no lock
/// taken, in a process that never started a proxy.
pub fn unmapping(start: usize, len: usize) void {
    if (@atomicLoad(u32, &pool_count, .acquire) == 0) return;
    pool_lock.lock();
    defer pool_lock.unlock();
    var it = pool;
    while (it) |p| : (it = p.next) {
        const at = @intFromPtr(p.word);
        if (!p.watching or at < start or at - start >= len) continue;
        p.orphaned = true;
        _ = wake(p.word, std.math.maxInt(u32), p.private);
    }
}

/// Under `pool_lock`: every proxy of `call` becomes unbound (and adoptable while it stays parked).
fn unbindAll(call: *Call) void {
    for (&call.bound) |*slot| {
        if (slot.*) |p| {
            if (p.call == call) p.call = null;
            slot.* = null;
        }
    }
}

fn proxiedWait(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    // A word that already differs ends the wait at once, as futex_waitv's EAGAIN does.
    for (words, 0..) |w, i| {
        if (@atomicLoad(u32, w.word, .acquire) != w.expected) return .{ .woken = i };
    }
    var call: Call = .{};
    {
        pool_lock.lock();
        defer pool_lock.unlock();
        for (words, 0..) |w, i| call.bound[i] = bind(&call, w, i);
    }
    var outcome: WaitResult = .timed_out;
    while (@atomicLoad(u32, &call.bell, .acquire) == 0) {
        switch (futexWait(&call.bell, 0, true, deadline_ns)) {
            .TIMEDOUT => break,
            .INTR => {
                outcome = .interrupted;
                break;
            },
            else => {},
        }
    }
    pool_lock.lock();
    defer pool_lock.unlock();
    unbindAll(&call);
    if (call.fired) |index| return .{ .woken = index };
    return outcome;
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
    pool_lock.lock();
    const before = pool_count;
    pool_lock.unlock();
    for (0..20) |_| _ = try waitv(&words, monotonicNs() + std.time.ns_per_ms);
    pool_lock.lock();
    const after = pool_count;
    pool_lock.unlock();
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

fn watchingCount(word: *const u32) u32 {
    pool_lock.lock();
    defer pool_lock.unlock();
    var n: u32 = 0;
    var it = pool;
    while (it) |p| : (it = p.next) {
        if (p.watching and p.word == word) n += 1;
    }
    return n;
}

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
