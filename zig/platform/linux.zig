//! Linux implementation of the platform layer: shared-memory files, mappings, process identity and
//! liveness, randomness. Raw syscalls only (no libc calls), so every errno is seen and mapped here, in
//! `fromErrno`, and nowhere else.
//!
//! Named segments live in /dev/shm (what glibc's shm_open uses). They are created unnamed with
//! O_TMPFILE, filled, and only then given their name with linkat, so no process can ever open a
//! half-initialized segment. Anonymous segments are memfds sealed against shrinking, so a peer holding
//! the fd cannot truncate the file under other processes' mappings (which would raise SIGBUS there).
//! Any user can create files in /dev/shm: a name is opened only when it is a regular file, never
//! following a symlink, never blocking (a FIFO), and only if the opened file is the one looked at.
//! Every fd is created close-on-exec. Syscalls interrupted by a signal are retried a bounded number
//! of times.

const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const posix = @import("posix.zig");
const Error = abi.Error;

pub const supported = true;
pub const Fd = i32;
pub const robust_mutex = @import("robust_mutex.zig");
pub const process = @import("linux_process.zig");

const shm_dir = "/dev/shm";
const eintr_retries_max = 64;

// fcntl commands and seals; the same numbers on every Linux architecture.
const F_DUPFD_CLOEXEC = 1030;
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 0x0001;
const F_SEAL_SHRINK = 0x0002;

/// The errno carried by a raw syscall return value, or null on success.
pub fn errnoOf(rc: usize) ?linux.E {
    const signed: isize = @bitCast(rc);
    if (signed > -4096 and signed < 0) return @enumFromInt(-signed);
    return null;
}

/// The one mapping from Linux errno values to libipc errors.
pub fn fromErrno(e: linux.E) Error {
    return posix.fromErrno(e);
}

/// Calls `f` until it does not fail with EINTR, at most `eintr_retries_max` times.
pub fn retry(comptime f: anytype, args: anytype) Error!usize {
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        const rc = @call(.auto, f, args);
        const e = errnoOf(rc) orelse return rc;
        if (e != .INTR or attempt == eintr_retries_max) return fromErrno(e);
    }
}

/// Builds "/dev/shm/<name without its leading '/'>" as a NUL-terminated path in `buf`.
fn shmPath(buf: *[shm_dir.len + abi.name_max + 1]u8, name: []const u8) [:0]const u8 {
    std.debug.assert(name.len >= 2 and name.len <= abi.name_max and name[0] == '/');
    @memcpy(buf[0..shm_dir.len], shm_dir);
    @memcpy(buf[shm_dir.len..][0..name.len], name);
    buf[shm_dir.len + name.len] = 0;
    return buf[0 .. shm_dir.len + name.len :0];
}

/// Creates an unnamed shared-memory file of `size` bytes. `anonymous` makes a sealed memfd that can
/// only be shared by fd; otherwise an O_TMPFILE in /dev/shm with permission bits `mode` that
/// `publish` can later give a name. With `reserve`, the backing memory is allocated now, so running
/// out of it is an error here rather than a SIGBUS on first touch.
pub fn createFile(size: u64, mode: u32, anonymous: bool, reserve: bool) Error!Fd {
    const fd: Fd = if (anonymous) blk: {
        const rc = try retry(linux.memfd_create, .{ "libipc", linux.MFD.CLOEXEC | linux.MFD.ALLOW_SEALING });
        break :blk @intCast(rc);
    } else blk: {
        const flags: linux.O = .{ .ACCMODE = .RDWR, .CLOEXEC = true, .TMPFILE = true, .DIRECTORY = true };
        const rc = retry(linux.open, .{ shm_dir, flags, @as(linux.mode_t, @intCast(mode)) }) catch |err| {
            // Kernels or file systems without O_TMPFILE report EISDIR or EOPNOTSUPP.
            return if (err == error.Invalid) error.NotSupported else err;
        };
        break :blk @intCast(rc);
    };
    errdefer close(fd);
    if (!anonymous) {
        // O_TMPFILE applies the umask; set exactly the requested bits.
        _ = try retry(linux.fchmod, .{ fd, @as(linux.mode_t, @intCast(mode)) });
    }
    _ = try retry(linux.ftruncate, .{ fd, @as(i64, @intCast(size)) });
    if (reserve) {
        _ = try retry(linux.fallocate, .{ fd, 0, 0, @as(i64, @intCast(size)) });
    }
    if (anonymous) {
        _ = try retry(linux.fcntl, .{ fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL });
    }
    return fd;
}

