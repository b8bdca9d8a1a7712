//! The heap's unit tests of damage and recovery (zig/heap.zig, zig/heap/pages.zig, zig/heap/check.zig):
//! entries a peer damaged, recovery after a holder of the page lock died mid-change, class runs cut
//! short, and a check that reports a page lock held too long instead of waiting forever.

const std = @import("std");
const heap = @import("../heap.zig");
const mutex = @import("../mutex.zig");
const test_heap = @import("test_heap.zig");
const Heap = heap.Heap;
const Kind = heap.Kind;
const Stats = heap.Stats;
const Header = heap.Header;
const page_size = heap.page_size;
const offset_bits = heap.offset_bits;
const offset_mask: u64 = (1 << offset_bits) - 1;
const live_bit = heap.live_bit;
const class_sizes = heap.class_sizes;
const classOf = heap.classOf;
const runPages = heap.classes_mod.runPages;
const attach = heap.attach;
const malloc = heap.malloc;
const free = heap.free;
const realloc = heap.realloc;
const usableSize = heap.usableSize;
const check = heap.check;
const lockPages = heap.lockPages;
const unlockPages = heap.unlockPages;
const setEntry = heap.setEntry;
const retire = heap.retire;
const sweep = heap.sweep;
const isLive = heap.isLive;
const liveState = heap.liveState;
const TestHeap = test_heap.TestHeap;
const expectClean = test_heap.expectClean;
const expectEmpty = test_heap.expectEmpty;
const testing = std.testing;

/// A thread takes the page lock and exits holding it, as a process killed mid-change would.
fn dieHoldingPageLock(h: *Heap) !void {
    const Dier = struct {
        fn run(hh: *Heap) void {
            _ = mutex.lock(&hh.header.lock, .never) catch unreachable;
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{h});
    th.join();
}

test "damaged entries: a run past the heap, an unknown class, a foreign tag" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const big = try malloc(h, 300_000);
    const page: u32 = @intCast(((big & offset_mask) - h.pages_offset) / page_size);
    // A large head whose run a peer stretched past the heap: the caller would write that many bytes.
    h.entry(page).pages = @intCast(h.table.len + 1 - page);
    try testing.expectError(error.Protocol, usableSize(h, big));
    try testing.expectError(error.Protocol, realloc(h, big, 200_000));
    h.entry(page).pages = 5;
    try testing.expectEqual(@as(u64, 5 * page_size), try usableSize(h, big));
    // A small page whose entry and state a peer both set to a class past the table: retiring it
    // indexed the class sizes and the list heads with it.
    const last: u32 = @intCast(h.table.len - 1);
    setEntry(h.entry(last), .small, 200, 0, 1, 0);
    h.pageState(last).state = live_bit | 200;
    try lockPages(h);
    try testing.expect(!retire(h, last));
    try testing.expectEqual(@as(u32, 0), sweep(h));
    unlockPages(h);
    setEntry(h.entry(last), .free, 0, 0, 0, 0);
    h.pageState(last).state = 0;
    // A tag wider than its 12 bits would make handles past 2^52.
    const header: *Header = @ptrCast(@alignCast(t.memory.ptr));
    const tag = header.tag;
    header.tag = 0x1_0000 | tag;
    try testing.expectError(error.Protocol, attach(t.memory));
    header.tag = tag;
    try free(h, big);
    _ = try expectClean(h);
}

