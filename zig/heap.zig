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
//! Pages change hands under the page lock, a robust mutex: a process that dies holding it is
//! detected by the next locker (OWNER_DIED), which rebuilds what the dead one may have left half
//! done from the page table, whose entries are written in an order where every prefix is
//! recoverable: a large block's continuation entries before its head entry (the commit); a freed
//! large block's head before its continuations; a small page's entry before it is linked into its
//! class list, and its live bit last; a retiring page's live bit first. Recovery frees
//! continuations no head covers, settles small pages caught between live and retired (empty ones
//! retire, others go live again), and relinks the class lists.
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
//! its class. Named roots are in zig/heap/roots.zig, the unit tests in zig/heap/heap_test.zig.
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
const wait = @import("wait.zig");
const platform = @import("platform/root.zig");
const crash = @import("crash.zig");
const Error = abi.Error;

pub const magic: u32 = 0x5045_4849; // "IHEP" little-endian
pub const version: u32 = 5;
pub const page_size: u32 = classes_mod.page_size;
/// The header proper, then the arena table (zig/heap/arena.zig) up to `header_size`.
pub const header_head_size: u32 = 4096;
pub const arenas_max = arena_mod.arenas_max;
pub const header_size: u32 = header_head_size + arenas_max * @sizeOf(arena_mod.Record);
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
const offset_mask: u64 = (1 << offset_bits) - 1;
/// Largest heap memory: offsets must fit their 40 bits.
pub const max_size: u64 = offset_mask;
/// The sizes `ipc_heap_create` accepts, exactly: room for the header, the bookkeeping and one page;
/// and the largest memory less the system page its segment's data may need to reach a page boundary.
pub const size_min: u64 = header_size + 16 + 2 * page_size;
pub const size_max: u64 = max_size - base_alignment;

pub const classes_mod = @import("heap/classes.zig");
pub const arena_mod = @import("heap/arena.zig");
pub const class_sizes = classes_mod.class_sizes;
pub const classes = classes_mod.classes;
pub const classOf = classes_mod.classOf;
const runPages = classes_mod.runPages;
const blocksOf = classes_mod.blocksOf;
const servedAsPages = classes_mod.servedAsPages;
const run_pages_max = classes_mod.run_pages_max;

pub const Kind = enum(u8) { free = 0, small = 1, large = 2, continuation = 3 };

const bitmap_words = page_size / 16 / 64;

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
    arenas: []arena_mod.Record,
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
        .arenas = @as([*]arena_mod.Record, @ptrCast(@alignCast(memory.ptr + header_head_size)))[0..arenas_max],
        .table = table[0..g.page_count],
        .states = states[0..g.page_count],
        .pages_offset = g.pages_offset,
        .tag = tag,
        .pid = @intCast(stamp.pid),
    };
}

// ---------------------------------------------------------------------------------------------------
// The page lock and recovery.

pub fn lockPages(h: *Heap) Error!void {
    const got = try mutex.lock(&h.header.lock, .never);
    try afterLock(h, got);
}

/// Takes the page lock only if it is free at once; false when it is not.
pub fn tryLockPages(h: *Heap) Error!bool {
    const got = mutex.tryLock(&h.header.lock) catch |err| switch (err) {
        error.Busy => return false,
        else => return err,
    };
    try afterLock(h, got);
    return true;
}

fn afterLock(h: *Heap, got: mutex.Acquired) Error!void {
    if (got == .owner_died) {
        recover(h);
        mutex.consistent(&h.header.lock) catch |err| {
            unlockPages(h);
            return err;
        };
    }
}

/// Releases the page lock. Its word is shared memory: a process that rewrote the owner bits makes
/// glibc refuse the unlock; the lock is then not this thread's, and the call's result stands.
pub fn unlockPages(h: *Heap) void {
    mutex.unlock(&h.header.lock) catch {};
}

/// Rewrites an entry (a page's state record is written apart: its generation must only grow, and
/// its bitmap is only ever changed by claims and frees).
pub fn setEntry(e: *Entry, kind: Kind, class: u32, next: u32, pages: u32, owner: u32) void {
    setEntryIn(e, kind, class, next, pages, owner, 0);
}

