//! The channel: a bounded ring of bytes in shared memory, with a 384-byte header, that many
//! processes send to and receive from at once. It carries whole messages (Chan, MVar, duplex
//! pairs) or a byte stream (Pipe).
//!
//! Positions are 31-bit counters of bytes (wrapping; the capacity, a power of two up to 2^30,
//! divides 2^31): `tail` counts bytes ever written, `head` bytes ever consumed. Each lives in the
//! value of a wait word — `readable` holds the tail, `writable` the head — with bit 31 set once the
//! channel is closed. So one atomic store both commits an operation and wakes whoever waits for it:
//! a sender's store of the tail makes its message visible and changes the word receivers wait on; a
//! receiver's store of the head frees the space and changes the word senders wait on; closing sets
//! bit 31 of both. There is never a second store a dying process could leave undone.
//!
//! Senders take the send lock and receivers the receive lock (robust mutexes; the two-lock queue):
//! a sender reads the head, writes beyond the tail and commits the tail; a receiver reads the tail,
//! reads before it and commits the head, so a sender and a receiver never wait for each other. A
//! process killed holding a lock (mid-copy) committed nothing: what it wrote lies beyond the tail,
//! what it was reading stays before the head. The next holder is told OWNER_DIED and finds the
//! channel as the last committed operation left it, so the only repair is marking the mutex
//! consistent. Commits are CAS loops that keep bit 31, which `close` sets without a lock. Waiting
//! happens outside the locks, on the words, for the exact value the decision to wait was made on.
//!
//! Message channels frame each message as a record: an 8-byte header (length, kind) and the bytes,
//! padded to 8. A record that would cross the end of the ring is preceded by a padding record that
//! fills the rest, so a message is always contiguous (a receive can copy it in one piece). Messages
//! are limited to half the capacity minus 8 bytes: then a message always fits in an empty ring,
//! padding included. Stream channels (pipes) hold raw bytes, copied in up to two pieces.
//!
//! What another process wrote is input: positions that disagree (more bytes used than the capacity,
//! a record longer than what is used) are refused with error.Protocol, never followed.

const std = @import("std");
const abi = @import("abi.zig");
const mutex = @import("mutex.zig");
const wait = @import("wait.zig");
const platform = @import("platform/root.zig");
const rm = @import("platform/robust_mutex.zig");
const Error = abi.Error;

pub const magic: u32 = 0x4e41_4849; // "IHAN" little-endian
pub const version: u32 = 2;
pub const header_size: u32 = 384;
pub const alignment: u32 = 64;
pub const capacity_min: u32 = 64;
pub const capacity_max: u32 = 1 << 30;
/// A byte stream (Pipe) instead of messages.
pub const flag_stream: u32 = 1;
/// At most one message at a time (MVar).
pub const flag_single: u32 = 2;
pub const flags_all: u32 = flag_stream | flag_single;

const closed_bit: u32 = 1 << 31;
const position_mask: u32 = closed_bit - 1;
const record_header: u32 = 8;
const kind_message: u32 = 0;
const kind_padding: u32 = 1;
/// A message a receiver holds as a view (a loan): bits 8..31 hold the holder's process id. Such records
/// lie between the head and the receivers' cursor, keeping the head (and senders) behind them.
const kind_loaned: u32 = 2;
const kind_mask: u32 = 0xff;

pub const Chan = extern struct {
    magic: u32,
    version: u32,
    capacity: u32,
    flags: u32,
    reserved0: [48]u8,
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
    reserved2: [48]u8,
    /// Streams: held by the writer (the first process to write) for as long as it writes. When it
    /// dies, the kernel marks the lock's word owner-died, which readers see as the end of the pipe.
    writer: mutex.Mutex,

    fn ring(c: *Chan) [*]u8 {
        return @as([*]u8, @ptrCast(c)) + header_size;
    }
};

