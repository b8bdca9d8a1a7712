//! The heap's size classes: which block size a request gets, and how many pages a class's run
//! takes. Pure functions of the request, the same in every process and every heap of this version
//! (they fix the layout of runs, so a change here is a change of `heap.version`).
//!
//! Invariants (checked by the tests below):
//!   - every request of 1..`class_max` bytes has a class, the smallest whose size holds it, and it
//!     wastes less than a quarter of its block (plus 16 bytes for the tiniest);
//!   - a class's run is `runPages(c)` whole pages, and its blocks fill the run exactly for every
//!     class above `small_max` (a run of one page for the small classes, whose tail may be unused:
//!     at most an eighth of the page);
//!   - a run holds at most `bitmap_bits` blocks (one bit each in its head page's bitmap);
//!   - a class whose size is a whole number of pages (64, 128, 192, 256 KiB) is served as a large
//!     block of exactly that many pages (`servedAsPages`): a run of one block would only be a large
//!     block with extra steps.

const std = @import("std");

pub const page_size: u32 = 64 * 1024;
/// Largest class served from one-page runs.
pub const small_max: u32 = 16 * 1024;
/// Largest class; larger requests take whole pages (wasting less than a page in a block of more
/// than four: under 20%).
pub const class_max: u32 = 256 * 1024;
/// Blocks one bitmap can stand for.
pub const bitmap_bits: u32 = page_size / 16;
/// The most pages a run takes.
pub const run_pages_max: u32 = 7;

/// Block sizes: multiples of 16 up to 128, then four steps per doubling up to `class_max`.
pub const class_sizes = blk: {
    var sizes: [64]u32 = undefined;
    var n: usize = 0;
    var size: u32 = 16;
    while (size <= 128) : (size += 16) {
        sizes[n] = size;
        n += 1;
    }
    var base: u32 = 128;
    while (base < class_max) : (base *= 2) {
        for (1..5) |step| {
            sizes[n] = base + base / 4 * @as(u32, @intCast(step));
            n += 1;
        }
    }
    break :blk sizes[0..n].*;
};
pub const classes: u32 = class_sizes.len;

comptime {
    std.debug.assert(class_sizes[classes - 1] == class_max);
    @setEvalBranchQuota(10_000);
    for (0..classes) |c| {
        std.debug.assert(runPages(c) <= run_pages_max);
        std.debug.assert(blocksOf(c) >= 1 and blocksOf(c) <= bitmap_bits);
        if (class_sizes[c] > small_max) std.debug.assert(blocksOf(c) * class_sizes[c] == runPages(c) * page_size);
    }
}

/// The class of a request of `size` bytes (1..class_max): constant time.
pub fn classOf(size: u64) u32 {
    std.debug.assert(size > 0 and size <= class_max);
    if (size <= 128) return @intCast((size + 15) / 16 - 1);
    // size - 1 lies in [base, 2 * base): the class is the step of base / 4 that holds size.
    const log: u32 = std.math.log2_int(u64, size - 1);
    const base = @as(u64, 1) << @intCast(log);
    const step: u32 = @intCast((size - base + base / 4 - 1) / (base / 4));
    return 8 + (log - 7) * 4 + step - 1;
}

/// Pages in a run of class `c`: one for the small classes; for the larger, the fewest whole pages
/// its blocks fill exactly (size / gcd(size, page)). A table: the allocation path reads it.
pub fn runPages(c: u32) u32 {
    return run_pages[c];
}

/// Blocks in a run of class `c` (a table, as `runPages`).
pub fn blocksOf(c: u32) u32 {
    return blocks[c];
}

const run_pages = blk: {
    var t: [classes]u32 = undefined;
    for (&t, class_sizes) |*pages, size| pages.* = if (size <= small_max) 1 else size / std.math.gcd(size, page_size);
    break :blk t;
};

const blocks = blk: {
    var t: [classes]u32 = undefined;
    for (&t, run_pages, class_sizes) |*n, pages, size| n.* = pages * page_size / size;
    break :blk t;
};

/// Whether class `c` is served as a large block of whole pages (see the file comment).
pub fn servedAsPages(c: u32) bool {
    return class_sizes[c] % page_size == 0;
}

test "every size up to class_max has the smallest class that holds it, with bounded waste" {
    var size: u64 = 1;
    while (size <= class_max) : (size += 1) {
        const c = classOf(size);
        try std.testing.expect(class_sizes[c] >= size);
        if (c > 0) try std.testing.expect(class_sizes[c - 1] < size);
        try std.testing.expect(class_sizes[c] - size < class_sizes[c] / 4 + 16);
    }
}

test "runs: the larger classes fill their runs exactly, in at most seven pages" {
    try std.testing.expectEqual(@as(u32, 5), runPages(classOf(20 * 1024)));
    try std.testing.expectEqual(@as(u32, 16), blocksOf(classOf(20 * 1024)));
    try std.testing.expectEqual(@as(u32, 7), runPages(classOf(224 * 1024)));
    try std.testing.expectEqual(@as(u32, 2), blocksOf(classOf(224 * 1024)));
    try std.testing.expect(servedAsPages(classOf(100 * 1024 + 20 * 1024)));
    try std.testing.expect(!servedAsPages(classOf(100 * 1024)));
    try std.testing.expectEqual(@as(u32, 4096), blocksOf(0));
    for (0..classes) |c| try std.testing.expect(page_size * runPages(@intCast(c)) - blocksOf(@intCast(c)) * class_sizes[c] <= page_size / 8);
}
