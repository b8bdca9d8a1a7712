//! Handles: the channels this process attached.
//!
//! A channel's header lies in memory every process sharing it can write, so its `capacity` field is
//! input like any other: a process that indexed its ring with the field as it finds it on each call
//! would write past its own mapping once a peer wrote a larger value. So the capacity a process uses
//! is the one it checked against the memory it has mapped when it attached the channel (init, at,
//! create), kept here in private memory under the header's address. Each call looks its channel up
//! once (`handleOf`), refuses it with error.Protocol when the header no longer says that capacity,
//! and then indexes only with the capacity it looked up. A pointer that was never attached is
//! error.Invalid. Closing a segment forgets the channels inside its mapping (`forgetRange`).
//!
//! The table is an open-addressing hash table of one word per channel (the header's address, 64-byte
//! aligned, with log2 of the capacity in the low bits), read without a lock under a sequence count:
//! a lookup costs a hash, a few loads and no write to shared cache lines. Attaching and forgetting
//! take a mutex, bump the count to odd, change the table in place and bump it to even again; a
//! reader that saw the count odd or changed looks again. A table that grows is replaced and the old
//! one kept (a reader may still be reading it), so what is kept is at most the size of the last.

const std = @import("std");
const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const platform = @import("../platform/root.zig");
const Error = abi.Error;
const Chan = @import("layout.zig").Chan;
const Handle = @import("layout.zig").Handle;
const alignment = @import("layout.zig").alignment;
const flags_all = @import("layout.zig").flags_all;
const header_size = @import("layout.zig").header_size;
const init = @import("layout.zig").init;
const magic = @import("layout.zig").magic;
const sizeFor = @import("layout.zig").sizeFor;
const version = @import("layout.zig").version;
const testing = std.testing;

const table_min: usize = 64;
/// Slot values: 0 empty, `forgotten` a removed entry (the probe goes on past it).
const forgotten: usize = alignment - 1;

const Table = struct {
    slots: []std.atomic.Value(usize),
    /// Slots not empty (live or forgotten): the table is rebuilt when they reach half of it.
    used: usize = 0,
    live: usize = 0,
};

var table: std.atomic.Value(?*Table) = .init(null);
var table_sequence: std.atomic.Value(u32) = .init(0);
var table_mutex: std.Thread.Mutex = .{};
var fork_handlers_installed = false;

// A fork while another thread changes the table would leave the child's sequence count odd for
// good: the mutex is held across fork, so the child's table is whole and its count even.
fn atForkPrepare() callconv(.c) void {
    table_mutex.lock();
}

fn atForkParent() callconv(.c) void {
    table_mutex.unlock();
}

fn atForkChild() callconv(.c) void {
    // Held by the forking thread, whose id the child's only thread does not have: start over.
    table_mutex = .{};
}

fn slotOf(address: usize, len: usize) usize {
    const key: u64 = @intCast(address / alignment);
    return @intCast((key *% 0x9e37_79b9_7f4a_7c15 >> 32) & (len - 1));
}

fn entryFor(address: usize, capacity: u32) usize {
    return address | @as(usize, std.math.log2_int(u32, capacity) - 5);
}

fn lookup(t: *const Table, address: usize) ?u32 {
    var i = slotOf(address, t.slots.len);
    for (0..t.slots.len) |_| {
        const entry = t.slots[i].load(.acquire);
        if (entry == 0) return null;
        if (entry != forgotten and entry & ~forgotten == address) {
            return @as(u32, 1) << @intCast((entry & forgotten) + 5);
        }
        i = (i + 1) & (t.slots.len - 1);
    }
    return null;
}

/// The capacity this process attached the channel at `address` with, or null.
fn attachedCapacity(address: usize) ?u32 {
    while (true) {
        const before = table_sequence.load(.acquire);
        if (before % 2 == 0) {
            const t = table.load(.acquire) orelse return null;
            const found = lookup(t, address);
            if (table_sequence.load(.acquire) == before) return found;
        }
        std.atomic.spinLoopHint();
    }
}

/// Puts `entry` in `t` (replacing the entry of the same address). Caller holds the mutex.
fn insert(t: *Table, entry: usize) void {
    const address = entry & ~forgotten;
    var i = slotOf(address, t.slots.len);
    var free: ?usize = null;
    for (0..t.slots.len) |_| {
        const old = t.slots[i].load(.monotonic);
        if (old == 0) break;
        if (old == forgotten) {
            if (free == null) free = i;
        } else if (old & ~forgotten == address) {
            t.slots[i].store(entry, .release);
            return;
        }
        i = (i + 1) & (t.slots.len - 1);
    }
    const at = free orelse i;
    if (t.slots[at].load(.monotonic) == 0) t.used += 1;
    t.slots[at].store(entry, .release);
    t.live += 1;
}

