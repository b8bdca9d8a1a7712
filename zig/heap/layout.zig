//! The heap's layout in shared memory: the header, the arena table's records, the page table's
//! entries and the page states, their constants and bit fields, the geometry a heap of a given size
//! has (`plan`), and `Heap`, a process's view of them; plus the few writes every layer above makes
//! the same way (`setEntry`, `classHeads`) and the one read they share (`bitmapEmpty`). The design
//! is described in zig/heap.zig's file comment; the page lock's write orders in zig/heap/pages.zig,
//! claims and frees in zig/heap/alloc.zig, arenas in zig/heap/arena.zig.
//!
//! Invariants: shared memory holds only fixed-width integers and offsets (no pointer, no usize);
//! the sizes and offsets of `Entry`, `PageState`, `Header` and `Record` are pinned by comptime
//! asserts, and a change to any of them is a change of `version`; every offset fits in
//! `offset_bits` (40) bits and a handle (offset plus the heap's 12-bit tag) stays below 2^52, exact
//! as a JavaScript number; a page state's word is `live_bit | arena << 24 | generation << 8 |
//! class`, and its generation only grows; an arena record's status word is `kind | after << 2 |
//! slot << 4 | generation << 8`. Everything read back from these structures is untrusted (another
//! process wrote it): the layers above read each value once and check it before use.

const std = @import("std");
const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;

pub const magic: u32 = 0x5045_4849; // "IHEP" little-endian
pub const version: u32 = 5;
pub const page_size: u32 = classes_mod.page_size;
/// The header proper, then the arena table (zig/heap/arena.zig) up to `header_size`.
pub const header_head_size: u32 = 4096;
/// How many arenas a heap holds at once.
pub const arenas_max: u32 = 64;
pub const header_size: u32 = header_head_size + arenas_max * @sizeOf(Record);
/// The heap's memory starts on a system page, so that every page (and every large block) starts
/// on one in every process, whatever address each maps the segment at.
pub const base_alignment: u32 = 4096;
/// Where the heap's memory starts in its segment's data (the data starts 128 bytes into a page).
pub const data_offset: u32 = base_alignment - abi.segment_header_size;
pub const small_max = classes_mod.small_max;
pub const class_max = classes_mod.class_max;
pub const roots_max: u32 = 32;
pub const root_name_max: u32 = 47;
/// Offsets fit in 40 bits (1 TiB heaps); the tag takes the next 12, so that a handle is below 2^52
/// and stays exact as a JavaScript number.
pub const offset_bits = 40;
pub const tag_bits = 12;
pub const offset_mask: u64 = (1 << offset_bits) - 1;
/// Largest heap memory: offsets must fit their 40 bits.
pub const max_size: u64 = offset_mask;
/// The sizes `ipc_heap_create` accepts, exactly: room for the header, the bookkeeping and one page;
/// and the largest memory less the system page its segment's data may need to reach a page boundary.
pub const size_min: u64 = header_size + 16 + 2 * page_size;
pub const size_max: u64 = max_size - base_alignment;

pub const class_sizes = classes_mod.class_sizes;
pub const classes = classes_mod.classes;
const blocksOf = classes_mod.blocksOf;

pub const Kind = enum(u8) { free = 0, small = 1, large = 2, continuation = 3 };

pub const bitmap_words = page_size / 16 / 64;

pub const Entry = extern struct {
    kind: u8,
    class: u8,
    /// Small pages and large heads: the arena they belong to, + 1 (0: the shared pool).
    arena: u16,
    /// Small pages: the next page of the class list + 1 (0 ends it).
    next: u32,
    /// Large heads: pages in the run.
    pages: u32,
    /// The process that allocates from this small page, as a hint.
    owner: u32,
};

/// What allocations read and change in a page.
pub const PageState = extern struct {
    /// What an allocation validates: `live_bit | generation << 8 | class` while the page is a small
    /// page; without the live bit otherwise (the generation survives, so a page made small again
    /// never looks like its old self).
    state: u32,
    reserved: [60]u8,
    /// Small pages of the shared pool: one bit per block, set while the block is allocated.
    bitmap: [bitmap_words]u64,
    /// The same for the page's incarnations as an arena's page. A bitmap apart, because an arena's
    /// is wiped when the arena is reclaimed, and a pool claim that stalled on an earlier incarnation
    /// of the page may still set (and give back) a bit of `bitmap` at any time: it must never land
    /// in a bitmap that is wiped (see zig/heap/arena.zig).
    arena_bitmap: [bitmap_words]u64,
};