comptime {
    std.debug.assert(@sizeOf(Chan) == header_size);
    std.debug.assert(@offsetOf(Chan, "send_lock") == 64);
    std.debug.assert(@offsetOf(Chan, "readable") == 192);
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
    c.reserved0 = [_]u8{0} ** 48;
    try mutex.init(&c.send_lock);
    try mutex.init(&c.recv_lock);
    c.readable = .{ .value = 0, .waiters = 0 };
    c.writable = .{ .value = 0, .waiters = 0 };
    c.head_seen = 0;
    c.tail_seen = 0;
    c.reserved1 = [_]u8{0} ** 52;
    c.read = 0;
    c.reserved2 = [_]u8{0} ** 48;
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

/// The positions as committed, checked. Caller holds the lock.
const Positions = struct {
    head: u32,
    tail: u32,
    /// Message channels, as seen by receivers: their cursor (see `Chan.read`); the head otherwise.
    read: u32,
    closed: bool,
    /// The words as read: what a wait decided on them waits for.
    raw_readable: u32,
    raw_writable: u32,

    fn used(p: Positions) u32 {
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

fn positions(c: *Chan, who: Who, fresh: bool) Error!Positions {
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
    if (p.used() > c.capacity) return error.Protocol;
    if (isStream(c)) return p;
    if (p.head % 8 != 0 or p.tail % 8 != 0) return error.Protocol;
    if (who != .sender) {
        // Written only under the receive lock, which the caller holds.
        p.read = @atomicLoad(u32, &c.read, .monotonic) & position_mask;
        if (p.read % 8 != 0 or ((p.read -% p.head) & position_mask) > p.used()) return error.Protocol;
    }
    return p;
}

fn lock(m: *mutex.Mutex) Error!void {
    if (try mutex.lock(m, .never) == .owner_died) {
        // The dead holder committed nothing half-way (see the file comment): nothing to repair.
        mutex.consistent(m) catch |err| {
            unlock(m);
            return err;
        };
    }
}

fn unlock(m: *mutex.Mutex) void {
    mutex.unlock(m) catch unreachable;
}

/// Stores `position` into a word, keeping its closed bit (set meanwhile by `close`, which takes
/// no lock). Caller holds the lock of the word's side.
fn commit(word: *u32, position: u32) void {
    var old = @atomicLoad(u32, word, .acquire);
    while (@cmpxchgWeak(u32, word, old, (old & closed_bit) | (position & position_mask), .seq_cst, .acquire)) |now| old = now;
}

fn commitTail(c: *Chan, tail: u32) void {
    commit(&c.readable.value, tail);
}

fn commitHead(c: *Chan, head: u32) void {
    commit(&c.writable.value, head);
}

fn copyIn(c: *Chan, position: u32, bytes: []const u8) void {
    const at = position & (c.capacity - 1);
    const first = @min(bytes.len, c.capacity - at);
    @memcpy(c.ring()[at..][0..first], bytes[0..first]);
    @memcpy(c.ring()[0 .. bytes.len - first], bytes[first..]);
}

fn copyOut(c: *Chan, position: u32, out: []u8) void {
    const at = position & (c.capacity - 1);
    const first = @min(out.len, c.capacity - at);
    @memcpy(out[0..first], c.ring()[at..][0..first]);
    @memcpy(out[first..], c.ring()[0 .. out.len - first]);
}

fn recordSize(len: u32) u32 {
    return record_header + std.mem.alignForward(u32, len, 8);
}

/// Writes `message` as a record at `tail` (after a padding record when it would cross the end of
/// the ring), uncommitted; returns the tail after it. The caller made sure it fits.
fn putRecord(c: *Chan, tail: u32, message: []const u8) u32 {
    var at = tail;
    const size = recordSize(@intCast(message.len));
    const room = c.capacity - (at & (c.capacity - 1));
    if (size > room) {
        writeHeader(c, at, room - record_header, kind_padding);
        at +%= room;
    }
    writeHeader(c, at, @intCast(message.len), kind_message);
    copyIn(c, at +% record_header, message);
    return at +% size;
}

fn writeHeader(c: *Chan, position: u32, len: u32, kind: u32) void {
    const at = position & (c.capacity - 1);
    const h: *[2]u32 = @ptrCast(@alignCast(c.ring() + at));
    h[0] = len;
    h[1] = kind;
}

// ---------------------------------------------------------------------------------------------------
// Messages.

/// What a try operation found when it could not proceed: the word to wait on and its value now.
pub const Blocked = struct {
    word: *wait.WaitWord,
    expected: u32,
    /// Streams: also wait on the writer's lock word (its value then), to see the writer die.
    writer: ?u32 = null,
};

pub const SendResult = union(enum) { sent, blocked: Blocked };

/// Whether every record fits after the tail, each with the padding it may need.
fn fits(c: *const Chan, p: Positions, messages: []const []const u8) bool {
    if (c.flags & flag_single != 0 and p.used() != 0) return false;
    var tail = p.tail;
    var free = c.capacity - p.used();
    for (messages) |m| {
        const size = recordSize(@intCast(m.len));
        const room = c.capacity - (tail & (c.capacity - 1));
        const need = if (size <= room) size else room + size;
        if (need > free) return false;
        free -= need;
        tail +%= need;
    }
    return true;
}

/// Sends the messages in `messages` (all, in order, or none) if they fit now; error.Pipe when the
/// channel is closed, error.Range for a message above `messageMax`.
pub fn trySendMany(c: *Chan, messages: []const []const u8) Error!SendResult {
    if (isStream(c)) return error.Kind;
    var total: u64 = 0;
    for (messages) |m| {
        if (m.len > messageMax(c.capacity)) return error.Range;
        total += recordSize(@intCast(m.len));
    }
    if (total > c.capacity / 2 and messages.len > 1) return error.Range;
    if (c.flags & flag_single != 0 and messages.len > 1) return error.Range;
    try lock(&c.send_lock);
    defer unlock(&c.send_lock);
    var p = try positions(c, .sender, false);
    if (p.closed) return error.Pipe;
    if (!fits(c, p, messages)) {
        p = try positions(c, .sender, true);
        if (!fits(c, p, messages)) return .{ .blocked = .{ .word = &c.writable, .expected = p.raw_writable } };
    }
    var tail = p.tail;
    for (messages) |m| tail = putRecord(c, tail, m);
    @import("crash.zig").point(.chan_send_copied);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_send_committed);
    return .sent;
}

pub fn trySend(c: *Chan, message: []const u8) Error!SendResult {
    return trySendMany(c, &.{message});
}

pub const RecvResult = union(enum) {
    /// The message's length (copied into the buffer).
    received: u32,
    /// The buffer is too small for the next message, which needs this many bytes; nothing taken.
    too_small: u32,
    /// Closed and drained.
    ended,
    blocked: Blocked,
};

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
fn recordAt(c: *Chan, position: u32, left: u32) Error!Record {
    if (left < record_header) return error.Protocol;
    const at = position & (c.capacity - 1);
    const h: *const [2]u32 = @ptrCast(@alignCast(c.ring() + at));
    const len = h[0];
    const kind = h[1] & kind_mask;
    const size = switch (kind) {
        kind_padding => if (len % 8 == 0 and len <= c.capacity - at - record_header) record_header + len else return error.Protocol,
        kind_message, kind_loaned => if (len <= messageMax(c.capacity)) recordSize(len) else return error.Protocol,
        else => return error.Protocol,
    };
    if (size > left or at + size > c.capacity) return error.Protocol;
    if (kind == kind_padding and at + size != c.capacity) return error.Protocol;
    return .{ .at = position +% record_header, .len = len, .kind = h[1], .after = position +% size };
}

/// The next message's record after the receivers' cursor (skipping padding), or null when none.
/// Caller holds the receive lock.
fn nextRecord(c: *Chan, p: Positions) Error!?Record {
    var position = p.read;
    var left = p.unread();
    while (left > 0) {
        const record = try recordAt(c, position, left);
        // (A loaned mark after the cursor is a receiver's that died before moving the cursor: the
        // message was never handed out.)
        if (record.kind & kind_mask == kind_loaned) setKind(c, record, kind_message);
        if (record.kind & kind_mask != kind_padding) return record;
        left -= record.after -% position;
        position = record.after;
    }
    return null;
}

fn setKind(c: *Chan, record: Record, kind: u32) void {
    const h: *[2]u32 = @ptrCast(@alignCast(c.ring() + ((record.at -% record_header) & (c.capacity - 1))));
    h[1] = kind;
}

/// Moves the receivers' cursor to `after`: the records before it are received. When no view is out
/// the head moves with it (the cursor first: a receiver killed between the two stores leaves received
/// records between the head and the cursor, which the next head move passes).
fn consume(c: *Chan, p: *Positions, after: u32) void {
    const views = p.read != p.head;
    @atomicStore(u32, &c.read, after, .monotonic);
    @import("crash.zig").point(.chan_consume_cursor);
    p.read = after;
    if (views) return;
    commitHead(c, after);
    @import("crash.zig").point(.chan_consume_head);
    p.head = after;
}

/// Moves the head over the received records and padding after it, up to the first view still out
/// (with `dead_too`, passing views whose holder process died). True when it moved. Caller holds the
/// receive lock.
fn advanceHead(c: *Chan, p: *Positions, dead_too: bool) Error!bool {
    var h = p.head;
    while (h != p.read) {
        const record = try recordAt(c, h, (p.read -% h) & position_mask);
        if (record.kind & kind_mask == kind_loaned) {
            if (!dead_too or platform.pidAlive(@intCast(record.kind >> 8))) break;
        }
        h = record.after;
    }
    if (h == p.head) return false;
    commitHead(c, h);
    p.head = h;
    return true;
}

/// Receives the next message into `out` if there is one; with `peek`, leaves it in the channel.
pub fn tryRecv(c: *Chan, out: []u8, peek: bool) Error!RecvResult {
    if (isStream(c)) return error.Kind;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    var p = try positions(c, .receiver, false);
    const record = try nextRecord(c, p) orelse blk: {
        p = try positions(c, .receiver, true);
        break :blk try nextRecord(c, p) orelse {
            if (p.closed) return .ended;
            return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } };
        };
    };
    if (record.len > out.len) return .{ .too_small = record.len };
    copyOut(c, record.at, out[0..record.len]);
    @import("crash.zig").point(.chan_recv_copied);
    if (!peek) consume(c, &p, record.after);
    return .{ .received = record.len };
}

