//! The owner-recording lock: libipc's robust mutex where the kernel keeps no robust list for us
//! (macOS; musl, whose list is registered lazily with another futex offset; Linux behind
//! `-Dmutex=owner`, so that CI tests it). It offers the interface of robust_mutex.zig (the same
//! word bits, the same results), but a dead holder is found by its waiters instead of by the kernel.
//!
//! Object (`size` bytes, 8-aligned), fixed-width integers only: the lock word u32 at 0 (holder
//! thread id | WAITERS | OWNER_DIED, the bits robust_mutex.zig uses) and the holder's pid u32 at 4,
//! taken together by one 64-bit CAS; the repair state u32 at 8; the owner record: a sequence u32 at
//! 12, the holder's thread id (the record's tag) at 16, its pid namespace (truncated) at 20, its
//! start time at 24; the pid namespace of the process that made the mutex at 32 and a sticky
//! "mixed namespaces" flag at 36.
//!
//! How a dead holder is found (`reap`): a waiter parks in slices of wait.recheck_ns (100 ms) as every
//! park does; when a slice ends with the word unchanged, it reads the record of the word's holder
//! and asks the OS whether that process still runs (platform.processAlive: pid and start time, so a
//! reused pid is not taken for the holder). Dead, the waiter does what the kernel does for a robust
//! futex: the word becomes WAITERS | OWNER_DIED (free), one waiter is woken, and the next taker gets
//! `owner_died`, then the state's repair or "not recoverable" exactly as with robust_mutex.zig.
//! `tryLock` judges the holder too when it finds the lock busy (at most every `judge_cache_ns` per
//! holder and thread). Bound: a waiter or a try_lock caller sees ownerDied within wait.recheck_ns of
//! the holder's death, plus the liveness check (a kill(0) and a read of /proc/<pid>/stat on Linux,
//! proc_pidinfo on macOS) and scheduling. Healthy waits are never polled faster than any park's
//! 100 ms slice.
//!
//! Invariants and limits:
//! - Only the holder writes the record, after the CAS that took the word and before the store that
//!   frees it, inside an odd sequence (a seqlock: a reader retries or gives up on a record being
//!   written, and uses one only when its tag is the word's holder). Nobody else writes it; a reaper
//!   writes only the word. A record is input: a pid outside 1..2^31-1 or a torn record judges no one.
//! - A holder is judged only by a process of its pid namespace (its pid means nothing elsewhere):
//!   holders in another namespace are never judged dead, and their death leaves the lock held until
//!   a process of their namespace waits on it. A holder of the judging process is alive by definition
//!   (its threads' deaths are handled by the thread-exit hook below).
//! - A holder killed between its taking CAS and its record's last store (a few stores; a kill storm
//!   hits that window: tests/c/test_heap.c did) has no whole record, but its pid is in the word's
//!   CAS. It is judged by pid alone (dead when no process has that pid, or only a zombie does) when
//!   every process that ever took the lock is known to share the judge's pid namespace: each
//!   acquirer whose namespace differs from the creator's sets the sticky `mixed` flag before its
//!   CAS. A reused pid makes such a holder look alive (the lock stays held: never a live holder's
//!   lock freed). A record left by a dead holder stays until the next holder writes its own; a new
//!   holder with the same thread id (a reused tid) read in the one store before its sequence turns
//!   odd could be judged by that stale record: a window of one store after two improbable events.
//! - A thread that exits holding locks (pthread_exit, return from its start routine) releases them
//!   with OWNER_DIED from a pthread key destructor, from its private record of held locks (as the
//!   kernel walks the robust list); a lock whose page is no longer mapped is skipped (msync says so).
//!   A process that calls exec while holding a lock keeps its pid and start time: it is not judged
//!   dead (the kernel's robust list does release at exec).
//! - Deadlock (EDEADLK) and NotOwner (EPERM) are decided as in robust_mutex.zig: the word naming the
//!   calling thread, and the thread's private record of held locks (never the segment's bytes).
//! - Windows: the holder's pid is GetCurrentProcessId, its start time the process creation time, its
//!   thread id GetCurrentThreadId (folded into the mask); the thread-exit hook is a fiber-local
//!   storage callback (FlsAlloc) and "mapped" is asked of VirtualQuery; there is no fork. A parked
//!   waiter there also waits on the holder's process handle (`holder`, windows_wait.zig), so it
//!   sees the holder's death at once instead of at the end of its slice.
//! - macOS: the pid and start time come from proc_pidinfo (PROC_PIDTBSDINFO, microseconds since the
//!   epoch), the liveness check is a kill(0) and that same call (a zombie is dead), the thread id is
//!   pthread_threadid_np (folded into the mask); there are no pid namespaces (every namespace is 0,
//!   so every process judges every holder).
//! - A mutex made by this protocol has its own layout tag: a process built with the kernel-list
//!   protocol refuses it with error.NotSupported, and the other way round.

