//! The channel: a bounded ring of bytes in shared memory, with a 384-byte header, that many
//! processes send to and receive from at once. It carries whole messages (Chan, MVar, duplex
//! pairs) or a byte stream (Pipe).
//!
//! Positions are 31-bit counters of bytes (wrapping; the capacity, a power of two up to 2^30,
//! divides 2^31): `tail` counts bytes ever written, `head` bytes ever consumed. Each lives in the
//! value of a wait word — `readable` holds the tail, `writable` the head — with bit 31 set once the
//! channel is closed. So one atomic store commits an operation and changes the word its waiters
//! park on: a sender's store of the tail makes its message visible; a receiver's store of the head
//! frees the space; closing sets bit 31 of both. Waking the parked waiters is a second step (a
//! futex wake after the store): a process killed between the two leaves its commit whole but its
//! waiters unwoken, so a waiter parked on a word whose committer died before waking re-checks the
//! word within `wait.recheck_ns` (100 ms) on its own (see wait.zig).
//!
//! Senders take the send lock and receivers the receive lock (robust mutexes; the two-lock queue):
//! a sender reads the head, writes beyond the tail and commits the tail; a receiver reads the tail,
//! reads before it and commits the head, so a sender and a receiver never wait for each other. A
//! process killed holding a lock (mid-copy) committed nothing: what it wrote lies beyond the tail,
//! what it was reading stays before the head. The next holder is told OWNER_DIED. For the send lock
//! marking the mutex consistent is the whole repair. A receive on a message channel makes two
//! stores (`consume`: the receivers' cursor, then the head): a receiver killed between them leaves
//! the message received (nothing redelivers it) but its space not freed, which on a single-message
//! channel would block every send for good. So the next holder of the receive lock moves the head
//! over received records up to the first view still out (`lockReceivers`), as a give-back does,
//! before marking it consistent. Commits are CAS loops that keep bit 31, which `close` sets
//! without a lock. Waiting happens outside the locks, on the words, for the exact value the
//! decision to wait was made on.
//!
//! Wake-ups: a send wakes one parked receiver per message it commits (every one on a
//! single-message channel, whose readers may only peek); a receive that frees space wakes every
//! parked sender. A receiver woken by a wake-up that leaves the message in the channel — a peek, a
//! buffer too small, a stream read of part of the bytes — passes the wake-up on to one more parked
//! receiver (`passOn`), so a pending message never sleeps beside a parked receiver. So peeking is
//! safe on any message channel; on a plain one what it shows may be taken by another receiver
//! before this one receives.
//!
//! Message channels frame each message as a record: an 8-byte header (length, kind) and the bytes,
//! padded to 8. A record that would cross the end of the ring is preceded by a padding record that
//! fills the rest, so a message is always contiguous (a receive can copy it in one piece). Messages
//! are limited to half the capacity minus 8 bytes: then a message always fits in an empty ring,
//! padding included. Stream channels (pipes) hold raw bytes, copied in up to two pieces.
//!
//! What another process wrote is input: positions that disagree (more bytes used than the capacity,
//! a record longer than what is used) are refused with error.Protocol, never followed. The capacity
//! itself is input too: every call indexes the ring with the capacity this process checked against
//! its own mapping when it attached the channel (`Handle`, "Handles" below), read from private
//! memory once per call, and refuses a header that says otherwise. The seen positions (`head_seen`,
//! `tail_seen`) are caches, never ahead of the real ones: one that looks inconsistent is looked up
//! again before anything is called damage.

const std = @import("std");
const abi = @import("abi.zig");
const mutex = @import("mutex.zig");
const wait = @import("wait.zig");
const platform = @import("platform/root.zig");
const rm = platform.robust_mutex;
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

const closed_bit: u32 = 1 << 31;
const position_mask: u32 = closed_bit - 1;
const record_header: u32 = 8;
const kind_message: u32 = 0;
const kind_padding: u32 = 1;
/// A message a receiver holds as a view (a loan): bits 8..31 hold the holder's slot, an index into the
/// holder table (`Holder`). Such records lie between the head and the receivers' cursor, keeping the
/// head (and senders) behind them.
const kind_loaned: u32 = 2;
const kind_mask: u32 = 0xff;

/// A process that holds (or held) views, as every process judges it: its pid, its start time (a
/// reused pid has another) and its pid namespace (the same pid names another process in another
/// namespace). The channel keeps `holders_max` of them, written only under the receive lock; see
/// "Views" below for the invariants.
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

    fn holder(c: *Chan, slot: u32) *Holder {
        std.debug.assert(slot < holders_max);
        return if (slot < c.holders.len) &c.holders[slot] else &c.holders_more[slot - c.holders.len];
    }
};

