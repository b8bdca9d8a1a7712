//! The shared heap: malloc/free inside a segment, from many processes at once, that stays
//! consistent whatever instant a process is killed at.
//!
//! Layout, from the start of the heap's memory (all positions are offsets, the same in every
//! process):
//!   header      4 KiB: magic, version, a random tag, geometry, the page lock (a robust mutex),
//!               the head of each size class's page list, the named roots; then the arena table
//!               (64 records of 256 bytes, zig/heap/arena.zig)
//!   page table  one 16-byte entry per page: what the page is (free, a small-block page of a
//!               class, the head or a continuation of a large block), a small page's class list
//!               link; compact, since the page lock's holder scans it
//!   page states one 1088-byte record per page: a small page's state word and its two bitmaps (the
//!               pool's, and an arena's: see zig/heap/arena.zig for why apart), on cache lines of
//!               their own (allocations change them all the time)
//!   pages       `page_size` (64 KiB) each, aligned to it; they hold only blocks
//!
//! All of the allocator's own data lives in the header and the page table, never in the pages: a
//! process that acts on a stale view (a page that changed hands meanwhile) can only touch memory
//! the allocator owns, never a block someone holds.
//!
//! Blocks up to `class_max` (256 KiB) live in runs of one size class (zig/heap/classes.zig): one
//! page for classes up to `small_max`, up to 7 for the larger, whose head entry is a "small page"
//! followed by continuation entries, as a large block's (the run's length always comes from its
//! class). Below, "small page" means a run's head: its state and bitmap stand for the whole run.
//! Classes of whole pages (64, 128, 192, 256 KiB) are large blocks. A small page's bitmap has one bit
//! per block: the bitmap is the truth, and each change is one atomic read-modify-write of one word —
//! allocating sets a clear bit (a CAS), freeing clears a set bit (from any process; a bit already
//! clear is a double free, reported, never obeyed). So a process killed at any instant of a small
//! malloc or free leaves every structure consistent: at worst a block it had just taken is never
//! used (a leak, reported by `check` as allocated).
//!
//! An empty small page goes back to the page pool ("retires"), so that memory freed by one size
//! serves any other, large blocks included. Its state word (live bit, generation, class) makes that
//! safe without a lock on the allocation path: an allocation reads the state, sets its bit, and
//! reads the state again; the page lock holder retiring a page clears the live bit and only then
//! checks that the bitmap is empty (both sides sequentially consistent, so one sees the other). An
//! allocation that sees the state change gives its bit back. That is safe because a bitmap is never
//! wiped, not even when its page is made small again: only claims set bits and only frees clear
//! them, so a bit belongs to whoever set it until they clear it, whatever the page has become
//! meanwhile. (An allocation that read the state, then stalled while the page retired and was
//! remade, can set a bit of the new page: a wiped bitmap would let it leak that block, and giving
//! the bit back after a wipe could free another's block.) Pages retire when a process frees the
//! last block of a page it allocated from but has moved on from, and whenever the pool runs dry.
//!
//! Pages change hands under the page lock, a robust mutex whose next locker after a dead holder
//! rebuilds what it may have left half done: zig/heap/pages.zig holds the lock, its recovery, and
//! the write orders that make every prefix of a page change recoverable.
//!
//! Handles are offsets tagged with the heap's random 12-bit tag above them (below 2^52: exact as
//! JavaScript numbers), so a handle from another heap is recognized rather than misread (but for
//! the 1 in 2048 chance that two heaps drew the same tag). Each process keeps private per-class cursors
//! (which page it last allocated from), so processes mostly allocate in different pages and their
//! bitmap CASes do not contend.
//!
//! Arenas (zig/heap/arena.zig, whose file comment holds their invariants): a page's entry and state
//! name the arena it belongs to (0: the shared pool); an arena's pages keep to their arena — sweeps
//! and retirements pass them by — until the arena is reset, destroyed, or its owner is judged dead,
//! and their blocks live in the page's arena bitmap. A claim checks the state's arena as it checks
//! its class. Named roots are in zig/heap/roots.zig, the unit tests in zig/heap/heap_test.zig and
//! zig/heap/damage_test.zig.
//!
//! The files, each importing only those below it (none imports this one, which re-exports them):
//!   heap/classes.zig        size classes and their runs (pure functions)
//!   heap/layout.zig         what lives in shared memory, its constants, and `Heap`, a process's view
//!   heap/arena_records.zig  arena owners, and giving an arena's pages back (under the page lock)
//!   heap/pages.zig          the page lock and its recovery, the page pool (new runs, retirement)
//!   heap/alloc.zig          claims and frees of blocks, large blocks, malloc/realloc/free
//!   heap/arena.zig heap/roots.zig heap/check.zig   arenas, named roots, the consistency walk
//! This file, on top, makes and opens heaps (`init`, `attach`). Tests: heap/heap_test.zig,
//! heap/damage_test.zig and heap/arena_test.zig, sharing heap/test_heap.zig (pulled in by
//! zig/root.zig's tests, so that no file imports this one back).
//!
//! Invariants (what `check`, in zig/heap/check.zig, verifies): every entry's kind and class are
//! valid; every large head's run and every class run lie inside the heap and their continuations
//! say so (continuations are written before their head and freed after it); no continuation lies
//! outside a run; a
//! page is live exactly when it is a small page, and its state names its class; each class list
//! holds exactly that class's small pages, without cycles; each arena's class list holds exactly that
//! arena's small pages of the class; a page belongs only to an arena that exists.

