//! macOS implementation of the platform layer: POSIX shared-memory objects, mappings, process
//! identity and liveness, randomness. Waiting and waking live in macos_wait.zig, the tracker's
//! process plumbing in macos_process.zig. libSystem calls only (macOS has no stable syscall ABI);
//! every errno is mapped here, in `fromErrno`.
//!
//! Segments are shm_open objects. Their names are libipc's own ("/x", at most 31 bytes with the
//! slash: PSHMNAMLEN, the limit name.zig keeps everywhere), in one namespace of the whole machine
//! that holds shm objects only: no symlink, FIFO or device can stand under a name, so a name is
//! opened directly. An shm object cannot be named after its creation nor renamed, so a named segment
//! is created under its name (`createNamed`, O_CREAT | O_EXCL) and sized at once; until its creator
//! has written the header an opener finds no valid header and gets error.Protocol, as for any file
//! that is not a libipc segment (segment.zig writes the magic last on such systems). Anonymous
//! segments are shm objects of a random name unlinked right after shm_open: only the fd (inherited,
//! or passed over a socket) reaches them. macOS lets an shm object be sized once only, so nobody
//! can shrink it under another process's mapping.
//!
//! What the file system cannot say here: shm objects cannot be read or written with pread (`readAt`
//! maps them), their fstat carries no inode (`dev` and `ino` are 0, so the same-file checks of
//! segment.zig see every object as itself) and the names cannot be listed: `NameIterator` fails
//! with error.NotSupported, so `ipc_segment_list` and `ipc_sweep` do too. A name whose creator died
//! stays until it is unlinked or the machine restarts; the tracker (which knows the names it was
//! given) is how a crashed process's names are removed on macOS. Permission bits apply at creation;
//! `reserve` changes nothing (shm objects have no fallocate; pages come on first touch, and running
//! out of memory there means swapping, never SIGBUS).
//!
//! Process identity: pid and start time (microseconds since the epoch, from proc_pidinfo's
//! PROC_PIDTBSDINFO), no pid namespaces (`pidns` 0). Every fd is close-on-exec (set right after
//! shm_open, which takes no O_CLOEXEC: a fork and exec in another thread in between may inherit it).

const std = @import("std");
const c = std.c;
const abi = @import("../abi.zig");
const posix = @import("posix.zig");
const Error = abi.Error;
const wait = @import("macos_wait.zig");

pub const supported = true;
pub const Fd = i32;
pub const robust_mutex = @import("unsupported.zig").robust_mutex;
pub const process = @import("macos_process.zig");
pub const WaitWord = wait.WaitWord;
pub const WaitResult = wait.WaitResult;
pub const futexWaitv = wait.futexWaitv;
pub const futexWake = wait.futexWake;
pub const monotonicNs = wait.monotonicNs;

const eintr_retries_max = 64;

/// The one mapping from Darwin errno values to libipc errors.
pub fn fromErrno(e: c.E) Error {
    return posix.fromErrno(e);
}

fn errno() c.E {
    return @enumFromInt(c._errno().*);
}

/// Calls the libc function `f` until it does not fail with EINTR, at most `eintr_retries_max`
/// times; returns its non-negative result.
pub fn retry(comptime f: anytype, args: anytype) Error!usize {
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        const rc = @call(.auto, f, args);
        if (rc >= 0) return @intCast(rc);
        const e = errno();
        if (e != .INTR or attempt == eintr_retries_max) return fromErrno(e);
    }
}

/// `name` as a NUL-terminated string in `buf`.
fn nameZ(buf: *[abi.name_max + 1]u8, name: []const u8) [:0]const u8 {
    std.debug.assert(name.len >= 2 and name.len <= abi.name_max and name[0] == '/');
    @memcpy(buf[0..name.len], name);
    buf[name.len] = 0;
    return buf[0..name.len :0];
}

fn setCloexec(fd: Fd) Error!void {
    _ = try retry(c.fcntl, .{ fd, c.F.SETFD, @as(c_int, c.FD_CLOEXEC) });
}

fn shmOpen(name: [:0]const u8, flags: c.O, mode: u32) Error!Fd {
    const rc = try retry(c.shm_open, .{ name.ptr, @as(c_int, @bitCast(flags)), @as(c.mode_t, @intCast(mode)) });
    const fd: Fd = @intCast(rc);
    errdefer close(fd);
    try setCloexec(fd);
    return fd;
}

