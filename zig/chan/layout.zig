//! A channel's layout in shared memory: the 384-byte header (`Chan`), its constants, the holder
//! table's entries, and the checks a process makes before it uses a channel another process made.
//!
//! Invariants: the header's size and the offsets of its lock and word lines are pinned by comptime
//! asserts (the senders' line, the receivers' line and the first line are apart, so each side writes
//! only its own); the capacity is a power of two in [capacity_min, capacity_max], so positions wrap
//! at 2^31 in step with the ring; `validate` checks magic, version, capacity, flags and the size
//! against the memory and returns error.Protocol or error.Invalid, never asserts, since every field
//! may have been written by another process. A `Handle` indexes the ring only with the capacity this
//! process checked against its own mapping (handles.zig), never with the header's field.

const std = @import("std");
const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const wait = @import("../wait.zig");
const Error = abi.Error;

pub const magic: u32 = 0x4e41_4849; // "IHAN" little-endian
/// 3: loan marks name an entry of the holder table instead of a bare pid.
pub const version: u32 = 3;
pub const header_size: u32 = 384;
pub const alignment: u32 = 64;
pub const capacity_min: u32 = 64;
pub const capacity_max: u32 = 1 << 30;
/// A byte stream (Pipe) instead of messages.
pub const flag_stream: u32 = 1;
/// At most one message at a time (MVar).
pub const flag_single: u32 = 2;
pub const flags_all: u32 = flag_stream | flag_single;

pub const closed_bit: u32 = 1 << 31;
pub const position_mask: u32 = closed_bit - 1;
pub const record_header: u32 = 8;
pub const kind_message: u32 = 0;
pub const kind_padding: u32 = 1;
/// A message a receiver holds as a view (a loan): bits 8..31 hold the holder's slot, an index into the
/// holder table (`Holder`). Such records lie between the head and the receivers' cursor, keeping the
/// head (and senders) behind them.
pub const kind_loaned: u32 = 2;
pub const kind_mask: u32 = 0xff;

/// A process that holds (or held) views, as every process judges it: its pid, its start time (a
/// reused pid has another) and its pid namespace (the same pid names another process in another
/// namespace). The channel keeps `holders_max` of them, written only under the receive lock; see
/// views.zig (`Loan`) for the invariants.
pub const Holder = extern struct {
    /// 0 while the entry is not whole: cleared first and stored last when an entry is (re)written.
    pid: u32,
    /// The inode number of the holder's pid namespace (Linux's are 32-bit: `ns_common.inum`).
    pidns: u32,
    start: u64,
};
pub const holders_max: u32 = 6;

pub const Chan = extern struct {
    magic: u32,
    version: u32,
    capacity: u32,
    flags: u32,
    /// Holders 3..5: the first line is otherwise written only by `init`, so a rare claim here costs
    /// every process one reload of the line.
    holders_more: [3]Holder,
    send_lock: mutex.Mutex,
    recv_lock: mutex.Mutex,
    /// Bit 31: closed; bits 0..30: the tail. Written by senders.
    readable: wait.WaitWord,
    /// The head as senders last read it (never ahead of it): senders read the receivers' line only
    /// when this says there is no room.
    head_seen: u32,
    reserved1: [52]u8,
    /// Bit 31: closed; bits 0..30: the head. Written by receivers.
    writable: wait.WaitWord,
    /// The tail as receivers last read it: they read the senders' line only when this says empty.
    tail_seen: u32,
    /// Message channels: the receivers' cursor. Records before it were received; between the head
    /// and it lie the ones still loaned out as views (and, until the head passes them, received
    /// ones). Equal to the head when no view is out.
    read: u32,
    /// Holders 0..2, on the receivers' line: the receive lock's holder writes this line anyway.
    holders: [3]Holder,
    /// Streams: held by the writer (the first process to write) for as long as it writes. When it
    /// dies, the kernel marks the lock's word owner-died, which readers see as the end of the pipe.
    writer: mutex.Mutex,

    pub fn holder(c: *Chan, slot: u32) *Holder {
        std.debug.assert(slot < holders_max);
        return if (slot < c.holders.len) &c.holders[slot] else &c.holders_more[slot - c.holders.len];
    }
};

