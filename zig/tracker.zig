//! The tracker: an opt-in helper process that removes this process's tracked names from /dev/shm
//! once this process has ended, however it ended (SIGKILL included). This file is the library's side
//! and the protocol; zig/tracker_helper.zig is the helper program (`libipc-tracker`).
//!
//! Design (PROBE.md Q5 measured it): neither Bun nor Deno runs any code when killed by a signal, so
//! cleanup must live in another process. `start` runs the helper with posix_spawn in a session of
//! its own and keeps one end of a close-on-exec Unix stream socket; the helper reads the other end as
//! its stdin. The library sends 64-byte records: hello (this process's pid, start time and pid
//! namespace, answered by an ack), track and untrack a name, and release (forget every name, exit).
//! When the helper reads end-of-file, every copy of the library's end is closed — the kernel does
//! that when the process dies, in any way — and it unlinks each name still registered that is still
//! a libipc segment whose header names this process as its creator, then exits.
//!
//! Invariants:
//! - A name is registered before it is published in /dev/shm and unregistered if publishing fails,
//!   so there is no moment when a tracked name exists that the helper does not know. The helper's
//!   creator check makes registering a name that never becomes ours harmless.
//! - The helper removes nothing while this process lives: end-of-file with this process still alive
//!   (its socket was closed behind libipc's back, or it called exec) makes the helper wait for its
//!   death first.
//! - This side mirrors the registered names: to enforce `abi.tracker_names_max`, to report them, and
//!   to register them again with a new helper if the old one was killed.
//! - The state belongs to the process that started the tracker. A forked child starts without one:
//!   a pthread_atfork handler closes the child's copy of the socket (so the parent's helper still sees
//!   end-of-file when the parent dies) and every entry point also compares the pid.
//! - All state is behind one mutex; no call blocks longer than the send timeout or the ack timeout.

const std = @import("std");
const abi = @import("abi.zig");
const name_ = @import("name.zig");
const platform = @import("platform/root.zig");
const Error = abi.Error;
const Name = name_.Name;
const proc = platform.process;

/// argv[1] of the helper: names the protocol version, so a helper of another version refuses to run.
pub const protocol = "libipc-tracker-1";
/// File name of the helper program.
pub const helper_name = "libipc-tracker";
/// Environment variable naming the helper program, tried before the build output beside libipc.
pub const helper_env = "LIBIPC_TRACKER";

pub const record_magic: u32 = 0x7472_6b31; // "1krt"

pub const Op = enum(u32) { hello = 1, track = 2, untrack = 3, release = 4, ack = 5, _ };

/// One message on the socket, in either direction. Both ends are on the same machine and run the
/// same protocol version, so native byte order is fine.
pub const Record = extern struct {
    magic: u32 = record_magic,
    op: Op,
    pid: i32 = 0,
    name_len: u32 = 0,
    start: u64 = 0,
    pidns: u64 = 0,
    name: [abi.name_max + 1]u8 = [_]u8{0} ** (abi.name_max + 1),

    pub fn ofName(op: Op, name: Name) Record {
        return .{ .op = op, .name_len = name.len, .name = name.bytes };
    }

    /// The record's name, validated; null when it is not a valid name.
    pub fn getName(r: *const Record) ?Name {
        if (r.name_len == 0 or r.name_len > abi.name_max) return null;
        return name_.parse(r.name[0..r.name_len]) catch null;
    }
};

comptime {
    std.debug.assert(@sizeOf(Record) == 64);
}

/// A name as a map key: its NUL-padded bytes.
pub const Key = [abi.name_max + 1]u8;

const send_timeout_ms = 10_000;
const ack_timeout_ms = 5_000;
const exit_timeout_ms = 2_000;

const allocator = std.heap.c_allocator;

const State = struct {
    /// The process that started the helper; 0 when no helper runs.
    owner: i32 = 0,
    fd: platform.Fd = -1,
    helper: i32 = 0,
    all: bool = false,
    /// The helper program that was started, to start it again if it dies.
    path: [path_max:0]u8 = [_:0]u8{0} ** path_max,
    names: std.AutoArrayHashMapUnmanaged(Key, void) = .empty,
};

/// Longest helper path in bytes.
pub const path_max = 4096;

var state: State = .{};
var lock: std.Thread.Mutex = .{};
var fork_handlers_installed = false;

fn running() bool {
    return state.owner != 0;
}

