//! libipc's robust lock on Linux: a lock word that follows the kernel's robust-futex protocol
//! (owner TID | FUTEX_WAITERS | FUTEX_OWNER_DIED), taken and released by libipc's own code, with a
//! list node that libipc threads into glibc's per-thread robust list so that the kernel releases
//! the lock (sets FUTEX_OWNER_DIED and wakes a waiter) when its holder dies. No glibc mutex call
//! ever sees the object: glibc's pthread_mutex_* read the mutex kind, owner and list links from the
//! object, and in shared memory those are a peer's to write (issue 16: a priority-protect kind
//! aborted in a glibc assertion, elision bits executed `xbegin`, forged links made unlock write
//! wherever a peer chose).
//!
//! Object (`size` bytes from the lock word, 8-aligned): word u32 at 0, repair state u32 at 4,
//! the node's `prev` at 24 and `next` at 32. The kernel finds the word from a list entry at
//! entry + futex_offset, and glibc registers every thread's list with futex_offset -32 (entries
//! point at pthread_mutex_t.__list.__next, the word is at its start); so the node's `next` is 32
//! bytes after the word, and the object is usable only when the thread's registered head says so.
//!
//! Invariants:
//! - libipc never registers a list of its own (that silently breaks glibc's robust mutexes,
//!   PROBE.md Q3c): `threadState` reads the head glibc registered (get_robust_list, once per
//!   thread) and refuses with error.NotSupported when there is none or its futex_offset differs.
//! - Nothing read from shared memory is ever followed as a pointer. Each thread keeps a private
//!   record of the libipc locks it holds, in list order (`Thread.held`), and every list write takes
//!   its addresses from that record or from glibc's own private list; a node's links in the segment
//!   are written, never read. A peer that rewrites them can only mislead the kernel's walk at this
//!   thread's death, which reads user memory safely and only touches words holding the dead TID.
//! - libipc's nodes sit together at the tail of the list, behind every glibc mutex the thread holds:
//!   a new node goes in after the last glibc node, and glibc only ever inserts at the head. glibc's
//!   dequeues therefore write our nodes' `prev` (harmless) and never their `next`, so the record
//!   stays exact. Finding the last glibc node walks glibc's own entries, as glibc's unlock would; with
//!   no glibc robust mutex held (the usual case) the walk is one comparison.
//! - Every list change is announced in the head's list_op_pending first, as glibc does, so that a
//!   thread killed in the middle still has the lock released by the kernel.
//! - The unlocking thread must be the one the record names: a word that says "this thread" without
//!   the record (a peer wrote our TID, the thread holds it through another mapping, or a holder in
//!   another PID namespace has the same number) is error.Deadlock to lock (as with glibc) and
//!   error.NotOwner to unlock or repair. A word that no longer
//!   says "this thread" while the record does is damage: unlock drops the record and returns
//!   error.Protocol without touching the word.
//! - The repair state (consistent, inconsistent after an owner died, not recoverable) is data in
//!   the object, read only while holding the lock, as glibc keeps its __owner field.
//! - `lockFast` and `unlockFast` are the general `acquire` and `unlock` restricted to the usual case
//!   (inlined into the exports: through libipc.so they halve the instructions per lock+unlock); when
//!   they decline they have changed nothing, and the general functions handle the call.

const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const Error = abi.Error;

pub const supported = builtin.abi.isGnu() and @sizeOf(usize) == 8;

/// Bytes from the lock word to the end of the list node.
pub const size: u32 = 40;
pub const alignment: u32 = 8;
/// Identifies the lock protocol of a mutex in shared memory: 2 is this file's (1 was glibc's
/// pthread_mutex_t, which peers of this version refuse, and which refuse this one).
pub const layout_tag: u32 = (2 << 16) | node_offset;

pub const waiters_bit: u32 = 0x8000_0000;
pub const owner_died_bit: u32 = 0x4000_0000;
pub const tid_mask: u32 = 0x3fff_ffff;