const std = @import("std");
const abi = @import("abi.zig");
const mutex = @import("mutex.zig");
const platform = @import("platform/root.zig");
const Error = abi.Error;

pub const classes_mod = @import("heap/classes.zig");
pub const layout_mod = @import("heap/layout.zig");
pub const pages_mod = @import("heap/pages.zig");
pub const alloc_mod = @import("heap/alloc.zig");
pub const arena_mod = @import("heap/arena.zig");
const roots_mod = @import("heap/roots.zig");
const check_mod = @import("heap/check.zig");

// ---------------------------------------------------------------------------------------------------
// The layout: zig/heap/layout.zig.

pub const magic = layout_mod.magic;
pub const version = layout_mod.version;
pub const page_size = layout_mod.page_size;
pub const header_head_size = layout_mod.header_head_size;
pub const arenas_max = layout_mod.arenas_max;
pub const header_size = layout_mod.header_size;
pub const base_alignment = layout_mod.base_alignment;
pub const data_offset = layout_mod.data_offset;
pub const small_max = layout_mod.small_max;
pub const class_max = layout_mod.class_max;
pub const roots_max = layout_mod.roots_max;
pub const root_name_max = layout_mod.root_name_max;
pub const offset_bits = layout_mod.offset_bits;
pub const tag_bits = layout_mod.tag_bits;
pub const max_size = layout_mod.max_size;
pub const size_min = layout_mod.size_min;
pub const size_max = layout_mod.size_max;
pub const class_sizes = classes_mod.class_sizes;
pub const classes = classes_mod.classes;
pub const classOf = classes_mod.classOf;
pub const Kind = layout_mod.Kind;
pub const Entry = layout_mod.Entry;
pub const PageState = layout_mod.PageState;
pub const live_bit = layout_mod.live_bit;
pub const isLive = layout_mod.isLive;
pub const stateClass = layout_mod.stateClass;
pub const stateArena = layout_mod.stateArena;
pub const liveState = layout_mod.liveState;
pub const bitmapOf = layout_mod.bitmapOf;
pub const wordMask = layout_mod.wordMask;
pub const bitmapEmpty = layout_mod.bitmapEmpty;
pub const Root = layout_mod.Root;
pub const Header = layout_mod.Header;
const Record = layout_mod.Record;
pub const Geometry = layout_mod.Geometry;
pub const plan = layout_mod.plan;
pub const Heap = layout_mod.Heap;
pub const Source = layout_mod.Source;
pub const setEntry = layout_mod.setEntry;
pub const classHeads = layout_mod.classHeads;
pub const misuse_count = layout_mod.misuse_count;
pub const misuse_abort = layout_mod.misuse_abort;

// ---------------------------------------------------------------------------------------------------
// The page lock, its recovery and the page pool: zig/heap/pages.zig.

pub const lockPages = pages_mod.lockPages;
pub const tryLockPages = pages_mod.tryLockPages;
pub const unlockPages = pages_mod.unlockPages;
pub const recover = pages_mod.recover;
pub const findRun = pages_mod.findRun;
pub const lastFreeRun = pages_mod.lastFreeRun;
pub const retire = pages_mod.retire;
pub const sweep = pages_mod.sweep;

