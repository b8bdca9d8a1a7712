//! The tracker's process plumbing on Windows: not done yet. The tracker (a helper process that
//! removes a crashed process's names) has little to do here, since a section dies with its last
//! handle; its sockets and spawning fail with error.NotSupported, so `track` is refused plainly.
//! There is no fork on Windows: fork handlers have nothing to guard and registering them succeeds.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;
const Fd = i32;

extern "kernel32" fn GetCurrentProcessId() callconv(.winapi) u32;

// What is not done yet is exactly the unsupported layer's: the same functions, not a copy of them.
const none = @import("unsupported.zig").process;
pub const socketPair = none.socketPair;
pub const setSendTimeout = none.setSendTimeout;
pub const sendAll = none.sendAll;
pub const recvSome = none.recvSome;
pub const waitReadable = none.waitReadable;
pub const spawnHelper = none.spawnHelper;
pub const executable = none.executable;
pub const killProcess = none.killProcess;
pub const reap = none.reap;
pub const imagePath = none.imagePath;

pub fn getpid() i32 {
    return @intCast(GetCurrentProcessId());
}
/// The value of environment variable `name` from the C runtime, or null.
pub fn getenv(name: [*:0]const u8) ?[]const u8 {
    const value = std.c.getenv(name) orelse return null;
    return std.mem.span(value);
}
pub fn atFork(prepare: *const fn () callconv(.c) void, parent: *const fn () callconv(.c) void, child: *const fn () callconv(.c) void) Error!void {
    _ = .{ prepare, parent, child };
}
