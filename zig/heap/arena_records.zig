//! The arena table's records as the allocator and the page lock's holder use them: who owns an
//! arena and whether that owner still runs (`checkOwner`, `ownerAlive`), and giving all of an
//! arena's pages back (`reclaim`, `finishReclaims`, `reapLocked`), which the page lock's recovery
//! (zig/heap/pages.zig) and the page pool call, so it lies below them. The arenas' operations and
//! their full invariants are in zig/heap/arena.zig; the record's layout in zig/heap/layout.zig.
//!
//! Invariants: every record change is one store of the status word, under the page lock, after
//! everything it commits is written (a new owner goes into the other slot before the status names
//! it); a reclaim first marks the record reclaiming, then frees each page in the order of a
//! retirement or a large free (arena bitmap wiped, live bit, head entry, continuations), then
//! stores the record's next kind, so that a process killed at any step leaves a prefix that
//! `finishReclaims` completes. An owner of another pid namespace, or with a pid that makes no sense,
//! is never judged dead. Values read from the table are read once and checked (error.Protocol,
//! error.NotFound), never asserted on.

const std = @import("std");
const abi = @import("../abi.zig");
const platform = @import("../platform/root.zig");
const crash = @import("../crash.zig");
const layout = @import("layout.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;
const Heap = layout.Heap;
const Kind = layout.Kind;
const Owner = layout.Owner;
const Record = layout.Record;
const arenas_max = layout.arenas_max;
const classes = classes_mod.classes;
const runPages = classes_mod.runPages;
const kind_free = layout.kind_free;
const kind_owned = layout.kind_owned;
const kind_unowned = layout.kind_unowned;
const kind_reclaiming = layout.kind_reclaiming;
const kindOf = layout.kindOf;
const afterOf = layout.afterOf;
const slotOf = layout.slotOf;
const generationOf = layout.generationOf;
const makeStatus = layout.makeStatus;

pub fn selfOwner() Error!Owner {
    const self = try platform.selfStamp();
    return .{ .pid = @intCast(self.pid), .pidns = @truncate(self.pidns), .start = self.start };
}

/// Whether the owner `o` still runs, as `self` sees it. An owner of another pid namespace, or one
/// whose pid makes no sense, is never judged dead.
pub fn ownerAlive(o: Owner, self: Owner) bool {
    if (o.pidns != self.pidns) return true;
    if (o.pid == 0 or o.pid > std.math.maxInt(i32)) return true;
    if (o.pid == self.pid and o.start == self.start) return true;
    return platform.processAlive(@intCast(o.pid), o.start);
}

pub fn loadOwner(r: *Record, slot: u1) Owner {
    const o = &r.owners[slot];
    return .{
        .pid = @atomicLoad(u32, &o.pid, .acquire),
        .pidns = @atomicLoad(u32, &o.pidns, .acquire),
        .start = @atomicLoad(u64, &o.start, .acquire),
    };
}

pub fn storeOwner(r: *Record, slot: u1, o: Owner) void {
    const to = &r.owners[slot];
    @atomicStore(u32, &to.pid, o.pid, .release);
    @atomicStore(u32, &to.pidns, o.pidns, .release);
    @atomicStore(u64, &to.start, o.start, .release);
}

/// The record of a view, its status read once: error.NotFound when the arena is gone (destroyed, or
/// the record reused since).
pub fn statusOf(h: *Heap, index: u32, generation: u32) Error!u32 {
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

/// Gives back every page of arena `index` and then makes the record `after` (owned or unowned as it
/// was: a reset; free: a destroy). Caller holds the page lock.
pub fn reclaim(h: *Heap, index: u32, after: u32) void {
    const r = &h.arenas[index];
    const status = @atomicLoad(u32, &r.status, .acquire);
    @atomicStore(u32, &r.status, makeStatus(kind_reclaiming, after, slotOf(status), generationOf(status)), .release);
    crash.point(.heap_arena_reclaim_marked);
    finish(h, index);
}

/// Finishes the reclaim that record `index` is marked for: frees its pages, then stores its next
/// kind. Redone whole by the next holder of the page lock when its doer is killed half-way. Caller
/// holds the page lock.
pub fn finish(h: *Heap, index: u32) void {
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
            @atomicStore(u32, &ps.state, state & ~layout.live_bit, .seq_cst);
        }
        layout.setEntry(e, .free, 0, 0, 0, 0);
        var i: u32 = 1;
        while (i < run and page + i < h.table.len) : (i += 1) {
            const cont = h.entry(page + i);
            // Only what is still a continuation: a damaged table is reported by check, never spread.
            if (@atomicLoad(u8, &cont.kind, .acquire) != @intFromEnum(Kind.continuation)) break;
            layout.setEntry(cont, .free, 0, 0, 0, 0);
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
