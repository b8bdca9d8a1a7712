//! The heap's consistency walk (`check`) and the statistics it gathers: every invariant the
//! allocator keeps (zig/heap.zig's file comment lists them; zig/heap/classes.zig those of the class
//! runs), verified under the page lock. The walk reads every value of the segment once and reports
//! what it finds wrong as a `Problem`, never asserting on it: a peer may have written anything.
//! Before walking it gives back the arenas of dead owners (zig/heap/arena.zig): a check is one of
//! the moments a dead owner's arena is noticed.

const std = @import("std");
const layout = @import("layout.zig");
const pages_mod = @import("pages.zig");
const alloc = @import("alloc.zig");
const arena_records = @import("arena_records.zig");
const classes_mod = @import("classes.zig");
const Heap = layout.Heap;
const Kind = layout.Kind;
const page_size = layout.page_size;
const classes = classes_mod.classes;
const class_sizes = classes_mod.class_sizes;
const blocksOf = classes_mod.blocksOf;
const runPages = classes_mod.runPages;
const unlockPages = pages_mod.unlockPages;
const isLive = layout.isLive;
const stateClass = layout.stateClass;
const wordMask = layout.wordMask;
const usableSize = alloc.usableSize;
const arenas_max = layout.arenas_max;

pub const Stats = struct {
    /// Bytes of allocated blocks (their usable sizes).
    in_use: u64 = 0,
    /// Bytes in pages given to small classes or large blocks.
    reserved: u64 = 0,
    /// Bytes of never-used or freed pages.
    free_pages: u64 = 0,
    /// The largest block that fits now, in bytes: the longest run of pages that are free or belong
    /// to class runs holding no block (a malloc that finds no free run retires those first).
    largest_free: u64 = 0,
    allocations: u64 = 0,
};

pub const Problem = struct {
    page: u32,
    what: [:0]const u8,
    /// The page lock stayed held for `lock_wait_ns`: not damage found, but no walk either.
    busy: bool = false,
};

/// How long a check waits for the page lock. Holders keep it for microseconds (a whole check of a
/// 1 TiB heap for well under a second), so a lock held longer has a holder that is stuck or a word
/// a peer damaged (a thread id that is no holder: the kernel never releases such a lock). A check
/// reports that (`busy`) instead of waiting forever; allocations still wait, as for any holder.
pub const lock_wait_ns: i64 = 5 * std.time.ns_per_s;

/// Walks every structure (see the file comment's invariants) under the page lock (recovering first
/// if its last holder died), so that page changes in progress are not mistaken for damage; small
/// blocks keep being allocated and freed meanwhile, which makes the numbers approximate, never a
/// problem. Returns the first problem found, or null; fills `stats`.
pub fn check(h: *Heap, stats: *Stats) ?Problem {
    return checkWithin(h, stats, lock_wait_ns);
}