/// A channel as this process uses it for one call: the header in shared memory and the capacity
/// this process checked against the memory it has mapped when it attached the channel (`attach`).
/// Every index into the ring is bounded by this capacity, never by the header's field, which any
/// process sharing the memory can rewrite at any instant (see "Handles" below).
pub const Handle = struct {
    c: *Chan,
    capacity: u32,

    fn ring(h: Handle) [*]u8 {
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

fn positions(h: Handle, who: Who, fresh: bool) Error!Positions {
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

/// The deadline of try forms and steps: an internal lock is taken only if it is free now.
pub const at_once: wait.Deadline = .{ .at = 0 };

/// Takes an internal lock (the send lock, or the receive lock through `lockReceivers`) by
/// `deadline`, so that a timed call never waits past its deadline for a holder that is stopped (or
/// for a lock word that names no live thread): error.TimedOut then. With `at_once` it never waits:
/// false when the lock is held (the caller reports `lockBusy`).
fn lock(m: *mutex.Mutex, deadline: wait.Deadline) Error!bool {
    const got = acquire(m, deadline) catch |err| switch (err) {
        error.Busy => return false,
        else => return err,
    };
    if (got == .owner_died) {
        // A dead sender committed nothing half-way (see the file comment): nothing to repair.
        mutex.consistent(m) catch |err| {
            unlock(m);
            return err;
        };
    }
    return true;
}

fn acquire(m: *mutex.Mutex, deadline: wait.Deadline) Error!mutex.Acquired {
    if (deadline.at != 0) return mutex.lock(m, deadline);
    return mutex.tryLock(m);
}

/// What a try form reports when an internal lock is held: blocked on its side's word, with a value
/// the word never holds, so that a step's caller looks again after a short pause (no word announces
/// the lock's release; see `Blocked`) and a try form returns "would block".
fn lockBusy(word: *wait.WaitWord) Blocked {
    return .{ .word = word, .expected = lock_busy };
}

/// Takes the receive lock. A receiver killed holding it may have stored the cursor and not the head
/// (see `consume`): what it took counts as received, but its space is not free. So the next holder
/// first moves the head over received records (as a give-back does), then marks the lock consistent.
/// Deadline and result as for `lock`.
fn lockReceivers(h: Handle, deadline: wait.Deadline) Error!bool {
    const c = h.c;
    const got = acquire(&c.recv_lock, deadline) catch |err| switch (err) {
        error.Busy => return false,
        else => return err,
    };
    if (got == .owner_died) {
        const repaired = repairReceivers(h);
        mutex.consistent(&c.recv_lock) catch |err| {
            unlock(&c.recv_lock);
            return err;
        };
        _ = repaired catch |err| {
            unlock(&c.recv_lock);
            return err;
        };
    }
    return true;
}

fn repairReceivers(h: Handle) Error!void {
    if (isStream(h.c)) return;
    var p = try positions(h, .receiver, true);
    // Senders that wait for this space were never woken by the receiver that died.
    if (try advanceHead(h, &p, false)) h.c.writable.wake(std.math.maxInt(u32));
}

/// Releases an internal lock. Its word is shared memory: a process that rewrote it (the owner
/// bits) makes glibc refuse the unlock; the lock is then not this thread's to release, and the
/// call's result stands (the damage shows as a protocol error or a timeout elsewhere, never a crash).
fn unlock(m: *mutex.Mutex) void {
    mutex.unlock(m) catch {};
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

fn copyIn(h: Handle, position: u32, bytes: []const u8) void {
    const at = position & (h.capacity - 1);
    const first = @min(bytes.len, h.capacity - at);
    @memcpy(h.ring()[at..][0..first], bytes[0..first]);
    @memcpy(h.ring()[0 .. bytes.len - first], bytes[first..]);
}

fn copyOut(h: Handle, position: u32, out: []u8) void {
    const at = position & (h.capacity - 1);
    const first = @min(out.len, h.capacity - at);
    @memcpy(out[0..first], h.ring()[at..][0..first]);
    @memcpy(out[first..], h.ring()[0 .. out.len - first]);
}

fn recordSize(len: u32) u32 {
    return record_header + std.mem.alignForward(u32, len, 8);
}

/// Writes `message` as a record at `tail` (after a padding record when it would cross the end of
/// the ring), uncommitted; returns the tail after it. The caller made sure it fits.
fn putRecord(h: Handle, tail: u32, message: []const u8) Error!u32 {
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

// ---------------------------------------------------------------------------------------------------
// Messages.

/// What a try operation found when it could not proceed: the word to wait on and its value now.
pub const Blocked = struct {
    word: *wait.WaitWord,
    expected: u32,
    /// Streams: also wait on the writer's lock word (its value then), to see the writer die.
    writer: ?u32 = null,
};

/// `Blocked.expected` when the try found an internal lock held (`lockBusy`): the value no lock
/// word holds (`mutex.never_value`), which the bindings' steps read as "step again after a pause".
pub const lock_busy: u32 = mutex.never_value;

pub const SendResult = union(enum) { sent, blocked: Blocked };

/// Whether every record fits after the tail, each with the padding it may need.
fn fits(h: Handle, p: Positions, messages: []const []const u8) bool {
    const c = h.c;
    if (c.flags & flag_single != 0 and p.used() != 0) return false;
    var tail = p.tail;
    var free = h.capacity - p.used();
    for (messages) |m| {
        const size = recordSize(@intCast(m.len));
        const room = h.capacity - (tail & (h.capacity - 1));
        const need = if (size <= room) size else room + size;
        if (need > free) return false;
        free -= need;
        tail +%= need;
    }
    return true;
}

/// Sends the messages in `messages` (all, in order, or none) if they fit now; error.Pipe when the
/// channel is closed, error.Range for a message above `messageMax`.
pub fn trySendMany(h: Handle, messages: []const []const u8, deadline: wait.Deadline) Error!SendResult {
    const c = h.c;
    if (isStream(c)) return error.Kind;
    var total: u64 = 0;
    for (messages) |m| {
        if (m.len > messageMax(h.capacity)) return error.Range;
        total += recordSize(@intCast(m.len));
    }
    if (total > h.capacity / 2 and messages.len > 1) return error.Range;
    if (c.flags & flag_single != 0 and messages.len > 1) return error.Range;
    if (!try lock(&c.send_lock, deadline)) return .{ .blocked = lockBusy(&c.writable) };
    defer unlock(&c.send_lock);
    var p = try positions(h, .sender, false);
    if (p.closed) return error.Pipe;
    if (!fits(h, p, messages)) {
        p = try positions(h, .sender, true);
        if (!fits(h, p, messages)) return .{ .blocked = .{ .word = &c.writable, .expected = p.raw_writable } };
    }
    var tail = p.tail;
    for (messages) |m| tail = try putRecord(h, tail, m);
    @import("crash.zig").point(.chan_send_copied);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_send_committed);
    return .sent;
}

pub fn trySend(h: Handle, message: []const u8) Error!SendResult {
    return trySendMany(h, &.{message}, at_once);
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
fn recordAt(h: Handle, position: u32, left: u32) Error!Record {
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
fn nextRecord(h: Handle, p: Positions) Error!?Record {
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

fn setKind(h: Handle, record: Record, kind: u32) void {
    const words: *[2]u32 = @ptrCast(@alignCast(h.ring() + ((record.at -% record_header) & (h.capacity - 1))));
    words[1] = kind;
}

/// Moves the receivers' cursor to `after`: the records before it are received. When no view is out
/// the head moves with it (the cursor first: a receiver killed between the two stores leaves received
/// records between the head and the cursor, which the next head move passes).
fn consume(h: Handle, p: *Positions, after: u32) void {
    const c = h.c;
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
/// (with `dead_too`, after giving back the views of holders that died). True when it moved. Caller
/// holds the receive lock.
fn advanceHead(handle: Handle, p: *Positions, dead_too: bool) Error!bool {
    const c = handle.c;
    if (dead_too) _ = try passDead(handle, p.*);
    var h = p.head;
    while (h != p.read) {
        const record = try recordAt(handle, h, (p.read -% h) & position_mask);
        if (record.kind & kind_mask == kind_loaned) break;
        h = record.after;
    }
    if (h == p.head) return false;
    commitHead(c, h);
    p.head = h;
    return true;
}

/// Receives the next message into `out` if there is one; with `peek`, leaves it in the channel.
pub fn tryRecv(h: Handle, out: []u8, peek: bool, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    if (isStream(c)) return error.Kind;
    if (!try lockReceivers(h, deadline)) return .{ .blocked = lockBusy(&c.readable) };
    defer unlock(&c.recv_lock);
    var p = try positions(h, .receiver, false);
    const record = try nextRecord(h, p) orelse blk: {
        p = try positions(h, .receiver, true);
        break :blk try nextRecord(h, p) orelse {
            if (p.closed) return .ended;
            return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } };
        };
    };
    if (record.len > out.len) return .{ .too_small = record.len };
    copyOut(h, record.at, out[0..record.len]);
    @import("crash.zig").point(.chan_recv_copied);
    if (!peek) consume(h, &p, record.after);
    return .{ .received = record.len };
}

/// Receives as many whole messages as fit in `out` (up to `lengths.len`), each at an 8-aligned
/// offset; their lengths go to `lengths`. Returns how many (0 only when the result is not
/// `received`: then see the other fields as for tryRecv).
pub fn tryRecvMany(h: Handle, out: []u8, lengths: []u32, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (isStream(c)) return error.Kind;
    if (lengths.len == 0) return error.Invalid;
    if (!try lockReceivers(h, deadline)) return .{ .count = 0, .result = .{ .blocked = lockBusy(&c.readable) } };
    defer unlock(&c.recv_lock);
    var p = try positions(h, .receiver, false);
    if (try nextRecord(h, p) == null) p = try positions(h, .receiver, true);
    var count: u32 = 0;
    var offset: usize = 0;
    var after = p.read;
    while (count < lengths.len) {
        var rest = p;
        rest.read = after;
        const record = try nextRecord(h, rest) orelse break;
        if (offset + record.len > out.len) {
            if (count == 0) return .{ .count = 0, .result = .{ .too_small = record.len } };
            break;
        }
        copyOut(h, record.at, out[offset..][0..record.len]);
        lengths[count] = record.len;
        count += 1;
        offset = std.mem.alignForward(usize, offset + record.len, 8);
        after = record.after;
    }
    if (count > 0) {
        consume(h, &p, after);
        return .{ .count = count, .result = .{ .received = lengths[0] } };
    }
    if (p.closed) return .{ .count = 0, .result = .ended };
    return .{ .count = 0, .result = .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } } };
}

/// Views (zero-copy receives). A receiver takes messages as a loan: their records stay in the ring,
/// marked with the holder's process, past the receivers' cursor but before the head, so senders do
/// not reuse their space until the loan is given back (`release`). The loan is the range of positions
/// [from, to). A holder that dies never gives it back: `reap` (which senders call when the ring is
/// full and views are out) gives back the views of dead holders.
///
/// A mark names its holder by slot, an entry of the holder table (`Holder`: pid, start time, pid
/// namespace; a record has no room for them). Everything below happens under the receive lock.
///  - An entry with a nonzero pid is whole: a claim clears the pid, writes the rest, stores the pid
///    last. A claimer killed in between leaves pid 0, a free entry.
///  - A process marks records only with its own entry, claimed (or found: an entry equal to its
///    stamp) before its first mark; a taker killed in between leaves an entry no mark names.
///  - An entry is rewritten only while no mark in [head, cursor) names it (`claimSlot` scans for
///    them, after giving back the views of dead holders). So a mark that counts — one in
///    [head, cursor) — always names the process that made it. Marks after the cursor (a taker killed
///    before it moved the cursor) may name an entry claimed since: `nextRecord` reads them as plain
///    messages, and the cursor passes no record `nextRecord` did not read, so they are never judged.
///  - A holder is dead only when the judging process shares its pid namespace and its pid with that
///    start time runs no thread (`platform.processAlive`). A holder of another namespace cannot be
///    judged and is never passed: only a process of its own namespace gives its views back.
///  - Giving back the views of dead holders (`passDead`) turns their marks into received messages
///    one record at a time; a judge killed half-way leaves the rest marked, for the next one.
/// At most `holders_max` processes hold views at once: a take that finds every entry named by a live
/// holder's view fails with error.Busy.
pub const Loan = extern struct { from: u32, to: u32 };

/// Whether the holder in `h` still runs, as the process `judge` sees it (null: cannot tell).
fn holderAlive(h: *const Holder, judge: ?platform.Stamp) bool {
    const pid = @atomicLoad(u32, &h.pid, .acquire);
    // Marks name only whole entries: one without a pid names nobody (input another process wrote).
    if (pid == 0 or pid > std.math.maxInt(i32)) return false;
    const self = judge orelse return true;
    if (h.pidns != @as(u32, @truncate(self.pidns))) return true;
    return platform.processAlive(@intCast(pid), h.start);
}

/// This process as a holder, cached per thread (a stamp costs a getpid syscall and a lock, and every
/// view receive needs it) and keyed by the cached pid, which a forked child resets.
threadlocal var self_holder: Holder = .{ .pid = 0, .pidns = 0, .start = 0 };

fn selfHolder() Error!Holder {
    if (self_holder.pid != 0 and self_holder.pid == rm.currentPid()) return self_holder;
    const self = try platform.selfStamp();
    self_holder = .{ .pid = @intCast(self.pid), .pidns = @truncate(self.pidns), .start = self.start };
    return self_holder;
}

/// Gives back the views in [head, cursor) whose holder died (their records count as received);
/// returns the set of slots that views still name (bit i: slot i). Caller holds the receive lock.
fn passDead(handle: Handle, p: Positions) Error!u32 {
    const c = handle.c;
    const judge: ?platform.Stamp = platform.selfStamp() catch null;
    // Each holder is judged once per pass, when its first mark is met.
    var judged: u32 = 0;
    var alive: u32 = 0;
    var h = p.head;
    while (h != p.read) {
        const record = try recordAt(handle, h, (p.read -% h) & position_mask);
        if (record.kind & kind_mask == kind_loaned) {
            const slot = record.kind >> 8; // below holders_max: checked by recordAt
            const bit = @as(u32, 1) << @intCast(slot);
            if (judged & bit == 0) {
                judged |= bit;
                if (holderAlive(c.holder(slot), judge)) alive |= bit;
            }
            if (alive & bit == 0) setKind(handle, record, kind_message);
        }
        h = record.after;
    }
    return alive;
}

/// This process's slot in the holder table, claimed if it has none: an entry never written, else one
/// that no view in [head, cursor) names once dead holders' views are given back (which may move the
/// head: then `moved` is set). error.Busy when live holders' views name every entry. Caller holds the
/// receive lock.
fn claimSlot(handle: Handle, p: *Positions, moved: *bool) Error!u32 {
    const c = handle.c;
    const me = try selfHolder();
    var free: ?u32 = null;
    for (0..holders_max) |i| {
        const h = c.holder(@intCast(i));
        const pid = @atomicLoad(u32, &h.pid, .monotonic);
        if (pid == me.pid and h.start == me.start and h.pidns == me.pidns) return @intCast(i);
        if (pid == 0 and free == null) free = @intCast(i);
    }
    const slot = free orelse blk: {
        const named = try passDead(handle, p.*);
        if (try advanceHead(handle, p, false)) moved.* = true;
        const all = (@as(u32, 1) << holders_max) - 1;
        if (named & all == all) return error.Busy;
        break :blk @ctz(~named);
    };
    const h = c.holder(slot);
    @atomicStore(u32, &h.pid, 0, .monotonic);
    h.pidns = me.pidns;
    h.start = me.start;
    @atomicStore(u32, &h.pid, me.pid, .release);
    return slot;
}

/// Takes up to `lengths.len` messages as a loan: `offsets` get where each message's bytes are,
/// counted from the start of the channel (its header), `lengths` their lengths. Returns how many, as
/// tryRecvMany does. `loan` is in and out: a loan still out on entry (from != to) is given back first,
/// under the same lock; on return it is the new loan (empty when nothing was taken). `moved` tells
/// whether the head moved (senders may proceed).
pub fn tryRecvLoan(h: Handle, offsets: []u32, lengths: []u32, loan: *Loan, moved: *bool, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (c.flags & (flag_stream | flag_single) != 0) return error.Kind;
    if (lengths.len == 0 or offsets.len < lengths.len) return error.Invalid;
    if (!try lockReceivers(h, deadline)) return .{ .count = 0, .result = .{ .blocked = lockBusy(&c.readable) } };
    defer unlock(&c.recv_lock);
    var p = try positions(h, .receiver, false);
    moved.* = false;
    if (loan.from != loan.to) {
        try giveBack(h, p, loan.*);
        loan.* = .{ .from = p.read, .to = p.read };
        moved.* = try advanceHead(h, &p, false);
    }
    if (try nextRecord(h, p) == null) p = try positions(h, .receiver, true);
    var mark: u32 = kind_loaned;
    // The loan starts at its first message's record (padding before it is the head's to pass).
    var from = p.read;
    var count: u32 = 0;
    while (count < lengths.len) {
        const record = try nextRecord(h, p) orelse break;
        if (count == 0) {
            // The holder's entry is whole before any mark names it (claimSlot leaves the cursor).
            mark = kind_loaned | (try claimSlot(h, &p, moved)) << 8;
            from = record.at -% record_header;
        }
        setKind(h, record, mark);
        offsets[count] = header_size + (record.at & (h.capacity - 1));
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
fn giveBack(h: Handle, p: Positions, loan: Loan) Error!void {
    if (loan.from % 8 != 0 or loan.to % 8 != 0) return error.Invalid;
    const out = (p.read -% p.head) & position_mask;
    const start = (loan.from -% p.head) & position_mask;
    const span = (loan.to -% loan.from) & position_mask;
    if (span == 0 or start > out or span > out - start) return error.Invalid;
    // Check the whole range before changing any of it.
    var position = loan.from;
    var loaned = false;
    while (position != loan.to) {
        const record = try recordAt(h, position, (loan.to -% position) & position_mask);
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
        const record = try recordAt(h, position, (loan.to -% position) & position_mask);
        if (record.kind & kind_mask == kind_loaned) setKind(h, record, kind_message);
        position = record.after;
    }
    @import("crash.zig").point(.chan_release_unmarked);
}

/// Gives back a loan (once): its messages count as received, and their space returns to senders
/// once no older view holds the head back. error.Invalid for a range that is not a loan still out.
pub fn release(h: Handle, loan: Loan) Error!void {
    const c = h.c;
    if (c.flags & (flag_stream | flag_single) != 0) return error.Kind;
    if (!try settle(h, loan, false, .never)) return;
    @import("crash.zig").point(.chan_release_committed);
    wakeAfter(h, &c.writable);
}

/// Under the receive lock: gives `loan` back (when there is one), then moves the head as far as it
/// goes (with `dead_too`, past the views of dead holders). True when the head moved.
/// `deadline` as for `lock`: false as well when `at_once` found the receive lock held.
fn settle(h: Handle, loan: ?Loan, dead_too: bool, deadline: wait.Deadline) Error!bool {
    const c = h.c;
    if (!try lockReceivers(h, deadline)) return false;
    defer unlock(&c.recv_lock);
    var p = try positions(h, .receiver, true);
    if (loan) |l| try giveBack(h, p, l);
    return advanceHead(h, &p, dead_too);
}

/// Whether views of a message channel hold ring space (a hint: read without the receive lock).
pub fn viewsOut(h: Handle) bool {
    const c = h.c;
    if (c.flags & (flag_stream | flag_single) != 0) return false;
    const head = @atomicLoad(u32, &c.writable.value, .acquire) & position_mask;
    return @atomicLoad(u32, &c.read, .monotonic) & position_mask != head;
}

/// Gives back the space of views whose holder process has died. True when the head moved.
/// By `deadline` (as for `lock`: with `at_once`, false when the receive lock is held).
pub fn reap(h: Handle, deadline: wait.Deadline) Error!bool {
    const c = h.c;
    if (!viewsOut(h)) return false;
    const moved = try settle(h, null, true, deadline);
    if (moved) wakeAfter(h, &c.writable);
    return moved;
}

/// How long a sender waits at most, while views are out, before it looks for dead holders again.
const reap_interval_ns: i64 = 20 * std.time.ns_per_ms;

/// Takes the message in a single-message channel and puts `message` in its place, as one step;
/// blocked while empty.
pub fn trySwap(h: Handle, message: []const u8, out: []u8, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    if (c.flags & flag_single == 0) return error.Kind;
    if (message.len > messageMax(h.capacity)) return error.Range;
    if (!try lockReceivers(h, deadline)) return .{ .blocked = lockBusy(&c.readable) };
    defer unlock(&c.recv_lock);
    if (!try lock(&c.send_lock, deadline)) return .{ .blocked = lockBusy(&c.readable) };
    defer unlock(&c.send_lock);
    var p = try positions(h, .both, true);
    const record = try nextRecord(h, p) orelse {
        if (p.closed) return error.Pipe;
        return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable } };
    };
    if (record.len > out.len) return .{ .too_small = record.len };
    if (p.closed) return error.Pipe;
    copyOut(h, record.at, out[0..record.len]);
    // The old record leaves and the new one goes in: head and tail move in one commit each,
    // head first (a kill between them leaves the channel empty, never holding a half record).
    consume(h, &p, record.after);
    @import("crash.zig").point(.chan_swap_consumed);
    const tail = try putRecord(h, p.tail, message);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_swap_committed);
    seeBoth(c, p.head, tail);
    return .{ .received = record.len };
}

/// After a swap or replace (which hold both locks and move both positions): each side's seen value
/// of the other's position is the new one, so neither falls behind by more than the capacity.
fn seeBoth(c: *Chan, head: u32, tail: u32) void {
    @atomicStore(u32, &c.head_seen, head & position_mask, .monotonic);
    @atomicStore(u32, &c.tail_seen, tail & position_mask, .monotonic);
}

/// Single-message channels (a shared value): drops the message there is, if any, and puts
/// `message` in its place. Never waits. A process killed between the two commits leaves the
/// channel empty (the old value gone, the new one not there).
pub fn replace(h: Handle, message: []const u8) Error!void {
    const c = h.c;
    if (c.flags & flag_single == 0) return error.Kind;
    if (message.len > messageMax(h.capacity)) return error.Range;
    _ = try lockReceivers(h, .never);
    defer unlock(&c.recv_lock);
    _ = try lock(&c.send_lock, .never);
    defer unlock(&c.send_lock);
    var p = try positions(h, .both, true);
    if (p.closed) return error.Pipe;
    if (try nextRecord(h, p)) |record| consume(h, &p, record.after);
    @import("crash.zig").point(.chan_replace_consumed);
    if (p.used() != 0) return error.Protocol; // a single-message channel held more than one
    const tail = try putRecord(h, p.tail, message);
    commitTail(c, tail);
    @import("crash.zig").point(.chan_replace_committed);
    seeBoth(c, p.head, tail);
    wakeAfter(h, &c.readable);
    wakeAfter(h, &c.writable);
}

// ---------------------------------------------------------------------------------------------------
// Streams.

pub const WriteResult = union(enum) { wrote: u32, blocked: Blocked };

/// Writes as much of `bytes` as fits now (at least one byte, or blocked).
pub fn tryWrite(h: Handle, bytes: []const u8, deadline: wait.Deadline) Error!WriteResult {
    const c = h.c;
    if (!isStream(c)) return error.Kind;
    if (bytes.len == 0) return .{ .wrote = 0 };
    if (!try lock(&c.send_lock, deadline)) return .{ .blocked = lockBusy(&c.writable) };
    defer unlock(&c.send_lock);
    var p = try positions(h, .sender, false);
    if (p.closed) return error.Pipe;
    if (p.used() == h.capacity) p = try positions(h, .sender, true);
    const free = h.capacity - p.used();
    if (free == 0) return .{ .blocked = .{ .word = &c.writable, .expected = p.raw_writable } };
    const n: u32 = @intCast(@min(bytes.len, free));
    copyIn(h, p.tail, bytes[0..n]);
    commitTail(c, p.tail +% n);
    return .{ .wrote = n };
}

pub const ReadResult = union(enum) { read: u32, ended, blocked: Blocked };

/// Streams: makes the caller's thread the writer whose death ends the pipe, if no live one is.
/// error.Busy when another writer holds it (that one's death is what readers watch).
pub fn attachWriter(h: Handle) Error!void {
    const c = h.c;
    if (!isStream(c)) return error.Kind;
    if (try mutex.tryLock(&c.writer) == .owner_died) try mutex.consistent(&c.writer);
}

/// Streams: the writer stops being watched (ending the pipe is separate: `close`).
pub fn detachWriter(h: Handle) Error!void {
    const c = h.c;
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
pub fn tryRead(h: Handle, out: []u8, deadline: wait.Deadline) Error!ReadResult {
    const c = h.c;
    if (!isStream(c)) return error.Kind;
    if (out.len == 0) return error.Invalid;
    if (!try lockReceivers(h, deadline)) return .{ .blocked = lockBusy(&c.readable) };
    defer unlock(&c.recv_lock);
    var p = try positions(h, .receiver, false);
    if (p.used() == 0) p = try positions(h, .receiver, true);
    const used = p.used();
    if (used == 0) {
        if (p.closed) return .ended;
        const w = watchWriter(c);
        if (w == null and writerDied(c)) {
            _ = try end(c, deadline);
            return .ended;
        }
        return .{ .blocked = .{ .word = &c.readable, .expected = p.raw_readable, .writer = w } };
    }
    const n: u32 = @intCast(@min(out.len, used));
    copyOut(h, p.head, out[0..n]);
    commitHead(c, p.head +% n);
    return .{ .read = n };
}

// ---------------------------------------------------------------------------------------------------
// Closing, waiting, state.

/// Closes the channel: sends fail with error.Pipe from now on; receivers drain what is left and
/// then see the end. Closing twice is harmless.
pub fn close(h: Handle) Error!void {
    const c = h.c;
    _ = try end(c, .never);
}

/// Marks the channel closed under the send lock, taken by `deadline` (as for `lock`: false when
/// `at_once` found it held; a reader that saw the writer die then ends without marking it).
fn end(c: *Chan, deadline: wait.Deadline) Error!bool {
    if (!try lock(&c.send_lock, deadline)) return false;
    _ = @atomicRmw(u32, &c.readable.value, .Or, closed_bit, .seq_cst);
    @import("crash.zig").point(.chan_close_readable);
    _ = @atomicRmw(u32, &c.writable.value, .Or, closed_bit, .seq_cst);
    @import("crash.zig").point(.chan_close_committed);
    unlock(&c.send_lock);
    c.readable.wake(std.math.maxInt(u32));
    c.writable.wake(std.math.maxInt(u32));
    return true;
}

/// Wakes whoever waits for what an operation just committed on `word`.
pub fn wakeAfter(h: Handle, word: *wait.WaitWord) void {
    const c = h.c;
    // Single-message channels have readers that only peek: every one of them may proceed.
    const everyone = c.flags & flag_single != 0 or word == &c.writable;
    word.wake(if (everyone) std.math.maxInt(u32) else 1);
}

/// Wakes receivers for `count` messages a send just committed: one each (every one on a
/// single-message channel, as `wakeAfter`), so a batch does not leave receivers asleep beside it.
fn wakeReceivers(h: Handle, count: usize) void {
    const c = h.c;
    const n: u32 = if (c.flags & flag_single != 0) std.math.maxInt(u32) else @intCast(@min(count, std.math.maxInt(u32)));
    c.readable.wake(n);
}

/// A receiver that was woken and leaves what woke it in the channel (a peek, a buffer too small, a
/// stream read that took part of the bytes) may have used up the one wake-up meant for a receiver
/// that takes it: it passes the wake-up on to the next parked receiver, if any. (Single-message
/// channels wake every receiver already.)
fn passOn(h: Handle) void {
    if (h.c.flags & flag_single == 0) h.c.readable.wake(1);
}

/// Whether bytes are committed and not consumed (a hint: read without a lock).
fn unconsumed(c: *Chan) bool {
    const r = @atomicLoad(u32, &c.readable.value, .acquire);
    const w = @atomicLoad(u32, &c.writable.value, .acquire);
    return (r ^ w) & position_mask != 0;
}

/// Bytes committed and not yet consumed.
pub fn pending(h: Handle) Error!u32 {
    const c = h.c;
    const r = @atomicLoad(u32, &c.readable.value, .acquire);
    const w = @atomicLoad(u32, &c.writable.value, .acquire);
    const n = ((r & position_mask) -% (w & position_mask)) & position_mask;
    if (n > h.capacity) return error.Protocol;
    return n;
}

/// Blocking forms: try, and wait on the word the try names until `deadline`.
pub fn send(h: Handle, message: []const u8, deadline: wait.Deadline) Error!void {
    return sendMany(h, &.{message}, deadline);
}

pub fn sendMany(h: Handle, messages: []const []const u8, deadline: wait.Deadline) Error!void {
    while (true) {
        switch (try trySendMany(h, messages, deadline)) {
            .sent => return wakeReceivers(h, messages.len),
            .blocked => |b| {
                if (!viewsOut(h)) {
                    if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                    continue;
                }
                // Views hold the space: a holder that dies gives nothing back and wakes no one.
                if (try reap(h, deadline)) continue;
                const slice = deadline.earliest(wait.Deadline.after(reap_interval_ns));
                if (try b.word.wait(b.expected, slice) == .timed_out and deadline.passed(platform.monotonicNs())) return error.TimedOut;
            },
        }
    }
}

pub fn recv(h: Handle, out: []u8, peek: bool, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRecv(h, out, peek, deadline);
        switch (r) {
            .received => {
                if (!peek) wakeAfter(h, &c.writable) else if (waited) passOn(h);
                return r;
            },
            .too_small => {
                if (waited) passOn(h);
                return r;
            },
            .ended => return r,
            .blocked => |b| {
                if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                waited = true;
            },
        }
    }
}

pub fn swap(h: Handle, message: []const u8, out: []u8, deadline: wait.Deadline) Error!RecvResult {
    const c = h.c;
    while (true) {
        const r = try trySwap(h, message, out, deadline);
        switch (r) {
            .received => {
                wakeAfter(h, &c.readable);
                return r;
            },
            .too_small, .ended => return r,
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn recvMany(h: Handle, out: []u8, lengths: []u32, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRecvMany(h, out, lengths, deadline);
        switch (r.result) {
            .received => {
                wakeAfter(h, &c.writable);
                return .{ .count = r.count, .result = r.result };
            },
            .too_small => {
                if (waited) passOn(h);
                return .{ .count = r.count, .result = r.result };
            },
            .ended => return .{ .count = r.count, .result = r.result },
            .blocked => |b| {
                if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut;
                waited = true;
            },
        }
    }
}

pub fn recvLoan(h: Handle, offsets: []u32, lengths: []u32, loan: *Loan, deadline: wait.Deadline) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    while (true) {
        var moved = false;
        const r = try tryRecvLoan(h, offsets, lengths, loan, &moved, deadline);
        if (moved) wakeAfter(h, &c.writable);
        switch (r.result) {
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
            else => return .{ .count = r.count, .result = r.result },
        }
    }
}

pub fn write(h: Handle, bytes: []const u8, deadline: wait.Deadline) Error!void {
    const c = h.c;
    var done: usize = 0;
    while (done < bytes.len) {
        switch (try tryWrite(h, bytes[done..], deadline)) {
            .wrote => |n| {
                done += n;
                wakeAfter(h, &c.readable);
            },
            .blocked => |b| if (try b.word.wait(b.expected, deadline) == .timed_out) return error.TimedOut,
        }
    }
}

pub fn read(h: Handle, out: []u8, deadline: wait.Deadline) Error!ReadResult {
    const c = h.c;
    var waited = false;
    while (true) {
        const r = try tryRead(h, out, deadline);
        switch (r) {
            .read => {
                wakeAfter(h, &c.writable);
                if (waited and unconsumed(c)) passOn(h);
                return r;
            },
            .ended => return r,
            .blocked => |b| {
                const outcome = if (b.writer) |w| try waitEither(c, b.expected, w, deadline) else try b.word.wait(b.expected, deadline);
                if (outcome == .timed_out) return error.TimedOut;
                waited = true;
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
    if (wait.spinUntil(watch, Watch.changed, wait.budgetAfterWake(&c.readable.value), deadline)) return .woken;
    const seen = c.readable.register();
    defer c.readable.unregister();
    if (seen != expected) return .woken;
    const words = [_]platform.WaitWord{
        .{ .word = &c.readable.value, .expected = expected, .private = false },
        .{ .word = c.writer.word(), .expected = writer, .private = false },
    };
    // In slices, like every park: a writer killed between its commit and its wake-up is seen.
    return wait.parkWordsLock(&words, 1, deadline);
}

// ---------------------------------------------------------------------------------------------------
// Steps, for waits that happen elsewhere (the bindings' async forms): each step tries once and, when
// it must wait, counts the caller as parked on the word it names (until the next step or unwait).

pub const Side = enum(u32) { readable = 0, writable = 1 };

pub fn sideWord(h: Handle, side: Side) *wait.WaitWord {
    const c = h.c;
    return if (side == .readable) &c.readable else &c.writable;
}

pub fn sendStep(h: Handle, messages: []const []const u8, registered: bool, expected: *u32) Error!bool {
    const c = h.c;
    if (registered) c.writable.unregister();
    var r = try trySendMany(h, messages, at_once);
    if (r == .blocked and r.blocked.expected != lock_busy and try reap(h, at_once)) r = try trySendMany(h, messages, at_once);
    switch (r) {
        .sent => {
            wakeReceivers(h, messages.len);
            return true;
        },
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            return false;
        },
    }
}

pub fn recvStep(h: Handle, out: []u8, peek: bool, registered: bool, expected: *u32) Error!RecvResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try tryRecv(h, out, peek, at_once);
    switch (r) {
        // `registered`: this step follows a wait, which a wake-up may have ended (see `passOn`).
        .received => if (!peek) wakeAfter(h, &c.writable) else if (registered) passOn(h),
        .too_small => if (registered) passOn(h),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        .ended => {},
    }
    return r;
}

pub fn recvManyStep(h: Handle, out: []u8, lengths: []u32, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try tryRecvMany(h, out, lengths, at_once);
    switch (r.result) {
        .received => wakeAfter(h, &c.writable),
        .too_small => if (registered) passOn(h),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        .ended => {},
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn recvLoanStep(h: Handle, offsets: []u32, lengths: []u32, loan: *Loan, registered: bool, expected: *u32) Error!struct { count: u32, result: RecvResult } {
    const c = h.c;
    if (registered) c.readable.unregister();
    var moved = false;
    const r = try tryRecvLoan(h, offsets, lengths, loan, &moved, at_once);
    if (moved) wakeAfter(h, &c.writable);
    if (r.result == .blocked) {
        _ = r.result.blocked.word.register();
        expected.* = r.result.blocked.expected;
    }
    return .{ .count = r.count, .result = r.result };
}

pub fn writeStep(h: Handle, bytes: []const u8, registered: bool, expected: *u32) Error!WriteResult {
    const c = h.c;
    if (registered) c.writable.unregister();
    const r = try tryWrite(h, bytes, at_once);
    switch (r) {
        .wrote => wakeAfter(h, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
    }
    return r;
}

/// `writer_expected`: when blocked with a writer to watch, the value of its lock word to wait on as
/// well (see `ipc_chan_writer_word`); 0 when there is none.
pub fn readStep(h: Handle, out: []u8, registered: bool, expected: *u32, writer_expected: *u32) Error!ReadResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    writer_expected.* = 0;
    const r = try tryRead(h, out, at_once);
    switch (r) {
        .read => {
            wakeAfter(h, &c.writable);
            if (registered and unconsumed(c)) passOn(h);
        },
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
            writer_expected.* = b.writer orelse 0;
        },
        .ended => {},
    }
    return r;
}

pub fn swapStep(h: Handle, message: []const u8, out: []u8, registered: bool, expected: *u32) Error!RecvResult {
    const c = h.c;
    if (registered) c.readable.unregister();
    const r = try trySwap(h, message, out, at_once);
    switch (r) {
        .received => wakeAfter(h, &c.readable),
        .blocked => |b| {
            _ = b.word.register();
            expected.* = b.expected;
        },
        else => {},
    }
    return r;
}

pub fn unwait(h: Handle, side: Side) void {
    sideWord(h, side).unregister();
}

// ---------------------------------------------------------------------------------------------------
// Handles: the channels this process attached.
//
// A channel's header lies in memory every process sharing it can write, so its `capacity` field is
// input like any other: a process that indexed its ring with the field as it finds it on each call
// would write past its own mapping once a peer wrote a larger value. So the capacity a process uses
// is the one it checked against the memory it has mapped when it attached the channel (init, at,
// create), kept here in private memory under the header's address. Each call looks its channel up
// once (`handleOf`), refuses it with error.Protocol when the header no longer says that capacity,
// and then indexes only with the capacity it looked up. A pointer that was never attached is
// error.Invalid. Closing a segment forgets the channels inside its mapping (`forgetRange`).
//
// The table is an open-addressing hash table of one word per channel (the header's address, 64-byte
// aligned, with log2 of the capacity in the low bits), read without a lock under a sequence count:
// a lookup costs a hash, a few loads and no write to shared cache lines. Attaching and forgetting
// take a mutex, bump the count to odd, change the table in place and bump it to even again; a
// reader that saw the count odd or changed looks again. A table that grows is replaced and the old
// one kept (a reader may still be reading it), so what is kept is at most the size of the last.

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

// ---------------------------------------------------------------------------------------------------
// Tests.

const testing = std.testing;

fn testChan(memory: []align(64) u8, capacity: u32, flags: u32) !Handle {
    return .{ .c = try init(memory[0..try sizeFor(capacity)], capacity, flags), .capacity = capacity };
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
            const r = try tryRecv(c, &buf, false, at_once);
            const n = r.received;
            for (buf[0..n], 0..) |b, i| try testing.expectEqual(@as(u8, @truncate(got + i)), b);
            got += 1;
        }
        sent += 1;
    }
    try close(c);
    try testing.expectError(error.Pipe, trySend(c, "late"));
    while (true) {
        const r = try tryRecv(c, &buf, false, at_once);
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
    try testing.expectEqual(RecvResult{ .too_small = 56 }, try tryRecv(c, &small, false, at_once));
    try testing.expectError(error.Range, sizeFor(100));
    try testing.expectError(error.Invalid, init(&memory, 128, flag_stream | flag_single));
    c.c.writable.value = 4000; // a head past the tail: more used than the capacity
    try testing.expectError(error.Protocol, tryRecv(c, &small, false, at_once));
    try testing.expectError(error.Kind, tryWrite(c, "x", at_once));
}

test "single-message channels: put blocks while full, peek and swap" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, flag_single);
    var buf: [56]u8 = undefined;
    try testing.expect(try trySend(c, "one") == .sent);
    try testing.expect(try trySend(c, "two") == .blocked);
    try testing.expectEqual(RecvResult{ .received = 3 }, try tryRecv(c, &buf, true, at_once));
    try testing.expectEqual(RecvResult{ .received = 3 }, try trySwap(c, "three", &buf, at_once));
    try testing.expectEqualStrings("one", buf[0..3]);
    try testing.expectEqual(RecvResult{ .received = 5 }, try tryRecv(c, &buf, false, at_once));
    try testing.expectEqualStrings("three", buf[0..5]);
    try testing.expect(try tryRecv(c, &buf, false, at_once) == .blocked);
}

test "single-message channels: replace drops the old value and never waits" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, flag_single);
    var buf: [56]u8 = undefined;
    try replace(c, "first");
    try replace(c, "second value");
    try testing.expectEqual(RecvResult{ .received = 12 }, try tryRecv(c, &buf, true, at_once));
    try testing.expectEqualStrings("second value", buf[0..12]);
    for (0..100) |i| try replace(c, buf[0 .. i % 50 + 1]);
    try testing.expectEqual(RecvResult{ .received = 50 }, try tryRecv(c, &buf, false, at_once));
    try testing.expect(try tryRecv(c, &buf, false, at_once) == .blocked);
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
        if (written < data.len) switch (try tryWrite(c, data[written..], at_once)) {
            .wrote => |n| written += n,
            .blocked => {},
        };
        switch (try tryRead(c, out[read_n..@min(read_n + 37, out.len)], at_once)) {
            .read => |n| read_n += n,
            else => {},
        }
    }
    try testing.expectEqualSlices(u8, &data, &out);
    try close(c);
    try testing.expect(try tryRead(c, &out, at_once) == .ended);
}