comptime {
    std.debug.assert(@sizeOf(Entry) == 16);
    std.debug.assert(@sizeOf(PageState) % 64 == 0);
    std.debug.assert(@offsetOf(PageState, "bitmap") == 64);
    // The arena's index + 1 takes 7 bits of a page's state.
    std.debug.assert(arenas_max < 0x7f);
}

pub const live_bit: u32 = 1 << 31;
const generation_mask: u32 = (1 << 16) - 1;
const arena_shift = 24;

pub fn isLive(state: u32) bool {
    return state & live_bit != 0;
}

pub fn stateClass(state: u32) u32 {
    return state & 0xff;
}

/// The arena (+ 1; 0 the pool) a page's state names: a claim must find the page of its own source.
pub fn stateArena(state: u32) u32 {
    return (state >> arena_shift) & 0x7f;
}

pub fn liveState(previous: u32, class: u32, arena: u32) u32 {
    return live_bit | arena << arena_shift | (((previous >> 8) +% 1) & generation_mask) << 8 | class;
}

/// The bitmap a page's blocks are counted in while it belongs to `arena` (+ 1; 0 the pool).
pub fn bitmapOf(ps: *PageState, arena: u32) *[bitmap_words]u64 {
    return if (arena == 0) &ps.bitmap else &ps.arena_bitmap;
}

/// The bits of bitmap word `w` that stand for blocks of a class with `blocks` blocks.
pub fn wordMask(blocks: u32, w: usize) u64 {
    const first = w * 64;
    if (first >= blocks) return 0;
    if (blocks - first >= 64) return ~@as(u64, 0);
    return (@as(u64, 1) << @intCast(blocks - first)) - 1;
}

pub const Root = extern struct {
    name: [root_name_max + 1]u8,
    handle: u64,
};

pub const Header = extern struct {
    magic: u32,
    version: u32,
    tag: u32,
    page_size: u32,
    page_count: u32,
    table_offset: u32,
    pages_offset: u64,
    size: u64,
    states_offset: u64,
    reserved: [16]u8,
    lock: mutex.Mutex,
    class_head: [classes]u32,
    roots: [roots_max]Root,
};

comptime {
    std.debug.assert(@sizeOf(Header) <= header_head_size);
    std.debug.assert(@offsetOf(Header, "lock") % 8 == 0);
}

/// What `plan` says a heap of `size` bytes looks like.
pub const Geometry = struct {
    page_count: u32,
    table_offset: u32,
    states_offset: u64,
    pages_offset: u64,
};

fn layout(pages: u64) Geometry {
    const states = std.mem.alignForward(u64, header_size + pages * @sizeOf(Entry), 64);
    return .{
        .page_count = @intCast(pages),
        .table_offset = header_size,
        .states_offset = states,
        .pages_offset = std.mem.alignForward(u64, states + pages * @sizeOf(PageState), page_size),
    };
}

pub fn plan(size: u64) Error!Geometry {
    if (size < header_size + 16 + 2 * page_size) return error.Range;
    if (size > offset_mask) return error.Range;
    // header + pages * (entry + state + page) + padding <= size
    var pages: u64 = (size - header_size) / (page_size + @sizeOf(Entry) + @sizeOf(PageState));
    while (pages > 0) : (pages -= 1) {
        const g = layout(pages);
        if (g.pages_offset + pages * page_size <= size) return g;
    }
    return error.Range;
}