const std = @import("std");
const builtin = @import("builtin");
const abi = @import("../abi.zig");
const platform = @import("root.zig");
const Error = abi.Error;

pub const supported = true;

pub const size: u32 = 40;
pub const alignment: u32 = 8;
/// Identifies the owner-recording protocol (robust_mutex.zig's tag is (2 << 16) | 32).
pub const layout_tag: u32 = (3 << 16) | 0x4f;

pub const waiters_bit: u32 = 0x8000_0000;
pub const owner_died_bit: u32 = 0x4000_0000;
pub const tid_mask: u32 = 0x3fff_ffff;

/// How long a thread trusts its last verdict that a holder is alive before asking the OS again
/// (only `tryLock` reuses it; a parked waiter asks once per slice anyway).
const judge_cache_ns: u64 = 10 * std.time.ns_per_ms;

const Object = extern struct {
    word: u32,
    pid: u32,
    state: u32,
    seq: u32,
    tag: u32,
    pidns: u32,
    start: u64,
    creator_pidns: u32,
    mixed: u32,

    /// The word and the pid, as the 64-bit cell the taking CAS writes (little-endian: word low).
    fn cell(o: *Object) *u64 {
        return @ptrCast(&o.word);
    }
};

comptime {
    std.debug.assert(@sizeOf(Object) == size);
    std.debug.assert(@offsetOf(Object, "word") == 0);
    std.debug.assert(@offsetOf(Object, "pid") == 4);
    std.debug.assert(builtin.cpu.arch.endian() == .little);
}

fn cellOf(w: u32, pid: u32) u64 {
    return @as(u64, pid) << 32 | w;
}

const State = struct {
    const consistent: u32 = 0;
    const inconsistent: u32 = 1;
    const not_recoverable: u32 = 2;
};

pub const Acquired = enum { locked, owner_died };

fn object(memory: *anyopaque) *Object {
    return @ptrCast(@alignCast(memory));
}

pub fn word(memory: *anyopaque) *u32 {
    return &object(memory).word;
}

// ---------------------------------------------------------------------------------------------------
// This process and this thread.

const Me = struct { pid: u32, pidns: u32, start: u64 };

var me: Me = undefined;
var me_ready = std.atomic.Value(bool).init(false);
var me_lock: std.Thread.Mutex = .{};

fn self() Error!Me {
    if (me_ready.load(.acquire)) return me;
    atfork.call();
    me_lock.lock();
    defer me_lock.unlock();
    if (!me_ready.load(.acquire)) {
        const stamp = try platform.selfStamp();
        me = .{ .pid = @intCast(stamp.pid), .pidns = @truncate(stamp.pidns), .start = stamp.start };
        me_ready.store(true, .release);
    }
    return me;
}

/// How many held locks the record keeps in thread-local storage; beyond that it moves to the C heap.
const held_inline = 64;

