//! Sending messages: a batch of messages goes in whole and in order, or not at all.
//!
//! Invariants: under the send lock a sender writes records beyond the tail (a padding record first
//! where one would cross the end of the ring), then commits the tail with one store, which is what
//! makes them visible; a sender killed before that store committed nothing. A message is at most
//! `messageMax` bytes (half the capacity minus a record header), so one always fits an empty ring.
//! A closed channel refuses sends with error.Pipe.

const abi = @import("../abi.zig");
const wait = @import("../wait.zig");
const Error = abi.Error;
const Handle = @import("layout.zig").Handle;
const flag_single = @import("layout.zig").flag_single;
const isStream = @import("layout.zig").isStream;
const messageMax = @import("layout.zig").messageMax;
const Positions = @import("ring.zig").Positions;
const commitTail = @import("ring.zig").commitTail;
const positions = @import("ring.zig").positions;
const putRecord = @import("ring.zig").putRecord;
const recordSize = @import("ring.zig").recordSize;
const Blocked = @import("locks.zig").Blocked;
const at_once = @import("locks.zig").at_once;
const lock = @import("locks.zig").lock;
const lockBusy = @import("locks.zig").lockBusy;
const unlock = @import("locks.zig").unlock;

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
    @import("../crash.zig").point(.chan_send_copied);
    commitTail(c, tail);
    @import("../crash.zig").point(.chan_send_committed);
    return .sent;
}

pub fn trySend(h: Handle, message: []const u8) Error!SendResult {
    return trySendMany(h, &.{message}, at_once);
}