/// Where the node's `next` (the list entry) is, from the lock word; glibc's futex_offset negated.
const node_offset: u32 = 32;
const state_offset = 4;
const prev_offset = 24;

/// The repair state of the data a mutex protects.
const State = struct {
    const consistent: u32 = 0;
    const inconsistent: u32 = 1;
    const not_recoverable: u32 = 2;
};

/// The kernel's struct robust_list_head, as glibc registers it for each thread.
const RobustHead = extern struct {
    list: usize,
    futex_offset: isize,
    list_op_pending: usize,
};

/// How many held locks the record keeps in thread-local storage; beyond that it moves to the C heap
/// (error.NoMemory when malloc fails), and back when the thread holds none. (The kernel's walk at a
/// thread's death stops after 2048 entries, glibc's and ours together, as for glibc's mutexes.)
const held_inline = 64;
/// How many glibc robust mutexes the walk to the last one passes before giving up (the kernel's own
/// limit for the walk at a thread's death is 2048).
const walk_max = 2048;

const Thread = struct {
    tid: u32 = 0,
    count: u32 = 0,
    head: ?*RobustHead = null,
    /// List entries (word address + node_offset) of the locks this thread holds, in list order from
    /// the tail: held[count - 1] is the one nearest the head. `inline_held`, or `heap` (of
    /// `capacity` entries) once a thread holds more than `held_inline`.
    heap: ?[*]usize = null,
    capacity: u32 = held_inline,
    inline_held: [held_inline]usize = undefined,

    inline fn held(t: *Thread) [*]usize {
        return t.heap orelse &t.inline_held;
    }

    fn find(t: *Thread, entry: usize) ?u32 {
        const h = t.held();
        var i = t.count;
        while (i > 0) {
            i -= 1;
            if (h[i] == entry) return i;
        }
        return null;
    }

    /// Makes room for one more entry.
    fn reserve(t: *Thread) Error!void {
        if (t.count < t.capacity) return;
        const bigger = std.heap.c_allocator.alloc(usize, @as(usize, t.capacity) * 2) catch return error.NoMemory;
        @memcpy(bigger[0..t.count], t.held()[0..t.count]);
        if (t.heap) |old| std.heap.c_allocator.free(old[0..t.capacity]);
        t.heap = bigger.ptr;
        t.capacity *= 2;
    }

    /// Back to thread-local storage once the thread holds nothing.
    fn shrink(t: *Thread) void {
        if (t.count != 0) return;
        if (t.heap) |old| std.heap.c_allocator.free(old[0..t.capacity]);
        t.heap = null;
        t.capacity = held_inline;
    }
};

threadlocal var thread: Thread = .{};

pub const Acquired = enum { locked, owner_died };

fn volatileAt(address: usize) *volatile usize {
    return @ptrFromInt(address);
}

fn entryOf(memory: *anyopaque) usize {
    return @intFromPtr(memory) + node_offset;
}

fn stateOf(memory: *anyopaque) *u32 {
    return @ptrFromInt(@intFromPtr(memory) + state_offset);
}

/// The lock word: the first word of the object.
pub fn word(memory: *anyopaque) *u32 {
    return @ptrCast(@alignCast(memory));
}

/// The calling thread's record, set up on first use: its TID and the robust-list head glibc
/// registered for it. error.NotSupported without one.
inline fn threadState() Error!*Thread {
    const t = &thread;
    if (t.head != null) return t;
    return setUpThread(t);
}

noinline fn setUpThread(t: *Thread) Error!*Thread {
    if (!supported) return error.NotSupported;
    atfork.call();
    var head: usize = 0;
    var len: usize = 0;
    const rc = linux.syscall3(.get_robust_list, 0, @intFromPtr(&head), @intFromPtr(&len));
    if (linux.E.init(rc) != .SUCCESS or head == 0 or len != @sizeOf(RobustHead)) return error.NotSupported;
    const h: *RobustHead = @ptrFromInt(head);
    if (h.futex_offset != -@as(isize, node_offset)) return error.NotSupported;
    t.tid = @intCast(linux.gettid());
    t.count = 0;
    t.head = h;
    return t;
}

