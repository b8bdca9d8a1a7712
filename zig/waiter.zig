//! The waiter: many waits on words (in any segments) multiplexed into one futex_waitv (or, on kernels
//! without it, the platform's proxy-thread fallback: platform/linux_futex.zig), so that a JS
//! runtime can wait for any number of them without blocking its event loop and without a thread per
//! wait (PROBE.md Q1). Each wait ("slot") is a word, the value it must change from, a deadline and a
//! caller-chosen token; it ends with IPC_OK (changed or woken), IPC_ETIMEDOUT or IPC_ECANCELED.
//!
//! Completions are delivered one of two ways:
//! - callback mode (Bun): a thread owned by the waiter runs the wait loop and calls a C callback for
//!   each completion (a Bun threadsafe JSCallback, which only queues the call). The thread starts on
//!   the first submit, and exits after `linger_ns` with nothing to wait for.
//! - poll mode (Deno): the caller runs the loop itself in `next`, which blocks until at least one
//!   wait completes (Deno calls it `nonblocking`, on a runtime pool thread).
//!
//! Invariants:
//! - Slots change only under `lock`, and every change bumps the private `control` word, which the
//!   loop waits on beside the slots' words: a submit or cancel interrupts a wait in progress.
//! - The loop reads a word only between two scans (`collect`), and `forget` returns only after the
//!   loop has scanned since the forgotten slots were removed: memory about to be unmapped is never
//!   read again.
//! - A wait that ends canceled or timed out while its word had changed passes a wake on, because it
//!   may have consumed the one wake meant for another waiter. So does a wait dropped by `forget`
//!   (its word is still mapped then): the loop may have consumed a wake on it that it never handled.
//! - No kernel wait lasts longer than `wait.recheck_ns` (100 ms): the loop then rescans, and a wait
//!   whose word no longer holds its expected value completes with IPC_OK. So a wait on a word whose
//!   committer was killed between its commit and its wake ends within that slice plus scheduling
//!   (wait.zig's opening comment); the cost is 10 wake-ups a second while any wait is pending.
//! - A wait on a mutex's lock word (mutex.ofWord: the async lock of the JS bindings, a rwlock's
//!   steps, a C caller waiting on ipc_mutex_word) is a parked lock waiter like a blocking one: with the
//!   owner-recording protocol nobody wakes it when the holder dies, so the loop judges the holder
//!   itself once per `wait.recheck_ns` of that wait (`judge_at`, which also ends the kernel wait),
//!   frees a dead holder's lock (mutex.reapWord) and completes the wait with IPC_OK: the caller's
//!   next step takes the lock with ownerDied. Bound as for a blocking lock: the holder's death is
//!   seen within `wait.recheck_ns` plus the liveness check and scheduling. With the kernel-list
//!   protocol the kernel frees the lock and wakes the word, and no wait is judged.

const std = @import("std");
const abi = @import("abi.zig");
const platform = @import("platform/root.zig");
const wait = @import("wait.zig");
const mutex = @import("mutex.zig");
const Error = abi.Error;
const Deadline = wait.Deadline;

/// futex_waitv takes 128 words; one is the control word.
pub const slots_max = 127;
/// How long the callback-mode thread stays with nothing to wait for before it exits.
pub const linger_ns: u64 = 100 * std.time.ns_per_ms;

/// The name of the callback-mode thread, as /proc/<pid>/task/<tid>/comm shows it.
pub const thread_name = "ipc-waiter";

pub const Callback = *const fn (token: u32, result: i32) callconv(.c) void;

pub const Completion = struct { token: u32, result: i32 };

const Slot = struct {
    state: State = .free,
    word: *const u32 = undefined,
    expected: u32 = 0,
    deadline: Deadline = .never,
    token: u32 = 0,
    /// When the loop next judges the holder of the lock whose word this is; 0: not a lock word,
    /// or a protocol whose waiters never judge (see the file comment).
    judge_at: u64 = 0,

    /// forgotten: canceled, and its word must not be read again (about to be unmapped).
    const State = enum { free, pending, canceled, forgotten };
};

const allocator = std.heap.c_allocator;
const live_marker: u32 = 0x3a17_e4a1;