/// Two senders' messages for the thread tests: sender `id`'s message i is id, i (u32), then padding,
/// 5 + i % 11 bytes in all.
const ThreadTest = struct {
    const per_sender = 20_000;

    counts: [2]std.atomic.Value(u32) = .{ .init(0), .init(0) },
    bad: std.atomic.Value(u32) = .init(0),

    fn produce(ch: Handle, id: u8) void {
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

    fn copies(ch: Handle, t: *ThreadTest) void {
        var buf: [64]u8 = undefined;
        var last = [2]i64{ -1, -1 };
        while (true) {
            const r = recv(ch, &buf, false, .never) catch unreachable;
            if (r == .ended) return;
            t.check(buf[0..r.received], &last);
        }
    }

    fn views(ch: Handle, t: *ThreadTest) void {
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
    fn run(t: *ThreadTest, ch: Handle, comptime receivers: []const *const fn (Handle, *ThreadTest) void) !void {
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
        fn run(ch: Handle) void {
            _ = mutex.lock(&ch.c.send_lock, .never) catch unreachable;
            // Half a send: bytes written past the tail, never committed.
            @memset(ch.ring()[16..40], 0xee);
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{c});
    th.join();
    var buf: [56]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 4 }, try tryRecv(c, &buf, false, at_once));
    try testing.expectEqualStrings("kept", buf[0..4]);
    try testing.expect(try tryRecv(c, &buf, false, at_once) == .blocked);
}

fn viewOf(c: Handle, offset: u32, len: u32) []const u8 {
    return (@as([*]const u8, @ptrCast(c.c)) + offset)[0..len];
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
    var r = try tryRecvLoan(c, &offsets, lengths[0..3], &a, &moved, at_once);
    try testing.expectEqual(@as(u32, 3), r.count);
    for (0..3) |i| try testing.expectEqualSlices(u8, &[_]u8{@intCast(i)} ** 16, viewOf(c, offsets[i], lengths[i]));
    var b: Loan = .{ .from = 0, .to = 0 };
    r = try tryRecvLoan(c, &offsets, lengths[0..2], &b, &moved, at_once);
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqualSlices(u8, &[_]u8{3} ** 16, viewOf(c, offsets[0], 16));
    // A copy receive while views are out takes the next message but frees nothing.
    var buf: [64]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false, at_once));
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
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false, at_once));
    try testing.expectEqual(@as(u8, 6), buf[0]);
    var l: Loan = .{ .from = 0, .to = 0 };
    r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once);
    try testing.expectEqual(@as(u32, 2), r.count);
    try testing.expectEqual(@as(u32, 64), lengths[1]);
    // The next take gives the loan back first; then there is nothing.
    r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once);
    try testing.expect(moved);
    try testing.expect(r.result == .blocked);
    try testing.expectEqual(l.from, l.to);
    try testing.expect(!viewsOut(c));
    try testing.expectEqual(@as(u32, 0), try pending(c));
    try close(c);
    try testing.expect((try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once)).result == .ended);
}

