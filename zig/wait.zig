//! The blocking wait every libipc primitive is built on: wait while a 32-bit word in (shared) memory
//! holds an expected value, spinning briefly before parking in the kernel, until it changes, a
//! deadline passes, or a private cancel word is set.
//!
//! Why spin: on the virtual machines libipc is measured on, waking a thread parked on another CPU
//! costs 50-100 us, while a waiter that is still spinning sees a change within a cache-line transfer
//! (well under 1 us). The spin is bounded in time (`spin_ns`, process-wide), not in iterations,
//! because a `pause` costs anywhere from 5 to 140 cycles depending on the CPU.
//!
//! Why spinning backs off on crowded CPUs: a spin only pays when the thread that will change the word
//! runs on another CPU meanwhile. When runnable threads outnumber CPUs, a spinner may hold the CPU
//! that the thread it waits for needs, so a failed spin adds its whole budget to the handoff. So a
//! thread whose spin failed (it is about to park, off the fast path) samples, at most every
//! `crowd_sample_ns` per process, the kernel's count of runnable threads (/proc/loadavg's fourth
//! field) against this process's CPUs; two crowded samples in a row (of a saturating score) set
//! `crowded`, and uncrowded samples clear it the same way, within about 2 * `crowd_sample_ns`.
//!
//! Why spins learn per word: on a crowded machine some spins still pay (a mutex holder running on
//! the other CPU lets go within a microsecond or two) and others never do (a reply that needs a
//! parked peer to be woken first). So each thread keeps, in thread-local memory (never in the
//! segment, where a peer could write it), a small record per word it spun on: a spin that saw its
//! change within `paid_within_ns` paid (+1 credit, up to `credit_max`), one that ended in a park
//! was wasted (credit halved). While `crowded` is set a wait spins `crowded_spin_ns` (5 us, about
//! half a parked handoff there) on a word with credit, and not at once on one without, except one
//! wait in `probe_every` (a probe, so that a word whose spins would pay again is found); a thread
//! that has just woken a parked waiter parks at once (the woken thread needs a CPU, maybe this one). Cost bound
//! while crowded: a word whose spins never pay wastes 5 us after each paid one, and 5 us on one
//! wait in 64. While not crowded every wait spins the configured budget, as before, and touches no
//! record (idle waits pay nothing for the learning); a record left from an earlier crowded spell
//! is used as it was left, a new one starts with one credit.
//!
//! Why park in slices: a change to shared state is a commit (an atomic store or CAS) followed by a
//! wake syscall, two steps; a process killed between them leaves the word changed and its waiters
//! asleep, and for words the kernel does not watch (everything but a robust mutex's lock word)
//! nobody else would ever wake them. So no kernel wait lasts longer than `recheck_ns` (100 ms):
//! when a slice ends before the caller's deadline the waiter re-reads its words and parks again
//! if they are unchanged, or returns `woken` if one changed. Bound: a waiter parked on a word whose
//! committer died between commit and wake returns within `recheck_ns` plus scheduling delay. Cost:
//! every parked waiter wakes 10 times a second while it waits (a syscall and a load each time).
//!
//! Why waits may end on a signal: a C or FFI host (a Python program through ctypes) blocked in a
//! wait with no timeout could otherwise not be stopped by Ctrl-C or a timer: its handler runs and
//! the wait goes on. A process that calls `setInterruptible(true)` gets `error.Interrupted` from
//! every park that a signal handler interrupts, as `sem_wait` and `read` return EINTR. Off by
//! default (the Bun and Deno bindings never turn it on), and never for lock waits (`parkLock`:
//! mutexes and rwlocks retry, like `pthread_mutex_lock`). A signal whose handler was installed with
//! SA_RESTART restarts the kernel wait instead (the futex call returns ERESTARTSYS), as it restarts
//! `read`; one that arrives while the wait spins in user space is not seen. The waiter
//! (waiter.zig) calls the kernel wait itself and never ends a wait on a signal.
//!
//! Invariants: a wait never returns `woken` without either the word having differed from `expected`
//! at some point, a wake, or a spurious kernel return; callers always re-check their condition.
//! Every loop is bounded: the spin by time, the park loop by the deadline (each slice by
//! `recheck_ns`) and by `interrupts_max` signal interruptions.