pub const Waiter = struct {
    live: u32 = live_marker,
    lock: std.Thread.Mutex = .{},
    slots: [slots_max]Slot = [_]Slot{.{}} ** slots_max,
    /// Slots pending or canceled (not yet completed).
    used: u32 = 0,
    /// Bumped under `lock` by every change; the loop waits on it (a private futex word).
    control: u32 = 0,
    /// Bumped by `forget`; the loop copies it into `acked` at every scan.
    epoch: u64 = 0,
    acked: u64 = 0,
    changed: std.Thread.Condition = .{},
    /// The thread inside the loop (callback thread or a `next` caller), if any.
    looper: ?std.Thread.Id = null,
    callback: ?Callback,
    thread_alive: bool = false,
    stopping: bool = false,

    pub fn isLive(w: *const Waiter) bool {
        return w.live == live_marker;
    }

    fn bump(w: *Waiter) void {
        _ = @atomicRmw(u32, &w.control, .Add, 1, .release);
        _ = platform.futexWake(&w.control, 1, true);
    }
};

pub fn create(callback: ?Callback) Error!*Waiter {
    const w = allocator.create(Waiter) catch return error.NoMemory;
    w.* = .{ .callback = callback };
    return w;
}

/// Waits in the background while `word.* == expected`, for at most `timeout_ns` (negative: no
/// limit). error.Busy when all slots are in use; error.Closed after `destroy` began.
pub fn submit(w: *Waiter, word: *const u32, expected: u32, timeout_ns: i64, token: u32) Error!void {
    w.lock.lock();
    defer w.lock.unlock();
    if (w.stopping) return error.Closed;
    const index = for (&w.slots, 0..) |*s, i| {
        if (s.state == .free) break i;
    } else return error.Busy;
    if (w.callback != null and !w.thread_alive) {
        const thread = std.Thread.spawn(.{ .stack_size = 256 * 1024 }, threadMain, .{w}) catch return error.NoMemory;
        thread.setName(thread_name) catch {};
        thread.detach();
        w.thread_alive = true;
    }
    w.slots[index] = .{
        .state = .pending,
        .word = word,
        .expected = expected,
        .deadline = Deadline.after(timeout_ns),
        .token = token,
        .judge_at = if (mutex.waiters_judge and mutex.ofWord(word) != null) platform.monotonicNs() +| wait.recheck_ns else 0,
    };
    w.used += 1;
    w.bump();
}

/// Ends the wait with `token` with IPC_ECANCELED (delivered like any completion). error.NotFound
/// when no such wait is pending.
pub fn cancel(w: *Waiter, token: u32) Error!void {
    w.lock.lock();
    defer w.lock.unlock();
    for (&w.slots) |*s| {
        if (s.state == .pending and s.token == token) {
            s.state = .canceled;
            w.bump();
            return;
        }
    }
    return error.NotFound;
}

/// Cancels every wait on a word in [base, base + len) (they complete with IPC_ECANCELED, without
/// their words being read), and returns once the loop will no longer read those words: call it
/// before unmapping memory that waits may refer to.
pub fn forget(w: *Waiter, base: usize, len: usize) u32 {
    w.lock.lock();
    defer w.lock.unlock();
    var dropped: u32 = 0;
    for (&w.slots) |*s| {
        if (s.state == .free or s.state == .forgotten) continue;
        const at = @intFromPtr(s.word);
        if (at >= base and at - base < len) {
            // The word is still mapped (the caller unmaps after this returns). The loop may have
            // consumed a wake on it that it will now never handle: pass it on, by the rule
            // `collect` applies to a canceled wait.
            if (@atomicLoad(u32, s.word, .acquire) != s.expected) _ = wait.wake(s.word, 1);
            s.state = .forgotten;
            dropped += 1;
        }
    }
    if (dropped == 0) return 0;
    w.epoch += 1;
    const target = w.epoch;
    w.bump();
    while (w.looper) |looper| {
        if (looper == std.Thread.getCurrentId() or w.acked >= target) break;
        w.changed.wait(&w.lock);
    }
    return dropped;
}

/// Poll mode: runs the wait loop until at least one wait completes and stores up to `out.len`
/// completions; 0 when nothing is pending. error.Busy when another `next` is running.
pub fn next(w: *Waiter, out: []Completion) Error!usize {
    std.debug.assert(out.len > 0);
    {
        w.lock.lock();
        defer w.lock.unlock();
        if (w.callback != null or w.looper != null) return error.Busy;
        w.looper = std.Thread.getCurrentId();
    }
    defer {
        w.lock.lock();
        w.looper = null;
        w.changed.broadcast();
        w.lock.unlock();
    }
    return run(w, out);
}

