//! The ring's positions and records, as seen under a lock: reading and checking the committed
//! positions (`positions`), committing a new head or tail (`commit`, keeping the closed bit that
//! `close` sets without a lock), copying bytes in and out across the wrap, and the record format of
//! message channels (an 8-byte header of length and kind, bytes padded to 8; a padding record where
//! a message would cross the end of the ring).
//!
//! Invariants: every value read here from shared memory is checked before it is used: positions are
//! 8-aligned and no more bytes are in use than the capacity; a record lies within what is used and
//! does not cross the end of the ring; its kind is one of the known ones. A failed check is
//! error.Protocol. The seen positions (`head_seen`, `tail_seen`) are caches, never ahead of the real
//! ones, so a stale one only makes room or data look smaller and is looked up again before anything
//! is called damage. Every index is masked with the capacity of the caller's `Handle`.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;
const Chan = @import("layout.zig").Chan;
const Handle = @import("layout.zig").Handle;
const closed_bit = @import("layout.zig").closed_bit;
const holders_max = @import("layout.zig").holders_max;
const isStream = @import("layout.zig").isStream;
const kind_loaned = @import("layout.zig").kind_loaned;
const kind_mask = @import("layout.zig").kind_mask;
const kind_message = @import("layout.zig").kind_message;
const kind_padding = @import("layout.zig").kind_padding;
const messageMax = @import("layout.zig").messageMax;
const position_mask = @import("layout.zig").position_mask;
const record_header = @import("layout.zig").record_header;
const read = @import("blocking.zig").read;

/// The positions as committed, checked. Caller holds the lock.
pub const Positions = struct {
    head: u32,
    tail: u32,
    /// Message channels, as seen by receivers: their cursor (see `Chan.read`); the head otherwise.
    read: u32,
    closed: bool,
    /// The words as read: what a wait decided on them waits for.
    raw_readable: u32,
    raw_writable: u32,

    pub fn used(p: Positions) u32 {
        return (p.tail -% p.head) & position_mask;
    }

    /// Bytes after the receivers' cursor: not yet received.
    fn unread(p: Positions) u32 {
        return (p.tail -% p.read) & position_mask;
    }
};

/// Who looks: a sender (holding the send lock) reads the tail and, unless `fresh`, the head it saw
/// last; a receiver the other way round. The seen values are never ahead of the real ones (positions
/// only grow), so a stale one only makes room or data look smaller: the caller then looks again,
/// fresh, before it decides to wait.
const Who = enum { sender, receiver, both };

pub fn positions(h: Handle, who: Who, fresh: bool) Error!Positions {
    const c = h.c;
    var r: u32 = undefined;
    var w: u32 = undefined;
    switch (who) {
        .sender => {
            r = @atomicLoad(u32, &c.readable.value, .acquire);
            if (fresh) {
                w = @atomicLoad(u32, &c.writable.value, .acquire);
                @atomicStore(u32, &c.head_seen, w & position_mask, .monotonic);
            } else w = @atomicLoad(u32, &c.head_seen, .monotonic);
        },
        .receiver => {
            w = @atomicLoad(u32, &c.writable.value, .acquire);
            if (fresh) {
                r = @atomicLoad(u32, &c.readable.value, .acquire);
                @atomicStore(u32, &c.tail_seen, r & position_mask, .monotonic);
            } else r = @atomicLoad(u32, &c.tail_seen, .monotonic);
        },
        .both => {
            r = @atomicLoad(u32, &c.readable.value, .acquire);
            w = @atomicLoad(u32, &c.writable.value, .acquire);
        },
    }
    var p: Positions = .{
        .head = w & position_mask,
        .tail = r & position_mask,
        .read = w & position_mask,
        .closed = r & closed_bit != 0,
        .raw_readable = r,
        .raw_writable = w,
    };
    if (p.used() > h.capacity) {
        // A seen value is a cache: one that fell behind (a swap or replace moved both positions)
        // is looked up again, and only the positions themselves can be damage.
        if (who != .both and !fresh) return positions(h, who, true);
        return error.Protocol;
    }
    if (isStream(c)) return p;
    if (p.head % 8 != 0 or p.tail % 8 != 0) return error.Protocol;
    if (who != .sender) {
        // Written only under the receive lock, which the caller holds.
        p.read = @atomicLoad(u32, &c.read, .monotonic) & position_mask;
        if (p.read % 8 != 0 or ((p.read -% p.head) & position_mask) > p.used()) return error.Protocol;
    }
    return p;
}

/// Stores `position` into a word, keeping its closed bit (set meanwhile by `close`, which takes
/// no lock). Caller holds the lock of the word's side.
fn commit(word: *u32, position: u32) void {
    var old = @atomicLoad(u32, word, .acquire);
    while (@cmpxchgWeak(u32, word, old, (old & closed_bit) | (position & position_mask), .seq_cst, .acquire)) |now| old = now;
}