const std = @import("std");
const abi = @import("abi.zig");
const platform = @import("platform/root.zig");
const Error = abi.Error;

/// Default spin before parking, in nanoseconds.
pub const spin_ns_default: u32 = 20_000;
/// Largest spin a caller may configure: 10 ms.
pub const spin_ns_max: u32 = 10_000_000;
var spin_ns = std.atomic.Value(u32).init(spin_ns_default);

/// Sets the process-wide spin budget; 0 parks at once.
pub fn setSpin(ns: u32) Error!void {
    if (ns > spin_ns_max) return error.Range;
    spin_ns.store(ns, .release);
}

/// The configured spin budget (what `setSpin` set), whether or not the CPUs are crowded.
pub fn spin() u32 {
    return spin_ns.load(.acquire);
}

/// How often (at most, per process) a thread about to park samples whether runnable threads
/// outnumber CPUs. A sample is an open, read and close of /proc/loadavg (a few microseconds on a busy
/// VM), paid by a thread that parks anyway, so at 5 ms it costs well under 0.1% of one CPU.
pub const crowd_sample_ns: u64 = 5 * std.time.ns_per_ms;
var crowded = std.atomic.Value(bool).init(false);
/// Saturating count of crowded samples (0..crowd_score_max); `crowded` is set at 2 and cleared at 0,
/// so one odd sample (a burst of short-lived threads) does not flip the spin on or off.
var crowd_score = std.atomic.Value(u8).init(0);
const crowd_score_max = 3;
var next_sample_at = std.atomic.Value(u64).init(0);

/// Whether waits currently park without spinning because runnable threads outnumber CPUs.
pub fn isCrowded() bool {
    return crowded.load(.monotonic);
}

/// Called when a spin ended without its condition (the caller is about to park): samples the
/// run queue if the last sample is older than `crowd_sample_ns` and no other thread claimed it.
fn noteSpinFailed() void {
    const now = platform.monotonicNs();
    const due = next_sample_at.load(.monotonic);
    if (now < due) return;
    if (next_sample_at.cmpxchgStrong(due, now + crowd_sample_ns, .monotonic, .monotonic) != null) return;
    const running = platform.runnableThreads() orelse return;
    recordSample(running > cpuCount());
}

fn recordSample(is_crowded: bool) void {
    var score = crowd_score.load(.monotonic);
    if (is_crowded) {
        if (score < crowd_score_max) score += 1;
    } else if (score > 0) score -= 1;
    crowd_score.store(score, .monotonic);
    if (score >= 2) crowded.store(true, .monotonic) else if (score == 0) crowded.store(false, .monotonic);
}

/// Spin of the first wait after this thread woke a parked waiter. The woken thread needs a cross-CPU
/// wake-up (50-100 us on the VMs libipc is measured on) before it can answer; a waker that spins only
/// the default budget parks meanwhile, and then it too must be woken: two processes passing a token
/// back and forth would stay in that slow regime for good. Spinning past the wake-up latency once
/// brings them back to spinning handoffs. Bounded by 8x the configured spin (a small `setSpin`
/// stays small), applied only to a wait that starts within `after_wake_window_ns` of the wake, and
/// never on a single CPU, where spinning only delays the thread that was woken.
pub const spin_after_wake_ns: u32 = 150_000;
const after_wake_window_ns: u64 = 1_000_000;
threadlocal var woke_parked_at: u64 = 0;
/// CPUs this process may run on (its affinity mask), 0 until first asked.
var cpu_count = std.atomic.Value(u32).init(0);