/// `check`, waiting at most `timeout_ns` for the page lock.
pub fn checkWithin(h: *Heap, stats: *Stats, timeout_ns: i64) ?Problem {
    stats.* = .{};
    pages_mod.lockPagesWithin(h, timeout_ns) catch |err| return switch (err) {
        error.TimedOut => .{
            .page = 0,
            .what = "the page lock stayed held for 5 s: its holder is stuck, or another process damaged its word",
            .busy = true,
        },
        else => .{ .page = 0, .what = "the page lock is unusable" },
    };
    defer unlockPages(h);
    _ = arena_records.reapLocked(h);
    // The arenas' kinds, read once: a page may belong only to an owned or unowned arena.
    var arena_kinds: [arenas_max]u32 = undefined;
    for (h.arenas, &arena_kinds, 0..) |*r, *kind, i| {
        kind.* = layout.kindOf(@atomicLoad(u32, &r.status, .acquire));
        if (kind.* == layout.kind_reclaiming) return .{ .page = @intCast(i), .what = "an arena left half reclaimed" };
    }
    var run: u64 = 0;
    var covered: u32 = 0;
    // Whether the pages `covered` counts down belong to a class run that holds no block.
    var covered_empty = false;
    var small_pages: [arenas_max + 1][classes]u32 = undefined;
    for (&small_pages) |*row| row.* = [_]u32{0} ** classes;
    for (h.table, 0..) |*e, i| {
        const page: u32 = @intCast(i);
        const kind = @atomicLoad(u8, &e.kind, .acquire);
        if (kind > 3) return .{ .page = page, .what = "unknown page kind" };
        if (covered > 0 and kind != @intFromEnum(Kind.continuation)) return .{ .page = page, .what = "a run of pages cut short" };
        const ps = h.pageState(page);
        if (kind != @intFromEnum(Kind.small) and isLive(@atomicLoad(u32, &ps.state, .acquire))) return .{ .page = page, .what = "a page that is not small is marked live" };
        const arena: u32 = @atomicLoad(u16, &e.arena, .acquire);
        if (kind == @intFromEnum(Kind.small) or kind == @intFromEnum(Kind.large)) {
            if (arena > arenas_max) return .{ .page = page, .what = "a page names an arena past the table" };
            if (arena > 0 and arena_kinds[arena - 1] != layout.kind_owned and arena_kinds[arena - 1] != layout.kind_unowned)
                return .{ .page = page, .what = "a page belongs to an arena that does not exist" };
        }
        switch (@as(Kind, @enumFromInt(kind))) {
            .free => {
                run += page_size;
                stats.free_pages += page_size;
                stats.largest_free = @max(stats.largest_free, run);
                continue;
            },
            .continuation => {
                if (covered == 0) return .{ .page = page, .what = "continuation outside a run" };
                covered -= 1;
                stats.reserved += page_size;
                if (covered_empty) {
                    run += page_size;
                    stats.largest_free = @max(stats.largest_free, run);
                } else run = 0;
                continue;
            },
            .large => {
                const pages = @atomicLoad(u32, &e.pages, .acquire);
                if (pages == 0 or @as(u64, page) + pages > h.table.len) return .{ .page = page, .what = "large block runs past the heap" };
                covered = pages - 1;
                covered_empty = false;
                stats.in_use += @as(u64, pages) * page_size;
                stats.allocations += 1;
            },
            .small => {
                // Read once: the page lock does not keep a process that writes garbage out.
                const class: u32 = @atomicLoad(u8, &e.class, .acquire);
                if (class >= classes) return .{ .page = page, .what = "unknown size class" };
                const state = @atomicLoad(u32, &ps.state, .acquire);
                if (!isLive(state)) return .{ .page = page, .what = "small page not marked live" };
                if (stateClass(state) != class) return .{ .page = page, .what = "small page state names another class" };
                if (layout.stateArena(state) != arena) return .{ .page = page, .what = "small page state names another arena" };
                const blocks = blocksOf(class);
                var used: u64 = 0;
                const bitmap = layout.bitmapOf(ps, arena);
                for (0..(blocks + 63) / 64) |w| used += @popCount(@atomicLoad(u64, &bitmap[w], .acquire) & wordMask(blocks, w));
                if (@atomicLoad(u32, &e.pages, .acquire) != runPages(class)) return .{ .page = page, .what = "class run of the wrong length" };
                if (@as(u64, page) + runPages(class) > h.table.len) return .{ .page = page, .what = "class run runs past the heap" };
                stats.in_use += used * class_sizes[class];
                stats.allocations += used;
                small_pages[arena][class] += 1;
                covered = runPages(class) - 1;
                // An arena's empty run is still its arena's: no malloc of the pool takes it.
                covered_empty = used == 0 and arena == 0;
                stats.reserved += page_size;
                if (covered_empty) {
                    run += page_size;
                    stats.largest_free = @max(stats.largest_free, run);
                } else run = 0;
                continue;
            },
        }
        run = 0;
        stats.reserved += page_size;
    }
    if (covered > 0) return .{ .page = @intCast(h.table.len - 1), .what = "a run of pages runs past the heap" };
    for (&h.header.roots) |*r| {
        const handle = @atomicLoad(u64, &r.handle, .acquire);
        if (handle == 0) continue;
        _ = usableSize(h, handle) catch return .{ .page = 0, .what = "a named root is not an allocated block" };
    }
    for (0..arenas_max + 1) |a| {
        const heads = layout.classHeads(h, @intCast(a));
        for (0..classes) |c| {
            var next = @atomicLoad(u32, &heads[c], .acquire);
            var seen: u32 = 0;
            while (next != 0) {
                if (next > h.table.len) return .{ .page = next - 1, .what = "class list points outside the heap" };
                const e = h.entry(next - 1);
                if (e.kind != @intFromEnum(Kind.small) or e.class != c) return .{ .page = next - 1, .what = "class list holds a page of another kind" };
                if (e.arena != a) return .{ .page = next - 1, .what = "class list holds a page of another arena" };
                seen += 1;
                if (seen > small_pages[a][c]) return .{ .page = next - 1, .what = "class list has a cycle" };
                next = @atomicLoad(u32, &e.next, .acquire);
            }
            if (seen != small_pages[a][c]) return .{ .page = 0, .what = "class list misses a page of its class" };
        }
    }
    return null;
}
