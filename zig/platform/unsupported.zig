//! The platform layer for systems libipc does not implement yet (macOS, Windows, the BSDs): the same
//! functions as linux.zig, each failing with error.NotSupported (IPC_ENOTSUP at the ABI). Nothing
//! here touches the OS except reading the clock for randomness.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;

pub const supported = false;
pub const Fd = i32;
pub const Stamp = struct { pid: i32, start: u64, pidns: u64 };
pub const FileInfo = struct { size: u64, regular: bool, uid: u32 };

pub fn createFile(size: u64, mode: u32, anonymous: bool, reserve: bool) Error!Fd {
    _ = .{ size, mode, anonymous, reserve };
    return error.NotSupported;
}
pub fn publish(fd: Fd, name: []const u8) Error!void {
    _ = .{ fd, name };
    return error.NotSupported;
}
pub fn openNamed(name: []const u8) Error!Fd {
    _ = name;
    return error.NotSupported;
}
pub fn unlinkNamed(name: []const u8) Error!void {
    _ = name;
    return error.NotSupported;
}
pub fn dup(fd: Fd) Error!Fd {
    _ = fd;
    return error.NotSupported;
}
pub fn close(fd: Fd) void {
    _ = fd;
}
pub fn fileInfo(fd: Fd) Error!FileInfo {
    _ = fd;
    return error.NotSupported;
}
pub fn readAt(fd: Fd, buf: []u8, offset: u64) Error!usize {
    _ = .{ fd, buf, offset };
    return error.NotSupported;
}
pub fn map(fd: Fd, len: usize) Error![*]align(std.heap.page_size_min) u8 {
    _ = .{ fd, len };
    return error.NotSupported;
}
pub fn unmap(ptr: [*]align(std.heap.page_size_min) u8, len: usize) void {
    _ = .{ ptr, len };
}
pub fn capacity(anonymous: bool) Error!u64 {
    _ = anonymous;
    return error.NotSupported;
}
pub fn randomBytes(buf: []u8) void {
    var seed: u64 = @truncate(@as(u128, @bitCast(std.time.nanoTimestamp())));
    for (buf) |*b| {
        seed = std.hash.Wyhash.hash(seed, "libipc");
        b.* = @truncate(seed);
    }
}
pub fn selfStamp() Error!Stamp {
    return error.NotSupported;
}
pub fn processAlive(pid: i32, start: u64) bool {
    _ = .{ pid, start };
    return true;
}
pub fn effectiveUid() u32 {
    return 0;
}
pub const NameIterator = struct {
    pub fn init() Error!NameIterator {
        return error.NotSupported;
    }
    pub fn deinit(it: *NameIterator) void {
        _ = it;
    }
    pub fn next(it: *NameIterator) Error!?[]const u8 {
        _ = it;
        return null;
    }
};