fn cpuCount() u32 {
    const known = cpu_count.load(.monotonic);
    if (known != 0) return known;
    const n: u32 = @intCast(@max(1, @min(std.Thread.getCpuCount() catch 2, std.math.maxInt(u16))));
    cpu_count.store(n, .monotonic);
    return n;
}

fn severalCpus() bool {
    return cpuCount() > 1;
}

/// How long a wait spins on one word, and where the outcome is learned (see `Record`). Valid only on
/// the thread that asked for it, for the wait it was asked for.
pub const Budget = struct {
    ns: u32,
    record: ?*Record = null,
};

/// What this thread learned lately about spinning on one word: kept in thread-local memory, so no
/// other process can write it, and keyed by the word's address in this process (a word mapped twice
/// has two records; a collision only resets a record). See the file comment.
pub const Record = struct {
    word: usize = 0,
    /// Recent spins that paid, saturating at `credit_max`; each wasted spin halves it.
    credit: u8 = 0,
    /// Waits that skipped the spin since the last probe (only while crowded with no credit).
    skipped: u8 = 0,
};

/// Spin while the CPUs are crowded, for a word whose spins paid lately (bounded by the configured
/// spin): about half of what a parked handoff costs there (12-18 us measured), so that a spin that
/// fails at most doubles that handoff and one that pays saves all of it.
pub const crowded_spin_ns: u32 = 5_000;
/// A spin that saw its change within this time paid; one that ended in a park was wasted.
const paid_within_ns: u64 = crowded_spin_ns;
const credit_max = 4;
/// A new (or reset) record starts with one credit: the first crowded wait on a word spins once.
const credit_start = 1;
/// While crowded, a word with no credit still spins on one wait in `probe_every`, so that a word
/// whose peer started running alongside (spins would now pay) is found again.
const probe_every = 64;
const records_len = 16;
threadlocal var records: [records_len]Record = [_]Record{.{}} ** records_len;

fn recordOf(word: usize) *Record {
    const r = &records[((word >> 2) ^ (word >> 6) ^ (word >> 12)) % records_len];
    if (r.word != word) r.* = .{ .word = word, .credit = credit_start };
    return r;
}

/// The spin budget for a wait on `word` starting now: the configured spin while the CPUs are not
/// crowded (no record: an idle wait pays nothing for the learning); while they are,
/// `crowded_spin_ns` if spins on this word paid lately (or on a probe), else 0.
pub fn budgetFor(word: *const anyopaque) Budget {
    const configured = spin();
    if (configured == 0) return .{ .ns = 0 };
    if (!crowded.load(.monotonic)) return .{ .ns = configured };
    const r = recordOf(@intFromPtr(word));
    return .{ .ns = crowdedBudget(r, configured), .record = r };
}

fn crowdedBudget(r: *Record, configured: u32) u32 {
    const ns = @min(configured, crowded_spin_ns);
    if (r.credit > 0) return ns;
    r.skipped += 1;
    if (r.skipped < probe_every) return 0;
    r.skipped = 0;
    return ns;
}

/// `budgetFor` for this thread's next wait, changed right after it woke a parked waiter: longer
/// while the CPUs are not crowded (see `spin_after_wake_ns`), 0 while they are: the woken thread
/// needs a CPU, maybe this one, and a spin here would only keep it off (the waker parks at once,
/// as a socket's reader does).
pub fn budgetAfterWake(word: *const anyopaque) Budget {
    const woke = woke_parked_at;
    if (woke == 0) return budgetFor(word);
    woke_parked_at = 0;
    const recent = platform.monotonicNs() -| woke <= after_wake_window_ns;
    if (recent and crowded.load(.monotonic)) return .{ .ns = 0 };
    var b = budgetFor(word);
    if (b.ns == 0 or !recent or !severalCpus()) return b;
    b.ns = @max(b.ns, @min(spin_after_wake_ns, b.ns *| 8));
    return b;
}

fn notePaid(r: *Record, spun_ns: u64) void {
    if (spun_ns <= paid_within_ns and r.credit < credit_max) r.credit += 1;
}