/// Gives the unnamed file `fd` (from `createFile`, not anonymous) its name. Fails with
/// error.Exists when the name is taken; the file stays unnamed then.
pub fn publish(fd: Fd, name: []const u8) Error!void {
    var proc_buf: [32]u8 = undefined;
    const proc_path = std.fmt.bufPrintZ(&proc_buf, "/proc/self/fd/{d}", .{fd}) catch unreachable;
    var path_buf: [shm_dir.len + abi.name_max + 1]u8 = undefined;
    const path = shmPath(&path_buf, name);
    _ = retry(linux.linkat, .{ linux.AT.FDCWD, proc_path, linux.AT.FDCWD, path, linux.AT.SYMLINK_FOLLOW }) catch |err| {
        // Without /proc mounted the link cannot be made.
        return if (err == error.NotFound) error.NotSupported else err;
    };
}

/// Opens the named file for reading and writing. Only a regular file is ever opened: see
/// `openNamedMode`.
pub fn openNamed(name: []const u8) Error!Fd {
    return openNamedMode(name, .RDWR);
}

/// Opens a named file for reading only: enough to read a header, and possible on segments this
/// user may read but not write.
pub fn openNamedRead(name: []const u8) Error!Fd {
    return openNamedMode(name, .RDONLY);
}

/// What the file system says about the name itself, without opening it or following a symlink.
pub fn statNamed(name: []const u8) Error!FileInfo {
    var path_buf: [shm_dir.len + abi.name_max + 1]u8 = undefined;
    const path = shmPath(&path_buf, name);
    var st: linux.Stat = undefined;
    _ = try retry(linux.fstatat, .{ linux.AT.FDCWD, path, &st, linux.AT.SYMLINK_NOFOLLOW });
    return infoOf(&st);
}

/// Any other user may create files in /dev/shm, so a name may be a FIFO (whose read-only open
/// blocks until a writer comes), a symlink to anywhere, a socket or a device. The name is looked at
/// first and only a regular file is opened; the open itself never follows a symlink, cannot block
/// (O_NONBLOCK) and cannot acquire a controlling terminal; and the opened file must be the one
/// looked at, still regular, since the name may have been replaced in between. Anything else is
/// error.Protocol: not a libipc segment.
fn openNamedMode(name: []const u8, access: std.posix.ACCMODE) Error!Fd {
    const before = try statNamed(name);
    if (!before.regular) return error.Protocol;
    var path_buf: [shm_dir.len + abi.name_max + 1]u8 = undefined;
    const path = shmPath(&path_buf, name);
    const flags: linux.O = .{ .ACCMODE = access, .CLOEXEC = true, .NOFOLLOW = true, .NONBLOCK = true, .NOCTTY = true };
    const rc = retry(linux.open, .{ path, flags, @as(linux.mode_t, 0) }) catch |err| {
        // ELOOP: the name became a symlink after it was looked at.
        return if (err == error.Invalid) error.Protocol else err;
    };
    const fd: Fd = @intCast(rc);
    errdefer close(fd);
    const after = try fileInfo(fd);
    if (!after.regular or after.dev != before.dev or after.ino != before.ino) return error.Protocol;
    return fd;
}

pub fn unlinkNamed(name: []const u8) Error!void {
    var path_buf: [shm_dir.len + abi.name_max + 1]u8 = undefined;
    const path = shmPath(&path_buf, name);
    _ = try retry(linux.unlink, .{path});
}

