//! The arenas' unit tests (zig/heap/arena.zig): blocks from an arena's own pages, reset and destroy,
//! ownership and handover, dead owners' arenas given back when noticed, a reclaim cut short by its
//! doer's death finished by the next holder of the page lock, and the bounds on ids and records.

const std = @import("std");
const heap = @import("../heap.zig");
const platform = @import("../platform/root.zig");
const layout = @import("layout.zig");
const records = @import("arena_records.zig");
const arena = @import("arena.zig");
const Heap = heap.Heap;
const Owner = layout.Owner;
const Kind = layout.Kind;
const View = arena.View;
const arenas_max = layout.arenas_max;
const kind_free = layout.kind_free;
const kind_reclaiming = layout.kind_reclaiming;
const slotOf = layout.slotOf;
const makeStatus = layout.makeStatus;
const selfOwner = records.selfOwner;
const storeOwner = records.storeOwner;
const create = arena.create;
const open = arena.open;
const malloc = arena.malloc;
const reset = arena.reset;
const destroy = arena.destroy;
const handOver = arena.handOver;
const ownerPid = arena.ownerPid;
const reap = arena.reap;
const testing = std.testing;
const mutex = @import("../mutex.zig");

const TestHeap = @import("test_heap.zig").TestHeap;

/// The heap is consistent, holds no block, and gives itself whole as one block.
fn expectBaseline(h: *Heap) !void {
    var stats: heap.Stats = undefined;
    if (heap.check(h, &stats)) |problem| {
        std.debug.print("heap check: page {d}: {s}\n", .{ problem.page, problem.what });
        return error.TestUnexpectedResult;
    }
    try testing.expectEqual(@as(u64, 0), stats.allocations);
    const all = @as(u64, h.table.len) * heap.page_size;
    try heap.free(h, try heap.malloc(h, all));
}

/// Owner `o` as the owner of the arena of `v` (tests stand in for other processes this way).
fn setOwner(h: *Heap, v: *View, o: Owner) void {
    const r = &h.arenas[v.index];
    const status = r.status;
    storeOwner(r, slotOf(status), o);
}

test "an arena's blocks come from its own pages, and reset and destroy give them all back" {
    const t = try TestHeap.create(8 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    try testing.expect(a.id() != 0);
    const pooled = try heap.malloc(h, 64);
    var blocks: [300]u64 = undefined;
    for (&blocks, 0..) |*b, i| b.* = try malloc(h, &a, 1 + i * 97 % 3000);
    const big = try malloc(h, &a, 300_000);
    // Arena blocks never share a page with the pool's.
    const pool_page = (try h.offsetOf(pooled)) / heap.page_size;
    for (blocks) |b| try testing.expect((try h.offsetOf(b)) / heap.page_size != pool_page);
    // Any process frees an arena block; the page stays the arena's, even emptied.
    try heap.free(h, blocks[0]);
    try testing.expectError(error.Invalid, heap.free(h, blocks[0]));
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 301), stats.allocations);
    try reset(h, &a);
    try testing.expectError(error.Invalid, heap.free(h, big));
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 1), stats.allocations);
    // The arena is still there, and still ours.
    const again = try malloc(h, &a, 100);
    try testing.expectEqual(a.id(), (try open(h, a.id())).id());
    try destroy(h, &a);
    try testing.expectError(error.NotFound, open(h, a.id()));
    try testing.expectError(error.NotFound, malloc(h, &a, 8));
    try testing.expectError(error.Invalid, heap.free(h, again));
    try heap.free(h, pooled);
    try expectBaseline(h);
}

test "only the owner allocates; handover moves ownership; unowned arenas outlive everyone" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    const kept = try malloc(h, &a, 500);
    try testing.expectError(error.Invalid, handOver(h, &a, -1));
    try testing.expectError(error.NotFound, handOver(h, &a, 0x7fff_fff0));
    try handOver(h, &a, 0);
    try testing.expectEqual(@as(u32, 0), try ownerPid(h, &a));
    try testing.expectError(error.NotOwner, malloc(h, &a, 8));
    // Nobody owns it, so nobody's death gives it back.
    try testing.expectEqual(@as(u32, 0), try reap(h));
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null);
    try testing.expectEqual(@as(u64, 1), stats.allocations);
    // Adopted by this process: allocations work again.
    const self = try selfOwner();
    try handOver(h, &a, @intCast(self.pid));
    try testing.expectEqual(self.pid, try ownerPid(h, &a));
    _ = try malloc(h, &a, 8);
    // An owner that is another live process: this one may neither allocate, reset nor hand over.
    setOwner(h, &a, .{ .pid = @intCast(std.os.linux.getppid()), .pidns = self.pidns, .start = try platform.startTime(std.os.linux.getppid()) });
    try testing.expectError(error.NotOwner, malloc(h, &a, 8));
    try testing.expectError(error.NotOwner, reset(h, &a));
    try testing.expectError(error.NotOwner, handOver(h, &a, 0));
    try testing.expectEqual(@as(u32, 0), try reap(h));
    try testing.expectEqual(@as(u64, 500), roundDown(try heap.usableSize(h, kept)));
    setOwner(h, &a, self);
    try destroy(h, &a);
    try expectBaseline(h);
}