fn noteWasted(r: *Record) void {
    r.credit >>= 1;
}

var interruptible = std.atomic.Value(bool).init(false);

/// Chooses, for the whole process, whether a signal handler that interrupts a park ends the wait
/// with `error.Interrupted` (see the file comment). Lock waits (`parkLock`) are never interrupted.
pub fn setInterruptible(on: bool) void {
    interruptible.store(on, .release);
}

pub fn isInterruptible() bool {
    return interruptible.load(.acquire);
}

/// An absolute CLOCK_MONOTONIC time, or none.
pub const Deadline = struct {
    at: ?u64,

    pub const never: Deadline = .{ .at = null };

    /// `timeout_ns` from now; a negative timeout means no deadline.
    pub fn after(timeout_ns: i64) Deadline {
        if (timeout_ns < 0) return never;
        return .{ .at = platform.monotonicNs() +| @as(u64, @intCast(timeout_ns)) };
    }

    pub fn passed(d: Deadline, now: u64) bool {
        return if (d.at) |at| now >= at else false;
    }

    pub fn earliest(a: Deadline, b: Deadline) Deadline {
        const x = a.at orelse return b;
        const y = b.at orelse return a;
        return .{ .at = @min(x, y) };
    }
};

pub const Outcome = enum { woken, timed_out, canceled };

const interrupts_max = 1 << 16;
/// Spin iterations between two reads of the clock (a clock read costs about as much as a pause).
const spins_per_clock_read = 16;

fn load(word: *const u32) u32 {
    return @atomicLoad(u32, word, .acquire);
}

/// Spins until `done` returns true or the budget has passed; returns whether `done` became true,
/// and tells the budget's record whether the spin paid. A spin that fails (the caller parks next)
/// may sample whether the CPUs are crowded (see the file comment).
pub fn spinUntil(context: anytype, comptime done: fn (@TypeOf(context)) bool, budget: Budget, deadline: Deadline) bool {
    if (budget.ns == 0) {
        if (done(context)) return true;
        noteSpinFailed();
        return false;
    }
    const start = platform.monotonicNs();
    const until = Deadline.earliest(.{ .at = start + budget.ns }, deadline);
    // The last clock reading: when `done` turns true the spin lasted at most this plus
    // `spins_per_clock_read` pauses, close enough to judge it without a clock read on the fast path.
    var seen = start;
    var i: u32 = 0;
    while (true) : (i +%= 1) {
        if (done(context)) {
            if (budget.record) |r| notePaid(r, seen - start);
            return true;
        }
        if (i % spins_per_clock_read == 0) {
            seen = platform.monotonicNs();
            if (until.passed(seen)) {
                if (budget.record) |r| noteWasted(r);
                noteSpinFailed();
                return false;
            }
        }
        std.atomic.spinLoopHint();
    }
}

const Watch = struct {
    word: *const u32,
    expected: u32,
    cancel: ?*const u32,

    fn changed(w: Watch) bool {
        if (load(w.word) != w.expected) return true;
        if (w.cancel) |c| return load(c) != 0;
        return false;
    }
};

/// Waits while `word.* == expected` (see the file comment). `cancel`, if given, is a word in this
/// process's private memory; setting it to non-zero and calling `wakeCancel` ends the wait.
pub fn wait(word: *const u32, expected: u32, deadline: Deadline, cancel: ?*const u32) Error!Outcome {
    const watch: Watch = .{ .word = word, .expected = expected, .cancel = cancel };
    if (spinUntil(watch, Watch.changed, budgetFor(word), deadline)) {
        return if (cancel != null and load(cancel.?) != 0) .canceled else .woken;
    }
    return park(word, expected, deadline, cancel);
}