/// Receives as many whole messages as fit in `out` (up to `lengths.len`), each at an 8-aligned
/// offset; their lengths go to `lengths`. Returns how many (0 only when the result is not
/// `received`: then see the other fields as for tryRecv).
pub fn tryRecvMany(c: *Chan, out: []u8, lengths: []u32) Error!struct { count: u32, result: RecvResult } {
    if (isStream(c)) return error.Kind;
    if (lengths.len == 0) return error.Invalid;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    var p = try positions(c, .receiver, false);
    if (try nextRecord(c, p) == null) p = try positions(c, .receiver, true);
    var count: u32 = 0;
    var offset: usize = 0;
    var after = p.read;
    while (count < lengths.len) {
        var rest = p;
        rest.read = after;
        const record = try nextRecord(c, rest) orelse break;
        if (offset + record.len > out.len) {
            if (count == 0) return .{ .count = 0, .result = .{ .too_small = record.len } };
            break;
        }
        copyOut(c, record.at, out[offset..][0..record.len]);
        lengths[count] = record.len;
        count += 1;
        offset = std.mem.alignForward(usize, offset + record.len, 8);
        after = record.after;
    }
    if (count > 0) {
        consume(c, &p, after);
        return .{ .count = count, .result = .{ .received = lengths[0] } };
    }
    if (p.closed) return .{ .count = 0, .result = .ended };
    return .{ .count = 0, .result = .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } } };
}

/// Views (zero-copy receives). A receiver takes messages as a loan: their records stay in the ring,
/// marked with the holder's process, past the receivers' cursor but before the head, so senders do
/// not reuse their space until the loan is given back (`release`). The loan is the range of positions
/// [from, to). A holder that dies never gives it back: `reap` (which senders call when the ring is
/// full and views are out) passes the records of dead holders.
pub const Loan = extern struct { from: u32, to: u32 };

/// Takes up to `lengths.len` messages as a loan: `offsets` get where each message's bytes are,
/// counted from the start of the channel (its header), `lengths` their lengths. Returns how many, as
/// tryRecvMany does. `loan` is in and out: a loan still out on entry (from != to) is given back first,
/// under the same lock; on return it is the new loan (empty when nothing was taken). `moved` tells
/// whether the head moved (senders may proceed).
pub fn tryRecvLoan(c: *Chan, offsets: []u32, lengths: []u32, loan: *Loan, moved: *bool) Error!struct { count: u32, result: RecvResult } {
    if (c.flags & (flag_stream | flag_single) != 0) return error.Kind;
    if (lengths.len == 0 or offsets.len < lengths.len) return error.Invalid;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    var p = try positions(c, .receiver, false);
    moved.* = false;
    if (loan.from != loan.to) {
        try giveBack(c, p, loan.*);
        loan.* = .{ .from = p.read, .to = p.read };
        moved.* = try advanceHead(c, &p, false);
    }
    if (try nextRecord(c, p) == null) p = try positions(c, .receiver, true);
    const mark = kind_loaned | (rm.currentPid() << 8);
    // The loan starts at its first message's record (padding before it is the head's to pass).
    var from = p.read;
    var count: u32 = 0;
    while (count < lengths.len) {
        const record = try nextRecord(c, p) orelse break;
        if (count == 0) from = record.at -% record_header;
        setKind(c, record, mark);
        offsets[count] = header_size + (record.at & (c.capacity - 1));
        lengths[count] = record.len;
        count += 1;
        p.read = record.after;
    }
    if (count > 0) {
        // The marks first, then the cursor: a receiver killed between them leaves marks after the
        // cursor, which nextRecord reads as plain messages.
        @import("crash.zig").point(.chan_loan_marked);
        @atomicStore(u32, &c.read, p.read, .monotonic);
        @import("crash.zig").point(.chan_loan_taken);
        loan.* = .{ .from = from, .to = p.read };
        return .{ .count = count, .result = .{ .received = lengths[0] } };
    }
    if (p.closed) return .{ .count = 0, .result = .ended };
    return .{ .count = 0, .result = .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } } };
}

/// Unmarks the records of `loan`, which must be a loan still out. Caller holds the receive lock.
fn giveBack(c: *Chan, p: Positions, loan: Loan) Error!void {
    if (loan.from % 8 != 0 or loan.to % 8 != 0) return error.Invalid;
    const out = (p.read -% p.head) & position_mask;
    const start = (loan.from -% p.head) & position_mask;
    const span = (loan.to -% loan.from) & position_mask;
    if (span == 0 or start > out or span > out - start) return error.Invalid;
    // Check the whole range before changing any of it.
    var position = loan.from;
    var loaned = false;
    while (position != loan.to) {
        const record = try recordAt(c, position, (loan.to -% position) & position_mask);
        switch (record.kind & kind_mask) {
            kind_loaned => loaned = true,
            kind_message => return error.Invalid, // given back already
            else => {},
        }
        position = record.after;
    }
    if (!loaned) return error.Invalid;
    position = loan.from;
    while (position != loan.to) {
        const record = try recordAt(c, position, (loan.to -% position) & position_mask);
        if (record.kind & kind_mask == kind_loaned) setKind(c, record, kind_message);
        position = record.after;
    }
    @import("crash.zig").point(.chan_release_unmarked);
}

