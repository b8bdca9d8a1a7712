//! macOS: the process plumbing of the tracker (zig/tracker.zig and its helper program,
//! zig/tracker_helper.zig): a stream socket pair, starting the helper with posix_spawn, sends that
//! never raise SIGPIPE, waiting for a process to end, and finding the file libipc was loaded from.
//! The tracker matters more here than on Linux: shm names cannot be listed on macOS, so a sweep
//! cannot find a crashed process's names, and the helper, which was told them, is what removes them.
//!
//! libSystem calls only, on both sides (macOS has no stable syscall ABI). Invariants as on Linux:
//! every fd is close-on-exec (socketpair takes no SOCK_CLOEXEC here: set right after, so a fork and
//! exec in another thread in between may inherit one); a dead peer is error.Broken, never a SIGPIPE
//! (macOS has no MSG_NOSIGNAL: the sockets carry SO_NOSIGPIPE instead); the helper starts with
//! POSIX_SPAWN_CLOEXEC_DEFAULT, so it inherits only its stdin socket and /dev/null, whatever fds
//! its parent leaked; and it waits for its parent's end on a kqueue (EVFILT_PROC, NOTE_EXIT), with
//! no polling.

const std = @import("std");
const c = std.c;
const abi = @import("../abi.zig");
const posix = @import("posix.zig");
const base = @import("macos.zig");
const Error = abi.Error;
const Fd = base.Fd;

const AF_UNIX: c_uint = 1;
const SOCK_STREAM: c_uint = 1;
const SOL_SOCKET: c_int = 0xffff;
const SO_SNDTIMEO: c_int = 0x1005;
const SO_NOSIGPIPE: c_int = 0x1022;

/// A connected pair of Unix stream sockets, both close-on-exec and SO_NOSIGPIPE.
pub fn socketPair() Error![2]Fd {
    var fds: [2]c.fd_t = undefined;
    _ = try base.retry(c.socketpair, .{ AF_UNIX, SOCK_STREAM, @as(c_uint, 0), &fds });
    errdefer for (fds) |fd| base.close(fd);
    const one: c_int = 1;
    for (fds) |fd| {
        _ = try base.retry(c.fcntl, .{ fd, c.F.SETFD, @as(c_int, c.FD_CLOEXEC) });
        _ = try base.retry(c.setsockopt, .{ fd, SOL_SOCKET, SO_NOSIGPIPE, std.mem.asBytes(&one).ptr, @as(c.socklen_t, @sizeOf(c_int)) });
    }
    return fds;
}

/// Makes sends on `fd` fail with error.TimedOut instead of blocking for longer than `ms`.
pub fn setSendTimeout(fd: Fd, ms: u32) Error!void {
    const tv: c.timeval = .{ .sec = @intCast(ms / 1000), .usec = @intCast((ms % 1000) * 1000) };
    _ = try base.retry(c.setsockopt, .{ fd, SOL_SOCKET, SO_SNDTIMEO, std.mem.asBytes(&tv).ptr, @as(c.socklen_t, @sizeOf(c.timeval)) });
}

const send_calls_max = 1024;

fn errno() c.E {
    return @enumFromInt(c._errno().*);
}

/// Sends all of `bytes`. A peer that has gone away is error.Broken; a send that could not complete
/// within the send timeout is error.TimedOut.
pub fn sendAll(fd: Fd, bytes: []const u8) Error!void {
    var sent: usize = 0;
    var calls: u32 = 0;
    while (sent < bytes.len) : (calls += 1) {
        if (calls == send_calls_max) return error.Io;
        const rc = c.send(fd, bytes[sent..].ptr, bytes.len - sent, 0);
        if (rc < 0) switch (errno()) {
            .INTR => continue,
            .PIPE, .CONNRESET, .NOTCONN, .NOTSOCK, .BADF => return error.Broken,
            .AGAIN => return error.TimedOut,
            else => |e| return base.fromErrno(e),
        };
        sent += @intCast(rc);
    }
}

/// Receives up to `buf.len` bytes; 0 means the peer closed its end (end-of-file).
pub fn recvSome(fd: Fd, buf: []u8) Error!usize {
    var attempt: u32 = 0;
    while (true) : (attempt += 1) {
        const rc = c.recv(fd, buf.ptr, buf.len, 0);
        if (rc >= 0) return @intCast(rc);
        switch (errno()) {
            .INTR => if (attempt < 64) continue else return error.Io,
            // A peer that closed with unread data resets the connection: for us, the same end.
            .CONNRESET => return 0,
            else => |e| return base.fromErrno(e),
        }
    }
}