/// The address of the list pointer that points at `target` (an entry of ours, or the head itself
/// when this thread holds no libipc lock): the last glibc entry's `next`, or the head's `list`.
/// Only glibc's entries are passed, never ours (they are all behind `target`).
fn predecessor(t: *Thread, target: usize) Error!usize {
    const head = @intFromPtr(t.head.?);
    var at = head; // &head.list: the head's `list` is its first field
    var steps: u32 = 0;
    while (steps < walk_max) : (steps += 1) {
        const next = volatileAt(at).* & ~@as(usize, 1); // bit 0 marks a PI entry
        if (next == target) return at;
        if (next == head or next == 0 or t.find(next) != null) break;
        at = next;
    }
    return error.Protocol;
}

/// Initializes `size` bytes at `memory` (aligned to `alignment`) as an unlocked mutex.
pub fn init(memory: *anyopaque) Error!void {
    @memset(@as([*]u8, @ptrCast(memory))[0..size], 0);
}

/// Takes the mutex if it is free. error.Busy when another thread holds it, error.Deadlock when the
/// calling thread does, error.NotRecoverable after an owner died and nobody repaired it.
pub inline fn tryLock(memory: *anyopaque) Error!Acquired {
    return acquire(memory, false);
}

/// `tryLock`; `contended` also sets FUTEX_WAITERS in the taking CAS (a thread that waited: others
/// may sleep on the word, and the next unlock must wake one).
pub fn acquire(memory: *anyopaque, contended: bool) Error!Acquired {
    const t = try threadState();
    const w = word(memory);
    const entry = entryOf(memory);
    var v = @atomicLoad(u32, w, .monotonic);
    if (v & tid_mask != 0) return busyOrDeadlock(t, v);
    try t.reserve();
    const first = if (t.count > 0) t.held()[t.count - 1] else @intFromPtr(t.head.?);
    const pred = if (volatileAt(@intFromPtr(t.head.?)).* == first) @intFromPtr(t.head.?) else try predecessor(t, first);
    const pending = &t.head.?.list_op_pending;
    @as(*volatile usize, pending).* = entry;
    const extra: u32 = if (contended) waiters_bit else 0;
    var attempts: u32 = 0;
    while (true) {
        // Keep FUTEX_WAITERS: a free word has it only after an owner's death left sleepers.
        if (@cmpxchgStrong(u32, w, v, t.tid | (v & waiters_bit) | extra, .acq_rel, .monotonic)) |seen| {
            v = seen;
            attempts += 1;
            if (v & tid_mask != 0 or attempts == 64) {
                @as(*volatile usize, pending).* = 0;
                if (v & tid_mask != 0) return busyOrDeadlock(t, v);
                return error.Busy;
            }
            continue;
        }
        break;
    }
    return taken(t, memory, v, first, pred);
}

/// After the taking CAS (`v` is the word it replaced, list_op_pending names the entry): reads the
/// repair state, then links the node between `pred` and `first`.
noinline fn taken(t: *Thread, memory: *anyopaque, v: u32, first: usize, pred: usize) Error!Acquired {
    const pending = &t.head.?.list_op_pending;
    const state = @as(*volatile u32, stateOf(memory));
    var result: Acquired = .locked;
    if (v & owner_died_bit != 0) {
        state.* = State.inconsistent;
        result = .owner_died;
    } else switch (state.*) {
        State.consistent => {},
        State.not_recoverable => {
            release(word(memory), true);
            @as(*volatile usize, pending).* = 0;
            return error.NotRecoverable;
        },
        // Only damage leaves it so without the owner-died bit: report the state as unrepaired.
        else => result = .owner_died,
    }
    link(t, entryOf(memory), first, pred);
    return result;
}