const Thread = struct {
    tid: u32 = 0,
    count: u32 = 0,
    armed: bool = false,
    heap: ?[*]usize = null,
    capacity: u32 = held_inline,
    inline_held: [held_inline]usize = undefined,
    /// The last holder judged alive by this thread, and when (see `judge_cache_ns`).
    alive_pid: u32 = 0,
    alive_start: u64 = 0,
    alive_at: u64 = 0,

    inline fn held(t: *Thread) [*]usize {
        return t.heap orelse &t.inline_held;
    }

    fn find(t: *Thread, address: usize) ?u32 {
        const h = t.held();
        var i = t.count;
        while (i > 0) {
            i -= 1;
            if (h[i] == address) return i;
        }
        return null;
    }

    fn reserve(t: *Thread) Error!void {
        if (t.count < t.capacity) return;
        const bigger = std.heap.c_allocator.alloc(usize, @as(usize, t.capacity) * 2) catch return error.NoMemory;
        @memcpy(bigger[0..t.count], t.held()[0..t.count]);
        if (t.heap) |old| std.heap.c_allocator.free(old[0..t.capacity]);
        t.heap = bigger.ptr;
        t.capacity *= 2;
    }

    fn remove(t: *Thread, i: u32) void {
        const h = t.held();
        std.mem.copyForwards(usize, h[i .. t.count - 1], h[i + 1 .. t.count]);
        t.count -= 1;
        if (t.count == 0 and t.heap != null) {
            std.heap.c_allocator.free(t.heap.?[0..t.capacity]);
            t.heap = null;
            t.capacity = held_inline;
        }
    }
};

threadlocal var thread: Thread = .{};

fn threadState() Error!*Thread {
    const t = &thread;
    if (t.tid != 0) return t;
    _ = try self();
    // Not std.Thread.getCurrentId: it caches the id per thread, and a forked child would inherit
    // its parent's.
    const id: u64 = if (builtin.os.tag == .linux) @intCast(std.os.linux.gettid()) else @intCast(std.Thread.getCurrentId());
    // A Linux tid fits the mask; elsewhere the id is folded into it (never 0, never all ones).
    var tid: u32 = @truncate(id & tid_mask);
    if (tid == 0 or tid == tid_mask) tid = 1;
    t.tid = tid;
    return t;
}

/// Arms the thread-exit hook for the calling thread (once per thread, on its first lock).
fn arm(t: *Thread) Error!void {
    if (t.armed) return;
    exit_key_once.call();
    if (!exit_key_ok) return error.NoMemory;
    if (windows) {
        if (FlsSetValue(fls_index, @ptrFromInt(1)) == 0) return error.NoMemory;
    } else if (std.c.pthread_setspecific(exit_key, @ptrFromInt(1)) != 0) return error.NoMemory;
    t.armed = true;
}

// ---------------------------------------------------------------------------------------------------
// The owner record.

const Record = struct { tag: u32, pidns: u32, start: u64 };

fn writeRecord(o: *Object, tid: u32, m: Me) void {
    const s = @atomicLoad(u32, &o.seq, .monotonic) | 1;
    @atomicStore(u32, &o.seq, s, .monotonic);
    @atomicStore(u32, &o.tag, tid, .release);
    @atomicStore(u32, &o.pidns, m.pidns, .release);
    @atomicStore(u64, &o.start, m.start, .release);
    @atomicStore(u32, &o.seq, s +% 1, .release);
}

fn clearRecord(o: *Object) void {
    const s = @atomicLoad(u32, &o.seq, .monotonic) | 1;
    @atomicStore(u32, &o.seq, s, .monotonic);
    @atomicStore(u32, &o.tag, 0, .release);
    @atomicStore(u32, &o.seq, s +% 1, .release);
}

/// The record as one consistent snapshot, or null while one is being written.
fn readRecord(o: *Object) ?Record {
    var attempt: u32 = 0;
    while (attempt < 4) : (attempt += 1) {
        const s1 = @atomicLoad(u32, &o.seq, .acquire);
        if (s1 & 1 != 0) {
            std.atomic.spinLoopHint();
            continue;
        }
        const r: Record = .{
            .tag = @atomicLoad(u32, &o.tag, .acquire),
            .pidns = @atomicLoad(u32, &o.pidns, .acquire),
            .start = @atomicLoad(u64, &o.start, .acquire),
        };
        if (@atomicLoad(u32, &o.seq, .acquire) == s1) return r;
    }
    return null;
}

const Verdict = enum { alive, dead, unknown };

