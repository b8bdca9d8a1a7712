//! Named roots: how an unrelated process finds what another built (Boost's find_or_construct). A
//! root is a name and a handle in the heap's header; it is committed by writing its handle last,
//! under the page lock, so a process killed while making one leaves no root (at worst a leaked
//! block), never half of one. Names are read back from shared memory as untrusted bytes.

const std = @import("std");
const abi = @import("../abi.zig");
const crash = @import("../crash.zig");
const layout = @import("layout.zig");
const pages_mod = @import("pages.zig");
const alloc = @import("alloc.zig");
const Error = abi.Error;
const Heap = layout.Heap;
const Root = layout.Root;
const root_name_max = layout.root_name_max;
const lockPages = pages_mod.lockPages;
const unlockPages = pages_mod.unlockPages;
const malloc = alloc.malloc;
const free = alloc.free;
const pointer = alloc.pointer;
const usableSize = alloc.usableSize;

fn rootName(name: []const u8) Error!void {
    if (name.len == 0) return error.Invalid;
    if (name.len > root_name_max) return error.NameTooLong;
    if (std.mem.indexOfScalar(u8, name, 0) != null) return error.Invalid;
}

/// The root called `name`, or null; and the first free root slot. Caller holds the page lock.
fn findRoot(h: *Heap, name: []const u8, empty: *?*Root) ?u64 {
    empty.* = null;
    for (&h.header.roots) |*r| {
        const handle = @atomicLoad(u64, &r.handle, .acquire);
        if (handle == 0) {
            if (empty.* == null) empty.* = r;
            continue;
        }
        if (std.mem.eql(u8, std.mem.sliceTo(&r.name, 0), name)) return handle;
    }
    return null;
}

/// The block named `name`; with `size` > 0 one is made (zeroed) if none exists, else error.NotFound.
/// A root is committed by writing its handle last, under the page lock: a process killed while
/// making one leaves no root (and at worst a leaked block), never half of one. Two processes making
/// the same root at once get the same block.
pub fn root(h: *Heap, name: []const u8, size: u64) Error!u64 {
    try rootName(name);
    var empty: ?*Root = null;
    {
        try lockPages(h);
        defer unlockPages(h);
        if (findRoot(h, name, &empty)) |handle| return fits(h, handle, size);
    }
    if (size == 0) return error.NotFound;
    const block = try malloc(h, size);
    @memset((try pointer(h, block))[0..@intCast(size)], 0);
    lockPages(h) catch |err| {
        free(h, block) catch {};
        return err;
    };
    const found = findRoot(h, name, &empty);
    if (found == null and empty != null) {
        const slot = empty.?;
        @memset(&slot.name, 0);
        @memcpy(slot.name[0..name.len], name);
        crash.point(.heap_root_named);
        @atomicStore(u64, &slot.handle, block, .release);
    }
    unlockPages(h);
    if (found) |handle| {
        free(h, block) catch {};
        return fits(h, handle, size);
    }
    if (empty == null) {
        free(h, block) catch {};
        return error.NoSpace;
    }
    return block;
}

/// An existing root asked for with `size`: error.Range when it is smaller.
fn fits(h: *Heap, handle: u64, size: u64) Error!u64 {
    if (size > 0 and try usableSize(h, handle) < size) return error.Range;
    return handle;
}

/// Forgets the root called `name` (its block stays allocated). error.NotFound when there is none.
pub fn removeRoot(h: *Heap, name: []const u8) Error!void {
    try rootName(name);
    try lockPages(h);
    defer unlockPages(h);
    for (&h.header.roots) |*r| {
        if (@atomicLoad(u64, &r.handle, .acquire) == 0) continue;
        if (!std.mem.eql(u8, std.mem.sliceTo(&r.name, 0), name)) continue;
        @atomicStore(u64, &r.handle, 0, .release);
        return;
    }
    return error.NotFound;
}