/// Links `entry` after the last glibc entry (`pred`), in front of our others (`first`, or the head),
/// records it, and ends the list operation (see the file comment). The record has room (`reserve`
/// or `lockFast` checked), and the addresses are the entry's own and the list's: safety checks off.
inline fn link(t: *Thread, entry: usize, first: usize, pred: usize) void {
    @setRuntimeSafety(false);
    const next: *volatile usize = @ptrFromInt(entry);
    const prev: *volatile usize = @ptrFromInt(entry - node_offset + prev_offset);
    const into: *volatile usize = @ptrFromInt(pred);
    next.* = first;
    prev.* = pred;
    into.* = entry;
    t.held()[t.count] = entry;
    t.count += 1;
    @as(*volatile usize, &t.head.?.list_op_pending).* = 0;
}

/// The uncontended lock, inlined into the callers: a thread with a record and room in it, no glibc
/// robust mutex held, and a word that is exactly 0 (no holder, no owner-died mark, no waiters).
/// Null, having changed nothing, whenever one of those does not hold: the caller then goes the
/// general way (`acquire`), which handles every case. It is `acquire` without the cases that cannot
/// arise here, and with runtime safety off: the one index is checked by hand (`count < capacity`),
/// the addresses are the object's own (8-aligned, checked by the callers) and the list's, and
/// nothing read from the object is used as an address.
pub inline fn lockFast(memory: *anyopaque) Error!?Acquired {
    @setRuntimeSafety(false);
    const t = &thread;
    const head = t.head orelse return null;
    const count = t.count;
    if (count >= t.capacity) return null;
    const list: *volatile usize = &head.list;
    const first = if (count > 0) t.held()[count - 1] else @intFromPtr(head);
    // A glibc robust mutex held in front of ours: `acquire` walks to the last one.
    if (list.* != first) return null;
    const base = @intFromPtr(memory);
    const entry = base + node_offset;
    const pending: *volatile usize = &head.list_op_pending;
    pending.* = entry;
    const w: *u32 = @ptrFromInt(base);
    if (@cmpxchgStrong(u32, w, 0, t.tid, .acq_rel, .monotonic) != null) {
        pending.* = 0;
        return null;
    }
    // The repair state is read under the lock; anything but consistent is `taken`'s to handle.
    const state: *volatile u32 = @ptrFromInt(base + state_offset);
    if (state.* != State.consistent) return try taken(t, memory, 0, first, @intFromPtr(head));
    link(t, entry, first, @intFromPtr(head));
    return .locked;
}

/// A word naming this thread is error.Deadlock even without the record: the thread may hold the
/// same mutex through another mapping (glibc said EDEADLK there too). Unlocking needs the record.
fn busyOrDeadlock(t: *Thread, v: u32) Error {
    return if (v & tid_mask == t.tid) error.Deadlock else error.Busy;
}

fn release(w: *u32, all: bool) void {
    const old = @atomicRmw(u32, w, .Xchg, 0, .acq_rel);
    if (old & waiters_bit != 0)
        _ = linux.futex_3arg(w, .{ .cmd = .WAKE, .private = false }, if (all) std.math.maxInt(i32) else 1);
}

/// Whether the calling thread holds the mutex (by its own record, not the word alone).
pub fn holds(memory: *anyopaque) bool {
    const t = &thread;
    if (t.head == null) return false;
    return t.find(entryOf(memory)) != null and @atomicLoad(u32, word(memory), .monotonic) & tid_mask == t.tid;
}

