//! libipc-tracker: the helper program the tracker runs (see zig/tracker.zig for the design). It is
//! started by libipc with posix_spawn, never by hand: its stdin is one end of a stream socket whose
//! other end only its parent holds, and argv[1] names the protocol version.
//!
//! It reads the parent's hello (pid, start time, pid namespace) and acks it, then keeps the set of
//! names the parent registers and unregisters. At end-of-file — the parent closed the socket, which
//! the kernel does when the parent dies in any way — it waits until the parent is really gone, then
//! unlinks each registered name that is still a libipc segment of this user whose header names the
//! parent as creator (`segment.unlinkDead`), and exits. A release record makes it exit at once and
//! remove nothing.
//!
//! Invariants: it never removes a file that is not a libipc segment, another process's segment, or
//! anything while the parent lives; it holds no fd but its stdin (and /dev/null), so it never delays
//! anyone else's end-of-file; on Linux it uses raw syscalls only (no libc; macOS has libSystem
//! only); it keeps at most `abi.tracker_names_max` names.

const std = @import("std");
const abi = @import("abi.zig");
const name_ = @import("name.zig");
const segment = @import("segment.zig");
const tracker = @import("tracker.zig");
const platform = @import("platform/root.zig");
const proc = platform.process;

const stdin: platform.Fd = 0;

pub fn main() u8 {
    const argv = std.os.argv;
    if (argv.len != 2 or !std.mem.eql(u8, std.mem.span(argv[1]), tracker.protocol) or !proc.isSocket(stdin)) {
        const usage = "libipc-tracker is started by libipc (ipc_tracker_start, Tracker.start, " ++
            "track: true); it is not meant to be run by hand.\n";
        _ = std.posix.write(2, usage) catch {};
        return 64;
    }
    proc.closeFrom(3);
    proc.ignoreSignals();
    run() catch return 1;
    return 0;
}

/// Reads whole records from the socket, buffering partial reads.
const Reader = struct {
    buf: [64 * @sizeOf(tracker.Record)]u8 align(8) = undefined,
    start: usize = 0,
    end: usize = 0,

    /// The next record, or null at end-of-file (a partial record at the end is dropped).
    fn next(r: *Reader) !?tracker.Record {
        while (r.end - r.start < @sizeOf(tracker.Record)) {
            if (r.start > 0) {
                std.mem.copyForwards(u8, r.buf[0 .. r.end - r.start], r.buf[r.start..r.end]);
                r.end -= r.start;
                r.start = 0;
            }
            const n = try proc.recvSome(stdin, r.buf[r.end..]);
            if (n == 0) return null;
            r.end += n;
        }
        var record: tracker.Record = undefined;
        @memcpy(std.mem.asBytes(&record), r.buf[r.start..][0..@sizeOf(tracker.Record)]);
        r.start += @sizeOf(tracker.Record);
        return record;
    }
};

fn run() !void {
    var reader: Reader = .{};
    // A parent that died before its hello registered nothing.
    const hello = (try reader.next()) orelse return;
    if (hello.magic != tracker.record_magic or hello.op != .hello or hello.pid <= 0) return error.Protocol;
    const parent: platform.Stamp = .{ .pid = hello.pid, .start = hello.start, .pidns = hello.pidns };
    // A parent that dies right after its hello makes this send fail; the records it sent are still
    // read below.
    proc.sendAll(stdin, std.mem.asBytes(&tracker.Record{ .op = .ack, .pid = proc.getpid() })) catch {};

    var names: std.AutoArrayHashMapUnmanaged(tracker.Key, void) = .empty;
    const allocator = std.heap.page_allocator;
    while (try reader.next()) |record| {
        if (record.magic != tracker.record_magic) return error.Protocol;
        switch (record.op) {
            .track => {
                const name = record.getName() orelse continue;
                if (names.count() >= abi.tracker_names_max) continue;
                try names.put(allocator, name.bytes, {});
            },
            .untrack => {
                const name = record.getName() orelse continue;
                _ = names.swapRemove(name.bytes);
            },
            .release => return,
            else => continue,
        }
    }

    proc.waitExit(parent.pid, parent.start);
    for (names.keys()) |key| {
        const name = name_.parse(std.mem.sliceTo(&key, 0)) catch continue;
        _ = segment.unlinkDead(name, parent) catch {};
    }
}