/// A channel as this process uses it for one call: the header in shared memory and the capacity
/// this process checked against the memory it has mapped when it attached the channel (`attach`).
/// Every index into the ring is bounded by this capacity, never by the header's field, which any
/// process sharing the memory can rewrite at any instant (see handles.zig).
pub const Handle = struct {
    c: *Chan,
    capacity: u32,

    pub fn ring(h: Handle) [*]u8 {
        return @as([*]u8, @ptrCast(h.c)) + header_size;
    }
};

comptime {
    std.debug.assert(@sizeOf(Chan) == header_size);
    std.debug.assert(@offsetOf(Chan, "send_lock") == 64);
    std.debug.assert(@offsetOf(Chan, "readable") == 192);
    std.debug.assert(@offsetOf(Chan, "writable") == 256 and @offsetOf(Chan, "holders") + @sizeOf([3]Holder) <= 320);
    std.debug.assert(@offsetOf(Chan, "holders_more") + @sizeOf([3]Holder) <= 64);
}

/// Bytes a channel with `capacity` bytes of ring takes.
pub fn sizeFor(capacity: u64) Error!u64 {
    if (capacity < capacity_min or capacity > capacity_max or !std.math.isPowerOfTwo(capacity)) return error.Range;
    return header_size + capacity;
}

/// The largest message a channel of `capacity` carries.
pub fn messageMax(capacity: u32) u32 {
    return capacity / 2 - record_header;
}

/// Makes `memory` (at least `sizeFor(capacity)` bytes, 64-aligned) an empty open channel.
pub fn init(memory: []u8, capacity: u32, flags: u32) Error!*Chan {
    if (flags & ~flags_all != 0) return error.Invalid;
    if (flags & flag_stream != 0 and flags & flag_single != 0) return error.Invalid;
    if (@intFromPtr(memory.ptr) % alignment != 0) return error.Align;
    if (memory.len < try sizeFor(capacity)) return error.Range;
    const c: *Chan = @ptrCast(@alignCast(memory.ptr));
    @atomicStore(u32, &c.magic, 0, .release);
    c.version = version;
    c.capacity = capacity;
    c.flags = flags;
    c.holders_more = std.mem.zeroes([3]Holder);
    try mutex.init(&c.send_lock);
    try mutex.init(&c.recv_lock);
    c.readable = .{ .value = 0, .waiters = 0 };
    c.writable = .{ .value = 0, .waiters = 0 };
    c.head_seen = 0;
    c.tail_seen = 0;
    c.reserved1 = [_]u8{0} ** 52;
    c.read = 0;
    c.holders = std.mem.zeroes([3]Holder);
    try mutex.init(&c.writer);
    @atomicStore(u32, &c.magic, magic, .release);
    return c;
}

/// The channel in `memory`, checked against what another process wrote.
pub fn validate(memory: []u8) Error!*Chan {
    if (@intFromPtr(memory.ptr) % alignment != 0) return error.Align;
    if (memory.len < header_size) return error.Range;
    const c: *Chan = @ptrCast(@alignCast(memory.ptr));
    if (@atomicLoad(u32, &c.magic, .acquire) != magic) return error.Protocol;
    if (c.version != version) return error.Version;
    if (c.flags & ~flags_all != 0) return error.Protocol;
    const size = sizeFor(c.capacity) catch return error.Protocol;
    if (memory.len < size) return error.Range;
    try mutex.validate(&c.send_lock);
    try mutex.validate(&c.recv_lock);
    try mutex.validate(&c.writer);
    return c;
}

pub fn isStream(c: *const Chan) bool {
    return c.flags & flag_stream != 0;
}

pub fn isClosed(c: *const Chan) bool {
    return c.readable.load() & closed_bit != 0;
}