/// The usual unlock, inlined into the callers: the lock this thread took last, in the record and
/// first in the list (no glibc robust mutex taken since), its word naming this thread, its state
/// consistent, the record in thread-local storage. False, having changed nothing, otherwise: the
/// caller then calls `unlock`, which handles every case. Runtime safety is off: `count > 0` is
/// checked by hand, and nothing read from the object is used as an address.
pub inline fn unlockFast(memory: *anyopaque) bool {
    @setRuntimeSafety(false);
    const t = &thread;
    const head = t.head orelse return false;
    const count = t.count;
    if (count == 0 or t.heap != null) return false;
    const base = @intFromPtr(memory);
    const entry = base + node_offset;
    if (t.inline_held[count - 1] != entry) return false;
    const list: *volatile usize = &head.list;
    if (list.* != entry) return false;
    const w: *u32 = @ptrFromInt(base);
    if (@atomicLoad(u32, w, .monotonic) & tid_mask != t.tid) return false;
    const state: *volatile u32 = @ptrFromInt(base + state_offset);
    if (state.* != State.consistent) return false;
    const succ = if (count > 1) t.inline_held[count - 2] else @intFromPtr(head);
    const pending: *volatile usize = &head.list_op_pending;
    const next: *volatile usize = @ptrFromInt(entry);
    const prev: *volatile usize = @ptrFromInt(base + prev_offset);
    pending.* = entry;
    list.* = succ;
    next.* = 0;
    prev.* = 0;
    t.count = count - 1;
    release(w, false);
    pending.* = 0;
    return true;
}

/// Releases the mutex; error.NotOwner unless the calling thread holds it, error.Protocol when the
/// word was rewritten while held (the record is dropped; the word is left as found).
pub fn unlock(memory: *anyopaque) Error!void {
    const t = &thread;
    if (t.head == null) return error.NotOwner;
    const entry = entryOf(memory);
    const i = t.find(entry) orelse return error.NotOwner;
    const head = @intFromPtr(t.head.?);
    // Unlink: the predecessor is the next-nearer-the-head lock of ours, or found in glibc's list.
    const h = t.held();
    const pred = if (i + 1 < t.count) h[i + 1] else if (volatileAt(head).* & ~@as(usize, 1) == entry) head else try predecessor(t, entry);
    const succ = if (i > 0) h[i - 1] else head;
    const w = word(memory);
    const mine = @atomicLoad(u32, w, .monotonic) & tid_mask == t.tid;
    const state = @as(*volatile u32, stateOf(memory));
    const abandon = mine and state.* != State.consistent;
    if (abandon) state.* = State.not_recoverable;
    const pending = &t.head.?.list_op_pending;
    @as(*volatile usize, pending).* = entry;
    volatileAt(pred).* = succ;
    volatileAt(entry).* = 0;
    volatileAt(entry - node_offset + prev_offset).* = 0;
    std.mem.copyForwards(usize, h[i .. t.count - 1], h[i + 1 .. t.count]);
    t.count -= 1;
    if (mine) release(w, abandon);
    @as(*volatile usize, pending).* = 0;
    if (t.heap != null) t.shrink();
    if (!mine) return error.Protocol;
}

/// Marks the state protected by a mutex acquired with `owner_died` as repaired. error.NotOwner
/// unless the caller holds it, error.Invalid when it is not in that state.
pub fn consistent(memory: *anyopaque) Error!void {
    if (!holds(memory)) return error.NotOwner;
    const state = @as(*volatile u32, stateOf(memory));
    if (state.* != State.inconsistent) return error.Invalid;
    state.* = State.consistent;
}

pub fn destroy(memory: *anyopaque) void {
    _ = memory;
}

extern "c" fn pthread_atfork(
    prepare: ?*const fn () callconv(.c) void,
    parent: ?*const fn () callconv(.c) void,
    child: ?*const fn () callconv(.c) void,
) c_int;

/// A forked child's only thread has a new id and an empty robust list (glibc re-registers the head
/// and empties it): fork clears the record (pthread_atfork, registered with the first use).
/// (A child made by a raw clone or fork system call, or by _Fork, runs no atfork handlers: such a
/// child must not use libipc locks its parent's thread has used.)
var atfork = std.once(registerAtFork);