/// Creates the named segment `name` of `size` bytes with permission bits `mode` (segment.zig calls
/// this instead of `createFile` + `publish` where objects are named at creation). error.Exists when
/// the name is taken.
pub fn createNamed(size: u64, name: []const u8, mode: u32) Error!Fd {
    var buf: [abi.name_max + 1]u8 = undefined;
    const z = nameZ(&buf, name);
    const fd = try shmOpen(z, .{ .ACCMODE = .RDWR, .CREAT = true, .EXCL = true }, mode);
    errdefer {
        close(fd);
        _ = c.shm_unlink(z.ptr);
    }
    _ = try retry(c.ftruncate, .{ fd, @as(c.off_t, @intCast(size)) });
    return fd;
}

const anonymous_attempts_max = 16;

/// Creates an anonymous segment of `size` bytes: an shm object of a random name ("/ipc-anon-" and
/// 16 hex digits, outside the names libipc generates), unlinked at once so only its fd reaches it.
/// Named segments come from `createNamed` here.
pub fn createFile(size: u64, mode: u32, anonymous: bool, reserve: bool) Error!Fd {
    _ = .{ mode, reserve };
    if (!anonymous) return error.NotSupported;
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        var random: [8]u8 = undefined;
        randomBytes(&random);
        var buf: [abi.name_max + 1]u8 = undefined;
        const z = std.fmt.bufPrintZ(&buf, "/ipc-anon-{x}", .{std.mem.readInt(u64, &random, .little)}) catch unreachable;
        const fd = shmOpen(z, .{ .ACCMODE = .RDWR, .CREAT = true, .EXCL = true }, 0o600) catch |err| {
            if (err == error.Exists and attempt + 1 < anonymous_attempts_max) continue;
            return err;
        };
        _ = c.shm_unlink(z.ptr);
        errdefer close(fd);
        _ = try retry(c.ftruncate, .{ fd, @as(c.off_t, @intCast(size)) });
        return fd;
    }
}

/// The name was given at creation (`createNamed`): nothing is left to do.
pub fn publish(fd: Fd, name: []const u8) Error!void {
    _ = .{ fd, name };
}

/// Opens the named segment for reading and writing.
pub fn openNamed(name: []const u8) Error!Fd {
    var buf: [abi.name_max + 1]u8 = undefined;
    return shmOpen(nameZ(&buf, name), .{ .ACCMODE = .RDWR }, 0);
}

/// Opens a named segment for reading only: enough to read a header, and possible on segments this
/// user may read but not write.
pub fn openNamedRead(name: []const u8) Error!Fd {
    var buf: [abi.name_max + 1]u8 = undefined;
    return shmOpen(nameZ(&buf, name), .{ .ACCMODE = .RDONLY }, 0);
}

/// What fstat says about the object behind the name. shm objects have no stat by name: this opens
/// it read-only, so a name this user may not read is error.Access.
pub fn statNamed(name: []const u8) Error!FileInfo {
    const fd = try openNamedRead(name);
    defer close(fd);
    return fileInfo(fd);
}

pub fn unlinkNamed(name: []const u8) Error!void {
    var buf: [abi.name_max + 1]u8 = undefined;
    _ = try retry(c.shm_unlink, .{nameZ(&buf, name).ptr});
}

/// A duplicate of `fd`, close-on-exec. A closed or invalid fd is error.Invalid.
pub fn dup(fd: Fd) Error!Fd {
    if (fd < 0) return error.Invalid;
    return @intCast(try retry(c.fcntl, .{ fd, c.F.DUPFD_CLOEXEC, @as(c_int, 0) }));
}

pub fn close(fd: Fd) void {
    // Darwin closes the fd even when close reports EINTR; never retry.
    _ = c.close(fd);
}

/// Lets `fd` reach programs this process executes (`inherit`: close-on-exec off), or not (on again).
/// A negative or closed fd is error.Invalid (EBADF).
pub fn inherit(fd: Fd, on: bool) Error!void {
    if (fd < 0) return error.Invalid;
    const flags: c_int = @intCast(try retry(c.fcntl, .{ fd, c.F.GETFD, @as(c_int, 0) }));
    const want: c_int = if (on) flags & ~@as(c_int, c.FD_CLOEXEC) else flags | c.FD_CLOEXEC;
    if (want != flags) _ = try retry(c.fcntl, .{ fd, c.F.SETFD, want });
}

/// Closes `fd` and says whether there was one: a negative or closed fd is error.Invalid (EBADF).
/// EINTR still closed it (Darwin), so it counts as done.
pub fn closeFd(fd: Fd) Error!void {
    if (fd < 0) return error.Invalid;
    if (c.close(fd) == 0) return;
    const e = errno();
    if (e != .INTR) return fromErrno(e);
}