/// Whether the holder named by `c` (a held cell: word and pid) is dead, by its record, or by its pid
/// alone when it has no whole record and nobody outside the judge's namespace ever took the lock.
fn judge(o: *Object, c: u64, t: *Thread, use_cache: bool) Verdict {
    const owner = @as(u32, @truncate(c)) & tid_mask;
    const pid: u32 = @intCast(c >> 32);
    if (pid == 0 or pid > std.math.maxInt(i32)) return .unknown;
    const m = self() catch return .unknown;
    const record = readRecord(o);
    const start = if (record != null and record.?.tag == owner) blk: {
        if (record.?.pidns != m.pidns) return .unknown;
        break :blk record.?.start;
    } else blk: {
        // No whole record: the holder died (or is) between its CAS and its record's last store.
        if (@atomicLoad(u32, &o.mixed, .acquire) != 0 or @atomicLoad(u32, &o.creator_pidns, .monotonic) != m.pidns) return .unknown;
        if (pid == m.pid) return .alive;
        if (!@hasDecl(platform.impl, "startTime")) return .unknown;
        break :blk platform.impl.startTime(@intCast(pid)) catch |err| return if (err == error.NotFound) .dead else .unknown;
    };
    if (pid == m.pid and start == m.start) return .alive;
    const now = platform.monotonicNs();
    if (use_cache and t.alive_pid == pid and t.alive_start == start and now -% t.alive_at < judge_cache_ns) return .alive;
    if (platform.processAlive(@intCast(pid), start)) {
        t.alive_pid = pid;
        t.alive_start = start;
        t.alive_at = now;
        return .alive;
    }
    return .dead;
}

/// Frees the lock whose word still holds `v` the way the kernel frees a dead holder's robust futex:
/// WAITERS kept, OWNER_DIED set, one waiter woken. False when the word moved on meanwhile.
fn release_dead(o: *Object, v: u32) bool {
    var seen = v;
    var attempt: u32 = 0;
    while (attempt < 64) : (attempt += 1) {
        if (@cmpxchgStrong(u32, &o.word, seen, (seen & waiters_bit) | owner_died_bit, .acq_rel, .acquire)) |now| {
            // Only the waiters bit may change under a dead holder; anything else is a new state.
            if (now & tid_mask != v & tid_mask) return false;
            seen = now;
            continue;
        }
        _ = platform.futexWake(&o.word, 1, false);
        return true;
    }
    return false;
}

/// For a waiter whose slice ended with the word unchanged, or a busy try: if the lock's holder is
/// dead (see the file comment), frees it with OWNER_DIED and returns true (the caller tries again).
/// `memory` is the lock object (its word is its first field).
pub fn reap(memory: *anyopaque) bool {
    const t = threadState() catch return false;
    return reapWith(object(memory), t, false);
}

/// Who holds the lock whose word is `w`, by its whole record: a process of this pid namespace other
/// than this one, or null (free, held here, no whole record, another namespace). For a waiter that
/// can also wait for the holder's death (windows_wait.zig waits on its process handle); the answer is
/// a hint read from shared memory: the waiter verifies the process's identity, and `reap` judges.
pub const Holder = struct { pid: u32, start: u64 };

pub fn holder(w: *const u32) ?Holder {
    // A lock's park may be on a word that is no mutex's lock word (an rwlock reader waits on its
    // `slot_free`, 4 bytes into an 8-byte pair): such a word is never cast to a lock, whose record
    // is 8-byte aligned (the cast would panic). An aligned one that is no lock is read as a hint
    // only, which the waiter verifies (the recorded process's identity) before it is used.
    if (@intFromPtr(w) % @alignOf(Object) != 0) return null;
    const o: *Object = @ptrCast(@alignCast(@constCast(w)));
    const m = self() catch return null;
    const c = @atomicLoad(u64, o.cell(), .acquire);
    const owner = @as(u32, @truncate(c)) & tid_mask;
    const pid: u32 = @intCast(c >> 32);
    if (owner == 0 or pid == 0 or pid > std.math.maxInt(i32) or pid == m.pid) return null;
    const record = readRecord(o) orelse return null;
    if (record.tag != owner or record.pidns != m.pidns) return null;
    return .{ .pid = pid, .start = record.start };
}