fn registerAtFork() void {
    _ = pthread_atfork(null, null, forgetThread);
}

fn forgetThread() callconv(.c) void {
    thread = .{};
    pid_cache = 0;
}

/// This process's id, cached (getpid is a system call: ~0.2 us on a VM).
var pid_cache: u32 = 0;

pub fn currentPid() u32 {
    const cached = @atomicLoad(u32, &pid_cache, .monotonic);
    if (cached != 0) return cached;
    atfork.call();
    const pid: u32 = @intCast(linux.getpid());
    @atomicStore(u32, &pid_cache, pid, .monotonic);
    return pid;
}

/// The calling thread's id, cached per thread (the rwlock needs it on every read lock). 0 when the
/// thread has no robust list (then no lock works either).
pub fn currentTid() u32 {
    const t = threadState() catch return @intCast(linux.gettid());
    return t.tid;
}

/// Checks that the calling thread has a robust list this file can use. error.NotSupported otherwise.
pub fn selfTest() Error!void {
    _ = try threadState();
}

const testing = std.testing;

test "the thread's robust list is glibc's, with the futex offset this file assumes" {
    try selfTest();
}

test "trylock, errorcheck, unlock by a non-owner, out-of-order unlocks keep the list whole" {
    var storage: [4][size]u8 align(8) = undefined;
    for (&storage) |*s| try init(s);
    const m: *anyopaque = @ptrCast(&storage[0]);
    try testing.expectEqual(Acquired.locked, try tryLock(m));
    try testing.expectEqual(currentTid(), word(m).*);
    try testing.expectError(error.Deadlock, tryLock(m));
    const Other = struct {
        fn run(mm: *anyopaque, out: *?Error) void {
            unlock(mm) catch |err| {
                out.* = err;
            };
        }
    };
    var other_err: ?Error = null;
    const t = try std.Thread.spawn(.{}, Other.run, .{ m, &other_err });
    t.join();
    try testing.expectEqual(@as(?Error, error.NotOwner), other_err);
    for (storage[1..]) |*s| _ = try tryLock(@ptrCast(s));
    // The list from the head: 3, 2, 1, 0, head.
    const head = @intFromPtr(thread.head.?);
    var at = thread.head.?.list;
    var i: usize = 4;
    while (at != head) : (at = volatileAt(at).*) {
        i -= 1;
        try testing.expectEqual(entryOf(@ptrCast(&storage[i])), at);
    }
    try testing.expectEqual(@as(usize, 0), i);
    try unlock(@ptrCast(&storage[2]));
    try unlock(m);
    try unlock(@ptrCast(&storage[3]));
    try unlock(@ptrCast(&storage[1]));
    try testing.expectEqual(head, thread.head.?.list);
    try testing.expectEqual(@as(u32, 0), thread.count);
    try testing.expectError(error.NotOwner, unlock(m));
}

test "a thread holding more locks than the inline record, released first-locked first" {
    var storage: [3 * held_inline][size]u8 align(8) = undefined;
    for (&storage) |*s| {
        try init(s);
        _ = try tryLock(@ptrCast(s));
    }
    try testing.expect(thread.heap != null);
    for (&storage) |*s| try unlock(@ptrCast(s));
    try testing.expectEqual(@intFromPtr(thread.head.?), thread.head.?.list);
    try testing.expect(thread.heap == null);
}

extern "c" fn pthread_mutexattr_init(attr: *[64]u8) c_int;
extern "c" fn pthread_mutexattr_setrobust(attr: *[64]u8, robust: c_int) c_int;
extern "c" fn pthread_mutex_init(m: *std.c.pthread_mutex_t, attr: *const [64]u8) c_int;