/// What fstat says about a file: `dev` and `ino` identify it (0 for shm objects), `uid` owns it.
pub const FileInfo = struct { size: u64, regular: bool, uid: u32, mode: u32, dev: u64, ino: u64 };

pub fn fileInfo(fd: Fd) Error!FileInfo {
    var st: c.Stat = undefined;
    _ = try retry(c.fstat, .{ fd, &st });
    return infoOf(&st);
}

/// An shm object's fstat reports no file type bits (xnu's pshm_stat fills in the permission bits
/// only); such an object counts as regular, as does a regular file. Sockets, FIFOs and devices
/// carry their type and are not.
pub fn infoOf(st: *const c.Stat) FileInfo {
    const kind = st.mode & c.S.IFMT;
    return .{
        .size = @intCast(@max(st.size, 0)),
        .regular = kind == 0 or kind == c.S.IFREG,
        .uid = st.uid,
        .mode = st.mode & 0o7777,
        .dev = @intCast(@as(u32, @bitCast(st.dev))),
        .ino = st.ino,
    };
}

/// Reads up to `buf.len` bytes at `offset`: shm objects have no read, so the range is mapped
/// read-only and copied. Never past the object's end.
pub fn readAt(fd: Fd, buf: []u8, offset: u64) Error!usize {
    const size = (try fileInfo(fd)).size;
    if (offset >= size or buf.len == 0) return 0;
    const len: usize = @intCast(@min(buf.len, size - offset));
    const page = std.heap.pageSize();
    const first = offset - offset % page;
    const span: usize = @intCast(offset + len - first);
    const at = c.mmap(null, span, c.PROT.READ, .{ .TYPE = .SHARED }, fd, @intCast(first));
    if (at == c.MAP_FAILED) return fromErrno(errno());
    defer _ = c.munmap(@alignCast(at), span);
    const bytes: [*]const u8 = @ptrCast(at);
    @memcpy(buf[0..len], bytes[@intCast(offset - first)..][0..len]);
    return len;
}

pub fn map(fd: Fd, len: usize) Error![*]align(std.heap.page_size_min) u8 {
    const at = c.mmap(null, len, c.PROT.READ | c.PROT.WRITE, .{ .TYPE = .SHARED }, fd, 0);
    if (at == c.MAP_FAILED) return fromErrno(errno());
    return @ptrCast(@alignCast(at));
}

pub fn unmap(ptr: [*]align(std.heap.page_size_min) u8, len: usize) void {
    wait.unmapping(@intFromPtr(ptr), len);
    _ = c.munmap(ptr, len);
}

/// The most bytes a segment can hold here: the machine's memory (hw.memsize). macOS grows its swap
/// on demand, so there is no fixed total to add.
pub fn capacity(anonymous: bool) Error!u64 {
    _ = anonymous;
    var memsize: u64 = 0;
    var len: usize = @sizeOf(u64);
    if (c.sysctlbyname("hw.memsize", &memsize, &len, null, 0) != 0) return fromErrno(errno());
    return memsize;
}

pub fn randomBytes(buf: []u8) void {
    c.arc4random_buf(buf.ptr, buf.len);
}

// ---------------------------------------------------------------------------------------------------
// Process identity and liveness.

/// Who a process is: its pid and its start time (microseconds since the epoch: a reused pid has
/// another). macOS has no pid namespaces: `pidns` is 0 everywhere.
pub const Stamp = struct { pid: i32, start: u64, pidns: u64 };

/// struct proc_bsdinfo of <sys/proc_info.h> (136 bytes on both architectures).
pub const BsdInfo = extern struct {
    flags: u32,
    status: u32,
    xstatus: u32,
    pid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    ruid: u32,
    rgid: u32,
    svuid: u32,
    svgid: u32,
    rfu_1: u32,
    comm: [16]u8,
    name: [32]u8,
    nfiles: u32,
    pgid: u32,
    pjobc: u32,
    tdev: u32,
    tpgid: u32,
    nice: i32,
    start_tvsec: u64,
    start_tvusec: u64,
};

comptime {
    std.debug.assert(@sizeOf(BsdInfo) == 136);
    std.debug.assert(@offsetOf(BsdInfo, "start_tvsec") == 120);
}

