//! Linux: the process plumbing of the tracker (zig/tracker.zig and its helper program,
//! zig/tracker_helper.zig): a stream socket pair, starting the helper with posix_spawn, sends that
//! never raise SIGPIPE, waiting for a process to end, and finding the file libipc was loaded from.
//!
//! The library side uses libc where the kernel has no equivalent call (posix_spawn, pthread_atfork,
//! dladdr, getenv). The helper side (`closeFrom`, `ignoreSignals`, `isSocket`, `waitExit`, `exit`)
//! makes raw syscalls only, so the helper program needs no libc. Every fd is created close-on-exec,
//! and sends pass MSG_NOSIGNAL: a helper that died is an error code for the caller, never a SIGPIPE
//! that kills the process.

const std = @import("std");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const posix = @import("posix.zig");
const base = @import("linux.zig");
const Error = abi.Error;
const Fd = base.Fd;

/// A connected pair of Unix stream sockets, both close-on-exec.
pub fn socketPair() Error![2]Fd {
    var fds: [2]i32 = undefined;
    const domain: i32 = linux.AF.UNIX;
    const kind: i32 = linux.SOCK.STREAM | linux.SOCK.CLOEXEC;
    _ = try base.retry(linux.socketpair, .{ domain, kind, @as(i32, 0), &fds });
    return fds;
}

/// Makes sends on `fd` fail with error.TimedOut instead of blocking for longer than `ms`.
pub fn setSendTimeout(fd: Fd, ms: u32) Error!void {
    const tv: linux.timeval = .{ .sec = @intCast(ms / 1000), .usec = @intCast((ms % 1000) * 1000) };
    _ = try base.retry(linux.setsockopt, .{ fd, @as(i32, linux.SOL.SOCKET), @as(u32, linux.SO.SNDTIMEO), std.mem.asBytes(&tv).ptr, @as(linux.socklen_t, @sizeOf(linux.timeval)) });
}

const send_calls_max = 1024;

/// Sends all of `bytes`. A peer that has gone away is error.Broken; a send that could not complete
/// within the send timeout is error.TimedOut.
pub fn sendAll(fd: Fd, bytes: []const u8) Error!void {
    var sent: usize = 0;
    var calls: u32 = 0;
    while (sent < bytes.len) : (calls += 1) {
        if (calls == send_calls_max) return error.Io;
        const rc = linux.sendto(fd, bytes[sent..].ptr, bytes.len - sent, linux.MSG.NOSIGNAL, null, 0);
        if (base.errnoOf(rc)) |e| switch (e) {
            .INTR => continue,
            .PIPE, .CONNRESET, .NOTCONN, .NOTSOCK, .BADF => return error.Broken,
            .AGAIN => return error.TimedOut,
            else => return base.fromErrno(e),
        };
        sent += rc;
    }
}

/// Receives up to `buf.len` bytes; 0 means the peer closed its end (end-of-file).
pub fn recvSome(fd: Fd, buf: []u8) Error!usize {
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        const rc = linux.recvfrom(fd, buf.ptr, buf.len, 0, null, null);
        const e = base.errnoOf(rc) orelse return rc;
        switch (e) {
            .INTR => if (attempt < 64) continue else return error.Io,
            // A peer that closed with unread data resets the connection: for us, the same end.
            .CONNRESET => return 0,
            else => return base.fromErrno(e),
        }
    }
}

/// Whether `fd` becomes readable (data or end-of-file) within `ms` milliseconds.
pub fn waitReadable(fd: Fd, ms: u32) Error!bool {
    const deadline = base.monotonicNs() + @as(u64, ms) * std.time.ns_per_ms;
    var attempt: u32 = 0;
    while (attempt < 64) : (attempt += 1) {
        const now = base.monotonicNs();
        const left_ms: i32 = if (now >= deadline) 0 else @intCast((deadline - now + std.time.ns_per_ms - 1) / std.time.ns_per_ms);
        var fds = [_]linux.pollfd{.{ .fd = fd, .events = linux.POLL.IN, .revents = 0 }};
        const rc = linux.poll(&fds, 1, left_ms);
        if (base.errnoOf(rc)) |e| {
            if (e == .INTR) continue;
            return base.fromErrno(e);
        }
        return rc > 0;
    }
    return error.Io;
}