/// Stops the waiter and frees it: pending waits complete with IPC_ECANCELED (callback mode: through
/// the callback, before this returns). Must not be called from the callback.
pub fn destroy(w: *Waiter) void {
    w.lock.lock();
    w.stopping = true;
    for (&w.slots) |*s| {
        if (s.state == .pending) s.state = .canceled;
    }
    w.bump();
    while (w.thread_alive or w.looper != null) w.changed.wait(&w.lock);
    w.live = 0;
    w.lock.unlock();
    allocator.destroy(w);
}

const Snapshot = struct {
    words: [slots_max + 1]platform.WaitWord = undefined,
    count: usize = 0,
    deadline: Deadline = .never,
    control: u32 = 0,
    control_word: *const u32 = undefined,

    fn changed(s: *const Snapshot) bool {
        if (@atomicLoad(u32, s.control_word, .acquire) != s.control) return true;
        for (s.words[1..s.count]) |ww| {
            if (@atomicLoad(u32, ww.word, .acquire) != ww.expected) return true;
        }
        return false;
    }
};

/// Under `lock`: completes what can be completed into `out`, and records what remains to wait on.
fn collect(w: *Waiter, out: []Completion, snap: *Snapshot) usize {
    const now = platform.monotonicNs();
    var n: usize = 0;
    snap.* = .{ .control = @atomicLoad(u32, &w.control, .acquire), .control_word = &w.control };
    snap.words[0] = .{ .word = &w.control, .expected = snap.control, .private = true };
    snap.count = 1;
    for (&w.slots) |*s| {
        if (s.state == .free) continue;
        if (n == out.len) break;
        const value = if (s.state == .forgotten) s.expected else @atomicLoad(u32, s.word, .acquire);
        const result: ?i32 = switch (s.state) {
            .free => unreachable,
            .forgotten => abi.code(error.Canceled),
            .canceled => abi.code(error.Canceled),
            .pending => if (value != s.expected)
                abi.ok
            else if (s.deadline.passed(now))
                abi.code(error.TimedOut)
            else if (judgeHolder(s, now))
                abi.ok
            else
                null,
        };
        if (result) |r| {
            if (r != abi.ok and value != s.expected) _ = wait.wake(s.word, 1);
            out[n] = .{ .token = s.token, .result = r };
            n += 1;
            s.* = .{};
            w.used -= 1;
            continue;
        }
        snap.words[snap.count] = .{ .word = s.word, .expected = s.expected, .private = false };
        snap.count += 1;
        snap.deadline = Deadline.earliest(snap.deadline, s.deadline);
        if (s.judge_at != 0) snap.deadline = Deadline.earliest(snap.deadline, .{ .at = s.judge_at });
    }
    w.acked = w.epoch;
    w.changed.broadcast();
    return n;
}

/// For a pending wait on a lock word whose judging time has come: judges the lock's holder (and
/// frees the lock of a dead one: true, the wait completes). The next judging is a slice later.
fn judgeHolder(s: *Slot, now: u64) bool {
    if (s.judge_at == 0 or now < s.judge_at) return false;
    s.judge_at = now +| wait.recheck_ns;
    return mutex.reapWord(s.word);
}

/// Completes every waiting slot with `code` (the kernel refused to wait, such as IPC_ENOTSUP).
fn failAll(w: *Waiter, out: []Completion, code: i32) usize {
    var n: usize = 0;
    for (&w.slots) |*s| {
        if (s.state == .free or n == out.len) continue;
        out[n] = .{ .token = s.token, .result = code };
        n += 1;
        s.* = .{};
        w.used -= 1;
    }
    return n;
}

/// The wait loop: returns completions, or 0 once nothing is pending (or the waiter is stopping).
fn run(w: *Waiter, out: []Completion) usize {
    var snap: Snapshot = .{};
    while (true) {
        {
            w.lock.lock();
            defer w.lock.unlock();
            const n = collect(w, out, &snap);
            if (n > 0 or w.used == 0) return n;
        }
        if (wait.spinUntil(@as(*const Snapshot, &snap), Snapshot.changed, wait.budgetFor(w), snap.deadline)) continue;
        // At most one recheck slice: `collect` then reads every word again (see the file comment).
        const slice = Deadline.earliest(snap.deadline, .{ .at = platform.monotonicNs() +| wait.recheck_ns });
        _ = platform.futexWaitv(snap.words[0..snap.count], slice.at) catch |err| {
            w.lock.lock();
            defer w.lock.unlock();
            return failAll(w, out, abi.code(err));
        };
    }
}