/// `wait` without the spin: parks in the kernel at once. Ends with `error.Interrupted` when a signal
/// handler interrupts it and the process chose interruptible waits.
pub fn park(word: *const u32, expected: u32, deadline: Deadline, cancel: ?*const u32) Error!Outcome {
    var words_buf: [2]platform.WaitWord = undefined;
    words_buf[0] = .{ .word = word, .expected = expected, .private = false };
    var words: []const platform.WaitWord = words_buf[0..1];
    if (cancel) |c| {
        if (load(c) != 0) return .canceled;
        words_buf[1] = .{ .word = c, .expected = 0, .private = true };
        words = words_buf[0..2];
    }
    const outcome = try parkWords(words, deadline);
    if (cancel) |c| {
        if (load(c) != 0) return .canceled;
    }
    return outcome;
}

/// How long one kernel wait lasts at most before the waiter re-reads its words (see the file
/// comment): the bound on how long a waiter sleeps beside a word whose committer died between its
/// commit and its wake.
pub const recheck_ns: u64 = 100 * std.time.ns_per_ms;

/// Parks until one of `words` (at most 128; futex_waitv, or the platform's fallback on kernels
/// without it: platform/linux_futex.zig) is woken or does not hold its expected
/// value, or `deadline`. Each kernel wait lasts at most `recheck_ns`; when one ends before the
/// deadline the words are read again: all unchanged, it parks again (callers see no spurious
/// return); one changed, `woken`. For waits on several words at once (a channel's data and its
/// writer's lock word). Ends with `error.Interrupted` when a signal handler interrupts a slice and
/// the process chose interruptible waits (`setInterruptible`).
pub fn parkWords(words: []const platform.WaitWord, deadline: Deadline) Error!Outcome {
    return parkLoop(words, deadline, true, null);
}

/// `parkWords` where `words[lock]` is a robust mutex's lock word: when a slice ends with every word
/// unchanged, its holder is judged as in `parkLock` (a channel's data beside its writer's lock).
pub fn parkWordsLock(words: []const platform.WaitWord, lock: usize, deadline: Deadline, judge: Judge) Error!Outcome {
    return parkLoop(words, deadline, true, .{ .index = lock, .judge = judge });
}

/// How a lock's waiter judges the holder of its lock word when a slice ends with the word unchanged:
/// true when the holder was found dead and the lock freed (`mutex.reapWord`). The caller passes it,
/// so this file, which the mutex is built on, never imports the mutex.
pub const Judge = *const fn (word: *const u32) bool;

const Lock = struct { index: usize, judge: Judge };

/// A lock's park (mutexes, rwlocks): like `park` without a cancel word, but a signal never ends it,
/// as a signal never ends `pthread_mutex_lock`: a lock wait is short by design, and a caller
/// interrupted half way through a lock protocol would have to undo it. `word` is a robust mutex's
/// lock word: when a slice ends with it unchanged, its holder is judged (`mutex.reapWord`: the
/// owner-recording protocol has no kernel to free a dead holder's lock), and the wait ends `woken`
/// when the lock was freed. A word that is no mutex's lock word (an rwlock reader's `slot_free`,
/// parked on here too) is never judged: `mutex.reapWord` checks the object around it first.
pub fn parkLock(word: *const u32, expected: u32, deadline: Deadline, judge: Judge) Error!Outcome {
    const words = [_]platform.WaitWord{.{ .word = word, .expected = expected, .private = false }};
    return parkLoop(&words, deadline, false, .{ .index = 0, .judge = judge });
}

fn parkLoop(words: []const platform.WaitWord, deadline: Deadline, signals_end_it: bool, lock: ?Lock) Error!Outcome {
    var interrupts: u32 = 0;
    while (true) {
        const now = platform.monotonicNs();
        if (deadline.passed(now)) return .timed_out;
        const slice = Deadline.earliest(deadline, .{ .at = now +| recheck_ns });
        switch (try platform.futexWaitvLock(words, if (lock) |l| l.index else null, slice.at)) {
            .woken => return .woken,
            .timed_out => {
                if (deadline.passed(platform.monotonicNs())) return .timed_out;
                for (words) |w| {
                    if (load(w.word) != w.expected) return .woken;
                }
                if (lock) |l| {
                    if (l.judge(words[l.index].word)) return .woken;
                }
            },
            .interrupted => {
                // The handler has run; the caller reports it (IPC_EINTR) and its host acts on it.
                if (signals_end_it and isInterruptible()) return error.Interrupted;
                interrupts += 1;
                // A storm of signals cannot keep a waiter here forever: report a spurious wake-up.
                if (interrupts == interrupts_max) return .woken;
            },
        }
    }
}