/// A table with room for `live` entries and as many again, holding the live entries of `old`.
fn rebuilt(old: ?*const Table, live: usize) Error!*Table {
    const len = @max(table_min, std.math.ceilPowerOfTwo(usize, live * 4) catch return error.NoMemory);
    const t = std.heap.c_allocator.create(Table) catch return error.NoMemory;
    const slots = std.heap.c_allocator.alloc(std.atomic.Value(usize), len) catch {
        std.heap.c_allocator.destroy(t);
        return error.NoMemory;
    };
    @memset(slots, .init(0));
    t.* = .{ .slots = slots };
    if (old) |o| for (o.slots) |*slot| {
        const entry = slot.load(.monotonic);
        if (entry != 0 and entry != forgotten) insert(t, entry);
    };
    return t;
}

fn beginChange() void {
    _ = table_sequence.fetchAdd(1, .acquire);
}

fn endChange() void {
    _ = table_sequence.fetchAdd(1, .release);
}

/// Remembers the channel at `c`, checked against `memory_len` bytes mapped there, as attached by
/// this process: the handle its calls use.
pub fn attach(c: *Chan, memory_len: usize) Error!Handle {
    const capacity = @atomicLoad(u32, &c.capacity, .acquire);
    const size = sizeFor(capacity) catch return error.Protocol;
    if (memory_len < size) return error.Range;
    table_mutex.lock();
    defer table_mutex.unlock();
    if (!fork_handlers_installed) {
        try platform.process.atFork(atForkPrepare, atForkParent, atForkChild);
        fork_handlers_installed = true;
    }
    const current = table.load(.monotonic);
    if (current == null or (current.?.used + 1) * 2 > current.?.slots.len) {
        const live = if (current) |t| t.live else 0;
        table.store(try rebuilt(current, live + 1), .release);
    }
    beginChange();
    insert(table.load(.monotonic).?, entryFor(@intFromPtr(c), capacity));
    endChange();
    return .{ .c = c, .capacity = capacity };
}

/// Forgets the channels attached in [address, address + len) (a mapping being unmapped).
pub fn forgetRange(address: usize, len: usize) void {
    table_mutex.lock();
    defer table_mutex.unlock();
    const t = table.load(.monotonic) orelse return;
    if (t.live == 0) return;
    beginChange();
    defer endChange();
    for (t.slots) |*slot| {
        const entry = slot.load(.monotonic);
        if (entry == 0 or entry == forgotten) continue;
        const at = entry & ~forgotten;
        if (at >= address and at - address < len) {
            slot.store(forgotten, .release);
            t.live -= 1;
        }
    }
}

/// The handle of the channel at `address` for one call: error.Invalid when this process never
/// attached a channel there, error.Protocol when its header no longer holds what was attached.
pub fn handleOf(address: usize) Error!Handle {
    if (address % alignment != 0) return error.Align;
    const capacity = attachedCapacity(address) orelse return error.Invalid;
    const c: *Chan = @ptrFromInt(address);
    if (@atomicLoad(u32, &c.capacity, .monotonic) != capacity) return error.Protocol;
    if (@atomicLoad(u32, &c.magic, .acquire) != magic) return error.Protocol;
    if (c.version != version) return error.Version;
    if (c.flags & ~flags_all != 0) return error.Protocol;
    try mutex.validate(&c.send_lock);
    try mutex.validate(&c.recv_lock);
    try mutex.validate(&c.writer);
    return .{ .c = c, .capacity = capacity };
}

test "handles: attached channels are found with their capacity until their memory is forgotten" {
    const n = 200;
    const each = header_size + 64;
    const memory = try std.heap.page_allocator.alignedAlloc(u8, .fromByteUnits(alignment), n * each);
    defer std.heap.page_allocator.free(memory);
    for (0..n) |i| {
        const c = try init(memory[i * each ..][0..each], 64, 0);
        const h = try attach(c, each);
        try testing.expectEqual(@as(u32, 64), h.capacity);
    }
    for (0..n) |i| try testing.expectEqual(@as(u32, 64), (try handleOf(@intFromPtr(memory.ptr) + i * each)).capacity);
    try testing.expectError(error.Invalid, handleOf(@intFromPtr(memory.ptr) + 64));
    // A peer's capacity is refused, never used.
    const first: *Chan = @ptrCast(@alignCast(memory.ptr));
    first.capacity = 1 << 24;
    try testing.expectError(error.Protocol, handleOf(@intFromPtr(memory.ptr)));
    first.capacity = 64;
    // The first half forgotten (a segment closed), then attached again in the same slots.
    forgetRange(@intFromPtr(memory.ptr), n / 2 * each);
    try testing.expectError(error.Invalid, handleOf(@intFromPtr(memory.ptr)));
    try testing.expectEqual(@as(u32, 64), (try handleOf(@intFromPtr(memory.ptr) + n / 2 * each)).capacity);
    for (0..n / 2) |i| _ = try attach(@ptrCast(@alignCast(memory.ptr + i * each)), each);
    for (0..n) |i| _ = try handleOf(@intFromPtr(memory.ptr) + i * each);
    forgetRange(@intFromPtr(memory.ptr), n * each);
    try testing.expectError(error.Invalid, handleOf(@intFromPtr(memory.ptr) + (n - 1) * each));
}