test "views: only plain message channels; across the wrap; a crashed taker's marks are messages" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    var offsets: [4]u32 = undefined;
    var lengths: [4]u32 = undefined;
    var moved = false;
    var l: Loan = .{ .from = 0, .to = 0 };
    const s = try testChan(&memory, 128, flag_single);
    try testing.expectError(error.Kind, tryRecvLoan(s, &offsets, &lengths, &l, &moved, at_once));
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
        const r = try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once);
        try testing.expectEqual(@as(u32, 1), r.count);
        try testing.expectEqualSlices(u8, msg[0..len], viewOf(c, offsets[0], lengths[0]));
        try testing.expect(offsets[0] + lengths[0] <= header_size + 128);
    }
    // Marks after the cursor (a taker killed before it moved the cursor) read as messages.
    var buf: [64]u8 = undefined;
    try testing.expect(try tryRecv(c, &buf, false, at_once) == .blocked);
    try release(c, l);
    l = .{ .from = 0, .to = 0 };
    try testing.expect(try trySend(c, "abc") == .sent);
    const p = try positions(c, .receiver, true);
    const record = (try nextRecord(c, p)).?;
    setKind(c, record, kind_loaned | (holders_max - 1) << 8);
    try testing.expectEqual(RecvResult{ .received = 3 }, try tryRecv(c, &buf, false, at_once));
    try testing.expect(!viewsOut(c));
}