/// Drops a state inherited through fork: the helper belongs to the parent. Closing this copy of the
/// socket lets the parent's helper see end-of-file when the parent dies, even while this child lives.
/// Runs in the child right after fork (pthread_atfork), where only async-signal-safe calls are
/// allowed in general; glibc's malloc (behind c_allocator) is safe there.
fn forgetInherited() void {
    if (state.owner == 0 or state.owner == proc.getpid()) return;
    platform.close(state.fd);
    state.names.deinit(allocator);
    // The helper program is kept: the child's own tracker, if it starts one, runs the same.
    const path = state.path;
    state = .{};
    state.path = path;
}

fn atForkPrepare() callconv(.c) void {
    lock.lock();
}

fn atForkParent() callconv(.c) void {
    lock.unlock();
}

fn atForkChild() callconv(.c) void {
    // The child has one thread; the lock copied from the parent is held by a thread that does not
    // exist here, so it starts over.
    lock = .{};
    forgetInherited();
}

/// Starts the helper if it is not running in this process; sets whether every named object this
/// process creates from now on is tracked. `helper` is the program to run; null looks it up (see
/// `findHelper`). Ignored when the helper runs already.
pub fn start(helper: ?[]const u8, all: bool) Error!void {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    if (!running()) try spawn(helper);
    state.all = all;
}

/// Whether named objects are tracked without being asked for (`abi.tracker_all`).
pub fn tracksAll() bool {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    return running() and state.all;
}

/// Registers `name`, starting the helper first if needed. Returns false when it was registered
/// already.
pub fn register(name: Name) Error!bool {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    if (!running()) try spawn(null);
    if (state.names.contains(name.bytes)) return false;
    if (state.names.count() >= abi.tracker_names_max) return error.NoSpace;
    state.names.ensureUnusedCapacity(allocator, 1) catch return error.NoMemory;
    try send(Record.ofName(.track, name));
    state.names.putAssumeCapacity(name.bytes, {});
    return true;
}

/// Unregisters `name`; the name itself stays. Returns whether it was registered.
pub fn unregister(name: Name) bool {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    if (!running() or !state.names.swapRemove(name.bytes)) return false;
    // A helper that is gone has nothing left to forget, and a new one only learns the mirror.
    send(Record.ofName(.untrack, name)) catch {};
    return true;
}

/// Stops the helper without removing anything: every registered name stays in /dev/shm.
pub fn stop() void {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    if (!running()) return;
    if (proc.sendAll(state.fd, std.mem.asBytes(&Record{ .op = .release }))) {
        // The helper closes its end as it exits; waiting for that keeps it from still running when
        // this call returns.
        _ = proc.waitReadable(state.fd, exit_timeout_ms) catch {};
    } else |_| {}
    platform.close(state.fd);
    proc.reap(state.helper);
    state.names.deinit(allocator);
    state = .{};
}

pub const Status = struct { helper: i32, names: u32, all: bool };

/// The helper's pid (0 when none runs in this process), how many names are registered, and
/// whether every named object is tracked.
pub fn status() Status {
    lock.lock();
    defer lock.unlock();
    forgetInherited();
    return .{ .helper = state.helper, .names = @intCast(state.names.count()), .all = running() and state.all };
}

/// Sends `record`. If the helper has died (someone killed it), starts a new one, which learns every
/// mirrored name, and sends once more.
fn send(record: Record) Error!void {
    std.debug.assert(running());
    proc.sendAll(state.fd, std.mem.asBytes(&record)) catch |err| {
        if (err != error.Broken) return err;
        platform.close(state.fd);
        proc.reap(state.helper);
        state.owner = 0;
        state.fd = -1;
        state.helper = 0;
        try spawn(null);
        try proc.sendAll(state.fd, std.mem.asBytes(&record));
    };
}

/// Starts the helper, waits for its ack, and registers every mirrored name with it (names a helper
/// that died had). `helper` null means the program started last time, else `findHelper`'s. Leaves
/// `state` untouched on failure.
fn spawn(helper: ?[]const u8) Error!void {
    std.debug.assert(!running());
    if (!fork_handlers_installed) {
        try proc.atFork(atForkPrepare, atForkParent, atForkChild);
        fork_handlers_installed = true;
    }
    var path_buf: [path_max:0]u8 = undefined;
    const last = std.mem.sliceTo(&state.path, 0);
    const path = try findHelper(helper orelse if (last.len > 0) last else null, &path_buf);
    const self = try platform.selfStamp();

    const pair = try proc.socketPair();
    errdefer platform.close(pair[0]);
    proc.setSendTimeout(pair[0], send_timeout_ms) catch {};
    const pid = proc.spawnHelper(path.ptr, protocol, pair[1]) catch |err| {
        platform.close(pair[1]);
        return err;
    };
    // Only the helper may hold its end: a copy here would hide the helper's death.
    platform.close(pair[1]);
    errdefer {
        proc.killProcess(pid);
        proc.reap(pid);
    }
    // A program that exits at once (not a tracker) closes the socket before the hello arrives.
    proc.sendAll(pair[0], std.mem.asBytes(&Record{ .op = .hello, .pid = self.pid, .start = self.start, .pidns = self.pidns })) catch |err|
        return if (err == error.Broken) error.Protocol else err;
    if (!try proc.waitReadable(pair[0], ack_timeout_ms)) return error.TimedOut;
    var ack: Record = undefined;
    if (!try readRecord(pair[0], &ack)) return error.Protocol;
    if (ack.magic != record_magic or ack.op != .ack) return error.Protocol;
    for (state.names.keys()) |key| {
        var r: Record = .{ .op = .track, .name = key };
        r.name_len = @intCast(std.mem.indexOfScalar(u8, &key, 0) orelse key.len);
        try proc.sendAll(pair[0], std.mem.asBytes(&r));
    }

    state.owner = self.pid;
    state.fd = pair[0];
    state.helper = pid;
    @memset(&state.path, 0);
    @memcpy(state.path[0..path.len], path);
}

