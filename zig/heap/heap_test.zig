//! The shared heap's unit tests (zig/heap.zig): allocation and misuse, churn until the heap is whole
//! again, alignment, a full heap, a model-checked random sequence, threads, roots, retirement races
//! and class runs. Damage and recovery are in heap/damage_test.zig.

const std = @import("std");
const heap = @import("../heap.zig");
const mutex = @import("../mutex.zig");
const Heap = heap.Heap;
const Kind = heap.Kind;
const Stats = heap.Stats;
const Header = heap.Header;
const page_size = heap.page_size;
const small_max = heap.small_max;
const alignment_max = heap.alignment_max;
const roots_max = heap.roots_max;
const root_name_max = heap.root_name_max;
const offset_bits = heap.offset_bits;
const offset_mask: u64 = (1 << offset_bits) - 1;
const live_bit = heap.live_bit;
const class_sizes = heap.class_sizes;
const classOf = heap.classOf;
const blocksOf = heap.classes_mod.blocksOf;
const runPages = heap.classes_mod.runPages;
const init = heap.init;
const attach = heap.attach;
const malloc = heap.malloc;
const mallocAligned = heap.mallocAligned;
const free = heap.free;
const realloc = heap.realloc;
const usableSize = heap.usableSize;
const pointer = heap.pointer;
const root = heap.root;
const removeRoot = heap.removeRoot;
const check = heap.check;
const lockPages = heap.lockPages;
const unlockPages = heap.unlockPages;
const setEntry = heap.setEntry;
const retire = heap.retire;
const sweep = heap.sweep;
const claimBitSeen = heap.claimBitSeen;
const bitmapEmpty = heap.bitmapEmpty;
const isLive = heap.isLive;
const liveState = heap.liveState;

const testing = std.testing;
const test_heap = @import("test_heap.zig");
const TestHeap = test_heap.TestHeap;
const expectClean = test_heap.expectClean;
const expectEmpty = test_heap.expectEmpty;

test "size classes cover every small size with little waste" {
    var size: u64 = 1;
    while (size <= small_max) : (size += 1) {
        const c = classOf(size);
        try testing.expect(class_sizes[c] >= size);
        if (c > 0) try testing.expect(class_sizes[c - 1] < size);
        try testing.expect(class_sizes[c] - size < class_sizes[c] / 4 + 16);
    }
}

test "malloc, free, usable size and misuse" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const a = try malloc(h, 24);
    const b = try malloc(h, 300_000);
    try testing.expectEqual(@as(u64, 32), try usableSize(h, a));
    try testing.expectEqual(@as(u64, 5 * page_size), try usableSize(h, b));
    (try pointer(h, a))[0] = 7;
    var stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 2), stats.allocations);
    try free(h, a);
    try testing.expectError(error.Invalid, free(h, a));
    try testing.expectError(error.Invalid, free(h, a + 8));
    try testing.expectError(error.Kind, free(h, (a & offset_mask) | (@as(u64, 0x99) << offset_bits)));
    try testing.expect(a < 1 << 52);
    try testing.expectError(error.Range, free(h, h.handleOf(h.size + 10)));
    // The bytes between the last page and the end of the memory are no block's.
    try testing.expectError(error.Range, free(h, h.handleOf(h.pages_offset + @as(u64, h.table.len) * page_size)));
    try testing.expectError(error.Invalid, malloc(h, 0));
    try testing.expectError(error.NoMemory, malloc(h, 64 * 1024 * 1024));
    try free(h, b);
    try testing.expectError(error.Invalid, free(h, b));
    stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 0), stats.allocations);
    try testing.expectEqual(stats.free_pages + stats.reserved, @as(u64, h.table.len) * page_size);
}

test "after churn of small and large blocks, freeing them all gives the whole heap back" {
    const t = try TestHeap.create(16 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var live: [400]u64 = [_]u64{0} ** 400;
    for (0..40_000) |_| {
        const i = random.uintLessThan(usize, live.len);
        if (live[i] != 0) {
            try free(h, live[i]);
            live[i] = 0;
        } else {
            const size = if (random.uintLessThan(u32, 8) == 0) random.intRangeAtMost(u64, 16_385, 140_000) else random.intRangeAtMost(u64, 1, 16_384);
            live[i] = try malloc(h, size);
        }
    }
    for (live) |b| if (b != 0) try free(h, b);
    const stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 0), stats.allocations);
    const all = @as(u64, h.table.len) * page_size;
    try free(h, try malloc(h, all));
}