/// `setEntry` for a page of `arena` (+ 1; 0 the pool).
fn setEntryIn(e: *Entry, kind: Kind, class: u32, next: u32, pages: u32, owner: u32, arena: u32) void {
    e.class = @intCast(class);
    @atomicStore(u16, &e.arena, @intCast(arena), .release);
    @atomicStore(u32, &e.next, next, .release);
    e.pages = pages;
    @atomicStore(u32, &e.owner, owner, .release);
    @atomicStore(u8, &e.kind, @intFromEnum(kind), .release);
}

/// After a process died holding the page lock: free continuations no large head covers, settle
/// small pages caught between live and retired, rebuild every class list (the pool's and each
/// arena's) from the page table, and finish any arena reclaim the dead process left half done.
pub fn recover(h: *Heap) void {
    var covered: u32 = 0; // pages still inside the current large run
    for (h.table, h.states) |*e, *ps| {
        const raw = @atomicLoad(u8, &e.kind, .acquire);
        if (raw > 3) continue; // damaged: left for check() to report
        const kind: Kind = @enumFromInt(raw);
        switch (kind) {
            .large => covered = @max(e.pages, 1) - 1,
            .continuation => {
                if (covered == 0) setEntry(e, .free, 0, 0, 0, 0) else covered -= 1;
            },
            .small => {
                covered = 0;
                const state = @atomicLoad(u32, &ps.state, .seq_cst);
                // Read once: another process may rewrite them between a check and a use.
                const class: u32 = @atomicLoad(u8, &e.class, .acquire);
                const arena: u32 = @atomicLoad(u16, &e.arena, .acquire);
                if (class >= classes or arena > arenas_max) continue; // damaged: left for check() to report
                // The run's length comes from its class, never from the entry's `pages`.
                covered = runPages(class) - 1;
                if (isLive(state) and stateClass(state) == class and stateArena(state) == arena) continue;
                if (bitmapEmpty(ps, class, arena)) {
                    @atomicStore(u32, &ps.state, state & ~live_bit, .seq_cst);
                    // Its continuations follow in this walk, uncovered: they are freed there.
                    setEntry(e, .free, 0, 0, 0, 0);
                    covered = 0;
                } else {
                    @atomicStore(u32, &ps.state, liveState(state, class, arena), .seq_cst);
                }
            },
            .free => covered = 0,
        }
    }
    crash.point(.heap_recover_scanned);
    // Relink each class list back to front, then publish its head once: walkers running meanwhile
    // see the old list or the new one, never an empty or cut one.
    var heads: [arenas_max + 1][classes]u32 = undefined;
    for (&heads) |*row| row.* = [_]u32{0} ** classes;
    var i: usize = h.table.len;
    while (i > 0) {
        i -= 1;
        const e = &h.table[i];
        if (@atomicLoad(u8, &e.kind, .acquire) != @intFromEnum(Kind.small)) continue;
        const c: u32 = @atomicLoad(u8, &e.class, .acquire);
        const arena: u32 = @atomicLoad(u16, &e.arena, .acquire);
        if (c >= classes or arena > arenas_max) continue;
        @atomicStore(u32, &e.next, heads[arena][c], .release);
        heads[arena][c] = @intCast(i + 1);
    }
    for (0..arenas_max + 1) |a| {
        const to = classHeads(h, @intCast(a));
        for (0..classes) |c| @atomicStore(u32, &to[c], heads[a][c], .release);
    }
    arena_mod.finishReclaims(h);
}

/// The class list heads of `arena` (+ 1; 0 the shared pool).
pub fn classHeads(h: *Heap, arena: u32) *[classes]u32 {
    return if (arena == 0) &h.header.class_head else &h.arenas[arena - 1].class_head;
}

/// Where blocks are taken from: the shared pool (`arena` 0) or an arena (its index + 1), with the
/// calling view's cursors for it.
pub const Source = struct {
    arena: u32 = 0,
    /// The arena's generation when the view opened it: a view of a destroyed arena allocates nothing.
    generation: u32 = 0,
    cursor: *[classes]std.atomic.Value(u32),
};