fn threadMain(w: *Waiter) void {
    var out: [slots_max]Completion = undefined;
    {
        w.lock.lock();
        defer w.lock.unlock();
        w.looper = std.Thread.getCurrentId();
    }
    const callback = w.callback.?;
    while (true) {
        const n = run(w, &out);
        for (out[0..n]) |c| callback(c.token, c.result);
        if (n > 0) continue;
        // Nothing pending: linger a while for the next submit, then exit.
        w.lock.lock();
        if (w.used == 0 and !w.stopping) {
            const seen = @atomicLoad(u32, &w.control, .acquire);
            w.lock.unlock();
            const words = [_]platform.WaitWord{.{ .word = &w.control, .expected = seen, .private = true }};
            _ = platform.futexWaitv(&words, platform.monotonicNs() + linger_ns) catch {};
            w.lock.lock();
        }
        if (w.used == 0) {
            w.thread_alive = false;
            w.looper = null;
            w.changed.broadcast();
            w.lock.unlock();
            return;
        }
        w.lock.unlock();
    }
}

const testing = std.testing;

test "poll mode: a changed word completes OK, a deadline ETIMEDOUT, a cancel ECANCELED" {
    const w = try create(null);
    defer destroy(w);
    var a: u32 = 0;
    var b: u32 = 0;
    var c: u32 = 0;
    try submit(w, &a, 0, -1, 1);
    try submit(w, &b, 0, 2 * std.time.ns_per_ms, 2);
    try submit(w, &c, 0, -1, 3);
    try cancel(w, 3);
    try testing.expectError(error.NotFound, cancel(w, 99));
    @atomicStore(u32, &a, 1, .release);
    var got = [_]i32{ 99, 99, 99 };
    var seen: usize = 0;
    var out: [4]Completion = undefined;
    while (seen < 3) {
        const n = try next(w, &out);
        try testing.expect(n > 0);
        for (out[0..n]) |comp| got[comp.token - 1] = comp.result;
        seen += n;
    }
    try testing.expectEqual(abi.ok, got[0]);
    try testing.expectEqual(abi.code(error.TimedOut), got[1]);
    try testing.expectEqual(abi.code(error.Canceled), got[2]);
    try testing.expectEqual(@as(usize, 0), try next(w, &out));
}

test "poll mode: a wake from another thread ends a parked wait; forget drops waits in a range" {
    const w = try create(null);
    defer destroy(w);
    var word: u32 = 0;
    var other: u32 = 0;
    try submit(w, &other, 0, -1, 7);
    try testing.expectEqual(@as(u32, 1), forget(w, @intFromPtr(&other), 4));
    var out: [2]Completion = undefined;
    try testing.expectEqual(@as(usize, 1), try next(w, &out));
    try testing.expectEqual(Completion{ .token = 7, .result = abi.code(error.Canceled) }, out[0]);
    try submit(w, &word, 0, 5 * std.time.ns_per_s, 8);
    const Waker = struct {
        fn run(p: *u32) void {
            std.Thread.sleep(5 * std.time.ns_per_ms);
            @atomicStore(u32, p, 1, .release);
            _ = wait.wake(p, 1);
        }
    };
    const t = try std.Thread.spawn(.{}, Waker.run, .{&word});
    defer t.join();
    try testing.expectEqual(@as(usize, 1), try next(w, &out));
    try testing.expectEqual(Completion{ .token = 8, .result = abi.ok }, out[0]);
}

var callback_results = [_]std.atomic.Value(i32){std.atomic.Value(i32).init(99)} ** 4;

fn testCallback(token: u32, result: i32) callconv(.c) void {
    callback_results[token].store(result, .release);
}