/// Gives back a loan (once): its messages count as received, and their space returns to senders
/// once no older view holds the head back. error.Invalid for a range that is not a loan still out.
pub fn release(c: *Chan, loan: Loan) Error!void {
    if (c.flags & (flag_stream | flag_single) != 0) return error.Kind;
    if (!try settle(c, loan, false)) return;
    @import("crash.zig").point(.chan_release_committed);
    wakeAfter(c, &c.writable);
}

/// Under the receive lock: gives `loan` back (when there is one), then moves the head as far as it
/// goes (with `dead_too`, past the views of dead holders). True when the head moved.
fn settle(c: *Chan, loan: ?Loan, dead_too: bool) Error!bool {
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    var p = try positions(c, .receiver, true);
    if (loan) |l| try giveBack(c, p, l);
    return advanceHead(c, &p, dead_too);
}

/// Whether views of a message channel hold ring space (a hint: read without the receive lock).
pub fn viewsOut(c: *Chan) bool {
    if (c.flags & (flag_stream | flag_single) != 0) return false;
    const head = @atomicLoad(u32, &c.writable.value, .acquire) & position_mask;
    return @atomicLoad(u32, &c.read, .monotonic) & position_mask != head;
}

/// Gives back the space of views whose holder process has died. True when the head moved.
pub fn reap(c: *Chan) Error!bool {
    if (!viewsOut(c)) return false;
    const moved = try settle(c, null, true);
    if (moved) wakeAfter(c, &c.writable);
    return moved;
}

/// How long a sender waits at most, while views are out, before it looks for dead holders again.
const reap_interval_ns: i64 = 20 * std.time.ns_per_ms;

/// Takes the message in a single-message channel and puts `message` in its place, as one step;
/// blocked while empty.
pub fn trySwap(c: *Chan, message: []const u8, out: []u8) Error!RecvResult {
    if (c.flags & flag_single == 0) return error.Kind;
    if (message.len > messageMax(c.capacity)) return error.Range;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    try lock(&c.send_lock);
    defer unlock(&c.send_lock);
    var p = try positions(c, .both, true);
    const record = try nextRecord(c, p) orelse {
        if (p.closed) return error.Pipe;
        return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } };
    };
    if (record.len > out.len) return .{ .too_small = record.len };
    if (p.closed) return error.Pipe;
    copyOut(c, record.at, out[0..record.len]);
    // The old record leaves and the new one goes in: head and tail move in one commit each,
    // head first (a kill between them leaves the channel empty, never holding a half record).
    consume(c, &p, record.after);
    @import("crash.zig").point(.chan_swap_consumed);
    const tail = putRecord(c, p.tail, message);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_swap_committed);
    // Receivers' seen tail must not fall behind the head this moved (both locks are held).
    @atomicStore(u32, &c.tail_seen, tail & position_mask, .monotonic);
    return .{ .received = record.len };
}

/// Single-message channels (a shared value): drops the message there is, if any, and puts
/// `message` in its place. Never waits. A process killed between the two commits leaves the
/// channel empty (the old value gone, the new one not there).
pub fn replace(c: *Chan, message: []const u8) Error!void {
    if (c.flags & flag_single == 0) return error.Kind;
    if (message.len > messageMax(c.capacity)) return error.Range;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    try lock(&c.send_lock);
    defer unlock(&c.send_lock);
    var p = try positions(c, .both, true);
    if (p.closed) return error.Pipe;
    if (try nextRecord(c, p)) |record| consume(c, &p, record.after);
    @import("crash.zig").point(.chan_replace_consumed);
    if (p.used() != 0) return error.Protocol; // a single-message channel held more than one
    const tail = putRecord(c, p.tail, message);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_replace_committed);
    @atomicStore(u32, &c.tail_seen, tail & position_mask, .monotonic);
    wakeAfter(c, &c.readable);
    wakeAfter(c, &c.writable);
}

// ---------------------------------------------------------------------------------------------------
// Streams.

pub const WriteResult = union(enum) { wrote: u32, blocked: Blocked };

/// Writes as much of `bytes` as fits now (at least one byte, or blocked).
pub fn tryWrite(c: *Chan, bytes: []const u8) Error!WriteResult {
    if (!isStream(c)) return error.Kind;
    if (bytes.len == 0) return .{ .wrote = 0 };
    try lock(&c.send_lock);
    defer unlock(&c.send_lock);
    var p = try positions(c, .sender, false);
    if (p.closed) return error.Pipe;
    if (p.used() == c.capacity) p = try positions(c, .sender, true);
    const free = c.capacity - p.used();
    if (free == 0) return .{ .blocked = .{ .word = &c.writable, .expected = p.raw_writable } };
    const n: u32 = @intCast(@min(bytes.len, free));
    copyIn(c, p.tail, bytes[0..n]);
    commitTail(c, p.tail +% n);
    return .{ .wrote = n };
}

pub const ReadResult = union(enum) { read: u32, ended, blocked: Blocked };

/// Streams: makes the caller's thread the writer whose death ends the pipe, if no live one is.
/// error.Busy when another writer holds it (that one's death is what readers watch).
pub fn attachWriter(c: *Chan) Error!void {
    if (!isStream(c)) return error.Kind;
    if (try mutex.tryLock(&c.writer) == .owner_died) try mutex.consistent(&c.writer);
}

/// Streams: the writer stops being watched (ending the pipe is separate: `close`).
pub fn detachWriter(c: *Chan) Error!void {
    try mutex.unlock(&c.writer);
}

fn writerDied(c: *Chan) bool {
    const w = @atomicLoad(u32, c.writer.word(), .acquire);
    return w & rm.owner_died_bit != 0 and w & rm.tid_mask == 0;
}