fn reapWith(o: *Object, t: *Thread, use_cache: bool) bool {
    const c = @atomicLoad(u64, o.cell(), .acquire);
    const v: u32 = @truncate(c);
    if (v & tid_mask == 0 or v & tid_mask == t.tid) return false;
    if (judge(o, c, t, use_cache) != .dead) return false;
    return release_dead(o, v);
}

// ---------------------------------------------------------------------------------------------------
// The interface of robust_mutex.zig.

pub fn init(memory: *anyopaque) Error!void {
    const m = try self();
    @memset(@as([*]u8, @ptrCast(memory))[0..size], 0);
    object(memory).creator_pidns = m.pidns;
}

/// Takes the mutex if free. A busy lock's holder is judged first (the lock of a dead holder is
/// taken with `owner_died`). error.Busy, error.Deadlock, error.NotRecoverable as robust_mutex.zig.
pub fn tryLock(memory: *anyopaque) Error!Acquired {
    return acquire(memory, false) catch |err| switch (err) {
        error.Busy => {
            const t = try threadState();
            if (!reapWith(object(memory), t, true)) return error.Busy;
            return acquire(memory, false);
        },
        else => return err,
    };
}

/// `tryLock` without judging the holder; `contended` also sets WAITERS in the taking CAS.
pub fn acquire(memory: *anyopaque, contended: bool) Error!Acquired {
    const t = try threadState();
    const o = object(memory);
    var v = @atomicLoad(u32, &o.word, .monotonic);
    if (v & tid_mask != 0) return busyOrDeadlock(t, v);
    try t.reserve();
    try arm(t);
    const m = try self();
    // Announce a namespace other than the creator's before taking the lock (see `judge`).
    if (@atomicLoad(u32, &o.creator_pidns, .monotonic) != m.pidns and @atomicLoad(u32, &o.mixed, .monotonic) == 0)
        @atomicStore(u32, &o.mixed, 1, .seq_cst);
    const extra: u32 = if (contended) waiters_bit else 0;
    var c = @atomicLoad(u64, o.cell(), .monotonic);
    v = @truncate(c);
    var attempts: u32 = 0;
    while (true) {
        if (v & tid_mask != 0) return busyOrDeadlock(t, v);
        c = @cmpxchgStrong(u64, o.cell(), c, cellOf(t.tid | (v & waiters_bit) | extra, m.pid), .acq_rel, .monotonic) orelse break;
        v = @truncate(c);
        attempts += 1;
        if (attempts == 64) return error.Busy;
    }
    writeRecord(o, t.tid, m);
    const state = @as(*volatile u32, &o.state);
    var result: Acquired = .locked;
    if (v & owner_died_bit != 0) {
        state.* = State.inconsistent;
        result = .owner_died;
    } else switch (state.*) {
        State.consistent => {},
        State.not_recoverable => {
            clearRecord(o);
            release(o, true);
            return error.NotRecoverable;
        },
        else => result = .owner_died,
    }
    t.held()[t.count] = @intFromPtr(o);
    t.count += 1;
    return result;
}

/// No separate fast path in this protocol (mutex.zig's callers go on to `tryLock`/`acquire`).
pub inline fn lockFast(memory: *anyopaque) Error!?Acquired {
    _ = memory;
    return null;
}

/// No separate fast path: mutex.zig goes on to `unlock`.
pub inline fn unlockFast(memory: *anyopaque) bool {
    _ = memory;
    return false;
}

fn busyOrDeadlock(t: *Thread, v: u32) Error {
    return if (v & tid_mask == t.tid) error.Deadlock else error.Busy;
}

fn release(o: *Object, all: bool) void {
    const old = @atomicRmw(u32, &o.word, .Xchg, 0, .acq_rel);
    if (old & waiters_bit != 0) _ = platform.futexWake(&o.word, if (all) std.math.maxInt(u32) else 1, false);
}

pub fn holds(memory: *anyopaque) bool {
    const t = &thread;
    if (t.tid == 0) return false;
    const o = object(memory);
    return t.find(@intFromPtr(o)) != null and @atomicLoad(u32, &o.word, .monotonic) & tid_mask == t.tid;
}