test "views: a dead holder's loan is reaped by a sender that finds the ring full" {
    const size = header_size + 256;
    const memory = try std.posix.mmap(null, size, std.posix.PROT.READ | std.posix.PROT.WRITE, .{ .TYPE = .SHARED, .ANONYMOUS = true }, -1, 0);
    defer std.posix.munmap(memory);
    const c: Handle = .{ .c = try init(memory, 256, 0), .capacity = 256 };
    for (0..8) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
    const pid = try std.posix.fork();
    if (pid == 0) {
        var offsets: [4]u32 = undefined;
        var lengths: [4]u32 = undefined;
        var moved = false;
        var l: Loan = .{ .from = 0, .to = 0 };
        const r = tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once) catch std.posix.exit(2);
        // The process ends holding the loan.
        std.posix.exit(if (r.count == 4) 0 else 1);
    }
    const status = std.posix.waitpid(pid, 0).status;
    try testing.expectEqual(@as(u32, 0), status);
    try testing.expect(viewsOut(c));
    var buf: [64]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false, at_once));
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

test "a receiver killed between its cursor and the head leaves a single-message channel usable" {
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, flag_single);
    try testing.expect(try trySend(c, "taken") == .sent);
    const Dier = struct {
        fn run(ch: Handle) void {
            _ = mutex.lock(&ch.c.recv_lock, .never) catch unreachable;
            // consume()'s first store, then the thread ends holding the lock: the message counts as
            // received, the head has not passed it.
            const p = positions(ch, .receiver, true) catch unreachable;
            const record = (nextRecord(ch, p) catch unreachable).?;
            @atomicStore(u32, &ch.c.read, record.after, .monotonic);
        }
    };
    const th = try std.Thread.spawn(.{}, Dier.run, .{c});
    th.join();
    var buf: [56]u8 = undefined;
    try testing.expect(try tryRecv(c, &buf, false, at_once) == .blocked);
    try testing.expect(try trySend(c, "next") == .sent);
    try testing.expectEqual(RecvResult{ .received = 4 }, try tryRecv(c, &buf, false, at_once));
    try testing.expectEqualStrings("next", buf[0..4]);
    try replace(c, "value");
    try testing.expectEqual(RecvResult{ .received = 5 }, try tryRecv(c, &buf, false, at_once));
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