test "the fast paths take the usual case and leave every other one, unchanged, to the general ones" {
    try selfTest();
    var storage: [3][size]u8 align(8) = undefined;
    for (&storage) |*s| try init(s);
    const a: *anyopaque = @ptrCast(&storage[0]);
    const b: *anyopaque = @ptrCast(&storage[1]);
    const c: *anyopaque = @ptrCast(&storage[2]);
    const head = @intFromPtr(thread.head.?);

    // Nested, released last-locked first: all fast; the list is head -> b -> a -> head.
    try testing.expectEqual(@as(?Acquired, .locked), try lockFast(a));
    try testing.expectEqual(@as(?Acquired, .locked), try lockFast(b));
    try testing.expectEqual(entryOf(b), thread.head.?.list);
    try testing.expectEqual(entryOf(a), volatileAt(entryOf(b)).*);
    try testing.expectEqual(head, volatileAt(entryOf(a)).*);
    try testing.expectEqual(@as(?Acquired, null), try lockFast(a)); // held: the general path says Deadlock
    try testing.expectError(error.Deadlock, tryLock(a));
    // Released first-locked first: a is not the last taken, so the general unlock unlinks it.
    try testing.expect(!unlockFast(a));
    try unlock(a);
    try testing.expectEqual(head, volatileAt(entryOf(b)).*);
    try testing.expect(unlockFast(b));
    try testing.expectEqual(head, thread.head.?.list);
    try testing.expectEqual(@as(u32, 0), thread.count);
    try testing.expect(!unlockFast(b)); // not held
    try testing.expectEqual(@as(u32, 0), word(b).*);

    // A glibc robust mutex taken after ours sits in front: the fast paths leave both calls.
    var attr: [64]u8 align(8) = undefined;
    try testing.expectEqual(@as(c_int, 0), pthread_mutexattr_init(&attr));
    try testing.expectEqual(@as(c_int, 0), pthread_mutexattr_setrobust(&attr, 1));
    var g: std.c.pthread_mutex_t = .{};
    try testing.expectEqual(@as(c_int, 0), pthread_mutex_init(&g, &attr));
    try testing.expectEqual(@as(?Acquired, .locked), try lockFast(a));
    try testing.expectEqual(std.c.E.SUCCESS, std.c.pthread_mutex_lock(&g));
    try testing.expectEqual(@as(?Acquired, null), try lockFast(b));
    try testing.expectEqual(@as(u32, 0), word(b).*);
    try testing.expectEqual(Acquired.locked, try tryLock(b));
    try testing.expect(!unlockFast(b));
    try unlock(b);
    try testing.expect(!unlockFast(a));
    try testing.expectEqual(std.c.E.SUCCESS, std.c.pthread_mutex_unlock(&g));
    try testing.expect(unlockFast(a));
    try testing.expectEqual(head, thread.head.?.list);

    // A word that is not exactly 0 (waiters left by a dead owner) goes the general way.
    word(c).* = waiters_bit;
    try testing.expectEqual(@as(?Acquired, null), try lockFast(c));
    try testing.expectEqual(Acquired.locked, try tryLock(c));
    try testing.expect(unlockFast(c));

    // The repair state is read under the lock: inconsistent is reported, not recoverable refused.
    stateOf(c).* = State.inconsistent;
    try testing.expectEqual(@as(?Acquired, .owner_died), try lockFast(c));
    try testing.expect(!unlockFast(c)); // unrepaired: the general unlock marks it not recoverable
    try unlock(c);
    try testing.expectEqual(State.not_recoverable, stateOf(c).*);
    try testing.expectError(error.NotRecoverable, lockFast(c));
    try testing.expectEqual(@as(u32, 0), word(c).*);

    // A word rewritten while held: the fast unlock leaves it, the general one says Protocol.
    try testing.expectEqual(@as(?Acquired, .locked), try lockFast(a));
    word(a).* = 12345;
    try testing.expect(!unlockFast(a));
    try testing.expectError(error.Protocol, unlock(a));
    try testing.expectEqual(@as(u32, 12345), word(a).*);
    try testing.expectEqual(head, thread.head.?.list);
    try testing.expectEqual(@as(u32, 0), thread.count);
}
