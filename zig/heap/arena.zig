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
//! This file holds the arenas' operations (create, open, allocate, reset, destroy, hand over, reap);
//! the record's layout is in zig/heap/layout.zig, and ownership checks and reclaims, which the page
//! lock's recovery calls, in zig/heap/arena_records.zig; the tests in zig/heap/arena_test.zig.
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
const abi = @import("../abi.zig");
const platform = @import("../platform/root.zig");
const crash = @import("../crash.zig");
const layout = @import("layout.zig");
const pages_mod = @import("pages.zig");
const alloc = @import("alloc.zig");
const records = @import("arena_records.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;
const Heap = layout.Heap;
const classes = classes_mod.classes;
const kind_free = layout.kind_free;
const kind_owned = layout.kind_owned;
const kind_unowned = layout.kind_unowned;
const kind_reclaiming = layout.kind_reclaiming;
const kindOf = layout.kindOf;
const slotOf = layout.slotOf;
const generationOf = layout.generationOf;
const makeStatus = layout.makeStatus;
const selfOwner = records.selfOwner;
const ownerAlive = records.ownerAlive;
const loadOwner = records.loadOwner;
const storeOwner = records.storeOwner;
const statusOf = records.statusOf;
const reclaim = records.reclaim;

/// How many arenas a heap holds at once.
pub const arenas_max = layout.arenas_max;
pub const Owner = layout.Owner;
pub const Record = layout.Record;
pub const checkOwner = records.checkOwner;
pub const finishReclaims = records.finishReclaims;
pub const reapLocked = records.reapLocked;

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

    pub fn source(v: *View) layout.Source {
        return .{ .arena = v.index + 1, .generation = v.generation, .cursor = &v.cursor };
    }
};

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
    try pages_mod.lockPages(h);
    defer pages_mod.unlockPages(h);
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
    return alloc.mallocFrom(h, v.source(), size);
}

pub fn mallocAligned(h: *Heap, v: *View, size: u64, alignment: u64) Error!u64 {
    try checkView(h, v);
    return alloc.mallocAlignedFrom(h, v.source(), size, alignment);
}

/// `realloc` whose new block, when the block moves, comes from the arena.
pub fn realloc(h: *Heap, v: *View, handle: u64, size: u64) Error!u64 {
    try checkView(h, v);
    return alloc.reallocFrom(h, v.source(), handle, size);
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
    try pages_mod.lockPages(h);
    defer pages_mod.unlockPages(h);
    const status = try statusOf(h, v.index, v.generation);
    try mayReclaim(h, v.index, status);
    reclaim(h, v.index, kindOf(status));
    v.cursor = [_]std.atomic.Value(u32){std.atomic.Value(u32).init(0)} ** classes;
}

/// Frees every block of the arena and the arena itself: its id is refused from then on.
pub fn destroy(h: *Heap, v: *View) Error!void {
    try pages_mod.lockPages(h);
    defer pages_mod.unlockPages(h);
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
    try pages_mod.lockPages(h);
    defer pages_mod.unlockPages(h);
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

/// `reapLocked` if the page lock is free at once (0 otherwise): for opening a heap, which must not
/// wait for a lock a peer holds (or forged).
pub fn reapIfFree(h: *Heap) Error!u32 {
    if (!try pages_mod.tryLockPages(h)) return 0;
    defer pages_mod.unlockPages(h);
    return reapLocked(h);
}

/// `reapLocked` under the page lock.
pub fn reap(h: *Heap) Error!u32 {
    try pages_mod.lockPages(h);
    defer pages_mod.unlockPages(h);
    return reapLocked(h);
}