/// A heap as one process sees it: the shared memory and this process's private cursors.
pub const Heap = struct {
    base: [*]u8,
    size: u64,
    header: *Header,
    arenas: []Record,
    table: []Entry,
    states: []PageState,
    pages_offset: u64,
    tag: u64,
    /// Per class: the page this process allocates from, + 1 (0: none yet). Hints only.
    cursor: [classes]std.atomic.Value(u32) = [_]std.atomic.Value(u32){std.atomic.Value(u32).init(0)} ** classes,
    pid: u32,
    /// Pointers the C callbacks were given that are no allocated block of this heap (a double free,
    /// a foreign pointer): counted per view, never obeyed.
    misuses: std.atomic.Value(u64) = std.atomic.Value(u64).init(0),
    /// What a misuse does beyond being counted: `misuse_count` or `misuse_abort`.
    misuse_action: std.atomic.Value(u32) = std.atomic.Value(u32).init(misuse_count),

    pub fn entry(h: *Heap, page: u32) *Entry {
        return &h.table[page];
    }

    pub fn pageState(h: *Heap, page: u32) *PageState {
        return &h.states[page];
    }

    /// The shared pool as a source of blocks, with this view's cursors.
    pub fn pool(h: *Heap) Source {
        return .{ .cursor = &h.cursor };
    }

    pub fn handleOf(h: *const Heap, offset: u64) u64 {
        return h.tag << offset_bits | offset;
    }

    /// The offset a handle stands for; error.Kind for another heap's handle, error.Range outside.
    pub fn offsetOf(h: *const Heap, handle: u64) Error!u64 {
        if (handle >> offset_bits != h.tag) return error.Kind;
        const offset = handle & offset_mask;
        if (offset < h.pages_offset or offset >= h.pages_offset + @as(u64, h.table.len) * page_size) return error.Range;
        return offset;
    }
};

// ---------------------------------------------------------------------------------------------------
// The arena table (zig/heap/arena.zig): one record per arena after the header proper.

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
pub fn afterOf(status: u32) u32 {
    return (status >> 2) & 3;
}
pub fn slotOf(status: u32) u1 {
    return @intCast((status >> 4) & 1);
}
pub fn generationOf(status: u32) u32 {
    return status >> 8;
}
pub fn makeStatus(kind: u32, after: u32, slot: u1, generation: u32) u32 {
    return kind | after << 2 | @as(u32, slot) << 4 | generation << 8;
}

/// Where blocks are taken from: the shared pool (`arena` 0) or an arena (its index + 1), with the
/// calling view's cursors for it.
pub const Source = struct {
    arena: u32 = 0,
    /// The arena's generation when the view opened it: a view of a destroyed arena allocates nothing.
    generation: u32 = 0,
    cursor: *[classes]std.atomic.Value(u32),
};

/// A misuse is counted and otherwise ignored (the default).
pub const misuse_count: u32 = 0;
/// A misuse is counted, described on stderr, and the process aborts.
pub const misuse_abort: u32 = 1;

/// The class list heads of `arena` (+ 1; 0 the shared pool).
pub fn classHeads(h: *Heap, arena: u32) *[classes]u32 {
    return if (arena == 0) &h.header.class_head else &h.arenas[arena - 1].class_head;
}

/// Rewrites an entry (a page's state record is written apart: its generation must only grow, and
/// its bitmap is only ever changed by claims and frees).
pub fn setEntry(e: *Entry, kind: Kind, class: u32, next: u32, pages: u32, owner: u32) void {
    setEntryIn(e, kind, class, next, pages, owner, 0);
}

/// `setEntry` for a page of `arena` (+ 1; 0 the pool).
pub fn setEntryIn(e: *Entry, kind: Kind, class: u32, next: u32, pages: u32, owner: u32, arena: u32) void {
    e.class = @intCast(class);
    @atomicStore(u16, &e.arena, @intCast(arena), .release);
    @atomicStore(u32, &e.next, next, .release);
    e.pages = pages;
    @atomicStore(u32, &e.owner, owner, .release);
    @atomicStore(u8, &e.kind, @intFromEnum(kind), .release);
}

/// Whether no block of a small page of class `c` is allocated (bits past the last block, which a
/// claim on an earlier use of the page may hold for a moment, do not count).
pub fn bitmapEmpty(ps: *PageState, c: u32, arena: u32) bool {
    const blocks = blocksOf(c);
    const bitmap = bitmapOf(ps, arena);
    for (0..(blocks + 63) / 64) |w| {
        if (@atomicLoad(u64, &bitmap[w], .seq_cst) & wordMask(blocks, w) != 0) return false;
    }
    return true;
}