/// Reads one whole record; false at end-of-file before a whole record arrived.
pub fn readRecord(fd: platform.Fd, record: *Record) Error!bool {
    const bytes = std.mem.asBytes(record);
    var got: usize = 0;
    var calls: u32 = 0;
    while (got < bytes.len) : (calls += 1) {
        if (calls == 64) return error.Io;
        const n = try proc.recvSome(fd, bytes[got..]);
        if (n == 0) return false;
        got += n;
    }
    return true;
}

/// Where the helper is looked for, relative to the directory of the file libipc was loaded from (see
/// `findHelper`): an installed prefix (lib/ beside libexec/libipc/), the build output (zig-out/lib
/// beside zig-out/bin), and the same directory (the npm platform packages).
pub const helper_dirs = [_][]const u8{ "/../libexec/libipc/", "/../bin/", "/" };

/// The helper program to run: `helper` if given; else $LIBIPC_TRACKER; else `libipc-tracker` in
/// one of `helper_dirs` of the directory of the file libipc was loaded from (libipc.so, or the
/// program libipc.a was linked into); else the path the build compiled in (`zig build -p PREFIX`
/// puts PREFIX/libexec/libipc/libipc-tracker there, so a statically linked program anywhere finds
/// the helper of the install it was linked from). error.NoHelper when none of these is an
/// executable file.
pub fn findHelper(helper: ?[]const u8, buf: *[path_max:0]u8) Error![:0]const u8 {
    if (helper) |h| return pathOf(buf, &.{h});
    if (proc.getenv(helper_env)) |h| {
        if (h.len > 0) return pathOf(buf, &.{h});
    }
    var image_buf: [path_max]u8 = undefined;
    if (proc.imagePath(&image_buf)) |image| {
        if (std.fs.path.dirname(image)) |dir| {
            for (helper_dirs) |middle| {
                const path = pathOf(buf, &.{ dir, middle, helper_name }) catch continue;
                if (proc.executable(path.ptr)) return path;
            }
        }
    }
    const compiled: []const u8 = @import("build_options").tracker_path;
    if (compiled.len > 0) {
        const path = pathOf(buf, &.{compiled}) catch return error.NoHelper;
        if (proc.executable(path.ptr)) return path;
    }
    return error.NoHelper;
}

fn pathOf(buf: *[path_max:0]u8, parts: []const []const u8) Error![:0]const u8 {
    var len: usize = 0;
    for (parts) |part| {
        if (len + part.len >= path_max) return error.NameTooLong;
        if (std.mem.indexOfScalar(u8, part, 0) != null) return error.Invalid;
        @memcpy(buf[len..][0..part.len], part);
        len += part.len;
    }
    if (len == 0) return error.Invalid;
    buf[len] = 0;
    return buf[0..len :0];
}

const testing = std.testing;

test "records are 64 bytes and carry a valid name" {
    const n = try name_.parse("tracked");
    const r = Record.ofName(.track, n);
    try testing.expectEqualStrings("/tracked", r.getName().?.slice());
    var bad = r;
    bad.name_len = 40;
    try testing.expect(bad.getName() == null);
    bad = r;
    bad.name[1] = '*';
    try testing.expect(bad.getName() == null);
}

test "helper paths are checked" {
    var buf: [path_max:0]u8 = undefined;
    try testing.expectEqualStrings("/x/y", try findHelper("/x/y", &buf));
    try testing.expectError(error.Invalid, findHelper("", &buf));
    try testing.expectError(error.Invalid, findHelper("a\x00b", &buf));
    const long = [_]u8{'a'} ** path_max;
    try testing.expectError(error.NameTooLong, findHelper(&long, &buf));
}