/// A duplicate of `fd`, close-on-exec. A closed or invalid fd is error.Invalid.
pub fn dup(fd: Fd) Error!Fd {
    if (fd < 0) return error.Invalid;
    const rc = try retry(linux.fcntl, .{ fd, F_DUPFD_CLOEXEC, 0 });
    return @intCast(rc);
}

pub fn close(fd: Fd) void {
    // Linux closes the fd even when close reports EINTR; never retry.
    _ = linux.close(fd);
}

/// Lets `fd` reach programs this process executes (`inherit`: close-on-exec off), or not (on again).
/// A negative or closed fd is error.Invalid (EBADF).
pub fn inherit(fd: Fd, on: bool) Error!void {
    if (fd < 0) return error.Invalid;
    const flags = try retry(linux.fcntl, .{ fd, F_GETFD, @as(usize, 0) });
    const want: usize = if (on) flags & ~@as(usize, FD_CLOEXEC) else flags | FD_CLOEXEC;
    if (want != flags) _ = try retry(linux.fcntl, .{ fd, F_SETFD, want });
}

/// Closes `fd` and says whether there was one: a negative or closed fd is error.Invalid (EBADF).
/// EINTR still closed it (Linux), so it counts as done.
pub fn closeFd(fd: Fd) Error!void {
    if (fd < 0) return error.Invalid;
    const e = errnoOf(linux.close(fd)) orelse return;
    if (e != .INTR) return fromErrno(e);
}

/// What fstat says about a file: `dev` and `ino` identify it, `uid` owns it.
pub const FileInfo = struct { size: u64, regular: bool, uid: u32, mode: u32, dev: u64, ino: u64 };

pub fn fileInfo(fd: Fd) Error!FileInfo {
    var st: linux.Stat = undefined;
    _ = try retry(linux.fstat, .{ fd, &st });
    return infoOf(&st);
}

fn infoOf(st: *const linux.Stat) FileInfo {
    return .{
        .size = @intCast(@max(st.size, 0)),
        .regular = linux.S.ISREG(st.mode),
        .uid = st.uid,
        .mode = st.mode & 0o7777,
        .dev = @intCast(st.dev),
        .ino = @intCast(st.ino),
    };
}

/// Reads up to `buf.len` bytes at `offset`; returns how many were read.
pub fn readAt(fd: Fd, buf: []u8, offset: u64) Error!usize {
    return try retry(linux.pread, .{ fd, buf.ptr, buf.len, @as(i64, @intCast(offset)) });
}

pub fn map(fd: Fd, len: usize) Error![*]align(std.heap.page_size_min) u8 {
    const rc = linux.mmap(null, len, linux.PROT.READ | linux.PROT.WRITE, .{ .TYPE = .SHARED }, fd, 0);
    if (errnoOf(rc)) |e| return fromErrno(e);
    return @ptrFromInt(rc);
}

pub fn unmap(ptr: [*]align(std.heap.page_size_min) u8, len: usize) void {
    futex.unmapping(@intFromPtr(ptr), len);
    const rc = linux.munmap(ptr, len);
    std.debug.assert(errnoOf(rc) == null);
}

/// The most bytes a segment can hold here: the total size of /dev/shm for named segments (a file
/// larger than its file system could never be filled), and RAM plus swap for anonymous ones.
pub fn capacity(anonymous: bool) Error!u64 {
    if (anonymous) {
        var info: linux.Sysinfo = undefined;
        const rc = linux.sysinfo(&info);
        if (errnoOf(rc)) |e| return fromErrno(e);
        const unit: u64 = if (info.mem_unit == 0) 1 else info.mem_unit;
        return (@as(u64, info.totalram) +| @as(u64, info.totalswap)) *| unit;
    }
    var st: Statfs = undefined;
    _ = try retry(statfs, .{ shm_dir, &st });
    return @as(u64, @intCast(st.blocks)) *| @as(u64, @intCast(st.bsize));
}

