//! The tracker's process plumbing on Windows: not done yet. The tracker (a helper process that
//! removes a crashed process's names) has little to do here, since a section dies with its last
//! handle; its sockets and spawning fail with error.NotSupported, so `track` is refused plainly.
//! There is no fork on Windows: fork handlers have nothing to guard and registering them succeeds.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;
const Fd = i32;

extern "kernel32" fn GetCurrentProcessId() callconv(.winapi) u32;

pub fn socketPair() Error![2]Fd {
    return error.NotSupported;
}
pub fn setSendTimeout(fd: Fd, ms: u32) Error!void {
    _ = .{ fd, ms };
    return error.NotSupported;
}
pub fn sendAll(fd: Fd, bytes: []const u8) Error!void {
    _ = .{ fd, bytes };
    return error.NotSupported;
}
pub fn recvSome(fd: Fd, buf: []u8) Error!usize {
    _ = .{ fd, buf };
    return error.NotSupported;
}
pub fn waitReadable(fd: Fd, ms: u32) Error!bool {
    _ = .{ fd, ms };
    return error.NotSupported;
}
pub fn spawnHelper(path: [*:0]const u8, arg: [*:0]const u8, stdin_fd: Fd) Error!i32 {
    _ = .{ path, arg, stdin_fd };
    return error.NotSupported;
}
pub fn executable(path: [*:0]const u8) bool {
    _ = path;
    return false;
}
pub fn killProcess(pid: i32) void {
    _ = pid;
}
pub fn reap(pid: i32) void {
    _ = pid;
}
pub fn getpid() i32 {
    return @intCast(GetCurrentProcessId());
}
/// The value of environment variable `name` from the C runtime, or null.
pub fn getenv(name: [*:0]const u8) ?[]const u8 {
    const value = std.c.getenv(name) orelse return null;
    return std.mem.span(value);
}
pub fn imagePath(buf: []u8) ?[]const u8 {
    _ = buf;
    return null;
}
pub fn atFork(prepare: *const fn () callconv(.c) void, parent: *const fn () callconv(.c) void, child: *const fn () callconv(.c) void) Error!void {
    _ = .{ prepare, parent, child };
}
