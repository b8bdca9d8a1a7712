//! Arenas: blocks that belong to one owner and go back all at once. A process (or a library inside
//! it, through the C callbacks whose context is an arena) allocates from an arena it owns; the arena's
//! blocks are ordinary blocks (any process frees one with `free`), but its pages are the arena's own,
//! and they all go back to the shared pool at once: on request (`reset`, `destroy`), and without
//! anyone asking once the owner is dead (`reapLocked`: when an allocation finds no free run, in
//! `check`, and when a process opens the heap), unless the arena was handed to another owner first
//! (`handOver`, naming a process or nobody: an unowned arena lives until someone destroys it).
//!
//! The table: `arenas_max` records after the heap's header, each a status word, two owner slots
//! (pid, pid namespace, start time) and the arena's class list heads. The status word holds the
//! record's kind (free, owned, unowned, reclaiming), for a reclaim the kind it becomes after, which
//! owner slot is current, and a 24-bit generation that names this incarnation of the record: an
//! arena's id is `index | generation << 8`, so an id of a destroyed arena is refused.
//!
//! Invariants:
//!  - Only the current owner claims blocks in an arena's pages (every allocation compares the
//!    owner slot with the caller, and a new page is added only under the page lock after the same
//!    check); an unowned arena is not allocated from (someone adopts it with `handOver` first).
//!  - An arena's page stays the arena's until the arena is reclaimed: pool sweeps and retirements
//!    pass it by, so that its memory is never handed to another user while the owner — stalled,
//!    say SIGSTOPped, but alive — may still touch its bitmaps.
//!  - A reclaim wipes the page's arena bitmap (`PageState.arena_bitmap`), which is apart from the
//!    pool's bitmap: a pool claim that stalled on an earlier incarnation of the page can only ever
//!    set and give back a bit of the pool's bitmap, never of a bitmap that is wiped. Arena claims
//!    come only from the owner, and a reclaim runs only when the owner cannot be claiming: it asked
//!    for it (reset, destroy: like free, the caller vouches that none of its threads still
//!    allocates from the arena), or it is dead.
//!  - Dead means: an owner of this process's pid namespace whose pid with that start time runs no
//!    thread (`platform.processAlive`: a zombie is dead; a stopped process is alive). An owner of
//!    another pid namespace is never judged, so never reclaimed by a process that cannot see it.
//!  - Every record change is one store of the status word, under the page lock, after everything
//!    it commits is written: a new owner goes into the other slot, then the status flips the slot;
//!    a reclaim first marks the record reclaiming (its intent), then frees the pages, then stores
//!    the record's next kind. A process killed at any step leaves either the old record or a
//!    reclaim in progress, which the next holder of the page lock finishes (`finishReclaims`, from
//!    the page lock's recovery): a reclaim frees each page in the order of a retirement or a large
//!    free (bitmap wiped, live bit, head entry, continuations), so every prefix is recoverable.
//!  - Values read from the table are untrusted: read once, checked (an index against the table, a
//!    kind against the kinds, a pid against the pid range), error.Protocol when they make no sense.

