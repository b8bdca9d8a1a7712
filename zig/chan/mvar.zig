//! Single-message channels (MVar): taking the value and putting another as one step (`trySwap`), and
//! replacing the value without waiting (`replace`).
//!
//! Invariants: both hold the send and the receive lock and move both positions; afterwards each
//! side's seen value of the other's position is the new one (`seeBoth`), so neither falls behind by
//! more than the capacity. A process killed between the two commits leaves the channel empty (the old
//! value gone, the new one not there), never holding two values or a torn one.

const abi = @import("../abi.zig");
const wait = @import("../wait.zig");
const Error = abi.Error;
const Chan = @import("layout.zig").Chan;
const Handle = @import("layout.zig").Handle;
const flag_single = @import("layout.zig").flag_single;
const messageMax = @import("layout.zig").messageMax;
const position_mask = @import("layout.zig").position_mask;
const commitTail = @import("ring.zig").commitTail;
const copyOut = @import("ring.zig").copyOut;
const nextRecord = @import("ring.zig").nextRecord;
const positions = @import("ring.zig").positions;
const putRecord = @import("ring.zig").putRecord;
const lock = @import("locks.zig").lock;
const lockBusy = @import("locks.zig").lockBusy;
const lockReceivers = @import("locks.zig").lockReceivers;
const unlock = @import("locks.zig").unlock;
const RecvResult = @import("recv.zig").RecvResult;
const consume = @import("recv.zig").consume;
const wakeAfter = @import("blocking.zig").wakeAfter;

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
    @import("../crash.zig").point(.chan_swap_consumed);
    const tail = try putRecord(h, p.tail, message);
    commitTail(c, tail);
    @import("../crash.zig").point(.chan_swap_committed);
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
    @import("../crash.zig").point(.chan_replace_consumed);
    if (p.used() != 0) return error.Protocol; // a single-message channel held more than one
    const tail = try putRecord(h, p.tail, message);
    commitTail(c, tail);
    @import("../crash.zig").point(.chan_replace_committed);
    seeBoth(c, p.head, tail);
    wakeAfter(h, &c.readable);
    wakeAfter(h, &c.writable);
}
