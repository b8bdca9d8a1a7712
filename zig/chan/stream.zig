//! Stream channels (Pipe): raw bytes without records, and the writer whose death ends the pipe.
//!
//! Invariants: a write puts as much as fits (at least one byte, or blocked) under the send lock and
//! commits the tail; a read takes what is there (at least one byte, or ended or blocked) under the
//! receive lock and commits the head. The writer lock is held by the one writer readers watch: when it
//! dies the kernel marks its word owner-died, and a reader that finds the ring empty then ends the pipe
//! (`end`). A reader waits on the data word and, through its waiters bit, on the writer's word too.

const abi = @import("../abi.zig");
const mutex = @import("../mutex.zig");
const wait = @import("../wait.zig");
const platform = @import("../platform/root.zig");
const rm = platform.robust_mutex;
const Error = abi.Error;
const Chan = @import("layout.zig").Chan;
const Handle = @import("layout.zig").Handle;
const isStream = @import("layout.zig").isStream;
const commitHead = @import("ring.zig").commitHead;
const commitTail = @import("ring.zig").commitTail;
const copyIn = @import("ring.zig").copyIn;
const copyOut = @import("ring.zig").copyOut;
const positions = @import("ring.zig").positions;
const Blocked = @import("locks.zig").Blocked;
const lock = @import("locks.zig").lock;
const lockBusy = @import("locks.zig").lockBusy;
const lockReceivers = @import("locks.zig").lockReceivers;
const unlock = @import("locks.zig").unlock;
const end = @import("blocking.zig").end;
const read = @import("blocking.zig").read;

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