pub fn commitTail(c: *Chan, tail: u32) void {
    commit(&c.readable.value, tail);
}

pub fn commitHead(c: *Chan, head: u32) void {
    commit(&c.writable.value, head);
}

pub fn copyIn(h: Handle, position: u32, bytes: []const u8) void {
    const at = position & (h.capacity - 1);
    const first = @min(bytes.len, h.capacity - at);
    @memcpy(h.ring()[at..][0..first], bytes[0..first]);
    @memcpy(h.ring()[0 .. bytes.len - first], bytes[first..]);
}

pub fn copyOut(h: Handle, position: u32, out: []u8) void {
    const at = position & (h.capacity - 1);
    const first = @min(out.len, h.capacity - at);
    @memcpy(out[0..first], h.ring()[at..][0..first]);
    @memcpy(out[first..], h.ring()[0 .. out.len - first]);
}

pub fn recordSize(len: u32) u32 {
    return record_header + std.mem.alignForward(u32, len, 8);
}

/// Writes `message` as a record at `tail` (after a padding record when it would cross the end of
/// the ring), uncommitted; returns the tail after it. The caller made sure it fits.
pub fn putRecord(h: Handle, tail: u32, message: []const u8) Error!u32 {
    // The tail comes from shared memory, whose flags may have said "stream" (no alignment) when the
    // positions were checked: a record starts 8-aligned or not at all.
    if (tail % 8 != 0) return error.Protocol;
    var at = tail;
    const size = recordSize(@intCast(message.len));
    const room = h.capacity - (at & (h.capacity - 1));
    if (size > room) {
        writeHeader(h, at, room - record_header, kind_padding);
        at +%= room;
    }
    writeHeader(h, at, @intCast(message.len), kind_message);
    copyIn(h, at +% record_header, message);
    return at +% size;
}

fn writeHeader(h: Handle, position: u32, len: u32, kind: u32) void {
    const at = position & (h.capacity - 1);
    const words: *[2]u32 = @ptrCast(@alignCast(h.ring() + at));
    words[0] = len;
    words[1] = kind;
}

const Record = struct {
    /// Position of the message's bytes, and their length (a padding record: of what it skips).
    at: u32,
    len: u32,
    kind: u32,
    /// Position of the next record.
    after: u32,
};

/// The record at `position`, checked: it lies within the `left` bytes there and does not cross the
/// end of the ring. Caller holds the receive lock.
pub fn recordAt(h: Handle, position: u32, left: u32) Error!Record {
    if (left < record_header) return error.Protocol;
    const at = position & (h.capacity - 1);
    // Records start 8-aligned (positions read from shared memory are not when a peer wrote them so
    // and the flags said "stream" as they were checked).
    if (at % 8 != 0) return error.Protocol;
    const words: *const [2]u32 = @ptrCast(@alignCast(h.ring() + at));
    // Each word is read once: what is checked is what is used (a peer may rewrite it meanwhile).
    const len = @atomicLoad(u32, &words[0], .monotonic);
    const raw_kind = @atomicLoad(u32, &words[1], .monotonic);
    const kind = raw_kind & kind_mask;
    const size = switch (kind) {
        kind_padding => if (len % 8 == 0 and len <= h.capacity - at - record_header) record_header + len else return error.Protocol,
        kind_message => if (len <= messageMax(h.capacity)) recordSize(len) else return error.Protocol,
        kind_loaned => if (len <= messageMax(h.capacity) and raw_kind >> 8 < holders_max) recordSize(len) else return error.Protocol,
        else => return error.Protocol,
    };
    if (size > left or at + size > h.capacity) return error.Protocol;
    if (kind == kind_padding and at + size != h.capacity) return error.Protocol;
    return .{ .at = position +% record_header, .len = len, .kind = raw_kind, .after = position +% size };
}

/// The next message's record after the receivers' cursor (skipping padding), or null when none.
/// Caller holds the receive lock.
pub fn nextRecord(h: Handle, p: Positions) Error!?Record {
    var position = p.read;
    var left = p.unread();
    while (left > 0) {
        const record = try recordAt(h, position, left);
        // (A loaned mark after the cursor is a receiver's that died before moving the cursor: the
        // message was never handed out.)
        if (record.kind & kind_mask == kind_loaned) setKind(h, record, kind_message);
        if (record.kind & kind_mask != kind_padding) return record;
        left -= record.after -% position;
        position = record.after;
    }
    return null;
}

pub fn setKind(h: Handle, record: Record, kind: u32) void {
    const words: *[2]u32 = @ptrCast(@alignCast(h.ring() + ((record.at -% record_header) & (h.capacity - 1))));
    words[1] = kind;
}