/// struct statfs of the 64-bit Linux ABIs (x86_64, aarch64 and the other generic ones).
const Statfs = extern struct {
    type: isize,
    bsize: isize,
    blocks: u64,
    bfree: u64,
    bavail: u64,
    files: u64,
    ffree: u64,
    fsid: [2]i32,
    namelen: isize,
    frsize: isize,
    flags: isize,
    spare: [4]isize,
};

comptime {
    if (@sizeOf(usize) == 8) std.debug.assert(@sizeOf(Statfs) == 120);
}

fn statfs(path: [*:0]const u8, buf: *Statfs) usize {
    if (@sizeOf(usize) != 8) return @bitCast(-@as(isize, @intFromEnum(linux.E.NOSYS)));
    return linux.syscall2(.statfs, @intFromPtr(path), @intFromPtr(buf));
}

pub fn randomBytes(buf: []u8) void {
    var filled: usize = 0;
    var attempt: u32 = 0;
    while (filled < buf.len and attempt < eintr_retries_max) : (attempt += 1) {
        const rc = linux.getrandom(buf[filled..].ptr, buf.len - filled, 0);
        if (errnoOf(rc) == null) filled += rc;
    }
    if (filled < buf.len) {
        // getrandom cannot fail on kernels with it once the pool is initialized; mix the clock in
        // rather than return predictable bytes if it ever does.
        var ts: linux.timespec = undefined;
        _ = linux.clock_gettime(.MONOTONIC, &ts);
        var seed = std.hash.Wyhash.hash(@intCast(ts.nsec), std.mem.asBytes(&ts));
        for (buf[filled..]) |*b| {
            seed = std.hash.Wyhash.hash(seed, "libipc");
            b.* = @truncate(seed);
        }
    }
}

/// Who a process is: its pid, its start time (clock ticks after boot, field 22 of /proc/<pid>/stat;
/// a pid that was reused has a different start time) and the inode of its pid namespace (pids of
/// other namespaces name other processes).
pub const Stamp = struct { pid: i32, start: u64, pidns: u64 };

var self_stamp: ?Stamp = null;
var self_stamp_lock: std.Thread.Mutex = .{};

pub fn selfStamp() Error!Stamp {
    const pid = linux.getpid();
    self_stamp_lock.lock();
    defer self_stamp_lock.unlock();
    // The cache is keyed by pid so that a forked child computes its own stamp.
    if (self_stamp) |stamp| {
        if (stamp.pid == pid) return stamp;
    }
    const stamp: Stamp = .{
        .pid = pid,
        .start = try startTime(pid),
        .pidns = pidNamespace() catch 0,
    };
    self_stamp = stamp;
    return stamp;
}

fn pidNamespace() Error!u64 {
    var st: linux.Stat = undefined;
    const rc = linux.fstatat(linux.AT.FDCWD, "/proc/self/ns/pid", &st, 0);
    if (errnoOf(rc)) |e| return fromErrno(e);
    return st.ino;
}

/// The start time of process `pid`, or error.NotFound when there is no such process.
pub fn startTime(pid: i32) Error!u64 {
    return (try readStat(pid)).start;
}

const ProcStat = struct { state: u8, threads: u64, start: u64 };

fn readStat(pid: i32) Error!ProcStat {
    const fd = try openStat(pid);
    defer close(fd);
    return readStatFile(fd);
}

fn openStat(pid: i32) Error!Fd {
    var path_buf: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buf, "/proc/{d}/stat", .{pid}) catch unreachable;
    return @intCast(try retry(linux.open, .{ path, linux.O{ .ACCMODE = .RDONLY, .CLOEXEC = true }, @as(linux.mode_t, 0) }));
}

