//! The channel's unit tests across its files: messages in order and across the wrap, limits and
//! corrupt positions, single-message channels, streams, threads, a lock holder's death, views and
//! their holders (dead, exited main thread, another pid namespace, a full holder table).
//!
//! Invariants: each test builds its channel in memory of its own (a stack buffer, or a shared
//! mapping where a forked child takes part), so tests share no channel; `testChan` builds a handle
//! directly, without the process's table of handles (whose own test is in handles.zig).

const std = @import("std");
const mutex = @import("../mutex.zig");
const wait = @import("../wait.zig");
const platform = @import("../platform/root.zig");
const Handle = @import("layout.zig").Handle;
const flag_single = @import("layout.zig").flag_single;
const flag_stream = @import("layout.zig").flag_stream;
const header_size = @import("layout.zig").header_size;
const holders_max = @import("layout.zig").holders_max;
const init = @import("layout.zig").init;
const kind_loaned = @import("layout.zig").kind_loaned;
const kind_message = @import("layout.zig").kind_message;
const messageMax = @import("layout.zig").messageMax;
const sizeFor = @import("layout.zig").sizeFor;
const nextRecord = @import("ring.zig").nextRecord;
const positions = @import("ring.zig").positions;
const putRecord = @import("ring.zig").putRecord;
const recordAt = @import("ring.zig").recordAt;
const setKind = @import("ring.zig").setKind;
const at_once = @import("locks.zig").at_once;
const trySend = @import("send.zig").trySend;
const RecvResult = @import("recv.zig").RecvResult;
const tryRecv = @import("recv.zig").tryRecv;
const Loan = @import("views.zig").Loan;
const reap = @import("views.zig").reap;
const release = @import("views.zig").release;
const tryRecvLoan = @import("views.zig").tryRecvLoan;
const viewsOut = @import("views.zig").viewsOut;
const replace = @import("mvar.zig").replace;
const trySwap = @import("mvar.zig").trySwap;
const tryRead = @import("stream.zig").tryRead;
const tryWrite = @import("stream.zig").tryWrite;
const close = @import("blocking.zig").close;
const pending = @import("blocking.zig").pending;
const recv = @import("blocking.zig").recv;
const recvLoan = @import("blocking.zig").recvLoan;
const send = @import("blocking.zig").send;

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