fn roundDown(n: u64) u64 {
    return if (n >= 500) 500 else n;
}

test "a dead owner's arena is given back when noticed; another namespace's owner never is" {
    const t = try TestHeap.create(16 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const self = try selfOwner();
    var a = try create(h);
    var b = try create(h);
    for (0..200) |i| {
        _ = try malloc(h, &a, 16 + i * 40);
        _ = try malloc(h, &b, 16 + i * 40);
    }
    _ = try malloc(h, &a, 200_000);
    // A dead owner (a pid no process has), and an owner of another pid namespace (never judged).
    setOwner(h, &a, .{ .pid = 0x7fff_fff0, .pidns = self.pidns, .start = 1 });
    setOwner(h, &b, .{ .pid = 0x7fff_fff0, .pidns = self.pidns +% 1, .start = 1 });
    var stats: heap.Stats = undefined;
    try testing.expect(heap.check(h, &stats) == null); // the check notices a's death
    try testing.expectEqual(@as(u64, 200), stats.allocations);
    try testing.expectError(error.NotFound, open(h, a.id()));
    try testing.expectEqual(@as(u32, 0), try reap(h));
    setOwner(h, &b, self);
    try destroy(h, &b);
    try expectBaseline(h);
}

test "an allocation that finds no free pages gives back dead owners' arenas first" {
    const t = try TestHeap.create(2 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    const self = try selfOwner();
    var a = try create(h);
    while (malloc(h, &a, 3000)) |_| {} else |err| try testing.expectEqual(error.NoMemory, err);
    setOwner(h, &a, .{ .pid = 0x7fff_fff0, .pidns = self.pidns, .start = 1 });
    const all = @as(u64, h.table.len) * heap.page_size;
    try heap.free(h, try heap.malloc(h, all));
    try expectBaseline(h);
}

test "a reclaim cut short by the death of its doer is finished by the next holder of the page lock" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    var a = try create(h);
    for (0..100) |i| _ = try malloc(h, &a, 8 + i * 300);
    _ = try malloc(h, &a, 150_000);
    // Marked reclaiming, one page freed, then the doer died holding the page lock.
    const r = &h.arenas[a.index];
    r.status = makeStatus(kind_reclaiming, kind_free, 0, a.generation);
    for (h.table) |*e| {
        if (e.arena == a.index + 1 and e.kind == @intFromEnum(Kind.large)) {
            @atomicStore(u8, &e.kind, @intFromEnum(Kind.free), .release);
            break;
        }
    }
    const Dier = struct {
        fn run(hh: *Heap) void {
            _ = mutex.lock(&hh.header.lock, .never) catch unreachable;
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{h});
    th.join();
    try expectBaseline(h); // takes the lock: OWNER_DIED, recovery finishes the reclaim
    try testing.expectError(error.NotFound, open(h, a.id()));
}

test "arena ids: stale and malformed ids are refused, the table has a bound" {
    const t = try TestHeap.create(4 * 1024 * 1024);
    defer t.destroy();
    const h = &t.heap;
    try testing.expectError(error.NotFound, open(h, 0));
    try testing.expectError(error.Range, open(h, 0x1ff));
    var views: [arenas_max]View = undefined;
    for (&views) |*v| v.* = try create(h);
    try testing.expectError(error.NoSpace, create(h));
    const old = views[3].id();
    try destroy(h, &views[3]);
    views[3] = try create(h);
    try testing.expect(views[3].id() != old);
    try testing.expectError(error.NotFound, open(h, old));
    for (&views) |*v| try destroy(h, v);
    try expectBaseline(h);
}
