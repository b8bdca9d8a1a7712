//! Views (zero-copy receives): loans of records in the ring, and the holder table that names who
//! holds them.
//!
//! Invariants (each detailed on `Loan`): everything here happens under the receive lock; a loaned
//! record lies in [head, cursor) and keeps the head, and so senders, behind it until it is given back;
//! a mark names an entry of the holder table, and an entry is rewritten only while no mark in
//! [head, cursor) names it, so a mark that counts always names the process that made it; a holder is
//! judged dead only by a process of its own pid namespace, by pid and start time; at most
//! `holders_max` processes hold views at once (error.Busy beyond).

const std = @import("std");
const abi = @import("../abi.zig");
const wait = @import("../wait.zig");
const platform = @import("../platform/root.zig");
const rm = platform.robust_mutex;
const Error = abi.Error;
const Handle = @import("layout.zig").Handle;
const Holder = @import("layout.zig").Holder;
const flag_single = @import("layout.zig").flag_single;
const flag_stream = @import("layout.zig").flag_stream;
const header_size = @import("layout.zig").header_size;
const holders_max = @import("layout.zig").holders_max;
const kind_loaned = @import("layout.zig").kind_loaned;
const kind_mask = @import("layout.zig").kind_mask;
const kind_message = @import("layout.zig").kind_message;
const position_mask = @import("layout.zig").position_mask;
const record_header = @import("layout.zig").record_header;
const Positions = @import("ring.zig").Positions;
const nextRecord = @import("ring.zig").nextRecord;
const positions = @import("ring.zig").positions;
const recordAt = @import("ring.zig").recordAt;
const setKind = @import("ring.zig").setKind;
const lockBusy = @import("locks.zig").lockBusy;
const lockReceivers = @import("locks.zig").lockReceivers;
const unlock = @import("locks.zig").unlock;
const RecvResult = @import("recv.zig").RecvResult;
const advanceHead = @import("recv.zig").advanceHead;
const wakeAfter = @import("blocking.zig").wakeAfter;

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
pub fn passDead(handle: Handle, p: Positions) Error!u32 {
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
        @import("../crash.zig").point(.chan_loan_marked);
        @atomicStore(u32, &c.read, p.read, .monotonic);
        @import("../crash.zig").point(.chan_loan_taken);
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
    @import("../crash.zig").point(.chan_release_unmarked);
}

/// Gives back a loan (once): its messages count as received, and their space returns to senders
/// once no older view holds the head back. error.Invalid for a range that is not a loan still out.
pub fn release(h: Handle, loan: Loan) Error!void {
    const c = h.c;
    if (c.flags & (flag_stream | flag_single) != 0) return error.Kind;
    if (!try settle(h, loan, false, .never)) return;
    @import("../crash.zig").point(.chan_release_committed);
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
pub const reap_interval_ns: i64 = 20 * std.time.ns_per_ms;
