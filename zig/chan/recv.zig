//! Receiving messages by copy: one message, or as many whole messages as fit a buffer.
//!
//! Invariants: under the receive lock a receiver reads records between the receivers' cursor and the
//! tail, copies them out, and commits in two stores (`consume`): the cursor, then the head when no
//! view is out. A receiver killed between them leaves the messages received and their space held,
//! which the next holder of the receive lock gives back (locks.zig). The head never passes a view
//! still out (`advanceHead`); with `dead_too` it first gives back the views of dead holders. A
//! message too large for the buffer is left in place (`too_small`), never cut.

const std = @import("std");
const abi = @import("../abi.zig");
const wait = @import("../wait.zig");
const Error = abi.Error;
const Handle = @import("layout.zig").Handle;
const isStream = @import("layout.zig").isStream;
const kind_loaned = @import("layout.zig").kind_loaned;
const kind_mask = @import("layout.zig").kind_mask;
const position_mask = @import("layout.zig").position_mask;
const Positions = @import("ring.zig").Positions;
const commitHead = @import("ring.zig").commitHead;
const copyOut = @import("ring.zig").copyOut;
const nextRecord = @import("ring.zig").nextRecord;
const positions = @import("ring.zig").positions;
const recordAt = @import("ring.zig").recordAt;
const Blocked = @import("locks.zig").Blocked;
const lockBusy = @import("locks.zig").lockBusy;
const lockReceivers = @import("locks.zig").lockReceivers;
const unlock = @import("locks.zig").unlock;
const passDead = @import("views.zig").passDead;

pub const RecvResult = union(enum) {
    /// The message's length (copied into the buffer).
    received: u32,
    /// The buffer is too small for the next message, which needs this many bytes; nothing taken.
    too_small: u32,
    /// Closed and drained.
    ended,
    blocked: Blocked,
};

/// Moves the receivers' cursor to `after`: the records before it are received. When no view is out
/// the head moves with it (the cursor first: a receiver killed between the two stores leaves received
/// records between the head and the cursor, which the next head move passes).
pub fn consume(h: Handle, p: *Positions, after: u32) void {
    const c = h.c;
    const views = p.read != p.head;
    @atomicStore(u32, &c.read, after, .monotonic);
    @import("../crash.zig").point(.chan_consume_cursor);
    p.read = after;
    if (views) return;
    commitHead(c, after);
    @import("../crash.zig").point(.chan_consume_head);
    p.head = after;
}

/// Moves the head over the received records and padding after it, up to the first view still out
/// (with `dead_too`, after giving back the views of holders that died). True when it moved. Caller
/// holds the receive lock.
pub fn advanceHead(handle: Handle, p: *Positions, dead_too: bool) Error!bool {
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
    @import("../crash.zig").point(.chan_recv_copied);
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