/// A free run of `n` pages, or null. Caller holds the page lock.
pub fn findRun(h: *Heap, n: u32) ?u32 {
    var start: u32 = 0;
    var length: u32 = 0;
    for (h.table, 0..) |*e, i| {
        if (e.kind == @intFromEnum(Kind.free)) {
            if (length == 0) start = @intCast(i);
            length += 1;
            if (length == n) return start;
        } else length = 0;
    }
    return null;
}

// ---------------------------------------------------------------------------------------------------
// Small blocks.

/// The first page of the last run of `n` free pages, or null. Class runs are taken from the end of
/// the heap and large blocks from the start, so that class runs do not cut the free space into runs
/// too short for large blocks. Caller holds the page lock.
pub fn lastFreeRun(h: *Heap, n: u32) ?u32 {
    var i: usize = h.table.len;
    var length: u32 = 0;
    while (i > 0) {
        i -= 1;
        if (h.table[i].kind != @intFromEnum(Kind.free)) {
            length = 0;
            continue;
        }
        length += 1;
        if (length == n) return @intCast(i);
    }
    return null;
}

/// Makes a run of class `c` (`runPages(c)` pages, the first its head) and links it into its class
/// list: its continuation entries first, then the head (the commit, as for a large block), the
/// link, and the live bit last.
fn newSmallPage(h: *Heap, c: u32, src: Source) Error!u32 {
    const arena = src.arena;
    try lockPages(h);
    defer unlockPages(h);
    // Under the page lock an arena's record cannot change: a page is never added to an arena that
    // is no longer this process's (reclaimed, or handed over by another of its threads).
    if (arena != 0) try arena_mod.checkOwner(h, arena - 1, src.generation);
    const n = runPages(c);
    const page = lastFreeRun(h, n) orelse (if (reclaimSpace(h) > 0) lastFreeRun(h, n) else null) orelse return error.NoMemory;
    var i: u32 = n;
    while (i > 1) {
        i -= 1;
        setEntry(h.entry(page + i), .continuation, 0, 0, 0, 0);
    }
    const e = h.entry(page);
    const ps = h.pageState(page);
    // The bitmap is kept as it is (see the file comment): the page was empty when it retired, and
    // a bit set since belongs to a claim that lost a race to the retirement and is about to give
    // it back (or to a process killed before it could: a leak, like any block the dead held).
    const heads = classHeads(h, arena);
    // An arena's page starts with an empty arena bitmap: it was wiped when the page last left an
    // arena, and only its arena's owner claims in it (see zig/heap/arena.zig).
    setEntryIn(e, .small, c, heads[c], n, h.pid, arena);
    crash.point(.heap_page_new_entry);
    @atomicStore(u32, &heads[c], page + 1, .release);
    crash.point(.heap_page_new_linked);
    @atomicStore(u32, &ps.state, liveState(ps.state, c, arena), .seq_cst);
    return page;
}