pub fn unlock(memory: *anyopaque) Error!void {
    const t = &thread;
    if (t.tid == 0) return error.NotOwner;
    const o = object(memory);
    const i = t.find(@intFromPtr(o)) orelse return error.NotOwner;
    t.remove(i);
    const mine = @atomicLoad(u32, &o.word, .monotonic) & tid_mask == t.tid;
    if (!mine) return error.Protocol;
    const state = @as(*volatile u32, &o.state);
    const abandon = state.* != State.consistent;
    if (abandon) state.* = State.not_recoverable;
    clearRecord(o);
    release(o, abandon);
}

pub fn consistent(memory: *anyopaque) Error!void {
    if (!holds(memory)) return error.NotOwner;
    const state = @as(*volatile u32, &object(memory).state);
    if (state.* != State.inconsistent) return error.Invalid;
    state.* = State.consistent;
}

pub fn destroy(memory: *anyopaque) void {
    _ = memory;
}

pub fn currentPid() u32 {
    const m = self() catch return 0;
    return m.pid;
}

pub fn currentTid() u32 {
    const t = threadState() catch return 0;
    return t.tid;
}

/// Checks that this process can record itself as an owner (its pid, start time and namespace).
pub fn selfTest() Error!void {
    _ = try threadState();
}

// ---------------------------------------------------------------------------------------------------
// Thread exit and fork.

extern "c" fn msync(address: *anyopaque, length: usize, flags: c_int) c_int;

// On Windows the hook is a fiber-local storage callback, which the system calls when a thread with
// a non-null value exits (FlsAlloc); elsewhere a pthread key destructor.
const windows = builtin.os.tag == .windows;
extern "kernel32" fn FlsAlloc(callback: *const fn (?*anyopaque) callconv(.winapi) void) callconv(.winapi) u32;
extern "kernel32" fn FlsSetValue(index: u32, value: ?*anyopaque) callconv(.winapi) i32;
var fls_index: u32 = 0;

var exit_key: std.c.pthread_key_t = undefined;
var exit_key_ok = false;
var exit_key_once = std.once(createExitKey);

fn createExitKey() void {
    if (windows) {
        fls_index = FlsAlloc(flsExit);
        exit_key_ok = fls_index != 0xFFFF_FFFF;
        return;
    }
    exit_key_ok = std.c.pthread_key_create(&exit_key, threadExit) == .SUCCESS;
}

fn flsExit(value: ?*anyopaque) callconv(.winapi) void {
    if (value) |v| threadExit(v);
}

/// Whether the page holding `address` is mapped in this process (the thread-exit hook, and
/// mutex.ofWord before it reads the bytes in front of a word).
pub fn mapped(address: usize) bool {
    if (windows) return platform.impl.mapped(address);
    const page = std.heap.pageSize();
    const base = address & ~(page - 1);
    return msync(@ptrFromInt(base), page, std.c.MSF.ASYNC) == 0;
}

/// The thread-exit hook: every lock the exiting thread still holds is freed as the kernel frees a
/// dead thread's robust futexes (WAITERS kept, OWNER_DIED set, one waiter woken).
fn threadExit(value: *anyopaque) callconv(.c) void {
    _ = value;
    const t = &thread;
    while (t.count > 0) {
        const address = t.held()[t.count - 1];
        t.remove(t.count - 1);
        if (!mapped(address)) continue;
        const o: *Object = @ptrFromInt(address);
        const v = @atomicLoad(u32, &o.word, .acquire);
        if (v & tid_mask != t.tid) continue;
        clearRecord(o);
        _ = release_dead(o, v);
    }
    t.armed = false;
}

/// A forked child's only thread holds none of its parent's locks and has a new id and pid.
var atfork = std.once(registerAtFork);

fn registerAtFork() void {
    if (windows) return;
    _ = std.c.pthread_atfork(null, null, forgetThread);
}

fn forgetThread() callconv(.c) void {
    thread = .{};
    me_ready.store(false, .release);
}

const testing = std.testing;