// posix_spawn through glibc. Its attribute and file-action objects are opaque: the buffers below are
// larger than glibc's (336 and 80 bytes on 64-bit targets) and aligned for them.
const SpawnAttr = extern struct { bytes: [1024]u8 align(16) };
const SpawnActions = extern struct { bytes: [512]u8 align(16) };
const CSigset = extern struct { bits: [16]u64 };
extern "c" fn posix_spawnattr_init(attr: *SpawnAttr) c_int;
extern "c" fn posix_spawnattr_destroy(attr: *SpawnAttr) c_int;
extern "c" fn posix_spawnattr_setflags(attr: *SpawnAttr, flags: c_short) c_int;
extern "c" fn posix_spawnattr_setsigmask(attr: *SpawnAttr, mask: *const CSigset) c_int;
extern "c" fn posix_spawnattr_setsigdefault(attr: *SpawnAttr, set: *const CSigset) c_int;
extern "c" fn posix_spawn_file_actions_init(actions: *SpawnActions) c_int;
extern "c" fn posix_spawn_file_actions_destroy(actions: *SpawnActions) c_int;
extern "c" fn posix_spawn_file_actions_adddup2(actions: *SpawnActions, fd: c_int, new_fd: c_int) c_int;
extern "c" fn posix_spawn_file_actions_addopen(actions: *SpawnActions, fd: c_int, path: [*:0]const u8, flags: c_int, mode: c_uint) c_int;
extern "c" fn posix_spawn(
    pid: *c_int,
    path: [*:0]const u8,
    actions: ?*const SpawnActions,
    attr: ?*const SpawnAttr,
    argv: [*:null]const ?[*:0]const u8,
    envp: [*:null]const ?[*:0]const u8,
) c_int;
extern "c" fn sigemptyset(set: *CSigset) c_int;
extern "c" fn sigfillset(set: *CSigset) c_int;

// glibc's values (spawn.h), the same on every Linux architecture.
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;

fn spawnCheck(rc: c_int) Error!void {
    if (rc != 0) return base.fromErrno(@enumFromInt(@as(u16, @intCast(rc))));
}