/// Reads an open /proc/<pid>/stat. A process reaped since the open makes the read fail with ESRCH:
/// it is gone (error.NotFound), as if the open had found no file. Taken for "no permission to
/// look", it once made the tracker's helper keep a dead parent's name (processAlive says alive when
/// in doubt) whenever the parent's parent reaped it between the helper's open and read.
fn readStatFile(fd: Fd) Error!ProcStat {
    var buf: [1024]u8 = undefined;
    const len = while (true) {
        const rc = linux.read(fd, &buf, buf.len);
        const e = errnoOf(rc) orelse break rc;
        if (e == .INTR) continue;
        return if (e == .SRCH) error.NotFound else fromErrno(e);
    };
    return parseStat(buf[0..len]) orelse error.Io;
}

/// Fields 3 (state), 20 (number of threads) and 22 (start time) of a /proc/<pid>/stat line. The
/// command name (field 2) is in parentheses and may itself contain spaces and parentheses, so
/// fields are counted from the last ')'.
fn parseStat(stat: []const u8) ?ProcStat {
    const close_paren = std.mem.lastIndexOfScalar(u8, stat, ')') orelse return null;
    var fields = std.mem.tokenizeScalar(u8, stat[close_paren + 1 ..], ' ');
    var field: u32 = 3;
    var state: u8 = 0;
    var threads: u64 = 0;
    while (fields.next()) |token| : (field += 1) {
        if (field == 3) state = token[0];
        if (field == 20) threads = std.fmt.parseInt(u64, token, 10) catch return null;
        if (field == 22) return .{ .state = state, .threads = threads, .start = std.fmt.parseInt(u64, token, 10) catch return null };
    }
    return null;
}

fn parseStartTime(stat: []const u8) ?u64 {
    return (parseStat(stat) orelse return null).start;
}

/// Whether a process whose /proc/<pid>/stat says `stat` still runs. The state field is the thread
/// group leader's: a leader that called pthread_exit shows `Z` while the other threads run on, and
/// the process is alive until the last of them exits. The thread count (field 20, the group's
/// `nr_threads`) tells the two apart in the same read: an exited thread leaves the count as soon as
/// it is released (at once for every thread but the leader), while the leader counts until its
/// parent reaps it. So a zombie leader counted alone is a process that exited (dead: see
/// DEVELOPERS.md "Zombies are dead"), and one counted with others still has running threads.
fn statAlive(stat: ProcStat) bool {
    return switch (stat.state) {
        'X' => false,
        'Z' => stat.threads > 1,
        else => true,
    };
}

/// Whether the process `pid` that started at `start` is still running: some thread of it has not
/// exited (a zombie whose threads all exited is dead, a process whose main thread exited while
/// others run is alive). When in doubt (no permission to look), it is considered alive: a sweep
/// must never remove a live process's segment, nor a sender reuse a live holder's views.
pub fn processAlive(pid: i32, start: u64) bool {
    if (pid <= 0) return false;
    const rc = linux.kill(pid, 0);
    if (errnoOf(rc)) |e| {
        if (e == .SRCH) return false;
    }
    const stat = readStat(pid) catch |err| return err != error.NotFound;
    return stat.start == start and statAlive(stat);
}

/// The effective uid of this process.
pub fn effectiveUid() u32 {
    return linux.geteuid();
}