/// When no free run fits: gives back the arenas of dead owners and retires the pool's empty small
/// pages; how many of either. Caller holds the page lock.
fn reclaimSpace(h: *Heap) u32 {
    return arena_mod.reapLocked(h) + sweep(h);
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

/// Gives an empty small page back to the page pool; false if it is not empty (or not small). The
/// live bit goes first, then the bitmap is checked: an allocation racing with this either set its
/// bit before the check (which then fails, and the page stays live) or sees the live bit gone.
/// Caller holds the page lock.
pub fn retire(h: *Heap, page: u32) bool {
    const e = h.entry(page);
    const ps = h.pageState(page);
    const state = @atomicLoad(u32, &ps.state, .seq_cst);
    // The class is read once and checked: it indexes the class sizes and the list heads, and
    // another process may rewrite it at any instant (the state naming the same class is no proof).
    const c: u32 = @atomicLoad(u8, &e.class, .acquire);
    if (c >= classes) return false;
    // An arena's pages stay its own until the arena is reclaimed (zig/heap/arena.zig).
    if (@atomicLoad(u16, &e.arena, .acquire) != 0 or stateArena(state) != 0) return false;
    if (e.kind != @intFromEnum(Kind.small) or !isLive(state) or stateClass(state) != c) return false;
    @atomicStore(u32, &ps.state, state & ~live_bit, .seq_cst);
    crash.point(.heap_retire_unlive);
    if (!bitmapEmpty(ps, c, 0)) {
        @atomicStore(u32, &ps.state, state, .seq_cst);
        return false;
    }
    // Unlink it; walkers standing on it meanwhile go on through its `next`.
    const after = @atomicLoad(u32, &e.next, .acquire);
    var link = &h.header.class_head[c];
    var steps: usize = 0;
    // The links are shared memory: one past the table ends the walk, as in `allocSmall` (the page
    // then stays linked, which the walkers skip over and `check` reports).
    while (steps <= h.table.len) : (steps += 1) {
        // Each link is read once: checked and followed as the same value.
        const at = @atomicLoad(u32, link, .acquire);
        if (at == 0 or at > h.table.len) break;
        if (at == page + 1) {
            @atomicStore(u32, link, after, .release);
            break;
        }
        link = &h.entry(at - 1).next;
    }
    crash.point(.heap_retire_unlinked);
    // The head first, then its continuations (as for a large block): a continuation no head covers
    // is what recovery frees.
    setEntry(e, .free, 0, 0, 0, 0);
    for (1..runPages(c)) |i| {
        if (page + i >= h.table.len) break;
        const cont = h.entry(page + @as(u32, @intCast(i)));
        // Only what is still a continuation: a damaged table is reported by check, never spread.
        if (@atomicLoad(u8, &cont.kind, .acquire) != @intFromEnum(Kind.continuation)) break;
        setEntry(cont, .free, 0, 0, 0, 0);
    }
    return true;
}

/// Retires every empty small page; how many. Caller holds the page lock.
pub fn sweep(h: *Heap) u32 {
    var retired: u32 = 0;
    for (h.table, 0..) |*e, page| {
        const class: u32 = @atomicLoad(u8, &e.class, .acquire);
        if (e.kind != @intFromEnum(Kind.small) or class >= classes) continue;
        if (@atomicLoad(u16, &e.arena, .acquire) != 0) continue;
        if (!bitmapEmpty(h.pageState(@intCast(page)), class, 0)) continue;
        if (retire(h, @intCast(page))) retired += 1;
    }
    return retired;
}

/// After a free emptied a word of a page this process allocated from and has since moved on
/// from: retire the page if it is empty, unless that would mean waiting for the page lock.
fn retireIfEmpty(h: *Heap, page: u32, c: u32) void {
    if (h.cursor[c].load(.monotonic) == page + 1) return;
    const e = h.entry(page);
    if (@atomicLoad(u32, &e.owner, .monotonic) != h.pid) return;
    if (!bitmapEmpty(h.pageState(page), c, 0)) return;
    if (!(tryLockPages(h) catch return)) return;
    defer unlockPages(h);
    _ = retire(h, page);
}

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
    if (arena != 0) try arena_mod.checkOwner(h, arena - 1, src.generation);
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

/// A misuse is counted and otherwise ignored (the default).
pub const misuse_count: u32 = 0;
/// A misuse is counted, described on stderr, and the process aborts.
pub const misuse_abort: u32 = 1;

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

// ---------------------------------------------------------------------------------------------------
// Named roots: zig/heap/roots.zig.

const roots_mod = @import("heap/roots.zig");
pub const root = roots_mod.root;
pub const removeRoot = roots_mod.removeRoot;

// ---------------------------------------------------------------------------------------------------
// Checking and statistics: zig/heap/check.zig.

const check_mod = @import("heap/check.zig");
pub const Stats = check_mod.Stats;
pub const Problem = check_mod.Problem;
pub const check = check_mod.check;

test {
    _ = @import("heap/heap_test.zig");
}