// ---------------------------------------------------------------------------------------------------
// The allocator: zig/heap/alloc.zig.

pub const malloc = alloc_mod.malloc;
pub const mallocFrom = alloc_mod.mallocFrom;
pub const mallocAligned = alloc_mod.mallocAligned;
pub const mallocAlignedFrom = alloc_mod.mallocAlignedFrom;
pub const alignment_max = alloc_mod.alignment_max;
pub const roundUp = alloc_mod.roundUp;
pub const free = alloc_mod.free;
pub const usableSize = alloc_mod.usableSize;
pub const pointer = alloc_mod.pointer;
pub const realloc = alloc_mod.realloc;
pub const reallocFrom = alloc_mod.reallocFrom;
pub const claimBitSeen = alloc_mod.claimBitSeen;

// ---------------------------------------------------------------------------------------------------
// Named roots (zig/heap/roots.zig), checking and statistics (zig/heap/check.zig).

pub const root = roots_mod.root;
pub const removeRoot = roots_mod.removeRoot;
pub const Stats = check_mod.Stats;
pub const Problem = check_mod.Problem;
pub const check = check_mod.check;
pub const checkWithin = check_mod.checkWithin;

// ---------------------------------------------------------------------------------------------------
// Making and opening a heap.

/// Makes `memory` an empty heap. Exactly one process initializes it, before others attach. The
/// memory must be zero-filled (a new segment is): the page table is not written here, so that a
/// large heap costs memory only as its pages are used.
pub fn init(memory: []u8, tag: u32) Error!void {
    if (@intFromPtr(memory.ptr) % base_alignment != 0) return error.Align;
    const g = try plan(memory.len);
    const header: *Header = @ptrCast(@alignCast(memory.ptr));
    @atomicStore(u32, &header.magic, 0, .release);
    header.version = version;
    header.tag = tag & ((1 << tag_bits) - 1) | 1 << (tag_bits - 1); // never 0: a zero handle is never valid
    header.page_size = page_size;
    header.page_count = g.page_count;
    header.table_offset = g.table_offset;
    header.pages_offset = g.pages_offset;
    header.size = memory.len;
    header.states_offset = g.states_offset;
    header.reserved = [_]u8{0} ** 16;
    try mutex.init(&header.lock);
    header.class_head = [_]u32{0} ** classes;
    for (&header.roots) |*r| r.* = std.mem.zeroes(Root);
    @atomicStore(u32, &header.magic, magic, .release);
}

/// This process's view of the heap in `memory`, checked against what another process wrote.
pub fn attach(memory: []u8) Error!Heap {
    if (@intFromPtr(memory.ptr) % base_alignment != 0) return error.Align;
    if (memory.len < header_size) return error.Range;
    const header: *Header = @ptrCast(@alignCast(memory.ptr));
    if (@atomicLoad(u32, &header.magic, .acquire) != magic) return error.Protocol;
    if (header.version != version) return error.Version;
    const g = try plan(memory.len);
    if (header.size != memory.len or header.page_size != page_size or header.page_count != g.page_count or
        header.table_offset != g.table_offset or header.pages_offset != g.pages_offset or
        header.states_offset != g.states_offset) return error.Protocol;
    try mutex.validate(&header.lock);
    const tag = header.tag;
    if (tag >> tag_bits != 0 or tag & 1 << (tag_bits - 1) == 0) return error.Protocol;
    const table: [*]Entry = @ptrCast(@alignCast(memory.ptr + g.table_offset));
    const states: [*]PageState = @ptrCast(@alignCast(memory.ptr + g.states_offset));
    const stamp = try platform.selfStamp();
    return .{
        .base = memory.ptr,
        .size = memory.len,
        .header = header,
        .arenas = @as([*]Record, @ptrCast(@alignCast(memory.ptr + header_head_size)))[0..arenas_max],
        .table = table[0..g.page_count],
        .states = states[0..g.page_count],
        .pages_offset = g.pages_offset,
        .tag = tag,
        .pid = @intCast(stamp.pid),
    };
}

test {
    _ = classes_mod;
    _ = layout_mod;
    _ = pages_mod;
    _ = alloc_mod;
    _ = arena_mod;
    _ = roots_mod;
    _ = check_mod;
}