test "recovery after a holder of the page lock died mid-change" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    _ = try malloc(h, 40);
    // A large allocation cut short before its head entry: continuations with no head.
    h.entry(10).kind = @intFromEnum(Kind.continuation);
    h.entry(11).kind = @intFromEnum(Kind.continuation);
    // A small page made but never linked into its class list, holding a block.
    const linked = h.entry(12);
    setEntry(linked, .small, 3, 0, 1, 0);
    h.pageState(12).bitmap[0] = 1 << 5;
    h.pageState(12).state = liveState(0, 3, 0);
    // A page retiring (live bit cleared) when its retirer died: empty, so it retires.
    setEntry(h.entry(13), .small, 4, 0, 1, 0);
    h.pageState(13).state = liveState(0, 4, 0) & ~live_bit;
    // The same with a block in it (the retirement was about to fail): it goes live again.
    setEntry(h.entry(14), .small, 4, 0, 1, 0);
    h.pageState(14).bitmap[1] = 1;
    h.pageState(14).state = liveState(0, 4, 0) & ~live_bit;
    var stats: Stats = undefined;
    try testing.expect(check(h, &stats) != null);
    try dieHoldingPageLock(h);
    _ = try malloc(h, 200_000); // takes the lock: OWNER_DIED, recovery
    stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 4), stats.allocations);
    try testing.expectEqual(@as(u8, @intFromEnum(Kind.free)), h.entry(13).kind);
    try testing.expect(isLive(h.pageState(14).state));
    try free(h, h.handleOf(h.pages_offset + 12 * page_size + 5 * class_sizes[3]));
    try free(h, h.handleOf(h.pages_offset + 14 * page_size + 64 * class_sizes[4]));
}

test "recovery: a class run cut short, and an empty run caught retiring, free all their pages" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const c = classOf(40 * 1024);
    try testing.expectEqual(@as(u32, 5), runPages(c));
    // Continuations written, head not yet: uncovered, freed.
    for (21..25) |p| setEntry(h.entry(@intCast(p)), .continuation, 0, 0, 0, 0);
    // A whole run retiring (live bit cleared, empty) when its retirer died.
    setEntry(h.entry(30), .small, c, 0, 5, 0);
    for (31..35) |p| setEntry(h.entry(@intCast(p)), .continuation, 0, 0, 0, 0);
    h.pageState(30).state = liveState(0, c, 0) & ~live_bit;
    // A run holding a block, caught the same way: it goes live again, whole.
    setEntry(h.entry(40), .small, c, 0, 5, 0);
    for (41..45) |p| setEntry(h.entry(@intCast(p)), .continuation, 0, 0, 0, 0);
    h.pageState(40).state = liveState(0, c, 0) & ~live_bit;
    h.pageState(40).bitmap[0] = 1 << 6;
    var stats: Stats = undefined;
    try testing.expect(check(h, &stats) != null);
    try dieHoldingPageLock(h);
    const block = try malloc(h, 300_000); // takes the lock: OWNER_DIED, recovery
    stats = try expectClean(h);
    try testing.expectEqual(@as(u64, 2), stats.allocations);
    for ([_][2]u32{ .{ 21, 25 }, .{ 30, 35 } }) |range| {
        for (range[0]..range[1]) |p| try testing.expectEqual(@as(u8, @intFromEnum(Kind.free)), h.entry(@intCast(p)).kind);
    }
    try testing.expect(isLive(h.pageState(40).state));
    // The survivor's block (index 6, on the run's fourth page) frees normally.
    try free(h, h.handleOf(h.pages_offset + 40 * page_size + 6 * class_sizes[c]));
    try free(h, block);
    try expectEmpty(h);
    const all = @as(u64, h.table.len) * page_size;
    try free(h, try malloc(h, all));
}

test "a check reports a page lock held past its bound, then walks once it is let go" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const Holder = struct {
        held: std.atomic.Value(u32) = .init(0),
        release: std.Thread.ResetEvent = .{},
        fn run(self: *@This(), hh: *Heap) void {
            lockPages(hh) catch unreachable;
            self.held.store(1, .release);
            self.release.wait();
            unlockPages(hh);
        }
    };
    var holder: Holder = .{};
    const th = try std.Thread.spawn(.{}, Holder.run, .{ &holder, h });
    while (holder.held.load(.acquire) == 0) std.Thread.yield() catch {};
    var stats: Stats = undefined;
    const problem = heap.checkWithin(h, &stats, 20 * std.time.ns_per_ms) orelse return error.TestUnexpectedResult;
    try testing.expect(problem.busy);
    holder.release.set();
    th.join();
    _ = try expectClean(h);
}