test "owner mutex: errorcheck, record, unlock by a non-owner, out-of-order unlocks" {
    var storage: [3]Object = undefined;
    for (&storage) |*s| try init(s);
    const m: *anyopaque = @ptrCast(&storage[0]);
    try testing.expectEqual(Acquired.locked, try tryLock(m));
    try testing.expectEqual(currentTid(), word(m).*);
    try testing.expectError(error.Deadlock, tryLock(m));
    const r = readRecord(&storage[0]).?;
    try testing.expectEqual(currentTid(), r.tag);
    try testing.expectEqual(currentPid(), storage[0].pid);
    const Other = struct {
        fn run(mm: *anyopaque, out: *?Error) void {
            unlock(mm) catch |err| {
                out.* = err;
            };
        }
    };
    var other_err: ?Error = null;
    const th = try std.Thread.spawn(.{}, Other.run, .{ m, &other_err });
    th.join();
    try testing.expectEqual(@as(?Error, error.NotOwner), other_err);
    _ = try tryLock(@ptrCast(&storage[1]));
    _ = try tryLock(@ptrCast(&storage[2]));
    try unlock(@ptrCast(&storage[1]));
    try unlock(m);
    try unlock(@ptrCast(&storage[2]));
    try testing.expectEqual(@as(u32, 0), thread.count);
    try testing.expectEqual(@as(u32, 0), readRecord(&storage[0]).?.tag);
    try testing.expectError(error.NotOwner, unlock(m));
}

test "owner mutex: a thread that exits holding a lock frees it with OWNER_DIED" {
    var o: Object = undefined;
    try init(&o);
    const Locker = struct {
        fn run(mm: *Object) void {
            _ = tryLock(mm) catch unreachable;
        }
    };
    const th = try std.Thread.spawn(.{}, Locker.run, .{&o});
    th.join();
    try testing.expectEqual(owner_died_bit, o.word);
    try testing.expectEqual(Acquired.owner_died, try tryLock(&o));
    try unlock(&o);
    try testing.expectError(error.NotRecoverable, tryLock(&o));
}

test "owner mutex: a record naming a dead process is reaped; a live one, another namespace or a torn record is not" {
    var o: Object = undefined;
    try init(&o);
    const m = try self();
    const nobody: u32 = 0x3fff_fff0; // above the kernel's pid limit: no such process
    // A holder that is this process: alive.
    o.word = 77 | waiters_bit;
    o.pid = m.pid;
    writeRecord(&o, 77, m);
    try testing.expect(!reap(&o));
    // Another namespace: never judged.
    o.pid = nobody;
    writeRecord(&o, 77, .{ .pid = 0, .pidns = m.pidns +% 1, .start = 1 });
    try testing.expect(!reap(&o));
    // A record being written: not judged while mixed namespaces were seen.
    writeRecord(&o, 77, .{ .pid = 0, .pidns = m.pidns, .start = 1 });
    o.seq |= 1;
    o.mixed = 1;
    try testing.expect(!reap(&o));
    // A record for another holder than the word's, namespaces mixed: not judged.
    o.seq +%= 1;
    writeRecord(&o, 78, .{ .pid = 0, .pidns = m.pidns, .start = 1 });
    try testing.expect(!reap(&o));
    // The same, every taker in this namespace: judged by pid alone; a live pid is alive.
    o.mixed = 0;
    o.pid = m.pid;
    try testing.expect(!reap(&o));
    o.pid = nobody;
    try testing.expect(reap(&o));
    try testing.expectEqual(waiters_bit | owner_died_bit, o.word);
    // This process with another start time (its pid reused): dead.
    o.word = 77 | waiters_bit;
    o.pid = m.pid;
    writeRecord(&o, 77, .{ .pid = 0, .pidns = m.pidns, .start = m.start +% 1 });
    try testing.expect(reap(&o));
    try testing.expectEqual(waiters_bit | owner_died_bit, o.word);
    try testing.expectEqual(Acquired.owner_died, try tryLock(&o));
    try consistent(&o);
    try unlock(&o);
    try testing.expectEqual(Acquired.locked, try tryLock(&o));
    try unlock(&o);
}

test "owner mutex: a parked word that is not 8-byte aligned (an rwlock's slot_free) has no holder" {
    // The rwlock's slot_free sits 20 bytes into its object; a reader parks there through the lock
    // path (platform.futexWaitvLock), which asks for the word's holder.
    var words: [4]u32 align(8) = .{ 77, 0x3fff_fff0, 0, 0 };
    try testing.expect(holder(&words[1]) == null);
}