const std = @import("std");
const heap = @import("../heap.zig");
const abi = @import("../abi.zig");
const platform = @import("../platform/root.zig");
const crash = @import("../crash.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;
const Heap = heap.Heap;
const Kind = heap.Kind;
const classes = classes_mod.classes;
const runPages = classes_mod.runPages;

/// How many arenas a heap holds at once.
pub const arenas_max: u32 = 64;

pub const Owner = extern struct {
    pid: u32,
    /// The owner's pid namespace, truncated (as chan.zig's view holders).
    pidns: u32,
    start: u64,
};

pub const Record = extern struct {
    status: u32,
    reserved: u32,
    owners: [2]Owner,
    /// Per class: the first small page of this arena's class list + 1 (0 ends it).
    class_head: [classes]u32,
    reserved_tail: [256 - 40 - classes * 4]u8,
};

comptime {
    std.debug.assert(@sizeOf(Record) == 256);
    std.debug.assert(arenas_max <= 0xff);
}

pub const kind_free: u32 = 0;
pub const kind_owned: u32 = 1;
pub const kind_unowned: u32 = 2;
pub const kind_reclaiming: u32 = 3;

pub fn kindOf(status: u32) u32 {
    return status & 3;
}
fn afterOf(status: u32) u32 {
    return (status >> 2) & 3;
}
fn slotOf(status: u32) u1 {
    return @intCast((status >> 4) & 1);
}
pub fn generationOf(status: u32) u32 {
    return status >> 8;
}
fn makeStatus(kind: u32, after: u32, slot: u1, generation: u32) u32 {
    return kind | after << 2 | @as(u32, slot) << 4 | generation << 8;
}

/// This process's view of an arena: which record, which incarnation, and its allocation cursors.
pub const View = struct {
    index: u32,
    generation: u32,
    /// The process that opened the view (its pid and start time): a forked child's copy allocates
    /// nothing.
    pid: u32,
    start: u64,
    cursor: [classes]std.atomic.Value(u32) = [_]std.atomic.Value(u32){std.atomic.Value(u32).init(0)} ** classes,

    /// The arena's id: the same in every process, refused once the arena is destroyed.
    pub fn id(v: *const View) u32 {
        return v.index | v.generation << 8;
    }

    pub fn source(v: *View) heap.Source {
        return .{ .arena = v.index + 1, .generation = v.generation, .cursor = &v.cursor };
    }
};

fn selfOwner() Error!Owner {
    const self = try platform.selfStamp();
    return .{ .pid = @intCast(self.pid), .pidns = @truncate(self.pidns), .start = self.start };
}

/// Whether the owner `o` still runs, as `self` sees it. An owner of another pid namespace, or one
/// whose pid makes no sense, is never judged dead.
fn ownerAlive(o: Owner, self: Owner) bool {
    if (o.pidns != self.pidns) return true;
    if (o.pid == 0 or o.pid > std.math.maxInt(i32)) return true;
    if (o.pid == self.pid and o.start == self.start) return true;
    return platform.processAlive(@intCast(o.pid), o.start);
}

fn loadOwner(r: *Record, slot: u1) Owner {
    const o = &r.owners[slot];
    return .{
        .pid = @atomicLoad(u32, &o.pid, .acquire),
        .pidns = @atomicLoad(u32, &o.pidns, .acquire),
        .start = @atomicLoad(u64, &o.start, .acquire),
    };
}

fn storeOwner(r: *Record, slot: u1, o: Owner) void {
    const to = &r.owners[slot];
    @atomicStore(u32, &to.pid, o.pid, .release);
    @atomicStore(u32, &to.pidns, o.pidns, .release);
    @atomicStore(u64, &to.start, o.start, .release);
}

/// The record of a view, its status read once: error.NotFound when the arena is gone (destroyed, or
/// the record reused since).
fn statusOf(h: *Heap, index: u32, generation: u32) Error!u32 {
    if (index >= arenas_max) return error.Invalid;
    const status = @atomicLoad(u32, &h.arenas[index].status, .acquire);
    const kind = kindOf(status);
    if (generationOf(status) != generation or kind == kind_free) return error.NotFound;
    return status;
}

/// Checks that the calling process owns the arena (`index`, incarnation `generation`): error.NotFound
/// when it is gone, error.NotOwner when someone else (or nobody) owns it.
pub fn checkOwner(h: *Heap, index: u32, generation: u32) Error!void {
    const status = try statusOf(h, index, generation);
    if (kindOf(status) != kind_owned) return error.NotOwner;
    const o = loadOwner(&h.arenas[index], slotOf(status));
    const self = try selfOwner();
    if (o.pid != self.pid or o.start != self.start or o.pidns != self.pidns) return error.NotOwner;
}

/// The allocation path's check: the view's process owns the arena. Costs no system call: the view
/// remembers its process, and the cached pid tells a forked child from it.
fn checkView(h: *Heap, v: *View) Error!void {
    if (platform.robust_mutex.currentPid() != v.pid) return error.NotOwner;
    const status = try statusOf(h, v.index, v.generation);
    if (kindOf(status) != kind_owned) return error.NotOwner;
    const o = loadOwner(&h.arenas[v.index], slotOf(status));
    if (o.pid != v.pid or o.start != v.start) return error.NotOwner;
}

/// A new arena owned by the calling process. error.NoSpace when `arenas_max` arenas exist (after
/// giving back those of dead owners).
pub fn create(h: *Heap) Error!View {
    const self = try selfOwner();
    try heap.lockPages(h);
    defer heap.unlockPages(h);
    const index = freeRecord(h) orelse (if (reapLocked(h) > 0) freeRecord(h) else null) orelse return error.NoSpace;
    const r = &h.arenas[index];
    const old = @atomicLoad(u32, &r.status, .acquire);
    var generation = (generationOf(old) + 1) & 0xff_ffff;
    if (generation == 0) generation = 1;
    for (&r.class_head) |*head| @atomicStore(u32, head, 0, .release);
    storeOwner(r, 0, self);
    crash.point(.heap_arena_create_owner);
    @atomicStore(u32, &r.status, makeStatus(kind_owned, 0, 0, generation), .release);
    return .{ .index = index, .generation = generation, .pid = self.pid, .start = self.start };
}

fn freeRecord(h: *Heap) ?u32 {
    for (h.arenas, 0..) |*r, i| {
        if (kindOf(@atomicLoad(u32, &r.status, .acquire)) == kind_free) return @intCast(i);
    }
    return null;
}

/// A view of the existing arena `id` (owned by anyone, or by nobody). error.NotFound when no such
/// arena exists (any more).
pub fn open(h: *Heap, id: u32) Error!View {
    const self = try selfOwner();
    const index = id & 0xff;
    const generation = id >> 8;
    if (generation == 0) return error.NotFound;
    if (index >= arenas_max) return error.Range;
    const status = try statusOf(h, index, generation);
    if (kindOf(status) == kind_reclaiming) return error.NotFound;
    return .{ .index = index, .generation = generation, .pid = self.pid, .start = self.start };
}

pub fn malloc(h: *Heap, v: *View, size: u64) Error!u64 {
    try checkView(h, v);
    return heap.mallocFrom(h, v.source(), size);
}

pub fn mallocAligned(h: *Heap, v: *View, size: u64, alignment: u64) Error!u64 {
    try checkView(h, v);
    return heap.mallocAlignedFrom(h, v.source(), size, alignment);
}

/// `realloc` whose new block, when the block moves, comes from the arena.
pub fn realloc(h: *Heap, v: *View, handle: u64, size: u64) Error!u64 {
    try checkView(h, v);
    return heap.reallocFrom(h, v.source(), handle, size);
}

/// Whether the caller may give the arena's blocks back: its owner, anyone for an unowned arena, or
/// anyone once the owner is dead. Caller holds the page lock.
fn mayReclaim(h: *Heap, index: u32, status: u32) Error!void {
    switch (kindOf(status)) {
        kind_unowned => return,
        kind_owned => {
            const o = loadOwner(&h.arenas[index], slotOf(status));
            const self = try selfOwner();
            if (o.pid == self.pid and o.start == self.start and o.pidns == self.pidns) return;
            if (!ownerAlive(o, self)) return;
            return error.NotOwner;
        },
        else => return error.NotFound,
    }
}

/// Frees every block of the arena at once; the arena stays, empty, with its owner. The caller
/// vouches (as for free) that nothing of its own still uses the arena's blocks or allocates from it.
pub fn reset(h: *Heap, v: *View) Error!void {
    try heap.lockPages(h);
    defer heap.unlockPages(h);
    const status = try statusOf(h, v.index, v.generation);
    try mayReclaim(h, v.index, status);
    reclaim(h, v.index, kindOf(status));
    v.cursor = [_]std.atomic.Value(u32){std.atomic.Value(u32).init(0)} ** classes;
}

/// Frees every block of the arena and the arena itself: its id is refused from then on.
pub fn destroy(h: *Heap, v: *View) Error!void {
    try heap.lockPages(h);
    defer heap.unlockPages(h);
    const status = try statusOf(h, v.index, v.generation);
    try mayReclaim(h, v.index, status);
    reclaim(h, v.index, kind_free);
}

/// Hands the arena to process `pid` (of the caller's pid namespace), or to nobody with `pid` 0 (an
/// unowned arena lives until someone destroys it; anyone may adopt it by handing it to a process).
/// Only the owner hands an owned arena over. error.NotFound when no process `pid` runs.
pub fn handOver(h: *Heap, v: *View, pid: i32) Error!void {
    if (pid < 0) return error.Invalid;
    const self = try selfOwner();
    var next: Owner = .{ .pid = 0, .pidns = self.pidns, .start = 0 };
    if (pid > 0) {
        next.pid = @intCast(pid);
        next.start = platform.startTime(pid) catch |err| return if (err == error.NotFound) error.NotFound else err;
        if (!platform.processAlive(pid, next.start)) return error.NotFound;
    }
    try heap.lockPages(h);
    defer heap.unlockPages(h);
    const status = try statusOf(h, v.index, v.generation);
    switch (kindOf(status)) {
        kind_unowned => {},
        kind_owned => {
            const o = loadOwner(&h.arenas[v.index], slotOf(status));
            if (o.pid != self.pid or o.start != self.start or o.pidns != self.pidns) return error.NotOwner;
        },
        else => return error.NotFound,
    }
    const r = &h.arenas[v.index];
    if (pid == 0) {
        @atomicStore(u32, &r.status, makeStatus(kind_unowned, 0, slotOf(status), v.generation), .release);
        return;
    }
    // The new owner goes into the other slot; the status then names it, in one store.
    const slot: u1 = slotOf(status) ^ 1;
    storeOwner(r, slot, next);
    crash.point(.heap_arena_hand_over_staged);
    @atomicStore(u32, &r.status, makeStatus(kind_owned, 0, slot, v.generation), .release);
}

/// The pid of the arena's owner, 0 when unowned.
pub fn ownerPid(h: *Heap, v: *View) Error!u32 {
    const status = try statusOf(h, v.index, v.generation);
    return switch (kindOf(status)) {
        kind_owned => loadOwner(&h.arenas[v.index], slotOf(status)).pid,
        kind_unowned => 0,
        else => error.NotFound,
    };
}

/// Gives back every page of arena `index` and then makes the record `after` (owned or unowned as it
/// was: a reset; free: a destroy). Caller holds the page lock.
fn reclaim(h: *Heap, index: u32, after: u32) void {
    const r = &h.arenas[index];
    const status = @atomicLoad(u32, &r.status, .acquire);
    @atomicStore(u32, &r.status, makeStatus(kind_reclaiming, after, slotOf(status), generationOf(status)), .release);
    crash.point(.heap_arena_reclaim_marked);
    finish(h, index);
}

/// Finishes the reclaim that record `index` is marked for: frees its pages, then stores its next
/// kind. Redone whole by the next holder of the page lock when its doer is killed half-way. Caller
/// holds the page lock.
fn finish(h: *Heap, index: u32) void {
    const r = &h.arenas[index];
    // Nobody walks an arena's lists but its owner, who is not allocating (see the file comment).
    for (&r.class_head) |*head| @atomicStore(u32, head, 0, .release);
    const arena = index + 1;
    var page: u32 = 0;
    while (page < h.table.len) : (page += 1) {
        const e = h.entry(page);
        const kind = @atomicLoad(u8, &e.kind, .acquire);
        if (kind != @intFromEnum(Kind.small) and kind != @intFromEnum(Kind.large)) continue;
        if (@atomicLoad(u16, &e.arena, .acquire) != arena) continue;
        var run: u32 = 1;
        if (kind == @intFromEnum(Kind.large)) {
            run = @atomicLoad(u32, &e.pages, .acquire);
            // The head first (as freeLarge): continuations no head covers are what recovery frees.
            @atomicStore(u8, &e.kind, @intFromEnum(Kind.free), .release);
        } else {
            const class: u32 = @atomicLoad(u8, &e.class, .acquire);
            if (class >= classes) continue; // damaged: left for check() to report
            run = runPages(class);
            const ps = h.pageState(page);
            for (&ps.arena_bitmap) |*word| @atomicStore(u64, word, 0, .seq_cst);
            const state = @atomicLoad(u32, &ps.state, .seq_cst);
            @atomicStore(u32, &ps.state, state & ~heap.live_bit, .seq_cst);
        }
        heap.setEntry(e, .free, 0, 0, 0, 0);
        var i: u32 = 1;
        while (i < run and page + i < h.table.len) : (i += 1) {
            const cont = h.entry(page + i);
            // Only what is still a continuation: a damaged table is reported by check, never spread.
            if (@atomicLoad(u8, &cont.kind, .acquire) != @intFromEnum(Kind.continuation)) break;
            heap.setEntry(cont, .free, 0, 0, 0, 0);
        }
        crash.point(.heap_arena_reclaim_page);
        page += i - 1;
    }
    const status = @atomicLoad(u32, &r.status, .acquire);
    const after = afterOf(status);
    const next = if (after == kind_owned or after == kind_unowned) after else kind_free;
    @atomicStore(u32, &r.status, makeStatus(next, 0, slotOf(status), generationOf(status)), .release);
}

/// Finishes every reclaim a process killed holding the page lock left marked. Caller holds the
/// page lock (the lock's recovery calls this).
pub fn finishReclaims(h: *Heap) void {
    for (h.arenas, 0..) |*r, i| {
        if (kindOf(@atomicLoad(u32, &r.status, .acquire)) == kind_reclaiming) finish(h, @intCast(i));
    }
}

/// Reclaims (destroys) every arena whose owner is dead (see the file comment); how many. Caller
/// holds the page lock.
pub fn reapLocked(h: *Heap) u32 {
    const self = selfOwner() catch return 0;
    var reaped: u32 = 0;
    for (h.arenas, 0..) |*r, i| {
        const status = @atomicLoad(u32, &r.status, .acquire);
        if (kindOf(status) != kind_owned) continue;
        if (ownerAlive(loadOwner(r, slotOf(status)), self)) continue;
        reclaim(h, @intCast(i), kind_free);
        reaped += 1;
    }
    return reaped;
}

/// `reapLocked` if the page lock is free at once (0 otherwise): for opening a heap, which must not
/// wait for a lock a peer holds (or forged).
pub fn reapIfFree(h: *Heap) Error!u32 {
    if (!try heap.tryLockPages(h)) return 0;
    defer heap.unlockPages(h);
    return reapLocked(h);
}

/// `reapLocked` under the page lock.
pub fn reap(h: *Heap) Error!u32 {
    try heap.lockPages(h);
    defer heap.unlockPages(h);
    return reapLocked(h);
}

// ---------------------------------------------------------------------------------------------------
// Tests.

const testing = std.testing;
const mutex = @import("../mutex.zig");

const TestHeap = struct {
    memory: []align(heap.page_size) u8,
    heap: Heap,

    fn create(size: usize) !*TestHeap {
        const t = try testing.allocator.create(TestHeap);
        t.memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(heap.page_size), size);
        @memset(t.memory, 0);
        try heap.init(t.memory, 0x1234);
        t.heap = try heap.attach(t.memory);
        return t;
    }

    fn destroy(t: *TestHeap) void {
        testing.allocator.free(t.memory);
        testing.allocator.destroy(t);
    }
};