/// Wakes up to `count` waiters parked on the shared word `word`.
pub fn wake(word: *const u32, count: u32) u32 {
    return platform.futexWake(word, count, false);
}

/// Sets the private cancel word and wakes the wait parked on it.
pub fn cancelWait(cancel: *u32) void {
    @atomicStore(u32, cancel, 1, .release);
    _ = platform.futexWake(cancel, std.math.maxInt(u32), true);
}

/// A shared word that waiters park on, beside a count of the parked ones, so that a waker skips the
/// wake syscall when every waiter is still spinning (the common case of a fast handoff).
///
/// Protocol (a Dekker pair, hence seq_cst on both sides): a waiter increments `waiters`, then reads
/// `value`, then parks; a waker changes `value` with a seq_cst read-modify-write, then reads `waiters`.
/// Either the waiter sees the new value or the waker sees the waiter. The count is only a hint: a
/// process that dies parked leaves it too high, which costs spurious wake syscalls, nothing else.
pub const WaitWord = extern struct {
    value: u32,
    waiters: u32,

    pub fn load(w: *const WaitWord) u32 {
        return @atomicLoad(u32, &w.value, .seq_cst);
    }

    /// Waits while `value == expected`: spins, then registers as parked and parks.
    pub fn wait(w: *WaitWord, expected: u32, deadline: Deadline) Error!Outcome {
        const watch: Watch = .{ .word = &w.value, .expected = expected, .cancel = null };
        if (spinUntil(watch, Watch.changed, budgetAfterWake(&w.value), deadline)) return .woken;
        const seen = w.register();
        defer w.unregister();
        if (seen != expected) return .woken;
        return park(&w.value, expected, deadline, null);
    }

    /// Counts the caller as parked (for waits that park elsewhere) and returns the value to wait on.
    pub fn register(w: *WaitWord) u32 {
        _ = @atomicRmw(u32, &w.waiters, .Add, 1, .seq_cst);
        return w.load();
    }

    pub fn unregister(w: *WaitWord) void {
        _ = @atomicRmw(u32, &w.waiters, .Sub, 1, .seq_cst);
    }

    /// Wakes up to `count` parked waiters, if any registered. Call after changing `value`.
    pub fn wake(w: *WaitWord, count: u32) void {
        if (@atomicLoad(u32, &w.waiters, .seq_cst) == 0) return;
        if (platform.futexWake(&w.value, count, false) > 0) woke_parked_at = platform.monotonicNs();
    }
};

const testing = std.testing;

test "wait returns at once when the word already differs" {
    var word: u32 = 5;
    try testing.expectEqual(Outcome.woken, try wait(&word, 4, .never, null));
}

test "wait times out after its deadline, and a zero spin parks at once" {
    var word: u32 = 5;
    try setSpin(0);
    defer setSpin(spin_ns_default) catch unreachable;
    const start = platform.monotonicNs();
    try testing.expectEqual(Outcome.timed_out, try wait(&word, 5, Deadline.after(3 * std.time.ns_per_ms), null));
    try testing.expect(platform.monotonicNs() - start >= 3 * std.time.ns_per_ms);
    try testing.expectEqual(Outcome.timed_out, try wait(&word, 5, Deadline.after(0), null));
}