test "aligned allocations land on their alignment" {
    const t = try TestHeap.create(8 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var alignment: u64 = 1;
    while (alignment <= alignment_max) : (alignment *= 2) {
        for ([_]u64{ 1, 24, 100, 3000, 20_000 }) |size| {
            const block = try mallocAligned(h, size, alignment);
            try testing.expect(@intFromPtr(try pointer(h, block)) % alignment == 0);
            try testing.expect(try usableSize(h, block) >= size);
            try free(h, block);
        }
    }
    try testing.expectError(error.Invalid, mallocAligned(h, 8, 3));
    try testing.expectError(error.Invalid, mallocAligned(h, 8, 0));
    try testing.expectError(error.Range, mallocAligned(h, 8, 8192));
    _ = try expectClean(h);
}

test "a full heap says ENOMEM, and recovers once blocks are freed" {
    const t = try TestHeap.create(1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var handles: std.ArrayList(u64) = .empty;
    defer handles.deinit(testing.allocator);
    while (true) {
        const handle = malloc(h, 3000) catch |err| {
            try testing.expectEqual(error.NoMemory, err);
            break;
        };
        try handles.append(testing.allocator, handle);
    }
    try testing.expect(handles.items.len > 100);
    for (handles.items) |handle| try free(h, handle);
    _ = try malloc(h, 3000);
    _ = try expectClean(h);
}

test "random malloc/realloc/free against a model, contents checked" {
    const t = try TestHeap.create(32 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    const Block = struct { handle: u64, size: u64 };
    var live: std.ArrayList(Block) = .empty;
    defer live.deinit(testing.allocator);
    const fill = struct {
        fn run(hh: *Heap, b: Block) !void {
            const p = try pointer(hh, b.handle);
            for (0..b.size) |i| p[i] = @truncate(b.handle *% 31 +% i);
        }
        fn verify(hh: *Heap, b: Block, n: u64, seed: u64) !void {
            const p = try pointer(hh, b.handle);
            for (0..n) |i| try testing.expectEqual(@as(u8, @truncate(seed *% 31 +% i)), p[i]);
        }
    };
    for (0..20_000) |step| {
        const choice = random.uintLessThan(u32, 10);
        if (choice < 5 or live.items.len == 0) {
            const size = if (random.uintLessThan(u32, 20) == 0) random.intRangeAtMost(u64, 1, 200_000) else random.intRangeAtMost(u64, 1, 2048);
            const handle = malloc(h, size) catch |err| {
                try testing.expectEqual(error.NoMemory, err);
                continue;
            };
            const b: Block = .{ .handle = handle, .size = size };
            try fill.run(h, b);
            try live.append(testing.allocator, b);
        } else if (choice < 8) {
            const b = live.swapRemove(random.uintLessThan(usize, live.items.len));
            try fill.verify(h, b, b.size, b.handle);
            try free(h, b.handle);
        } else {
            const i = random.uintLessThan(usize, live.items.len);
            const b = live.items[i];
            const size = random.intRangeAtMost(u64, 1, 4096);
            const moved = realloc(h, b.handle, size) catch |err| {
                try testing.expectEqual(error.NoMemory, err);
                continue;
            };
            try fill.verify(h, .{ .handle = moved, .size = size }, @min(size, b.size), b.handle);
            live.items[i] = .{ .handle = moved, .size = size };
            try fill.run(h, live.items[i]);
        }
        if (step % 2000 == 0) _ = try expectClean(h);
    }
    const stats = try expectClean(h);
    try testing.expectEqual(@as(u64, live.items.len), stats.allocations);
    for (live.items) |b| try fill.verify(h, b, b.size, b.handle);
}

test "threads allocate and free concurrently; every block stays intact" {
    const t = try TestHeap.create(64 * 1024 * 1024);
    defer t.destroy();
    const Worker = struct {
        fn run(h: *Heap, seed: u64, failures: *std.atomic.Value(u32)) void {
            var prng = std.Random.DefaultPrng.init(seed);
            const random = prng.random();
            var mine: [256]u64 = [_]u64{0} ** 256;
            for (0..50_000) |_| {
                const slot = random.uintLessThan(usize, mine.len);
                if (mine[slot] != 0) {
                    const p = pointer(h, mine[slot]) catch unreachable;
                    if (p[0] != @as(u8, @truncate(mine[slot]))) _ = failures.fetchAdd(1, .seq_cst);
                    free(h, mine[slot]) catch {
                        _ = failures.fetchAdd(1, .seq_cst);
                    };
                    mine[slot] = 0;
                } else {
                    const size = random.intRangeAtMost(u64, 1, 1024);
                    mine[slot] = malloc(h, size) catch {
                        _ = failures.fetchAdd(1, .seq_cst);
                        continue;
                    };
                    (pointer(h, mine[slot]) catch unreachable)[0] = @truncate(mine[slot]);
                }
            }
            for (mine) |handle| if (handle != 0) free(h, handle) catch {
                _ = failures.fetchAdd(1, .seq_cst);
            };
        }
    };
    var failures = std.atomic.Value(u32).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, i| th.* = try std.Thread.spawn(.{}, Worker.run, .{ &t.heap, i + 1, &failures });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(u32, 0), failures.load(.seq_cst));
    try expectEmpty(&t.heap);
}

test "named roots: find or create, the same block for everyone, errors" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    try testing.expectError(error.NotFound, root(h, "config", 0));
    const a = try root(h, "config", 100);
    (try pointer(h, a))[5] = 9;
    try testing.expectEqual(a, try root(h, "config", 0));
    try testing.expectEqual(a, try root(h, "config", 112));
    try testing.expectError(error.Range, root(h, "config", 5000));
    try testing.expectEqual(@as(u8, 9), (try pointer(h, try root(h, "config", 1)))[5]);
    const big = try root(h, "table", 300_000);
    try testing.expect(big != a);
    try testing.expectError(error.Invalid, root(h, "", 1));
    try testing.expectError(error.NameTooLong, root(h, "x" ** (root_name_max + 1), 1));
    var name_buf: [8]u8 = undefined;
    for (2..roots_max) |i| _ = try root(h, try std.fmt.bufPrint(&name_buf, "r{d}", .{i}), 16);
    try testing.expectError(error.NoSpace, root(h, "one too many", 16));
    try removeRoot(h, "config");
    try testing.expectError(error.NotFound, root(h, "config", 0));
    try testing.expectError(error.NotFound, removeRoot(h, "config"));
    try free(h, a);
    _ = try expectClean(h);
}

test "empty small pages go back to the pool and serve any size" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const all = @as(u64, h.table.len) * page_size;
    var handles: std.ArrayList(u64) = .empty;
    defer handles.deinit(testing.allocator);
    // Fill the heap with 64-byte blocks.
    while (malloc(h, 64)) |handle| try handles.append(testing.allocator, handle) else |err| try testing.expectEqual(error.NoMemory, err);
    try testing.expectEqual(@as(u64, h.table.len) * blocksOf(classOf(64)), handles.items.len);
    // A page this process moved on from retires as soon as its last block is freed.
    var stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 0), stats.free_pages);
    for (handles.items[0..blocksOf(classOf(64))]) |handle| try free(h, handle);
    stats = try expectClean(h);
    try testing.expectEqual(@as(u64, page_size), stats.free_pages);
    // The rest, the cursor's page included, is taken back when a large block needs it.
    for (handles.items[blocksOf(classOf(64))..]) |handle| try free(h, handle);
    const whole = try malloc(h, all);
    try testing.expectEqual(all, try usableSize(h, whole));
    try free(h, whole);
    // ... and by other classes.
    handles.clearRetainingCapacity();
    while (malloc(h, 5000)) |handle| try handles.append(testing.allocator, handle) else |err| try testing.expectEqual(error.NoMemory, err);
    try testing.expectEqual(@as(u64, h.table.len) * blocksOf(classOf(5000)), handles.items.len);
    for (handles.items) |handle| try free(h, handle);
    stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 0), stats.allocations);
}