/// The heap is consistent, holds no block, and gives itself whole as one block.
fn expectBaseline(h: *Heap) !void {
    var stats: heap.Stats = undefined;
    if (heap.check(h, &stats)) |problem| {
        std.debug.print("heap check: page {d}: {s}\n", .{ problem.page, problem.what });
        return error.TestUnexpectedResult;
    }
    try testing.expectEqual(@as(u64, 0), stats.allocations);
    const all = @as(u64, h.table.len) * heap.page_size;
    try heap.free(h, try heap.malloc(h, all));
}

/// Owner `o` as the owner of the arena of `v` (tests stand in for other processes this way).
fn setOwner(h: *Heap, v: *View, o: Owner) void {
    const r = &h.arenas[v.index];
    const status = r.status;
    storeOwner(r, slotOf(status), o);
}

test "an arena's blocks come from its own pages, and reset and destroy give them all back" {
    const t = try TestHeap.create(8 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    try testing.expect(a.id() != 0);
    const pooled = try heap.malloc(h, 64);
    var blocks: [300]u64 = undefined;
    for (&blocks, 0..) |*b, i| b.* = try malloc(h, &a, 1 + i * 97 % 3000);
    const big = try malloc(h, &a, 300_000);
    // Arena blocks never share a page with the pool's.
    const pool_page = (try h.offsetOf(pooled)) / heap.page_size;
    for (blocks) |b| try testing.expect((try h.offsetOf(b)) / heap.page_size != pool_page);
    // Any process frees an arena block; the page stays the arena's, even emptied.
    try heap.free(h, blocks[0]);
    try testing.expectError(error.Invalid, heap.free(h, blocks[0]));
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 301), stats.allocations);
    try reset(h, &a);
    try testing.expectError(error.Invalid, heap.free(h, big));
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 1), stats.allocations);
    // The arena is still there, and still ours.
    const again = try malloc(h, &a, 100);
    try testing.expectEqual(a.id(), (try open(h, a.id())).id());
    try destroy(h, &a);
    try testing.expectError(error.NotFound, open(h, a.id()));
    try testing.expectError(error.NotFound, malloc(h, &a, 8));
    try testing.expectError(error.Invalid, heap.free(h, again));
    try heap.free(h, pooled);
    try expectBaseline(h);
}