test "views: a holder whose main thread exited keeps its views while another thread of it runs" {
    const size = header_size + 256;
    const memory = try std.posix.mmap(null, size + 64, std.posix.PROT.READ | std.posix.PROT.WRITE, .{ .TYPE = .SHARED, .ANONYMOUS = true }, -1, 0);
    defer std.posix.munmap(memory);
    const c: Handle = .{ .c = try init(memory[0..size], 256, 0), .capacity = 256 };
    const taken: *u32 = @ptrCast(@alignCast(memory[size..].ptr));
    for (0..8) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
    // In the child, a second thread takes four views and runs on; the main thread calls pthread_exit.
    const Holder_ = struct {
        pub const Arg = struct { c: Handle, taken: *u32 };
        pub fn run(arg: Arg) void {
            var offsets: [4]u32 = undefined;
            var lengths: [4]u32 = undefined;
            var moved = false;
            var l: Loan = .{ .from = 0, .to = 0 };
            const r = tryRecvLoan(arg.c, &offsets, &lengths, &l, &moved, at_once) catch std.posix.exit(2);
            @atomicStore(u32, arg.taken, if (r.count == 4) 1 else 2, .release);
            std.Thread.sleep(60 * std.time.ns_per_s);
        }
    };
    const pid = try platform.impl.forkLeaderExited(Holder_, .{ .c = c, .taken = taken });
    defer {
        _ = std.posix.kill(pid, std.posix.SIG.KILL) catch {};
        _ = std.posix.waitpid(pid, 0);
    }
    const give_up = platform.monotonicNs() + 20 * std.time.ns_per_s;
    while (@atomicLoad(u32, taken, .acquire) == 0 and platform.monotonicNs() < give_up) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectEqual(@as(u32, 1), @atomicLoad(u32, taken, .acquire));
    try testing.expect(viewsOut(c));
    var buf: [64]u8 = undefined;
    try testing.expectEqual(RecvResult{ .received = 16 }, try tryRecv(c, &buf, false, at_once));
    // The ring is full behind the live holder's views: the send waits (reaping nothing) and times out.
    try testing.expectError(error.TimedOut, send(c, &[_]u8{9} ** 100, wait.Deadline.after(300 * std.time.ns_per_ms)));
    try testing.expect(!try reap(c, at_once));
    for (0..4) |i| try testing.expectEqualSlices(u8, &[_]u8{@intCast(i)} ** 16, viewOf(c, header_size + @as(u32, @intCast(i)) * 24 + 8, 16));
    // Once the whole process is dead (a zombie: not yet waited for), its views are given back.
    try std.posix.kill(pid, std.posix.SIG.KILL);
    try send(c, &[_]u8{9} ** 100, wait.Deadline.after(20 * std.time.ns_per_s));
    try testing.expect(!viewsOut(c));
}