/// Iterates the names in /dev/shm (with a leading '/', as libipc spells names), at most
/// `entries_max` of them.
pub const NameIterator = struct {
    dir: Fd,
    buf: [4096]u8 align(8) = undefined,
    pos: usize = 0,
    end: usize = 0,
    seen: u32 = 0,
    name_buf: [abi.name_max + 1]u8 = undefined,

    pub const entries_max: u32 = 1 << 20;

    pub fn init() Error!NameIterator {
        const rc = try retry(linux.open, .{ shm_dir, linux.O{ .ACCMODE = .RDONLY, .CLOEXEC = true, .DIRECTORY = true }, @as(linux.mode_t, 0) });
        return .{ .dir = @intCast(rc) };
    }

    pub fn deinit(it: *NameIterator) void {
        close(it.dir);
    }

    /// The next name that fits libipc's length limit, or null at the end.
    pub fn next(it: *NameIterator) Error!?[]const u8 {
        while (it.seen < entries_max) {
            if (it.pos >= it.end) {
                const len = try retry(linux.getdents64, .{ it.dir, &it.buf, it.buf.len });
                if (len == 0) return null;
                it.pos = 0;
                it.end = len;
            }
            const entry: *align(1) const linux.dirent64 = @ptrCast(&it.buf[it.pos]);
            it.pos += entry.reclen;
            it.seen += 1;
            const name = std.mem.sliceTo(@as([*:0]const u8, @ptrCast(&entry.name)), 0);
            if (name.len == 0 or name.len + 1 > abi.name_max) continue;
            it.name_buf[0] = '/';
            @memcpy(it.name_buf[1..][0..name.len], name);
            return it.name_buf[0 .. name.len + 1];
        }
        return null;
    }
};

// ---------------------------------------------------------------------------------------------------
// Clocks and futexes.

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine. Through libc,
/// whose clock_gettime reads the vDSO: the raw syscall (what std.os.linux.clock_gettime made here)
/// costs about a microsecond on these VMs, and spin loops read the clock often.
/// The system's runnable threads now (the reader included), from /proc/loadavg ("0.50 0.40 0.30
/// 3/250 12345": the 3), or null where it cannot be read or parsed (then nothing changes).
pub fn runnableThreads() ?u32 {
    const fd = std.posix.openZ("/proc/loadavg", .{ .ACCMODE = .RDONLY, .CLOEXEC = true }, 0) catch return null;
    defer std.posix.close(fd);
    var buf: [128]u8 = undefined;
    const n = std.posix.read(fd, &buf) catch return null;
    return parseRunnable(buf[0..n]);
}

pub fn parseRunnable(text: []const u8) ?u32 {
    var fields = std.mem.tokenizeScalar(u8, text, ' ');
    var i: u32 = 0;
    while (fields.next()) |field| : (i += 1) {
        if (i != 3) continue;
        const slash = std.mem.indexOfScalar(u8, field, '/') orelse return null;
        return std.fmt.parseInt(u32, field[0..slash], 10) catch null;
    }
    return null;
}