test "only the owner allocates; handover moves ownership; unowned arenas outlive everyone" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    const kept = try malloc(h, &a, 500);
    try testing.expectError(error.Invalid, handOver(h, &a, -1));
    try testing.expectError(error.NotFound, handOver(h, &a, 0x7fff_fff0));
    try handOver(h, &a, 0);
    try testing.expectEqual(@as(u32, 0), try ownerPid(h, &a));
    try testing.expectError(error.NotOwner, malloc(h, &a, 8));
    // Nobody owns it, so nobody's death gives it back.
    try testing.expectEqual(@as(u32, 0), try reap(h));
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 1), stats.allocations);
    // Adopted by this process: allocations work again.
    const self = try selfOwner();
    try handOver(h, &a, @intCast(self.pid));
    try testing.expectEqual(self.pid, try ownerPid(h, &a));
    _ = try malloc(h, &a, 8);
    // An owner that is another live process: this one may neither allocate, reset nor hand over.
    setOwner(h, &a, .{ .pid = @intCast(std.os.linux.getppid()), .pidns = self.pidns, .start = try platform.startTime(std.os.linux.getppid()) });
    try testing.expectError(error.NotOwner, malloc(h, &a, 8));
    try testing.expectError(error.NotOwner, reset(h, &a));
    try testing.expectError(error.NotOwner, handOver(h, &a, 0));
    try testing.expectEqual(@as(u32, 0), try reap(h));
    try testing.expectEqual(@as(u64, 500), roundDown(try heap.usableSize(h, kept)));
    setOwner(h, &a, self);
    try destroy(h, &a);
    try expectBaseline(h);
}

