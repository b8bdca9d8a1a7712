//! The page pool and the page lock: every change of what a page is (free, a class run, a large
//! block, an arena's) happens here or in zig/heap/alloc.zig's large blocks, under the page lock, a
//! robust mutex in the heap's header. A process that dies holding it is detected by the next locker
//! (OWNER_DIED), which runs `recover` before it goes on.
//!
//! Invariants: the page table's entries are written in an order where every prefix is recoverable:
//! a large block's or class run's continuation entries before its head entry (the commit); a freed
//! large block's head before its continuations; a small page's entry before it is linked into its
//! class list, and its live bit last; a retiring page's live bit first, and its bitmap checked empty
//! only after (both sequentially consistent, so a racing claim sees one or the other: zig/heap.zig's
//! file comment). Recovery frees continuations no head covers, settles small pages caught between
//! live and retired (empty ones retire, others go live again), relinks every class list from the
//! table and publishes each head once (walkers see the old list or the new, never a cut one), and
//! finishes any arena reclaim left half done (zig/heap/arena_records.zig). An arena's page never
//! retires and sweeps pass it by: it stays its arena's until the arena is reclaimed. A page's bitmap
//! is never wiped when it is made small again. Every link and class read from shared memory is read
//! once, checked, and walks are bounded by the table's length.

const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const wait = @import("../wait.zig");
const crash = @import("../crash.zig");
const layout = @import("layout.zig");
const arena_records = @import("arena_records.zig");
const classes_mod = @import("classes.zig");
const Error = abi.Error;
const Heap = layout.Heap;
const Kind = layout.Kind;
const Source = layout.Source;
const classes = classes_mod.classes;
const runPages = classes_mod.runPages;
const arenas_max = layout.arenas_max;
const live_bit = layout.live_bit;
const isLive = layout.isLive;
const stateClass = layout.stateClass;
const stateArena = layout.stateArena;
const liveState = layout.liveState;
const setEntry = layout.setEntry;
const setEntryIn = layout.setEntryIn;
const classHeads = layout.classHeads;
const bitmapEmpty = layout.bitmapEmpty;

// ---------------------------------------------------------------------------------------------------
// The page lock and recovery.

pub fn lockPages(h: *Heap) Error!void {
    return lockPagesWithin(h, -1);
}

/// Takes the page lock, waiting at most `timeout_ns` (negative: no limit): error.TimedOut when it
/// stays held.
pub fn lockPagesWithin(h: *Heap, timeout_ns: i64) Error!void {
    const got = try mutex.lock(&h.header.lock, wait.Deadline.after(timeout_ns));
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
    arena_records.finishReclaims(h);
}

// ---------------------------------------------------------------------------------------------------
// The page pool.

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
pub fn newSmallPage(h: *Heap, c: u32, src: Source) Error!u32 {
    const arena = src.arena;
    try lockPages(h);
    defer unlockPages(h);
    // Under the page lock an arena's record cannot change: a page is never added to an arena that
    // is no longer this process's (reclaimed, or handed over by another of its threads).
    if (arena != 0) try arena_records.checkOwner(h, arena - 1, src.generation);
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
pub fn reclaimSpace(h: *Heap) u32 {
    return arena_records.reapLocked(h) + sweep(h);
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
pub fn retireIfEmpty(h: *Heap, page: u32, c: u32) void {
    if (h.cursor[c].load(.monotonic) == page + 1) return;
    const e = h.entry(page);
    if (@atomicLoad(u32, &e.owner, .monotonic) != h.pid) return;
    if (!bitmapEmpty(h.pageState(page), c, 0)) return;
    if (!(tryLockPages(h) catch return)) return;
    defer unlockPages(h);
    _ = retire(h, page);
}