pub fn monotonicNs() u64 {
    var ts: std.c.timespec = undefined;
    const rc = std.c.clock_gettime(.MONOTONIC, &ts);
    std.debug.assert(rc == 0);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

/// Futex waits on one or several words, with a fallback for kernels without futex_waitv.
pub const futex = @import("linux_futex.zig");
pub const WaitWord = futex.WaitWord;
pub const WaitResult = futex.WaitResult;
pub const futexWaitv = futex.waitv;
pub const futexWake = futex.wake;

test "parseStartTime counts fields after the last parenthesis" {
    const line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    try std.testing.expectEqual(@as(?u64, 987654), parseStartTime(line));
    try std.testing.expectEqual(@as(?u64, null), parseStartTime("12 (x) S 1"));
    try std.testing.expectEqual(@as(?u64, null), parseStartTime("no paren"));
    const zombie = parseStat("7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 55 0 0").?;
    try std.testing.expectEqual(@as(u8, 'Z'), zombie.state);
    try std.testing.expectEqual(@as(u64, 3), zombie.threads);
    try std.testing.expect(statAlive(zombie));
    try std.testing.expect(!statAlive(.{ .state = 'Z', .threads = 1, .start = 55 }));
}

test "selfStamp names this process and it is alive" {
    const stamp = try selfStamp();
    try std.testing.expectEqual(linux.getpid(), stamp.pid);
    try std.testing.expect(stamp.start > 0);
    try std.testing.expect(processAlive(stamp.pid, stamp.start));
    try std.testing.expect(!processAlive(stamp.pid, stamp.start + 1));
    try std.testing.expect(!processAlive(0, 0));
}

extern "c" fn pthread_exit(value: ?*anyopaque) noreturn;

/// A process whose main thread has exited while another thread runs on: its /proc stat shows the
/// leader's state, `Z`. Forks it and returns its pid once that state shows (null on timeout).
pub fn forkLeaderExited(comptime Body: type, arg: Body.Arg) !std.posix.pid_t {
    const pid = try std.posix.fork();
    if (pid == 0) {
        _ = std.Thread.spawn(.{}, Body.run, .{arg}) catch std.posix.exit(3);
        pthread_exit(null);
    }
    const give_up = monotonicNs() + 20 * std.time.ns_per_s;
    while (monotonicNs() < give_up) {
        const stat = readStat(pid) catch break;
        if (stat.state == 'Z') return pid;
        std.Thread.sleep(std.time.ns_per_ms);
    }
    _ = linux.kill(pid, linux.SIG.KILL);
    _ = std.posix.waitpid(pid, 0);
    return error.TimedOut;
}

test "processAlive: a process whose main thread exited lives while another thread runs; a zombie is dead" {
    const Sleeper = struct {
        pub const Arg = void;
        pub fn run(_: void) void {
            std.Thread.sleep(60 * std.time.ns_per_s);
        }
    };
    const pid = try forkLeaderExited(Sleeper, {});
    const start = try startTime(pid);
    try std.testing.expect(processAlive(pid, start));
    // Killed, not yet reaped: a real zombie, counted dead.
    _ = linux.kill(pid, linux.SIG.KILL);
    const give_up = monotonicNs() + 20 * std.time.ns_per_s;
    while (processAlive(pid, start) and monotonicNs() < give_up) std.Thread.sleep(std.time.ns_per_ms);
    const stat = try readStat(pid);
    try std.testing.expectEqual(@as(u8, 'Z'), stat.state);
    try std.testing.expect(!processAlive(pid, start));
    _ = std.posix.waitpid(pid, 0);
    try std.testing.expect(!processAlive(pid, start));
}

test "a process reaped between the open and the read of its stat is not found" {
    const pid = try std.posix.fork();
    if (pid == 0) linux.exit_group(0);
    // Until it has exited, leaving it unreaped.
    var info: linux.siginfo_t = undefined;
    while (errnoOf(linux.waitid(.PID, pid, &info, linux.W.EXITED | linux.W.NOWAIT))) |e| {
        if (e != .INTR) return fromErrno(e);
    }
    const fd = try openStat(pid);
    defer close(fd);
    _ = std.posix.waitpid(pid, 0);
    try std.testing.expectError(error.NotFound, readStatFile(fd));
}

test {
    _ = futex;
}

test "anonymous files are sealed against shrinking" {
    const fd = try createFile(8192, 0o600, true, false);
    defer close(fd);
    try std.testing.expectEqual(@as(u64, 8192), (try fileInfo(fd)).size);
    try std.testing.expectError(error.Access, retry(linux.ftruncate, .{ fd, @as(i64, 0) }));
}

test "inherit turns close-on-exec off and on; closeFd closes once; bad fds are Invalid" {
    const fd = try createFile(4096, 0o600, true, false);
    const cloexec = struct {
        fn of(f: Fd) !bool {
            return try retry(linux.fcntl, .{ f, F_GETFD, @as(usize, 0) }) & FD_CLOEXEC != 0;
        }
    }.of;
    try std.testing.expect(try cloexec(fd));
    try inherit(fd, true);
    try std.testing.expect(!try cloexec(fd));
    try inherit(fd, true);
    try std.testing.expect(!try cloexec(fd));
    try inherit(fd, false);
    try std.testing.expect(try cloexec(fd));
    try closeFd(fd);
    try std.testing.expectError(error.Invalid, closeFd(fd));
    try std.testing.expectError(error.Invalid, inherit(fd, true));
    try std.testing.expectError(error.Invalid, inherit(-1, false));
    try std.testing.expectError(error.Invalid, closeFd(std.math.minInt(i32)));
}
