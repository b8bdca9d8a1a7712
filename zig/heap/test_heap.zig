//! What the heap's unit tests share: a heap in private memory (`TestHeap`), and the checks that it
//! is consistent (`expectClean`) and holds no block (`expectEmpty`, naming every leaked block).

const std = @import("std");
const heap = @import("../heap.zig");
const Heap = heap.Heap;
const Kind = heap.Kind;
const Stats = heap.Stats;
const page_size = heap.page_size;
const blocksOf = heap.classes_mod.blocksOf;
const testing = std.testing;

pub const TestHeap = struct {
    memory: []align(page_size) u8,
    heap: Heap,

    pub fn create(size: usize) !*TestHeap {
        const t = try testing.allocator.create(TestHeap);
        t.memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(page_size), size);
        @memset(t.memory, 0);
        try heap.init(t.memory, 0x1234);
        t.heap = try heap.attach(t.memory);
        return t;
    }

    pub fn destroy(t: *TestHeap) void {
        testing.allocator.free(t.memory);
        testing.allocator.destroy(t);
    }
};

pub fn expectClean(h: *Heap) !Stats {
    var stats: Stats = undefined;
    if (heap.check(h, &stats)) |problem| {
        std.debug.print("heap check: page {d}: {s}\n", .{ problem.page, problem.what });
        return error.TestUnexpectedResult;
    }
    return stats;
}

/// Fails, naming every block still allocated (a leak), unless the heap holds none.
pub fn expectEmpty(h: *Heap) !void {
    const stats = try expectClean(h);
    if (stats.allocations == 0) return;
    for (h.table, h.states, 0..) |*e, *ps, page| {
        if (e.kind == @intFromEnum(Kind.large)) std.debug.print("leaked: large block at page {d}, {d} pages\n", .{ page, e.pages });
        if (e.kind != @intFromEnum(Kind.small)) continue;
        const blocks = blocksOf(e.class);
        for (0..blocks) |index| {
            if (ps.bitmap[index / 64] & @as(u64, 1) << @intCast(index % 64) == 0) continue;
            std.debug.print("leaked: page {d} (class {d}, state {x}) block {d}\n", .{ page, e.class, ps.state, index });
        }
    }
    return error.TestUnexpectedResult;
}