/// Starts the program at `path` with argv `{path, arg}`, an empty environment, `stdin_fd` as its
/// stdin and /dev/null as stdout and stderr, in a session of its own (so signals a terminal or a
/// process-group kill send to the caller's group do not reach it), with no signal blocked and every
/// signal at its default action. Returns its pid. A missing program is error.NotFound.
pub fn spawnHelper(path: [*:0]const u8, arg: [*:0]const u8, stdin_fd: Fd) Error!i32 {
    var attr: SpawnAttr = undefined;
    try spawnCheck(posix_spawnattr_init(&attr));
    defer _ = posix_spawnattr_destroy(&attr);
    try spawnCheck(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    var none: CSigset = undefined;
    _ = sigemptyset(&none);
    try spawnCheck(posix_spawnattr_setsigmask(&attr, &none));
    var all: CSigset = undefined;
    _ = sigfillset(&all);
    try spawnCheck(posix_spawnattr_setsigdefault(&attr, &all));

    var actions: SpawnActions = undefined;
    try spawnCheck(posix_spawn_file_actions_init(&actions));
    defer _ = posix_spawn_file_actions_destroy(&actions);
    try spawnCheck(posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0));
    const write_only: c_int = @bitCast(@as(u32, @bitCast(linux.O{ .ACCMODE = .WRONLY })));
    try spawnCheck(posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", write_only, 0));
    try spawnCheck(posix_spawn_file_actions_adddup2(&actions, 1, 2));

    const argv = [_:null]?[*:0]const u8{ path, arg };
    const envp = [_:null]?[*:0]const u8{};
    var pid: c_int = 0;
    try spawnCheck(posix_spawn(&pid, path, &actions, &attr, &argv, &envp));
    return pid;
}

/// Whether `path` names a file this process may execute.
pub fn executable(path: [*:0]const u8) bool {
    const rc = linux.faccessat(linux.AT.FDCWD, path, linux.X_OK, 0);
    return base.errnoOf(rc) == null;
}

/// Sends SIGKILL to `pid`.
pub fn killProcess(pid: i32) void {
    _ = linux.kill(pid, linux.SIG.KILL);
}

const reap_polls_max = 200;

/// Collects the exit status of the child `pid`, waiting up to about two seconds for it to end. A
/// child that someone else reaped already (a runtime's SIGCHLD handler) is fine.
pub fn reap(pid: i32) void {
    var polls: u32 = 0;
    while (polls < reap_polls_max) : (polls += 1) {
        var status: u32 = 0;
        const rc = linux.wait4(pid, &status, linux.W.NOHANG, null);
        if (base.errnoOf(rc)) |e| {
            if (e == .INTR) continue;
            return; // ECHILD: not ours, or reaped already.
        }
        if (rc != 0) return;
        sleepMs(10);
    }
}

fn sleepMs(ms: u32) void {
    const ts: linux.timespec = .{ .sec = @intCast(ms / 1000), .nsec = @intCast((ms % 1000) * std.time.ns_per_ms) };
    _ = linux.nanosleep(&ts, null);
}

pub fn getpid() i32 {
    return linux.getpid();
}

/// The value of environment variable `name`, or null.
pub const getenv = posix.getenv;

/// The absolute path of the file this code was loaded from: libipc.so, or the program libipc.a was
/// linked into. Written to `buf`; null when it cannot be found out.
pub fn imagePath(buf: []u8) ?[]const u8 {
    if (posix.loadedFrom(buf)) |path| return path;
    // The main program (a static link) is reported by the name it was started with; the kernel
    // knows its absolute path.
    const rc = linux.readlink("/proc/self/exe", buf.ptr, buf.len);
    if (base.errnoOf(rc) != null or rc == 0 or rc == buf.len) return null;
    return buf[0..rc];
}

/// Registers fork handlers (pthread_atfork).
pub fn atFork(prepare: *const fn () callconv(.c) void, parent: *const fn () callconv(.c) void, child: *const fn () callconv(.c) void) Error!void {
    if (std.c.pthread_atfork(prepare, parent, child) != 0) return error.NoMemory;
}

// ---------------------------------------------------------------------------------------------------
// The helper's side: raw syscalls only.

/// Closes every fd from `first` up: the helper keeps nothing its parent leaked to it (a runtime's
/// fds without close-on-exec), so it never delays another process's end-of-file.
pub fn closeFrom(first: Fd) void {
    const rc = linux.syscall3(.close_range, @intCast(first), std.math.maxInt(u32), 0);
    if (base.errnoOf(rc) == null) return;
    // Kernels before 5.9: close the usual range one by one.
    var fd: Fd = first;
    while (fd < 4096) : (fd += 1) _ = linux.close(fd);
}

/// Ignores the signals that a terminal, a hang-up or a broken pipe would send.
pub fn ignoreSignals() void {
    const act: linux.Sigaction = .{ .handler = .{ .handler = linux.SIG.IGN }, .mask = linux.sigemptyset(), .flags = 0 };
    for ([_]u8{ linux.SIG.INT, linux.SIG.HUP, linux.SIG.QUIT, linux.SIG.PIPE, linux.SIG.TSTP, linux.SIG.TTIN, linux.SIG.TTOU }) |sig| {
        _ = linux.sigaction(sig, &act, null);
    }
}

pub fn isSocket(fd: Fd) bool {
    var st: linux.Stat = undefined;
    if (base.errnoOf(linux.fstat(fd, &st)) != null) return false;
    return linux.S.ISSOCK(st.mode);
}

const exit_poll_ms = 100;

/// Returns once the process `pid` that started at `start` has ended. Waits on a pidfd (Linux 5.3);
/// without one, polls every 100 ms.
pub fn waitExit(pid: i32, start: u64) void {
    if (!base.processAlive(pid, start)) return;
    const rc = linux.pidfd_open(pid, 0);
    if (base.errnoOf(rc) == null) {
        const pidfd: Fd = @intCast(rc);
        defer _ = linux.close(pidfd);
        // The pid may have been reused between the check and the open: check the start time again.
        if (!base.processAlive(pid, start)) return;
        while (true) {
            var fds = [_]linux.pollfd{.{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 }};
            const polled = linux.poll(&fds, 1, -1);
            if (base.errnoOf(polled)) |e| {
                if (e == .INTR) continue;
                break;
            }
            return;
        }
    }
    while (base.processAlive(pid, start)) sleepMs(exit_poll_ms);
}

pub fn exit(code: u8) noreturn {
    linux.exit_group(code);
}