/// The writer lock's word to wait on beside the data, when a writer holds it: its waiters bit is
/// set first, so that the kernel wakes a waiter when the writer dies (and the writer's unlock makes
/// a wake call, which is harmless). Null when no writer holds it.
fn watchWriter(c: *Chan) ?u32 {
    const word = c.writer.word();
    var w = @atomicLoad(u32, word, .acquire);
    while (w & rm.tid_mask != 0) {
        if (w & rm.waiters_bit != 0) return w;
        w = @cmpxchgWeak(u32, word, w, w | rm.waiters_bit, .seq_cst, .acquire) orelse return w | rm.waiters_bit;
    }
    return null;
}

/// Reads what is there now, up to `out.len` bytes (at least one, or ended/blocked).
pub fn tryRead(c: *Chan, out: []u8) Error!ReadResult {
    if (!isStream(c)) return error.Kind;
    if (out.len == 0) return error.Invalid;
    try lock(&c.recv_lock);
    defer unlock(&c.recv_lock);
    var p = try positions(c, .receiver, false);
    if (p.used() == 0) p = try positions(c, .receiver, true);
    const used = p.used();
    if (used == 0) {
        if (p.closed) return .ended;
        const w = watchWriter(c);
        if (w == null and writerDied(c)) {
            try end(c);
            return .ended;
        }
        return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable, .writer = w } };
    }
    const n: u32 = @intCast(@min(out.len, used));
    copyOut(c, p.head, out[0..n]);
    commitHead(c, p.head +% n);
    return .{ .read = n };
}

// ---------------------------------------------------------------------------------------------------
// Closing, waiting, state.

/// Closes the channel: sends fail with error.Pipe from now on; receivers drain what is left and
/// then see the end. Closing twice is harmless.
pub fn close(c: *Chan) Error!void {
    return end(c);
}

fn end(c: *Chan) Error!void {
    try lock(&c.send_lock);
    _ = @atomicRmw(u32, &c.readable.value, .Or, closed_bit, .seq_cst);
    @import("crash.zig").point(.chan_close_readable);
    _ = @atomicRmw(u32, &c.writable.value, .Or, closed_bit, .seq_cst);
    @import("crash.zig").point(.chan_close_committed);
    unlock(&c.send_lock);
    c.readable.wake(std.math.maxInt(u32));
    c.writable.wake(std.math.maxInt(u32));
}

/// Wakes whoever waits for what an operation just committed on `word`.
pub fn wakeAfter(c: *Chan, word: *wait.WaitWord) void {
    // Single-message channels have readers that only peek: every one of them may proceed.
    const everyone = c.flags & flag_single != 0 or word == &c.writable;
    word.wake(if (everyone) std.math.maxInt(u32) else 1);
}

/// Bytes committed and not yet consumed.
pub fn pending(c: *Chan) Error!u32 {
    const r = @atomicLoad(u32, &c.readable.value, .acquire);
    const w = @atomicLoad(u32, &c.writable.value, .acquire);
    const n = ((r & position_mask) -% (w & position_mask)) & position_mask;
    if (n > c.capacity) return error.Protocol;
    return n;
}

/// Blocking forms: try, and wait on the word the try names until `deadline`.
pub fn send(c: *Chan, message: []const u8, deadline: wait.Deadline) Error!void {
    return sendMany(c, &.{message}, deadline);
}

pub fn sendMany(c: *Chan, messages: []const []const u8, deadline: wait.Deadline) Error!void {
    while (true) {
        switch (try trySendMany(c, messages)) {
            .sent => return wakeAfter(c, &c.readable),
            .blocked => |b| {
                if (!viewsOut(c)) {
                    if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                    continue;
                }
                // Views hold the space: a holder that dies gives nothing back and wakes no one.
                if (try reap(c)) continue;
                const slice = deadline.earliest(wait.Deadline.after(reap_interval_ns));
                if (try b.word.wait(b.expected, slice) == .timed_out and deadline.passed(platform.monotonicNs())) return error.TimedOut;
            },
        }
    }
}