/// Whether `fd` becomes readable (data or end-of-file) within `ms` milliseconds.
pub fn waitReadable(fd: Fd, ms: u32) Error!bool {
    const deadline = base.monotonicNs() + @as(u64, ms) * std.time.ns_per_ms;
    var attempt: u32 = 0;
    while (attempt < 64) : (attempt += 1) {
        const now = base.monotonicNs();
        const left_ms: c_int = if (now >= deadline) 0 else @intCast((deadline - now + std.time.ns_per_ms - 1) / std.time.ns_per_ms);
        var fds = [_]c.pollfd{.{ .fd = fd, .events = c.POLL.IN, .revents = 0 }};
        const rc = c.poll(&fds, 1, left_ms);
        if (rc < 0) {
            if (errno() == .INTR) continue;
            return base.fromErrno(errno());
        }
        return rc > 0;
    }
    return error.Io;
}

extern "c" fn posix_spawnattr_setsigmask(attr: *c.posix_spawnattr_t, mask: *const c.sigset_t) c_int;
extern "c" fn posix_spawnattr_setsigdefault(attr: *c.posix_spawnattr_t, set: *const c.sigset_t) c_int;

// <spawn.h> on Darwin. POSIX_SPAWN_SETSID needs macOS 10.15, below libipc's floor (11).
const POSIX_SPAWN_SETSIGDEF: c_short = 0x0004;
const POSIX_SPAWN_SETSIGMASK: c_short = 0x0008;
const POSIX_SPAWN_SETSID: c_short = 0x0400;
const POSIX_SPAWN_CLOEXEC_DEFAULT: c_short = 0x4000;

fn spawnCheck(rc: c_int) Error!void {
    if (rc != 0) return base.fromErrno(@enumFromInt(@as(u16, @intCast(rc))));
}

/// Starts the program at `path` with argv `{path, arg}`, an empty environment, `stdin_fd` as its
/// stdin and /dev/null as stdout and stderr, no other fd, in a session of its own (so signals a
/// terminal or a process-group kill send to the caller's group do not reach it), with no signal
/// blocked and every signal at its default action. Returns its pid. A missing program is
/// error.NotFound.
pub fn spawnHelper(path: [*:0]const u8, arg: [*:0]const u8, stdin_fd: Fd) Error!i32 {
    var attr: c.posix_spawnattr_t = undefined;
    try spawnCheck(c.posix_spawnattr_init(&attr));
    defer _ = c.posix_spawnattr_destroy(&attr);
    try spawnCheck(c.posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_CLOEXEC_DEFAULT));
    var none: c.sigset_t = undefined;
    _ = c.sigemptyset(&none);
    try spawnCheck(posix_spawnattr_setsigmask(&attr, &none));
    var all: c.sigset_t = undefined;
    _ = c.sigfillset(&all);
    try spawnCheck(posix_spawnattr_setsigdefault(&attr, &all));

    var actions: c.posix_spawn_file_actions_t = undefined;
    try spawnCheck(c.posix_spawn_file_actions_init(&actions));
    defer _ = c.posix_spawn_file_actions_destroy(&actions);
    try spawnCheck(c.posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0));
    const write_only: c_int = @bitCast(c.O{ .ACCMODE = .WRONLY });
    try spawnCheck(c.posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", write_only, 0));
    try spawnCheck(c.posix_spawn_file_actions_adddup2(&actions, 1, 2));

    const argv = [_:null]?[*:0]const u8{ path, arg };
    const envp = [_:null]?[*:0]const u8{};
    var pid: c.pid_t = 0;
    try spawnCheck(c.posix_spawn(&pid, path, &actions, &attr, &argv, &envp));
    return pid;
}

/// Whether `path` names a file this process may execute.
pub fn executable(path: [*:0]const u8) bool {
    return c.access(path, c.X_OK) == 0;
}

/// Sends SIGKILL to `pid`.
pub fn killProcess(pid: i32) void {
    _ = c.kill(pid, c.SIG.KILL);
}

const reap_polls_max = 200;

/// Collects the exit status of the child `pid`, waiting up to about two seconds for it to end. A
/// child that someone else reaped already (a runtime's SIGCHLD handler) is fine.
pub fn reap(pid: i32) void {
    var polls: u32 = 0;
    while (polls < reap_polls_max) : (polls += 1) {
        var status: c_int = 0;
        const rc = c.waitpid(pid, &status, c.W.NOHANG);
        if (rc < 0) {
            if (errno() == .INTR) continue;
            return; // ECHILD: not ours, or reaped already.
        }
        if (rc != 0) return;
        std.Thread.sleep(10 * std.time.ns_per_ms);
    }
}