const PROC_PIDTBSDINFO: c_int = 3;
/// pbi_status of a process that exited and waits to be reaped.
const SZOMB: u32 = 5;
extern "c" fn proc_pidinfo(pid: c_int, flavor: c_int, arg: u64, buffer: ?*anyopaque, size: c_int) c_int;

fn bsdInfo(pid: i32) Error!BsdInfo {
    var info: BsdInfo = undefined;
    const rc = proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, &info, @sizeOf(BsdInfo));
    if (rc == @sizeOf(BsdInfo)) return info;
    if (rc > 0) return error.Io;
    return switch (errno()) {
        .SRCH => error.NotFound,
        else => |e| fromErrno(e),
    };
}

/// Microseconds since the epoch: what `Stamp.start` holds.
pub fn startOf(info: *const BsdInfo) u64 {
    return info.start_tvsec *% std.time.us_per_s +% info.start_tvusec;
}

var self_stamp: ?Stamp = null;
var self_stamp_lock: std.Thread.Mutex = .{};

pub fn selfStamp() Error!Stamp {
    const pid = c.getpid();
    self_stamp_lock.lock();
    defer self_stamp_lock.unlock();
    // The cache is keyed by pid so that a forked child computes its own stamp.
    if (self_stamp) |stamp| {
        if (stamp.pid == pid) return stamp;
    }
    const stamp: Stamp = .{ .pid = pid, .start = try startTime(pid), .pidns = 0 };
    self_stamp = stamp;
    return stamp;
}

/// The start time of process `pid`, or error.NotFound when there is no such process.
pub fn startTime(pid: i32) Error!u64 {
    const info = try bsdInfo(pid);
    return startOf(&info);
}

/// Whether the process `pid` that started at `start` is still running; a zombie is dead. When in
/// doubt (no permission to look), it is considered alive: a sweep must never remove a live
/// process's segment, nor a waiter free a live holder's lock.
pub fn processAlive(pid: i32, start: u64) bool {
    if (pid <= 0) return false;
    if (c.kill(pid, 0) != 0 and errno() == .SRCH) return false;
    const info = bsdInfo(pid) catch |err| return err != error.NotFound;
    return infoAlive(&info, start);
}

pub fn infoAlive(info: *const BsdInfo, start: u64) bool {
    return startOf(info) == start and info.status != SZOMB;
}

/// The effective uid of this process.
pub fn effectiveUid() u32 {
    return c.geteuid();
}

/// The names of shm objects cannot be listed on macOS (see the file comment): the unsupported
/// layer's iterator, whose init fails with NotSupported.
pub const NameIterator = @import("unsupported.zig").NameIterator;

/// Unknown here (macOS publishes load averages, not a count of runnable threads): spinning is never
/// turned off for crowding.
pub fn runnableThreads() ?u32 {
    return null;
}

const testing = std.testing;

test "a named object: created once, opened, read through a mapping, unlinked" {
    const name = "/ipctest-macos-named";
    unlinkNamed(name) catch {};
    const fd = try createNamed(4096, name, 0o600);
    defer close(fd);
    try testing.expectError(error.Exists, createNamed(4096, name, 0o600));
    const m = try map(fd, 4096);
    m[100] = 42;
    const other = try openNamedRead(name);
    defer close(other);
    const info = try fileInfo(other);
    try testing.expect(info.regular and info.size >= 4096);
    var byte: [1]u8 = undefined;
    try testing.expectEqual(@as(usize, 1), try readAt(other, &byte, 100));
    try testing.expectEqual(@as(u8, 42), byte[0]);
    unmap(m, 4096);
    try unlinkNamed(name);
    try testing.expectError(error.NotFound, openNamed(name));
}

test "an anonymous object has no name and is shared through its fd" {
    const fd = try createFile(8192, 0o600, true, false);
    defer close(fd);
    const copy = try dup(fd);
    defer close(copy);
    const a = try map(fd, 8192);
    defer unmap(a, 8192);
    const b = try map(copy, 8192);
    defer unmap(b, 8192);
    a[8191] = 7;
    try testing.expectEqual(@as(u8, 7), b[8191]);
}

test "selfStamp names this process and it is alive; another start time is not" {
    const stamp = try selfStamp();
    try testing.expectEqual(c.getpid(), stamp.pid);
    try testing.expect(processAlive(stamp.pid, stamp.start));
    try testing.expect(!processAlive(stamp.pid, stamp.start + 1));
    try testing.expect(!processAlive(0, 0));
    try testing.expectError(error.NotSupported, NameIterator.init());
}

test {
    _ = wait;
    _ = process;
}