test "a claim that stalled while its page retired and was remade gives its bit back" {
    // Replays, one step at a time, what the churn test below hit about once in 30 runs: a claimer
    // reads a page's state and stalls; the page retires and is made small again (for another
    // class, or its own); the claimer's CAS then lands in the new page's bitmap. It must give that
    // bit back (it used to be left set: a block no one held, that kept its page from retiring).
    const t = try TestHeap.create(1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const c = classOf(64);
    const first = try malloc(h, 64);
    const page: u32 = @intCast(((try h.offsetOf(first)) - h.pages_offset) / page_size);
    const seen = @atomicLoad(u32, &h.pageState(page).state, .acquire);
    try free(h, first);
    try lockPages(h);
    try testing.expectEqual(@as(u32, 1), sweep(h));
    unlockPages(h);
    // The stalled claim lands in the retired page.
    try testing.expectEqual(@as(?u64, null), claimBitSeen(h, page, c, 0, seen));
    for (h.pageState(page).bitmap) |word| try testing.expectEqual(@as(u64, 0), word);
    // The page is made small for another class, then for its own again; each time the stalled
    // claim lands in the new page (its CAS sees the bitmap word it expects) and gives the bit back.
    for ([_]u64{ 5000, 64 }) |size| {
        const block = try malloc(h, size);
        try testing.expectEqual(page, @as(u32, @intCast(((try h.offsetOf(block)) - h.pages_offset) / page_size)));
        try testing.expect(@atomicLoad(u32, &h.pageState(page).state, .acquire) != seen);
        try testing.expectEqual(@as(?u64, null), claimBitSeen(h, page, c, 0, seen));
        try testing.expectEqual(@as(u64, 1), h.pageState(page).bitmap[0]);
        try free(h, block);
        try expectEmpty(h);
        try lockPages(h);
        try testing.expectEqual(@as(u32, 1), sweep(h));
        unlockPages(h);
    }
    const all = @as(u64, h.table.len) * page_size;
    try free(h, try malloc(h, all));
}

test "a block is freed, and its size read, while a retirement of its page is in progress" {
    // A retirer clears the page's live bit, then finds the page not empty and sets the bit again.
    // A block's holder that frees it (or asks its size) in between must succeed: refusing the free
    // (as it used to be, with EINVAL) leaked the block.
    const t = try TestHeap.create(1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const a = try malloc(h, 64);
    const b = try malloc(h, 64);
    const page: u32 = @intCast(((try h.offsetOf(a)) - h.pages_offset) / page_size);
    const ps = h.pageState(page);
    const state = @atomicLoad(u32, &ps.state, .acquire);
    @atomicStore(u32, &ps.state, state & ~live_bit, .seq_cst);
    try free(h, a);
    try testing.expectError(error.Invalid, free(h, a));
    try testing.expectEqual(@as(u64, 64), try usableSize(h, b));
    try testing.expect(!bitmapEmpty(ps, classOf(64), 0));
    @atomicStore(u32, &ps.state, state, .seq_cst);
    try free(h, b);
    try expectEmpty(h);
}

test "threads churn pages between classes and large blocks; every block stays intact" {
    const t = try TestHeap.create(3 * 1024 * 1024);
    defer t.destroy();
    const Worker = struct {
        fn pattern(handle: u64, i: usize) u8 {
            return @truncate(handle *% 131 +% i);
        }
        fn run(h: *Heap, seed: u64, failures: *std.atomic.Value(u32)) void {
            var prng = std.Random.DefaultPrng.init(seed);
            const random = prng.random();
            var mine: [24]u64 = [_]u64{0} ** 24;
            var sizes: [24]u64 = [_]u64{0} ** 24;
            for (0..20_000) |_| {
                const slot = random.uintLessThan(usize, mine.len);
                if (mine[slot] != 0) {
                    const p = pointer(h, mine[slot]) catch unreachable;
                    for (0..sizes[slot]) |i| {
                        if (p[i] != pattern(mine[slot], i)) {
                            std.debug.print("thread {d}: block {x} ({d} bytes) overwritten at +{d}: {x} instead of {x}\n", .{ seed, mine[slot], sizes[slot], i, p[i], pattern(mine[slot], i) });
                            _ = failures.fetchAdd(1, .seq_cst);
                            break;
                        }
                    }
                    free(h, mine[slot]) catch |err| {
                        std.debug.print("thread {d}: free of block {x} ({d} bytes): {s}\n", .{ seed, mine[slot], sizes[slot], @errorName(err) });
                        _ = failures.fetchAdd(1, .seq_cst);
                    };
                    mine[slot] = 0;
                } else {
                    const size = if (random.boolean()) random.intRangeAtMost(u64, 1, 256) else random.intRangeAtMost(u64, 1, 150_000);
                    const handle = malloc(h, size) catch |err| {
                        if (err == error.NoMemory) continue;
                        std.debug.print("thread {d}: malloc of {d} bytes: {s}\n", .{ seed, size, @errorName(err) });
                        _ = failures.fetchAdd(1, .seq_cst);
                        continue;
                    };
                    const p = pointer(h, handle) catch unreachable;
                    for (0..size) |i| p[i] = pattern(handle, i);
                    mine[slot] = handle;
                    sizes[slot] = size;
                }
            }
            for (mine, sizes) |handle, size| if (handle != 0) free(h, handle) catch |err| {
                std.debug.print("thread {d}: final free of block {x} ({d} bytes): {s}\n", .{ seed, handle, size, @errorName(err) });
                _ = failures.fetchAdd(1, .seq_cst);
            };
        }
    };
    var failures = std.atomic.Value(u32).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, i| th.* = try std.Thread.spawn(.{}, Worker.run, .{ &t.heap, i + 11, &failures });
    for (threads) |th| th.join();
    try testing.expectEqual(@as(u32, 0), failures.load(.seq_cst));
    try expectEmpty(&t.heap);
    // Every page comes back: one block as large as the heap fits.
    const all = @as(u64, t.heap.table.len) * page_size;
    try free(&t.heap, try malloc(&t.heap, all));
}

test "class runs of several pages: blocks past the first page, misuse refused, the run retires whole" {
    const t = try TestHeap.create(8 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const c = classOf(20 * 1024);
    try testing.expectEqual(@as(u32, 5), runPages(c));
    var blocks: [16]u64 = undefined;
    for (&blocks, 0..) |*b, i| {
        b.* = try malloc(h, 17 * 1024);
        try testing.expectEqual(@as(u64, 20 * 1024), try usableSize(h, b.*));
        @memset((try pointer(h, b.*))[0 .. 20 * 1024], @intCast(i));
    }
    // One run holds all sixteen, back to back across its five pages.
    const first = try h.offsetOf(blocks[0]);
    for (blocks, 0..) |b, i| try testing.expectEqual(first + i * 20 * 1024, try h.offsetOf(b));
    var stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 5 * page_size), stats.reserved);
    // Inside a block, and on a page boundary inside a block (page 1 of the run starts at 64 KiB,
    // inside block 3), are no blocks.
    try testing.expectError(error.Invalid, free(h, blocks[5] + 16));
    try testing.expectError(error.Invalid, free(h, h.handleOf(first + page_size)));
    try testing.expectError(error.Invalid, usableSize(h, h.handleOf(first + 2 * page_size)));
    for (blocks, 0..) |b, i| {
        for ((try pointer(h, b))[0 .. 20 * 1024]) |byte| try testing.expectEqual(@as(u8, @intCast(i)), byte);
    }
    // A 64 KiB class and a 128 KiB one are whole pages: exactly their size, no run.
    const page_class = try malloc(h, 120 * 1024);
    try testing.expectEqual(@as(u64, 128 * 1024), try usableSize(h, page_class));
    try free(h, page_class);
    for (blocks) |b| try free(h, b);
    try testing.expectError(error.Invalid, free(h, blocks[15]));
    // The emptied run counts toward the largest block that fits, and goes back whole when needed.
    stats = try expectClean(h);
    const all = @as(u64, h.table.len) * page_size;
    try testing.expectEqual(all, stats.largest_free);
    try free(h, try malloc(h, all));
    try expectEmpty(h);
}