test "callback mode: the thread delivers completions and exits when idle; slots run out with Busy" {
    const w = try create(testCallback);
    defer destroy(w);
    var word: u32 = 0;
    try submit(w, &word, 0, -1, 0);
    try submit(w, &word, 0, std.time.ns_per_ms, 1);
    @atomicStore(u32, &word, 0, .release);
    var waited: u32 = 0;
    while (callback_results[1].load(.acquire) == 99 and waited < 10_000) : (waited += 1) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectEqual(abi.code(error.TimedOut), callback_results[1].load(.acquire));
    @atomicStore(u32, &word, 1, .release);
    _ = wait.wake(&word, 1);
    var tries: u32 = 0;
    while (callback_results[0].load(.acquire) == 99 and tries < 1000) : (tries += 1) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectEqual(abi.ok, callback_results[0].load(.acquire));
    var i: u32 = 0;
    var still: u32 = 0;
    while (i < slots_max) : (i += 1) try submit(w, &still, 0, -1, 2);
    try testing.expectError(error.Busy, submit(w, &still, 0, -1, 3));
    try testing.expectEqual(@as(u32, slots_max), forget(w, @intFromPtr(&still), 4));
    tries = 0;
    while (tries < 1000) : (tries += 1) {
        w.lock.lock();
        const alive = w.thread_alive;
        w.lock.unlock();
        if (!alive) break;
        std.Thread.sleep(std.time.ns_per_ms);
    }
    try testing.expect(tries < 1000);
}

test "poll mode: a parked wait whose word changes without a wake completes within a recheck slice" {
    const w = try create(null);
    defer destroy(w);
    var word: u32 = 0;
    try submit(w, &word, 0, 10 * std.time.ns_per_s, 5);
    const Looper = struct {
        fn run(ww: *Waiter, out: *[1]Completion, tid: *std.atomic.Value(std.Thread.Id)) void {
            tid.store(std.Thread.getCurrentId(), .seq_cst);
            _ = next(ww, out) catch {};
        }
    };
    var out: [1]Completion = .{.{ .token = 0, .result = 99 }};
    var tid = std.atomic.Value(std.Thread.Id).init(0);
    const start = platform.monotonicNs();
    const t = try std.Thread.spawn(.{}, Looper.run, .{ w, &out, &tid });
    // The loop sleeps in futex_waitv on the word: from here only a wake or a recheck ends it.
    while (!wait.inFutexWait(tid.load(.seq_cst))) std.Thread.sleep(std.time.ns_per_ms);
    // A committer killed between its commit and its wake: the value changes, nobody wakes.
    @atomicStore(u32, &word, 1, .seq_cst);
    t.join();
    try testing.expectEqual(Completion{ .token = 5, .result = abi.ok }, out[0]);
    try testing.expect(platform.monotonicNs() - start < 5 * std.time.ns_per_s);
}

test "poll mode: a wait on a lock word whose holder died ends at a recheck with the owner protocol only" {
    var m: mutex.Mutex = undefined;
    try mutex.init(&m);
    const word = m.word();
    try testing.expect(mutex.ofWord(word) == &m);
    var plain: u32 = 0;
    try testing.expect(mutex.ofWord(&plain) == null or !mutex.waiters_judge);
    // A holder that is no process: thread id 77, waiters parked, and (owner protocol) a pid above
    // the kernel's limit with no record, which every taker in one namespace lets a waiter judge.
    const held: u32 = 77 | platform.robust_mutex.waiters_bit;
    @atomicStore(u32, word, held, .release);
    if (mutex.waiters_judge) @as(*u32, @ptrFromInt(@intFromPtr(word) + 4)).* = 0x3fff_fff0;
    const w = try create(null);
    defer destroy(w);
    // Long enough for several rechecks; with the kernel-list protocol nobody judges (the kernel
    // frees a dead holder's lock and wakes), so the wait times out.
    try submit(w, word, held, 2 * std.time.ns_per_s, 9);
    var out: [1]Completion = undefined;
    try testing.expectEqual(@as(usize, 1), try next(w, &out));
    if (mutex.waiters_judge) {
        try testing.expectEqual(Completion{ .token = 9, .result = abi.ok }, out[0]);
        const v = @atomicLoad(u32, word, .acquire);
        try testing.expectEqual(platform.robust_mutex.owner_died_bit, v & ~platform.robust_mutex.waiters_bit);
        try testing.expectEqual(mutex.Acquired.owner_died, try mutex.tryLock(&m));
        try mutex.consistent(&m);
        try mutex.unlock(&m);
    } else {
        try testing.expectEqual(Completion{ .token = 9, .result = abi.code(error.TimedOut) }, out[0]);
        @atomicStore(u32, word, 0, .release);
    }
}