test "a store plus wake from another thread ends a parked wait" {
    var word: u32 = 0;
    const Waker = struct {
        fn run(w: *u32) void {
            std.Thread.sleep(2 * std.time.ns_per_ms);
            @atomicStore(u32, w, 1, .release);
            _ = wake(w, 1);
        }
    };
    const thread = try std.Thread.spawn(.{}, Waker.run, .{&word});
    defer thread.join();
    var outcome = try wait(&word, 0, Deadline.after(5 * std.time.ns_per_s), null);
    while (outcome == .woken and load(&word) == 0) outcome = try wait(&word, 0, Deadline.after(5 * std.time.ns_per_s), null);
    try testing.expectEqual(Outcome.woken, outcome);
    try testing.expectEqual(@as(u32, 1), load(&word));
}

test "cancelling ends a parked wait with canceled" {
    var word: u32 = 0;
    var cancel: u32 = 0;
    const Canceller = struct {
        fn run(c: *u32) void {
            std.Thread.sleep(2 * std.time.ns_per_ms);
            cancelWait(c);
        }
    };
    const thread = try std.Thread.spawn(.{}, Canceller.run, .{&cancel});
    defer thread.join();
    try testing.expectEqual(Outcome.canceled, try wait(&word, 0, Deadline.after(5 * std.time.ns_per_s), &cancel));
}

test "setSpin refuses budgets above the maximum" {
    try testing.expectError(error.Range, setSpin(spin_ns_max + 1));
}

/// Tests only: whether thread `tid` of this process sleeps in a futex wait (its wchan says so).
pub fn inFutexWait(tid: std.Thread.Id) bool {
    if (tid == 0) return false;
    var path_buf: [64]u8 = undefined;
    const path = std.fmt.bufPrint(&path_buf, "/proc/self/task/{d}/wchan", .{tid}) catch return false;
    var buf: [64]u8 = undefined;
    const text = std.fs.cwd().readFile(path, &buf) catch return false;
    return std.mem.startsWith(u8, text, "futex");
}

test "a parked WaitWord waiter whose word changes without a wake returns within a recheck slice" {
    var w: WaitWord = .{ .value = 0, .waiters = 0 };
    const Waiter = struct {
        fn run(ww: *WaitWord, outcome: *Outcome, tid: *std.atomic.Value(std.Thread.Id)) void {
            tid.store(std.Thread.getCurrentId(), .seq_cst);
            outcome.* = ww.wait(0, Deadline.after(10 * std.time.ns_per_s)) catch .canceled;
        }
    };
    var outcome: Outcome = .canceled;
    var tid = std.atomic.Value(std.Thread.Id).init(0);
    const start = platform.monotonicNs();
    const t = try std.Thread.spawn(.{}, Waiter.run, .{ &w, &outcome, &tid });
    // Registered and asleep in the kernel: from here it waits on 0 without reading the word again.
    while (@atomicLoad(u32, &w.waiters, .seq_cst) == 0 or !inFutexWait(tid.load(.seq_cst))) std.Thread.sleep(std.time.ns_per_ms);
    // A committer killed between its commit and its wake: the value changes, nobody wakes.
    @atomicStore(u32, &w.value, 1, .seq_cst);
    t.join();
    try testing.expectEqual(Outcome.woken, outcome);
    try testing.expect(platform.monotonicNs() - start < 5 * std.time.ns_per_s);
}

test "parkWords parks again through slices while its words hold their values" {
    var a: u32 = 0;
    var b: u32 = 0;
    const words = [_]platform.WaitWord{
        .{ .word = &a, .expected = 0, .private = true },
        .{ .word = &b, .expected = 0, .private = true },
    };
    try testing.expectEqual(Outcome.timed_out, try parkWords(&words, Deadline.after(recheck_ns + recheck_ns / 2)));
    b = 1;
    try testing.expectEqual(Outcome.woken, try parkWords(&words, Deadline.after(std.time.ns_per_s)));
}

test "the runnable count is the fourth field's numerator of /proc/loadavg" {
    try testing.expectEqual(@as(?u32, 3), platform.impl.parseRunnable("0.50 0.40 0.30 3/250 12345\n"));
    try testing.expectEqual(@as(?u32, null), platform.impl.parseRunnable("0.50 0.40"));
    try testing.expectEqual(@as(?u32, null), platform.impl.parseRunnable("0.50 0.40 0.30 x/250 1"));
    // This machine's file parses (every Linux kernel libipc supports writes it).
    try testing.expect(platform.runnableThreads() != null);
}