test "views: a holder is judged by pid, start time and pid namespace" {
    var memory: [header_size + 256]u8 align(64) = undefined;
    const c = try testChan(&memory, 256, 0);
    var offsets: [2]u32 = undefined;
    var lengths: [2]u32 = undefined;
    var moved = false;
    var l: Loan = .{ .from = 0, .to = 0 };
    // A pid that no process has: a child that exited and was waited for.
    const dead_pid = try std.posix.fork();
    if (dead_pid == 0) std.posix.exit(0);
    _ = std.posix.waitpid(dead_pid, 0);
    const self = try platform.selfStamp();
    for (0..4) |round| {
        for (0..2) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
        l = .{ .from = 0, .to = 0 };
        try testing.expectEqual(@as(u32, 2), (try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once)).count);
        // This process claimed the first entry, and its own views are never passed.
        const h = c.c.holder(0);
        try testing.expectEqual(@as(u32, @intCast(self.pid)), h.pid);
        try testing.expect(!try reap(c, at_once));
        switch (round) {
            // A reused pid: this process's pid with another start time names a dead holder.
            0 => h.start +%= 1,
            // A dead pid of this namespace.
            1 => h.pid = @intCast(dead_pid),
            // A holder of another namespace cannot be judged: never passed, even with a dead pid.
            2 => {
                h.pid = @intCast(dead_pid);
                h.pidns +%= 1;
                try testing.expect(!try reap(c, at_once));
                try testing.expect(viewsOut(c));
                h.pidns -%= 1;
            },
            // A mark that names an entry never written names nobody.
            else => {
                const record = try recordAt(c, l.from, l.to -% l.from);
                setKind(c, record, kind_loaned | (holders_max - 1) << 8);
                setKind(c, try recordAt(c, record.after, l.to -% record.after), kind_message);
            },
        }
        try testing.expect(try reap(c, at_once));
        try testing.expect(!viewsOut(c));
        try testing.expectError(error.Invalid, release(c, l));
        // Back to this process, for the next round.
        c.c.holder(0).* = .{ .pid = @intCast(self.pid), .pidns = @truncate(self.pidns), .start = self.start };
    }
}