pub fn getpid() i32 {
    return c.getpid();
}

/// The value of environment variable `name`, or null.
pub const getenv = posix.getenv;

/// The absolute path of the file this code was loaded from: libipc.dylib, or the program libipc.a
/// was linked into. Written to `buf`; null when it cannot be found out.
pub fn imagePath(buf: []u8) ?[]const u8 {
    if (posix.loadedFrom(buf)) |path| return path;
    // The main program, by the path the kernel started it from (may be relative: then unknown).
    if (buf.len < 2) return null;
    var size: u32 = @intCast(@min(buf.len - 1, std.math.maxInt(u32)));
    if (c._NSGetExecutablePath(@ptrCast(buf.ptr), &size) != 0) return null;
    const path = std.mem.sliceTo(buf, 0);
    if (path.len == 0 or path[0] != '/') return null;
    return path;
}

/// Registers fork handlers (pthread_atfork).
pub fn atFork(prepare: *const fn () callconv(.c) void, parent: *const fn () callconv(.c) void, child: *const fn () callconv(.c) void) Error!void {
    if (c.pthread_atfork(prepare, parent, child) != 0) return error.NoMemory;
}

// ---------------------------------------------------------------------------------------------------
// The helper's side.

const fds_max = 4096;
extern "c" fn getdtablesize() c_int;

/// Closes every fd from `first` up (the helper is spawned with POSIX_SPAWN_CLOEXEC_DEFAULT already;
/// this keeps the promise for a helper started another way).
pub fn closeFrom(first: Fd) void {
    const limit = @min(getdtablesize(), fds_max);
    var fd: Fd = first;
    while (fd < limit) : (fd += 1) _ = c.close(fd);
}

/// Ignores the signals that a terminal, a hang-up or a broken pipe would send.
pub fn ignoreSignals() void {
    const act: std.posix.Sigaction = .{ .handler = .{ .handler = std.posix.SIG.IGN }, .mask = std.posix.sigemptyset(), .flags = 0 };
    for ([_]u8{ c.SIG.INT, c.SIG.HUP, c.SIG.QUIT, c.SIG.PIPE, c.SIG.TSTP, c.SIG.TTIN, c.SIG.TTOU }) |sig| {
        std.posix.sigaction(sig, &act, null);
    }
}

pub fn isSocket(fd: Fd) bool {
    var st: c.Stat = undefined;
    if (c.fstat(fd, &st) != 0) return false;
    return st.mode & c.S.IFMT == c.S.IFSOCK;
}

// <sys/event.h>
const EVFILT_PROC: i16 = -5;
const EV_ADD: u16 = 0x0001;
const EV_ONESHOT: u16 = 0x0010;
const NOTE_EXIT: u32 = 0x8000_0000;
const exit_poll_ms = 100;

/// Returns once the process `pid` that started at `start` has ended: a kqueue reports its exit
/// (EVFILT_PROC, NOTE_EXIT, registered after the pid is known to be the right process, and any
/// process may watch any other). Only when no kqueue can be had, polls every 100 ms.
pub fn waitExit(pid: i32, start: u64) void {
    if (!base.processAlive(pid, start)) return;
    const kq = c.kqueue();
    if (kq >= 0) {
        defer _ = c.close(kq);
        const change = [_]c.Kevent{.{ .ident = @intCast(pid), .filter = EVFILT_PROC, .flags = EV_ADD | EV_ONESHOT, .fflags = NOTE_EXIT, .data = 0, .udata = 0 }};
        var event: [1]c.Kevent = undefined;
        // Registered: a pid reused between the check above and here is caught by the check below.
        if (c.kevent(kq, &change, 1, &event, 0, null) == 0 and base.processAlive(pid, start)) {
            var attempt: u32 = 0;
            while (attempt < 64) : (attempt += 1) {
                const rc = c.kevent(kq, &change, 0, &event, 1, null);
                if (rc > 0) return;
                if (rc < 0 and errno() != .INTR) break;
            }
        }
        if (!base.processAlive(pid, start)) return;
    }
    while (base.processAlive(pid, start)) std.Thread.sleep(exit_poll_ms * std.time.ns_per_ms);
}

pub fn exit(code: u8) noreturn {
    c._exit(code);
}