fn roundDown(n: u64) u64 {
    return if (n >= 500) 500 else n;
}

test "a dead owner's arena is given back when noticed; another namespace's owner never is" {
    const t = try TestHeap.create(16 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const self = try selfOwner();
    var a = try create(h);
    var b = try create(h);
    for (0..200) |i| {
        _ = try malloc(h, &a, 16 + i * 40);
        _ = try malloc(h, &b, 16 + i * 40);
    }
    _ = try malloc(h, &a, 200_000);
    // A dead owner (a pid no process has), and an owner of another pid namespace (never judged).
    setOwner(h, &a, .{ .pid = 0x7fff_fff0, .pidns = self.pidns, .start = 1 });
    setOwner(h, &b, .{ .pid = 0x7fff_fff0, .pidns = self.pidns +% 1, .start = 1 });
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null); // the check notices a's death
    try testing.expectEqual(@as(u64, 200), stats.allocations);
    try testing.expectError(error.NotFound, open(h, a.id()));
    try testing.expectEqual(@as(u32, 0), try reap(h));
    setOwner(h, &b, self);
    try destroy(h, &b);
    try expectBaseline(h);
}

test "an allocation that finds no free pages gives back dead owners' arenas first" {
    const t = try TestHeap.create(2 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const self = try selfOwner();
    var a = try create(h);
    while (malloc(h, &a, 3000)) |_| {} else |err| try testing.expectEqual(error.NoMemory, err);
    setOwner(h, &a, .{ .pid = 0x7fff_fff0, .pidns = self.pidns, .start = 1 });
    const all = @as(u64, h.table.len) * heap.page_size;
    try heap.free(h, try heap.malloc(h, all));
    try expectBaseline(h);
}

test "a reclaim cut short by the death of its doer is finished by the next holder of the page lock" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    for (0..100) |i| _ = try malloc(h, &a, 8 + i * 300);
    _ = try malloc(h, &a, 150_000);
    // Marked reclaiming, one page freed, then the doer died holding the page lock.
    const r = &h.arenas[a.index];
    r.status = makeStatus(kind_reclaiming, kind_free, 0, a.generation);
    for (h.table) |*e| {
        if (e.arena == a.index + 1 and e.kind == @intFromEnum(Kind.large)) {
            @atomicStore(u8, &e.kind, @intFromEnum(Kind.free), .release);
            break;
        }
    }
    const Dier = struct {
        fn run(hh: *Heap) void {
            _ = mutex.lock(&hh.header.lock, .never) catch unreachable;
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{h});
    th.join();
    try expectBaseline(h); // takes the lock: OWNER_DIED, recovery finishes the reclaim
    try testing.expectError(error.NotFound, open(h, a.id()));
}

test "arena ids: stale and malformed ids are refused, the table has a bound" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    try testing.expectError(error.NotFound, open(h, 0));
    try testing.expectError(error.Range, open(h, 0x1ff));
    var views: [arenas_max]View = undefined;
    for (&views) |*v| v.* = try create(h);
    try testing.expectError(error.NoSpace, create(h));
    const old = views[3].id();
    try destroy(h, &views[3]);
    views[3] = try create(h);
    try testing.expect(views[3].id() != old);
    try testing.expectError(error.NotFound, open(h, old));
    for (&views) |*v| try destroy(h, v);
    try expectBaseline(h);
}
