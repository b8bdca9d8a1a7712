//! The platform layer for systems libipc does not implement yet (macOS, Windows, the BSDs): the same
//! functions as linux.zig, each failing with error.NotSupported (IPC_ENOTSUP at the ABI). Nothing
//! here touches the OS except reading the clock for randomness.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;

pub const supported = false;
pub const Fd = i32;
pub const Stamp = struct { pid: i32, start: u64, pidns: u64 };
pub const FileInfo = struct { size: u64, regular: bool, uid: u32, mode: u32, dev: u64, ino: u64 };

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
pub fn openNamedRead(name: []const u8) Error!Fd {
    _ = name;
    return error.NotSupported;
}
pub fn statNamed(name: []const u8) Error!FileInfo {
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
pub fn inherit(fd: Fd, on: bool) Error!void {
    _ = .{ fd, on };
    return error.NotSupported;
}
pub fn closeFd(fd: Fd) Error!void {
    _ = fd;
    return error.NotSupported;
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
pub fn startTime(pid: i32) Error!u64 {
    _ = pid;
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
/// Unknown here: spinning is never turned off for crowding.
pub fn runnableThreads() ?u32 {
    return null;
}

pub fn monotonicNs() u64 {
    return @intCast(@max(std.time.nanoTimestamp(), 0));
}
pub const WaitWord = struct { word: *const u32, expected: u32, private: bool };
pub const WaitResult = union(enum) { woken: usize, timed_out, interrupted };
pub fn futexWaitv(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    _ = .{ words, deadline_ns };
    return error.NotSupported;
}
pub fn futexWake(word: *const u32, count: u32, private: bool) u32 {
    _ = .{ word, count, private };
    return 0;
}

pub const process = struct {
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
        return 0;
    }
    pub fn getenv(name: [*:0]const u8) ?[]const u8 {
        _ = name;
        return null;
    }
    pub fn imagePath(buf: []u8) ?[]const u8 {
        _ = buf;
        return null;
    }
    pub fn atFork(prepare: *const fn () callconv(.c) void, parent: *const fn () callconv(.c) void, child: *const fn () callconv(.c) void) Error!void {
        _ = .{ prepare, parent, child };
        return error.NotSupported;
    }
};

pub const robust_mutex = struct {
    pub const supported = false;
    pub const size: u32 = 40;
    pub const alignment: u32 = 8;
    pub const layout_tag: u32 = 0;
    pub const waiters_bit: u32 = 0x8000_0000;
    pub const owner_died_bit: u32 = 0x4000_0000;
    pub const tid_mask: u32 = 0x3fff_ffff;
    pub const Acquired = enum { locked, owner_died };
    pub fn init(memory: *anyopaque) Error!void {
        _ = memory;
        return error.NotSupported;
    }
    pub fn tryLock(memory: *anyopaque) Error!Acquired {
        _ = memory;
        return error.NotSupported;
    }
    pub fn acquire(memory: *anyopaque, contended: bool) Error!Acquired {
        _ = .{ memory, contended };
        return error.NotSupported;
    }
    /// No fast path: the callers go on to `acquire` and `unlock`, which say NotSupported.
    pub fn lockFast(memory: *anyopaque) Error!?Acquired {
        _ = memory;
        return null;
    }
    pub fn unlockFast(memory: *anyopaque) bool {
        _ = memory;
        return false;
    }
    pub fn holds(memory: *anyopaque) bool {
        _ = memory;
        return false;
    }
    pub fn unlock(memory: *anyopaque) Error!void {
        _ = memory;
        return error.NotSupported;
    }
    pub fn consistent(memory: *anyopaque) Error!void {
        _ = memory;
        return error.NotSupported;
    }
    pub fn destroy(memory: *anyopaque) void {
        _ = memory;
    }
    pub fn word(memory: *anyopaque) *u32 {
        return @ptrCast(@alignCast(memory));
    }
    pub fn currentTid() u32 {
        return 0;
    }
    pub fn currentPid() u32 {
        return 0;
    }
    pub fn selfTest() Error!void {
        return error.NotSupported;
    }
};