test "two crowded samples switch to the crowded budget and two uncrowded ones switch back" {
    const saved = .{ crowd_score.load(.monotonic), crowded.load(.monotonic) };
    defer {
        crowd_score.store(saved[0], .monotonic);
        crowded.store(saved[1], .monotonic);
    }
    crowd_score.store(0, .monotonic);
    crowded.store(false, .monotonic);
    var word: u32 = 0;
    try testing.expectEqual(spin(), budgetFor(&word).ns);
    recordSample(true);
    try testing.expect(!isCrowded()); // one odd sample changes nothing
    recordSample(true);
    try testing.expect(isCrowded());
    const r = recordOf(@intFromPtr(&word));
    r.* = .{ .word = @intFromPtr(&word), .credit = 0 };
    try testing.expectEqual(@as(u32, 0), budgetFor(&word).ns);
    woke_parked_at = platform.monotonicNs(); // not even right after waking a parked waiter
    try testing.expectEqual(@as(u32, 0), budgetAfterWake(&word).ns);
    r.credit = 1;
    try testing.expectEqual(crowded_spin_ns, budgetFor(&word).ns); // a word with credit spins short
    woke_parked_at = platform.monotonicNs(); // but not right after waking a parked waiter, which may need this CPU
    try testing.expectEqual(@as(u32, 0), budgetAfterWake(&word).ns);
    try testing.expectEqual(crowded_spin_ns, budgetAfterWake(&word).ns);
    recordSample(false);
    try testing.expect(isCrowded());
    recordSample(false);
    try testing.expect(!isCrowded());
    try testing.expectEqual(spin(), budgetFor(&word).ns);
}

test "while the CPUs are crowded, spins that pay keep spinning on their word, wasted ones stop but probe" {
    const saved = .{ crowd_score.load(.monotonic), crowded.load(.monotonic), next_sample_at.load(.monotonic) };
    defer {
        crowd_score.store(saved[0], .monotonic);
        crowded.store(saved[1], .monotonic);
        next_sample_at.store(saved[2], .monotonic);
    }
    crowd_score.store(crowd_score_max, .monotonic);
    crowded.store(true, .monotonic);
    next_sample_at.store(std.math.maxInt(u64), .monotonic); // no sample flips the flag meanwhile
    // A change that arrives on the spin's third look, before it next reads the clock: the handoff to
    // a spinning waiter that parked at once while crowded (12-18 us instead of 0.3 us).
    const Countdown = struct {
        left: *u32,
        fn done(c: @This()) bool {
            if (c.left.* == 0) return true;
            c.left.* -= 1;
            return false;
        }
    };
    const Never = struct {
        fn done(_: void) bool {
            return false;
        }
    };
    var paying: u32 = 0;
    var left: u32 = 0;
    for (0..2 * credit_max) |_| {
        left = 2;
        try testing.expect(spinUntil(Countdown{ .left = &left }, Countdown.done, budgetFor(&paying), .never));
    }
    try testing.expect(recordOf(@intFromPtr(&paying)).credit >= credit_start);
    // A word whose spins end in a park: one wasted spin takes its only credit, then waits park at
    // once except one probe in `probe_every`.
    var wasted: u32 = 0;
    const b = budgetFor(&wasted);
    try testing.expectEqual(crowded_spin_ns, b.ns);
    try testing.expect(!spinUntil({}, Never.done, b, .never));
    for (1..probe_every) |_| try testing.expectEqual(@as(u32, 0), budgetFor(&wasted).ns);
    try testing.expectEqual(crowded_spin_ns, budgetFor(&wasted).ns);
    // Records are per word: the paying word still spins.
    try testing.expectEqual(crowded_spin_ns, budgetFor(&paying).ns);
}