test "views: at most holders_max processes hold views; a dead holder's entry is taken over" {
    var memory: [header_size + 512]u8 align(64) = undefined;
    const c = try testChan(&memory, 512, 0);
    var offsets: [1]u32 = undefined;
    var lengths: [1]u32 = undefined;
    var moved = false;
    const self = try platform.selfStamp();
    // Every entry names a live holder of another namespace (so never judged dead), each with a view.
    for (0..holders_max + 1) |i| try testing.expect(try trySend(c, &[_]u8{@intCast(i)} ** 16) == .sent);
    for (0..holders_max) |i| {
        var l: Loan = .{ .from = 0, .to = 0 };
        try testing.expectEqual(@as(u32, 1), (try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once)).count);
        try testing.expectEqual(@as(u32, @intCast(i)), (try recordAt(c, l.from, l.to -% l.from)).kind >> 8);
        try testing.expectEqual(@as(u32, @intCast(self.pid)), c.c.holder(@intCast(i)).pid);
        c.c.holder(@intCast(i)).pidns +%= 1;
    }
    var l: Loan = .{ .from = 0, .to = 0 };
    try testing.expectError(error.Busy, tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once));
    // One of them turns out to be dead (back in this namespace, with a pid that has another start):
    // its view is given back and its entry taken over.
    c.c.holder(2).pidns -%= 1;
    c.c.holder(2).start +%= 1;
    try testing.expectEqual(@as(u32, 1), (try tryRecvLoan(c, &offsets, &lengths, &l, &moved, at_once)).count);
    try testing.expectEqual(@as(u32, 2), (try recordAt(c, l.from, l.to -% l.from)).kind >> 8);
    try testing.expectEqual(self.start, c.c.holder(2).start);
}

test "positions a peer left unaligned are refused, never followed as record headers" {
    // A message channel's positions are 8-aligned; a peer that writes an unaligned one while the
    // flags said "stream" gets it past `positions`. Reading or writing a record there is a protocol
    // error (it was an alignment panic in ReleaseSafe, and a header split across the ring's end).
    var memory: [header_size + 128]u8 align(64) = undefined;
    const c = try testChan(&memory, 128, 0);
    // A well-formed message header 4 bytes in: followed, it would be a record.
    const words: *[4]u32 = @ptrCast(@alignCast(c.ring()));
    words.* = .{ 0, 1, kind_message, 0 };
    try testing.expectError(error.Protocol, recordAt(c, 4, 64));
    try testing.expectError(error.Protocol, recordAt(c, 124, 8));
    try testing.expectError(error.Protocol, putRecord(c, 4, "x"));
    try testing.expectError(error.Protocol, putRecord(c, 124, "x"));
    try testing.expectEqual(@as(u32, 16), try putRecord(c, 0, "x"));
}