pub fn recv(c: *Chan, out: []u8, peek: bool, deadline: wait.Deadline) Error!RecvResult {
    while (true) {
        const r = try tryRecv(c, out, peek);
        switch (r) {
            .received => {
                if (!peek) wakeAfter(c, &c.writable);
                return r;
            },
            .too_small, .ended => return r,
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn swap(c: *Chan, message: []const u8, out: []u8, deadline: wait.Deadline) Error!RecvResult {
    while (true) {
        const r = try trySwap(c, message, out);
        switch (r) {
            .received => {
                wakeAfter(c, &c.readable);
                return r;
            },
            .too_small, .ended => return r,
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn recvMany(c: *Chan, out: []u8, lengths: []u32, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    while (true) {
        const r = try tryRecvMany(c, out, lengths);
        switch (r.result) {
            .received => {
                wakeAfter(c, &c.writable);
                return .{ .count = r.count, .result = r.result };
            },
            .too_small, .ended => return .{ .count = r.count, .result = r.result },
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn recvLoan(c: *Chan, offsets: []u32, lengths: []u32, loan: *Loan, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    while (true) {
        var moved = false;
        const r = try tryRecvLoan(c, offsets, lengths, loan, &moved);
        if (moved) wakeAfter(c, &c.writable);
        switch (r.result) {
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
            else => return .{ .count = r.count, .result = r.result },
        }
    }
}

pub fn write(c: *Chan, bytes: []const u8, deadline: wait.Deadline) Error!void {
    var done: usize = 0;
    while (done < bytes.len) {
        switch (try tryWrite(c, bytes[done..])) {
            .wrote => |n| {
                done += n;
                wakeAfter(c, &c.readable);
            },
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn read(c: *Chan, out: []u8, deadline: wait.Deadline) Error!ReadResult {
    while (true) {
        const r = try tryRead(c, out);
        switch (r) {
            .read => {
                wakeAfter(c, &c.writable);
                return r;
            },
            .ended => return r,
            .blocked => |b| {
                const outcome = if (b.writer) |w| try waitEither(c, b.expected, w, deadline) else try b.word.wait(b.expected, deadline);
                if (outcome == .timed_out) return error.TimedOut;
            },
        }
    }
}

/// Waits for data (the readable word to change) or for the writer's lock word to change (its
/// death): spins on the data, then parks on both at once.
fn waitEither(c: *Chan, expected: u32, writer: u32, deadline: wait.Deadline) Error!wait.Outcome {
    const Watch = struct {
        c: *Chan,
        expected: u32,
        writer: u32,
        fn changed(x: @This()) bool {
            return x.c.readable.load() != x.expected or @atomicLoad(u32, x.c.writer.word(), .acquire) != x.writer;
        }
    };
    const watch: Watch = .{ .c = c, .expected = expected, .writer = writer };
    if (wait.spinUntil(watch, Watch.changed, wait.spinBudget(), deadline)) return .woken;
    const seen = c.readable.register();
    defer c.readable.unregister();
    if (seen != expected) return .woken;
    const words = [_]platform.WaitWord{
        .{ .word = &c.readable.value, .expected = expected, .private = false },
        .{ .word = c.writer.word(), .expected = writer, .private = false },
    };
    return switch (try platform.futexWaitv(&words, deadline.at)) {
        .woken, .interrupted => .woken,
        .timed_out => .timed_out,
    };
}

// ---------------------------------------------------------------------------------------------------
// Steps, for waits that happen elsewhere (the bindings' async forms): each step tries once and, when
// it must wait, counts the caller as parked on the word it names (until the next step or unwait).

pub const Side = enum(u32) { readable = 0, writable = 1 };

pub fn sideWord(c: *Chan, side: Side) *wait.WaitWord {
    return if (side == .readable) &c.readable else &c.writable;
}

pub fn sendStep(c: *Chan, messages: []const []const u8, registered: bool, expected: *u32) Error!bool {
    if (registered) c.writable.unregister();
    var r = try trySendMany(c, messages);
    if (r == .blocked and try reap(c)) r = try trySendMany(c, messages);
    switch (r) {
        .sent => {
            wakeAfter(c, &c.readable);
            return true;
        },
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            return false;
        },
    }
}

pub fn recvStep(c: *Chan, out: []u8, peek: bool, registered: bool, expected: *u32) Error!RecvResult {
    if (registered) c.readable.unregister();
    const r = try tryRecv(c, out, peek);
    switch (r) {
        .received => if (!peek) wakeAfter(c, &c.writable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        else => {},
    }
    return r;
}

pub fn recvManyStep(c: *Chan, out: []u8, lengths: []u32, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    if (registered) c.readable.unregister();
    const r = try tryRecvMany(c, out, lengths);
    switch (r.result) {
        .received => wakeAfter(c, &c.writable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        else => {},
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn recvLoanStep(c: *Chan, offsets: []u32, lengths: []u32, loan: *Loan, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    if (registered) c.readable.unregister();
    var moved = false;
    const r = try tryRecvLoan(c, offsets, lengths, loan, &moved);
    if (moved) wakeAfter(c, &c.writable);
    if (r.result == .blocked) {
        _ = r.result.blocked.word.register();
        expected.* = r.result.blocked.expected;
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn writeStep(c: *Chan, bytes: []const u8, registered: bool, expected: *u32) Error!WriteResult {
    if (registered) c.writable.unregister();
    const r = try tryWrite(c, bytes);
    switch (r) {
        .wrote => wakeAfter(c, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
    }
    return r;
}

/// `writer_expected`: when blocked with a writer to watch, the value of its lock word to wait on as
/// well (see `ipc_chan_writer_word`); 0 when there is none.
pub fn readStep(c: *Chan, out: []u8, registered: bool, expected: *u32, writer_expected: *u32) Error!ReadResult {
    if (registered) c.readable.unregister();
    writer_expected.* = 0;
    const r = try tryRead(c, out);
    switch (r) {
        .read => wakeAfter(c, &c.writable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            writer_expected.* = b.writer orelse 0;
        },
        .ended => {},
    }
    return r;
}

pub fn swapStep(c: *Chan, message: []const u8, out: []u8, registered: bool, expected: *u32) Error!RecvResult {
    if (registered) c.readable.unregister();
    const r = try trySwap(c, message, out);
    switch (r) {
        .received => wakeAfter(c, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        else => {},
    }
    return r;
}

pub fn unwait(c: *Chan, side: Side) void {
    sideWord(c, side).unregister();
}

// ---------------------------------------------------------------------------------------------------
// Tests.

const testing = std.testing;

fn testChan(memory: []align(64) u8, capacity: u32, flags: u32) !*Chan {
    return init(memory[0..try sizeFor(capacity)], capacity, flags);
}

test "messages go through in order, wrap around the ring, and the end comes after the last" {
    var memory: [header_size + 256]u8 align(64) = undefined;
    const c = try testChan(&memory, 256, 0);
    var buf: [200]u8 = undefined;
    var sent: u32 = 0;
    var got: u32 = 0;
    for (0..500) |round| {
        const len: usize = round % 100 + 1;
        var msg: [120]u8 = undefined;
        for (msg[0..len], 0..) |*b, i| b.* = @truncate(sent + i);
        while (try trySend(c, msg[0..len]) != .sent) {
            const r = try tryRecv(c, &buf, false);
            const n = r.received;
            for (buf[0..n], 0..) |b, i| try testing.expectEqual(@as(u8, @truncate(got + i)), b);
            got += 1;
        }
        sent += 1;
    }
    try close(c);
    try testing.expectError(error.Pipe, trySend(c, "late"));
    while (true) {
        const r = try tryRecv(c, &buf, false);
        if (r == .ended) break;
        for (buf[0..r.received], 0..) |b, i| try testing.expectEqual(@as(u8, @truncate(got + i)), b);
        got += 1;
    }
    try testing.expectEqual(sent, got);
}

test "limits: message size, small buffers, bad flags, corrupt positions" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, 0);
    try testing.expectEqual(@as(u32, 56), messageMax(128));
    var big: [57]u8 = undefined;
    try testing.expectError(error.Range, trySend(c, &big));
    try testing.expect(try trySend(c, big[0..56]) == .sent);
    var small: [10]u8 = undefined;
    try testing.expectEqual(RecvResult{ .too_small = 56 }, try tryRecv(c, &small, false));
    try testing.expectError(error.Range, sizeFor(100));
    try testing.expectError(error.Invalid, init(&memory, 128, flag_stream | flag_single));
    c.writable.value = 4000; // a head past the tail: more used than the capacity
    try testing.expectError(error.Protocol, tryRecv(c, &small, false));
    try testing.expectError(error.Kind, tryWrite(c, "x"));
}

test "single-message channels: put blocks while full, peek and swap" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, flag_single);
    var buf: [56]u8 = undefined;
    try testing.expect(try trySend(c, "one") == .sent);
    try testing.expect(try trySend(c, "two") == .blocked);
    try testing.expectEqual(RecvResult{ .received = 3 }, try tryRecv(c, &buf, true));
    try testing.expectEqual(RecvResult{ .received = 3 }, try trySwap(c, "three", &buf));
    try testing.expectEqualStrings("one", buf[0..3]);
    try testing.expectEqual(RecvResult{ .received = 5 }, try tryRecv(c, &buf, false));
    try testing.expectEqualStrings("three", buf[0..5]);
    try testing.expect(try tryRecv(c, &buf, false) == .blocked);
}

test "single-message channels: replace drops the old value and never waits" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, flag_single);
    var buf: [56]u8 = undefined;
    try replace(c, "first");
    try replace(c, "second value");
    try testing.expectEqual(RecvResult{ .received = 12 }, try tryRecv(c, &buf, true));
    try testing.expectEqualStrings("second value", buf[0..12]);
    for (0..100) |i| try replace(c, buf[0 .. i % 50 + 1]);
    try testing.expectEqual(RecvResult{ .received = 50 }, try tryRecv(c, &buf, false));
    try testing.expect(try tryRecv(c, &buf, false) == .blocked);
    var big: [57]u8 = undefined;
    try testing.expectError(error.Range, replace(c, &big));
}

test "streams: partial writes and reads across the wrap, then the end" {
    var memory: [header_size + 64]u8 align(64) = undefined;
    const c = try testChan(&memory, 64, flag_stream);
    var data: [1000]u8 = undefined;
    for (&data, 0..) |*b, i| b.* = @truncate(i * 7);
    var out: [1000]u8 = undefined;
    var written: usize = 0;
    var read_n: usize = 0;
    while (read_n < data.len) {
        if (written < data.len) switch (try tryWrite(c, data[written..])) {
            .wrote => |n| written += n,
            .blocked => {},
        };
        switch (try tryRead(c, out[read_n..@min(read_n + 37, out.len)])) {
            .read => |n| read_n += n,
            else => {},
        }
    }
    try testing.expectEqualSlices(u8, &data, &out);
    try close(c);
    try testing.expect(try tryRead(c, &out) == .ended);
}

/// Two senders' messages for the thread tests: sender `id`'s message i is id, i (u32), then padding,
/// 5 + i % 11 bytes in all.
const ThreadTest = struct {
    const per_sender = 20_000;

    counts: [2]std.atomic.Value(u32) = .{ .init(0), .init(0) },
    bad: std.atomic.Value(u32) = .init(0),

    fn produce(ch: *Chan, id: u8) void {
        var msg: [16]u8 = undefined;
        for (0..per_sender) |i| {
            msg[0] = id;
            std.mem.writeInt(u32, msg[1..5], @intCast(i), .little);
            send(ch, msg[0 .. 5 + i % 11], .never) catch unreachable;
        }
    }

    /// Counts one received message; a malformed one, or one out of order for its sender, is bad.
    fn check(t: *ThreadTest, buf: []const u8, last: *[2]i64) void {
        const id = buf[0];
        const i: i64 = std.mem.readInt(u32, buf[1..5], .little);
        if (id > 1 or i <= last[id] or buf.len != 5 + @as(u32, @intCast(i)) % 11) _ = t.bad.fetchAdd(1, .seq_cst);
        last[id] = i;
        _ = t.counts[id].fetchAdd(1, .seq_cst);
    }

    fn copies(ch: *Chan, t: *ThreadTest) void {
        var buf: [64]u8 = undefined;
        var last = [2]i64{ -1, -1 };
        while (true) {
            const r = recv(ch, &buf, false, .never) catch unreachable;
            if (r == .ended) return;
            t.check(buf[0..r.received], &last);
        }
    }

    fn views(ch: *Chan, t: *ThreadTest) void {
        var offsets: [7]u32 = undefined;
        var lengths: [7]u32 = undefined;
        var l: Loan = .{ .from = 0, .to = 0 };
        var last = [2]i64{ -1, -1 };
        while (true) {
            const r = recvLoan(ch, &offsets, &lengths, &l, .never) catch unreachable;
            if (r.result == .ended) return;
            for (0..r.count) |k| t.check(viewOf(ch, offsets[k], lengths[k]), &last);
        }
    }

    /// Runs the two senders and `receivers`, ends the channel, and expects every message once.
    fn run(t: *ThreadTest, ch: *Chan, comptime receivers: []const *const fn (*Chan, *ThreadTest) void) !void {
        var threads: [receivers.len]std.Thread = undefined;
        inline for (receivers, 0..) |receiver, k| threads[k] = try std.Thread.spawn(.{}, receiver.*, .{ ch, t });
        const s1 = try std.Thread.spawn(.{}, produce, .{ ch, 0 });
        const s2 = try std.Thread.spawn(.{}, produce, .{ ch, 1 });
        s1.join();
        s2.join();
        try close(ch);
        for (threads) |th| th.join();
        try testing.expectEqual(@as(u32, 0), t.bad.load(.seq_cst));
        try testing.expectEqual(@as(u32, per_sender), t.counts[0].load(.seq_cst));
        try testing.expectEqual(@as(u32, per_sender), t.counts[1].load(.seq_cst));
    }
};

test "threads: two senders, two receivers, every message once and in order per sender" {
    const capacity = 1024;
    var memory: [header_size + capacity]u8 align(64) = undefined;
    var t: ThreadTest = .{};
    try t.run(try testChan(&memory, capacity, 0), &.{ &ThreadTest.copies, &ThreadTest.copies });
}

test "a holder of the lock that died leaves the last committed state" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, 0);
    try testing.expect(try trySend(c, "kept") == .sent);
    const Dier = struct {
        fn run(ch: *Chan) void {
            _ = mutex.lock(&ch.send_lock, .never) catch unreachable;
            // Half a send: bytes written past the tail, never committed.
            @memset(ch.ring()[16..40], 0xee);
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{c});
    th.join();
    var buf: [56]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 4 }, try tryRecv(c, &buf, false));
    try testing.expectEqualStrings("kept", buf[0..4]);
    try testing.expect(try tryRecv(c, &buf, false) == .blocked);
}

fn viewOf(c: *Chan, offset: u32, len: u32) []const u8 {
    return (@as([*]const u8, @ptrCast(c)) + offset)[0..len];
}

test "views: a loan keeps its space from senders until given back, in any order" {
    var memory: [header_size + 256]u8 align(64) = undefined;
    const c = try testChan(&memory, 256, 0);
    var offsets: [8]u32 = undefined;
    var lengths: [8]u32 = undefined;
    var moved = false;
    // 256 bytes hold 8 records of 24 (16-byte messages) and a bit.
    for (0..8) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
    var a: Loan = .{ .from = 0, .to = 0 };
    var r = try tryRecvLoan(c, &offsets, lengths[0..3], &a, &moved);
    try testing.expectEqual(@as(u32, 3), r.count);
    for (0..3) |i| try testing.expectEqualSlices(u8, &[_]u8{@intCast(i)} ** 16, viewOf(c, offsets[i], lengths[i]));
    var b: Loan = .{ .from = 0, .to = 0 };
    r = try tryRecvLoan(c, &offsets, lengths[0..2], &b, &moved);
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqualSlices(u8, &[_]u8{3} ** 16, viewOf(c, offsets[0], 16));
    // A copy receive while views are out takes the next message but frees nothing.
    var buf: [64]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false));
    try testing.expectEqual(@as(u8, 5), buf[0]);
    try testing.expect(viewsOut(c));
    try testing.expect(try trySend(c, &[_]u8{9} ** 64) == .blocked);
    // The newer loan back first: the older still holds the head.
    try release(c, b);
    try testing.expect(try trySend(c, &[_]u8{9} ** 64) == .blocked);
    try testing.expectError(error.Invalid, release(c, b));
    // The views of the older loan are intact all along.
    try testing.expectEqualSlices(u8, &[_]u8{2} ** 16, viewOf(c, header_size + 2 * 24 + 8, 16));
    try release(c, a);
    try testing.expect(!viewsOut(c));
    try testing.expect(try trySend(c, &[_]u8{9} ** 64) == .sent);
    try testing.expectError(error.Invalid, release(c, a));
    try testing.expectError(error.Invalid, release(c, .{ .from = 4, .to = 8 }));
    // What is left comes in order: 6, 7, then the 64-byte one.
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false));
    try testing.expectEqual(@as(u8, 6), buf[0]);
    var l: Loan = .{ .from = 0, .to = 0 };
    r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved);
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqual(@as(u32, 64), lengths[1]);
    // The next take gives the loan back first; then there is nothing.
    r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved);
    try testing.expect(moved);
    try testing.expect(r.result == .blocked);
    try testing.expectEqual(l.from, l.to);
    try testing.expect(!viewsOut(c));
    try testing.expectEqual(@as(u32, 0), try pending(c));
    try close(c);
    try testing.expect((try tryRecvLoan(c, &offsets, &lengths, &l, &moved)).result == .ended);
}

test "views: only plain message channels; across the wrap; a crashed taker's marks are messages" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    var offsets: [4]u32 = undefined;
    var lengths: [4]u32 = undefined;
    var moved = false;
    var l: Loan = .{ .from = 0, .to = 0 };
    const s = try testChan(&memory, 128, flag_single);
    try testing.expectError(error.Kind, tryRecvLoan(s, &offsets, &lengths, &l, &moved));
    const c = try testChan(&memory, 128, 0);
    var msg: [56]u8 = undefined;
    for (0..200) |round| {
        const len = round % 56 + 1;
        @memset(msg[0..len], @intCast(round));
        if (l.from != l.to) {
            try release(c, l);
            l = .{ .from = 0, .to = 0 };
        }
        try testing.expect(try trySend(c, msg[0..len]) == .sent);
        const r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved);
        try testing.expectEqual(@as(u32, 1), r.count);
        try testing.expectEqualSlices(u8, msg[0..len], viewOf(c, offsets[0], lengths[0]));
        try testing.expect(offsets[0] + lengths[0] <= header_size + 128);
    }
    // Marks after the cursor (a taker killed before it moved the cursor) read as messages.
    var buf: [64]u8 = undefined;
    try testing.expect(try tryRecv(c, &buf, false) == .blocked);
    try release(c, l);
    l = .{ .from = 0, .to = 0 };
    try testing.expect(try trySend(c, "abc") == .sent);
    const p = try positions(c, .receiver, true);
    const record = (try nextRecord(c, p)).?;
    setKind(c, record, kind_loaned | (12345 << 8));
    try testing.expectEqual(RecvResult{ .received = 3 }, try tryRecv(c, &buf, false));
    try testing.expect(!viewsOut(c));
}

test "views: a dead holder's loan is reaped by a sender that finds the ring full" {
    const size = header_size + 256;
    const memory = try std.posix.mmap(null, size, std.posix.PROT.READ | std.posix.PROT.WRITE, .{ .TYPE = .SHARED, .ANONYMOUS = true }, -1, 0);
    defer std.posix.munmap(memory);
    const c = try init(memory, 256, 0);
    for (0..8) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
    const pid = try std.posix.fork();
    if (pid == 0) {
        var offsets: [4]u32 = undefined;
        var lengths: [4]u32 = undefined;
        var moved = false;
        var l: Loan = .{ .from = 0, .to = 0 };
        const r = tryRecvLoan(c, &offsets, &lengths, &l, &moved) catch std.posix.exit(2);
        // The process ends holding the loan.
        std.posix.exit(if (r.count == 4) 0 else 1);
    }
    const status = std.posix.waitpid(pid, 0).status;
    try testing.expectEqual(@as(u32, 0), status);
    try testing.expect(viewsOut(c));
    var buf: [64]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false));
    try testing.expectEqual(@as(u8, 4), buf[0]);
    // The ring is full behind the dead loan; a blocking send reaps it (it never gets a wake-up).
    try send(c, &[_]u8{9} ** 100, wait.Deadline.after(5 * std.time.ns_per_s));
    try testing.expect(!viewsOut(c));
}

test "views: threads taking views and copies from two senders, every message once" {
    const capacity = 1024;
    var memory: [header_size + capacity]u8 align(64) = undefined;
    var t: ThreadTest = .{};
    try t.run(try testChan(&memory, capacity, 0), &.{ &ThreadTest.views, &ThreadTest.copies, &ThreadTest.views });
}
