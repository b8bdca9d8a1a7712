//! The allocator proper: claiming and freeing blocks of size-class runs (lock-free, one atomic
//! read-modify-write of a bitmap word each), large blocks of whole pages (under the page lock of
//! zig/heap/pages.zig), and the interface over both: malloc, aligned malloc, realloc, free, usable
//! size, round-up, from the shared pool or from an arena (a `Source`). zig/heap.zig re-exports it.
//!
//! Invariants: a block's bit is the truth: a claim sets a clear bit (a CAS) and then re-reads the
//! page's state, giving the bit back if the page retired meanwhile (bitmaps are never wiped, so the
//! bit is still the claimer's: zig/heap.zig's file comment); a free clears a set bit, and a bit
//! already clear is a double free, reported (error.Invalid), never obeyed. A process killed at any
//! instant of a small malloc or free leaves every structure consistent (at worst one leaked block).
//! A large block's continuation entries are written before its head and freed after it. Every entry,
//! state and run length a handle leads to is read once and checked before it is used: a damaged
//! table gives error.Protocol or error.Invalid, never a write outside the block's page run.

const std = @import("std");
const abi = @import("../abi.zig");
const crash = @import("../crash.zig");
const layout = @import("layout.zig");
const pages_mod = @import("pages.zig");
const arena_records = @import("arena_records.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;
const Heap = layout.Heap;
const Kind = layout.Kind;
const PageState = layout.PageState;
const Source = layout.Source;
const page_size = layout.page_size;
const class_max = layout.class_max;
const max_size = layout.max_size;
const base_alignment = layout.base_alignment;
const live_bit = layout.live_bit;
const isLive = layout.isLive;
const stateClass = layout.stateClass;
const stateArena = layout.stateArena;
const bitmapOf = layout.bitmapOf;
const wordMask = layout.wordMask;
const setEntry = layout.setEntry;
const classes = classes_mod.classes;
const class_sizes = classes_mod.class_sizes;
const classOf = classes_mod.classOf;
const runPages = classes_mod.runPages;
const blocksOf = classes_mod.blocksOf;
const servedAsPages = classes_mod.servedAsPages;
const run_pages_max = classes_mod.run_pages_max;
const lockPages = pages_mod.lockPages;
const unlockPages = pages_mod.unlockPages;
const findRun = pages_mod.findRun;
const newSmallPage = pages_mod.newSmallPage;
const reclaimSpace = pages_mod.reclaimSpace;
const retireIfEmpty = pages_mod.retireIfEmpty;
const classHeads = layout.classHeads;

// ---------------------------------------------------------------------------------------------------
// Small blocks.

/// Takes a clear bit of `page` if it is a live page of class `c` of `arena` (+ 1; 0 the pool):
/// the block's offset, or null.
fn claimBit(h: *Heap, page: u32, c: u32, arena: u32) ?u64 {
    return claimBitSeen(h, page, c, arena, @atomicLoad(u32, &h.pageState(page).state, .acquire));
}

/// `claimBit` for a claimer that read the page's state `state` earlier (tests stall a claim here).
pub inline fn claimBitSeen(h: *Heap, page: u32, c: u32, arena: u32, state: u32) ?u64 {
    const ps = h.pageState(page);
    if (!isLive(state) or stateClass(state) != c or stateArena(state) != arena) return null;
    const blocks = blocksOf(c);
    const words = (blocks + 63) / 64;
    const bitmap = bitmapOf(ps, arena);
    for (0..words) |i| {
        const limit = wordMask(blocks, i);
        var w = @atomicLoad(u64, &bitmap[i], .acquire);
        while (true) {
            const clear_bits = ~w & limit;
            if (clear_bits == 0) break;
            const bit: u6 = @intCast(@ctz(clear_bits));
            if (@cmpxchgWeak(u64, &bitmap[i], w, w | (@as(u64, 1) << bit), .seq_cst, .acquire)) |now| {
                w = now;
                continue;
            }
            crash.point(.heap_claim_bit_set);
            if (!stillLive(ps, state)) {
                // The page retired meanwhile, and may be a page of another class or a large block's
                // by now: the bit is still ours (bitmaps are never wiped), and goes back.
                _ = @atomicRmw(u64, &bitmap[i], .And, ~(@as(u64, 1) << bit), .acq_rel);
                return null;
            }
            const index = i * 64 + bit;
            return h.pages_offset + @as(u64, page) * page_size + index * class_sizes[c];
        }
    }
    return null;
}

/// After a claim: whether the page kept the state the claim started from. A retirement in progress
/// (the same state without its live bit) is waited out briefly: it usually fails because of the
/// claim's own bit, and the page goes live again. A retired page looks the same for good, hence the
/// bound; a claim that gives up gives its bit back, so waiting less only costs a retry.
fn stillLive(ps: *const PageState, state: u32) bool {
    var tries: u32 = 0;
    while (tries < 1000) : (tries += 1) {
        const now = @atomicLoad(u32, &ps.state, .seq_cst);
        if (now == state) return true;
        if (now != state & ~live_bit) return false;
        std.atomic.spinLoopHint();
    }
    return false;
}

fn allocSmall(h: *Heap, c: u32, src: Source) Error!u64 {
    const mine = src.cursor[c].load(.monotonic);
    if (mine != 0) {
        if (claimBit(h, mine - 1, c, src.arena)) |offset| return offset;
    }
    // Walk the class list (bounded: it may be relinked under us), preferring pages nobody else
    // is allocating from, then any page with room, then a new page. An arena's pages are all its
    // owner's: one pass.
    const heads = classHeads(h, src.arena);
    var pass: u32 = if (src.arena == 0) 0 else 1;
    while (pass < 2) : (pass += 1) {
        var next = @atomicLoad(u32, &heads[c], .acquire);
        var steps: u32 = 0;
        while (next != 0 and next <= h.table.len and steps < h.table.len) : (steps += 1) {
            const page = next - 1;
            const e = h.entry(page);
            next = @atomicLoad(u32, &e.next, .acquire);
            if (page + 1 == mine) continue;
            const owner = @atomicLoad(u32, &e.owner, .monotonic);
            if (pass == 0 and owner != h.pid and owner != 0) continue;
            if (claimBit(h, page, c, src.arena)) |offset| {
                src.cursor[c].store(page + 1, .monotonic);
                if (owner != h.pid) @atomicStore(u32, &e.owner, h.pid, .release);
                return offset;
            }
        }
    }
    while (true) {
        const page = try newSmallPage(h, c, src);
        src.cursor[c].store(page + 1, .monotonic);
        // Another process may fill (or even empty and retire) the new page first.
        if (claimBit(h, page, c, src.arena)) |offset| return offset;
    }
}

// ---------------------------------------------------------------------------------------------------
// Large blocks.

fn allocLarge(h: *Heap, size: u64, src: Source) Error!u64 {
    const arena = src.arena;
    const n64 = (size + page_size - 1) / page_size;
    if (n64 > h.table.len) return error.NoMemory;
    const n: u32 = @intCast(n64);
    try lockPages(h);
    defer unlockPages(h);
    if (arena != 0) try arena_records.checkOwner(h, arena - 1, src.generation);
    const start = findRun(h, n) orelse (if (reclaimSpace(h) > 0) findRun(h, n) else null) orelse return error.NoMemory;
    var i: u32 = n;
    while (i > 1) {
        i -= 1;
        setEntry(h.entry(start + i), .continuation, 0, 0, 0, 0);
        crash.point(.heap_large_claim_continuation);
    }
    const head = h.entry(start);
    head.class = 0;
    head.next = 0;
    head.owner = h.pid;
    head.pages = n;
    @atomicStore(u16, &head.arena, @intCast(arena), .release);
    @atomicStore(u8, &head.kind, @intFromEnum(Kind.large), .release);
    crash.point(.heap_large_claim_head);
    return h.pages_offset + @as(u64, start) * page_size;
}

fn freeLarge(h: *Heap, page: u32) Error!void {
    try lockPages(h);
    defer unlockPages(h);
    const head = h.entry(page);
    if (head.kind != @intFromEnum(Kind.large)) return error.Invalid; // freed meanwhile
    const n = head.pages;
    if (n == 0 or @as(u64, page) + n > h.table.len) return error.Protocol;
    @atomicStore(u8, &head.kind, @intFromEnum(Kind.free), .release);
    crash.point(.heap_large_free_head);
    for (1..n) |i| {
        setEntry(h.entry(page + @as(u32, @intCast(i))), .free, 0, 0, 0, 0);
        crash.point(.heap_large_free_continuation);
    }
    setEntry(head, .free, 0, 0, 0, 0);
}

// ---------------------------------------------------------------------------------------------------
// The allocator's interface.

pub fn malloc(h: *Heap, size: u64) Error!u64 {
    return mallocFrom(h, h.pool(), size);
}

/// `malloc` from `src`: the shared pool or an arena (whose owner the caller has checked).
pub fn mallocFrom(h: *Heap, src: Source, size: u64) Error!u64 {
    if (size == 0) return error.Invalid;
    if (size > h.size) return error.NoMemory;
    return h.handleOf(try allocClass(h, src, size, if (size <= class_max) classOf(size) else null));
}

/// A block of class `c` (or of whole pages when null, or when the class is served so).
fn allocClass(h: *Heap, src: Source, size: u64, class: ?u32) Error!u64 {
    const c = class orelse return allocLarge(h, size, src);
    if (servedAsPages(c)) return allocLarge(h, class_sizes[c], src);
    return allocSmall(h, c, src);
}

/// The usable size a request of `size` bytes gets (what `usableSize` says of the block `malloc`
/// returns), 0 counting as 1 byte as the C callbacks do; error.Range past the largest heap.
pub fn roundUp(size: u64) Error!u64 {
    if (size > max_size) return error.Range;
    const n = @max(size, 1);
    if (n <= class_max) return class_sizes[classOf(n)];
    return std.mem.alignForward(u64, n, page_size);
}

/// Largest alignment a block can be asked for: a system page (every page of the heap starts on one).
pub const alignment_max: u32 = base_alignment;

/// malloc with the block's address (in every process) a multiple of `alignment` (a power of two up
/// to `alignment_max`). Small blocks are aligned to 16 bytes, and to the largest power of two that
/// divides their class size (pages start on a system page); other alignments take whole pages.
pub fn mallocAligned(h: *Heap, size: u64, alignment: u64) Error!u64 {
    return mallocAlignedFrom(h, h.pool(), size, alignment);
}

pub fn mallocAlignedFrom(h: *Heap, src: Source, size: u64, alignment: u64) Error!u64 {
    if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return error.Invalid;
    if (alignment > alignment_max) return error.Range;
    if (alignment <= 16) return mallocFrom(h, src, size);
    if (size == 0) return error.Invalid;
    if (size > h.size) return error.NoMemory;
    if (size <= class_max) {
        var c = classOf(size);
        while (c < classes and class_sizes[c] % alignment != 0) c += 1;
        if (c < classes) return h.handleOf(try allocClass(h, src, size, c));
    }
    return h.handleOf(try allocLarge(h, size, src));
}

/// Where a handle's block is: its page (a class run's head) and, for a class block, its class and
/// index.
const Place = struct { page: u32, class: u32 = 0, arena: u32 = 0, index: ?u32 };

/// The head of the class run that page `page`, a continuation, belongs to, or null: the nearest
/// class head before it (within the longest run), if its class's run reaches `page`. Each entry is
/// read once; a large block's continuation finds its large head (or nothing) and is no class block.
fn runHead(h: *Heap, page: u32) ?u32 {
    var back: u32 = 1;
    while (back < run_pages_max and back <= page) : (back += 1) {
        const kind = @atomicLoad(u8, &h.entry(page - back).kind, .acquire);
        if (kind == @intFromEnum(Kind.continuation)) continue;
        if (kind != @intFromEnum(Kind.small)) return null;
        const class: u32 = @atomicLoad(u8, &h.entry(page - back).class, .acquire);
        if (class >= classes or runPages(class) <= back) return null;
        return page - back;
    }
    return null;
}

fn locate(h: *Heap, handle: u64) Error!Place {
    const offset = try h.offsetOf(handle);
    var page: u32 = @intCast((offset - h.pages_offset) / page_size);
    var kind = @atomicLoad(u8, &h.entry(page).kind, .acquire);
    if (kind == @intFromEnum(Kind.continuation)) {
        page = runHead(h, page) orelse return error.Invalid;
        kind = @intFromEnum(Kind.small);
    }
    const within = offset - h.pages_offset - @as(u64, page) * page_size;
    const e = h.entry(page);
    if (kind > 3) return error.Protocol;
    switch (@as(Kind, @enumFromInt(kind))) {
        .small => {
            // Without its live bit, a page is being retired: a retirement that fails if it holds
            // the caller's block (then the class is still right), or the page holds no block. Not
            // being live is no reason to refuse a free: a refused free would leak the block.
            const state = @atomicLoad(u32, &h.pageState(page).state, .acquire);
            const c = stateClass(state);
            if (c >= classes) return error.Protocol;
            if (!isLive(state) and c != @atomicLoad(u8, &e.class, .acquire)) return error.Invalid;
            const size = class_sizes[c];
            if (within % size != 0) return error.Invalid;
            const index: u32 = @intCast(within / size);
            if (index >= blocksOf(c)) return error.Invalid;
            // The state's arena picks the bitmap: a block's page stays its arena's while it holds it.
            return .{ .page = page, .class = c, .arena = stateArena(state), .index = index };
        },
        .large => {
            if (within != 0) return error.Invalid;
            return .{ .page = page, .index = null };
        },
        .free, .continuation => return error.Invalid,
    }
}

/// Frees the block; error.Invalid when `handle` is not an allocated block of this heap (a double
/// free, or never allocated), error.Kind for another heap's handle.
pub fn free(h: *Heap, handle: u64) Error!void {
    const place = try locate(h, handle);
    const index = place.index orelse return freeLarge(h, place.page);
    const ps = h.pageState(place.page);
    const bit = @as(u64, 1) << @intCast(index % 64);
    const old = @atomicRmw(u64, &bitmapOf(ps, place.arena)[index / 64], .And, ~bit, .acq_rel);
    if (old & bit == 0) return error.Invalid;
    crash.point(.heap_free_bit_cleared);
    // An arena's emptied page stays its arena's (zig/heap/arena.zig).
    if (old == bit and place.arena == 0) retireIfEmpty(h, place.page, place.class);
}

/// Bytes the block can hold (at least what was asked).
pub fn usableSize(h: *Heap, handle: u64) Error!u64 {
    const place = try locate(h, handle);
    if (place.index) |index| {
        const bit = @as(u64, 1) << @intCast(index % 64);
        if (@atomicLoad(u64, &bitmapOf(h.pageState(place.page), place.arena)[index / 64], .acquire) & bit == 0) return error.Invalid;
        return class_sizes[place.class];
    }
    // A caller writes this many bytes: a run that does not fit in the heap is damage, never a size.
    const pages = @atomicLoad(u32, &h.entry(place.page).pages, .acquire);
    if (pages == 0 or @as(u64, place.page) + pages > h.table.len) return error.Protocol;
    return @as(u64, pages) * page_size;
}

/// A pointer to the block's first byte in this process.
pub fn pointer(h: *Heap, handle: u64) Error![*]u8 {
    return h.base + try h.offsetOf(handle);
}

/// Resizes a block, moving it (with its contents) when it must; an alignment asked at malloc is not
/// kept by a move. Stays in place when the new size still fits and wastes at most half the block.
pub fn realloc(h: *Heap, handle: u64, size: u64) Error!u64 {
    return reallocFrom(h, h.pool(), handle, size);
}

/// `realloc` whose new block, when it moves, comes from `src`.
pub fn reallocFrom(h: *Heap, src: Source, handle: u64, size: u64) Error!u64 {
    if (handle == 0) return mallocFrom(h, src, size);
    const have = try usableSize(h, handle);
    if (size == 0) return error.Invalid;
    if (size <= have and size * 2 > have) return handle;
    const moved = try mallocFrom(h, src, size);
    const from = try pointer(h, handle);
    const to = try pointer(h, moved);
    const n = @min(have, size);
    if (@intFromPtr(to) < @intFromPtr(from) + n and @intFromPtr(from) < @intFromPtr(to) + n) {
        // The new block overlaps the old one: only a damaged page table hands that out.
        free(h, moved) catch {};
        return error.Protocol;
    }
    @memcpy(to[0..n], from[0..n]);
    free(h, handle) catch |err| {
        // Freed meanwhile by someone else: keep the heap as it was asked to be, report the misuse.
        free(h, moved) catch {};
        return err;
    };
    return moved;
}
