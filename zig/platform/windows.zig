//! Windows implementation of the platform layer: segments as pagefile-backed file mappings (kernel
//! section objects), process identity and liveness, the clock and randomness. Waiting and waking live
//! in windows_wait.zig. Kernel32 calls only; every Win32 error is mapped here, in `fromWin32`.
//!
//! Handles stand where the interface says Fd: an `Fd` is the handle's value as an i32 (Windows keeps
//! kernel handle values below 2^24 and documents them as 32-bit significant, so a handle fits the C
//! ABI's int32_t fd and is the same number in a child that inherits it).
//!
//! Names: segment "/x" is the section `Local\libipc-x` (the session's namespace; the 31-byte rule of
//! name.zig keeps it short). Windows cannot name an object after creating it, so named segments are
//! created under their name (`createNamed`) and guarded until their header is written: the creator
//! first takes the named mutex `Local\libipc!c-x` (created owned, so a second creator of the name
//! fails with error.Exists), and `publish` releases it; an opener that finds the mutex waits on it
//! (no polling) before reading the header. A creator that dies before `publish` abandons the mutex:
//! its opener goes on and finds an invalid header (error.Protocol).
//!
//! Lifetime ("leaving nothing behind"): a section dies with its last handle and its last view, so a
//! segment every process closed, or whose processes all died, is gone: nothing can leak past the
//! last process, and there is nothing for a sweep to remove. Names cannot be removed while the
//! section lives: `unlinkNamed` succeeds for a name that exists and does nothing (the name goes with
//! the last handle), and `names_removable` tells segment.zig that a sweep removes nothing.
//! `NameIterator` (windows_names.zig) lists the session's sections from its object directory.
//!
//! Not implemented yet (error.NotSupported): the tracker's helper process and sockets (`process`).
//! Permission bits (`mode`) are not applied: a section gets the creator's default
//! security descriptor (its user, SYSTEM and administrators).

const std = @import("std");
const windows = std.os.windows;
const abi = @import("../abi.zig");
const Error = abi.Error;

pub const supported = true;
pub const Fd = i32;
pub const robust_mutex = @import("unsupported.zig").robust_mutex;
pub const process = @import("windows_process.zig");
const wait = @import("windows_wait.zig");
pub const WaitWord = wait.WaitWord;
pub const WaitResult = wait.WaitResult;
pub const futexWaitv = wait.futexWaitv;
pub const futexWake = wait.futexWake;
pub const futexWaitvHolder = wait.futexWaitvHolder;

const HANDLE = windows.HANDLE;
const DWORD = windows.DWORD;
const BOOL = windows.BOOL;
pub const FILETIME = windows.FILETIME;

pub const PAGE_READWRITE: DWORD = 0x04;
pub const SEC_COMMIT: DWORD = 0x0800_0000;
pub const FILE_MAP_WRITE: DWORD = 0x0002;
pub const FILE_MAP_READ: DWORD = 0x0004;
const SYNCHRONIZE: DWORD = 0x0010_0000;
const MUTEX_MODIFY_STATE: DWORD = 0x0001;
const PROCESS_QUERY_LIMITED_INFORMATION: DWORD = 0x1000;
const STILL_ACTIVE: DWORD = 259;
const WAIT_OBJECT_0: DWORD = 0;
const WAIT_ABANDONED: DWORD = 0x80;
const DUPLICATE_SAME_ACCESS: DWORD = 0x2;
const HANDLE_FLAG_INHERIT: DWORD = 0x1;
pub const INFINITE: DWORD = 0xFFFF_FFFF;
pub const MEM_COMMIT: DWORD = 0x1000;
pub const MEM_MAPPED: DWORD = 0x40000;

pub const ERROR_FILE_NOT_FOUND: DWORD = 2;
pub const ERROR_ALREADY_EXISTS: DWORD = 183;

pub extern "kernel32" fn CreateFileMappingW(file: HANDLE, attributes: ?*anyopaque, protect: DWORD, size_high: DWORD, size_low: DWORD, name: ?[*:0]const u16) callconv(.winapi) ?HANDLE;
pub extern "kernel32" fn OpenFileMappingW(access: DWORD, inherit: BOOL, name: [*:0]const u16) callconv(.winapi) ?HANDLE;
pub extern "kernel32" fn MapViewOfFile(mapping: HANDLE, access: DWORD, offset_high: DWORD, offset_low: DWORD, len: usize) callconv(.winapi) ?*anyopaque;
pub extern "kernel32" fn UnmapViewOfFile(base: *const anyopaque) callconv(.winapi) BOOL;
extern "kernel32" fn CreateMutexW(attributes: ?*anyopaque, initial_owner: BOOL, name: [*:0]const u16) callconv(.winapi) ?HANDLE;
extern "kernel32" fn OpenMutexW(access: DWORD, inherit: BOOL, name: [*:0]const u16) callconv(.winapi) ?HANDLE;
extern "kernel32" fn ReleaseMutex(mutex: HANDLE) callconv(.winapi) BOOL;
pub extern "kernel32" fn WaitForSingleObject(handle: HANDLE, ms: DWORD) callconv(.winapi) DWORD;
extern "kernel32" fn OpenProcess(access: DWORD, inherit: BOOL, pid: DWORD) callconv(.winapi) ?HANDLE;
extern "kernel32" fn GetExitCodeProcess(process: HANDLE, code: *DWORD) callconv(.winapi) BOOL;
extern "kernel32" fn GetProcessTimes(process: HANDLE, creation: *FILETIME, exit: *FILETIME, kernel: *FILETIME, user: *FILETIME) callconv(.winapi) BOOL;
pub extern "kernel32" fn GetCurrentProcessId() callconv(.winapi) DWORD;
extern "kernel32" fn GetCurrentProcess() callconv(.winapi) HANDLE;
extern "kernel32" fn GetHandleInformation(handle: HANDLE, flags: *DWORD) callconv(.winapi) BOOL;
extern "kernel32" fn SetHandleInformation(handle: HANDLE, mask: DWORD, flags: DWORD) callconv(.winapi) BOOL;
/// Declared here rather than std's `windows.CloseHandle`, which asserts success: `closeFd` takes
/// values from callers and must report an invalid one, not panic.
extern "kernel32" fn CloseHandle(handle: HANDLE) callconv(.winapi) BOOL;
extern "kernel32" fn DuplicateHandle(source_process: HANDLE, source: HANDLE, target_process: HANDLE, target: *HANDLE, access: DWORD, inherit: BOOL, options: DWORD) callconv(.winapi) BOOL;
extern "kernel32" fn GlobalMemoryStatusEx(status: *MemoryStatusEx) callconv(.winapi) BOOL;
extern "advapi32" fn SystemFunction036(buffer: [*]u8, len: u32) callconv(.winapi) u8;

const MemoryStatusEx = extern struct {
    length: DWORD,
    memory_load: DWORD,
    total_phys: u64,
    avail_phys: u64,
    total_page_file: u64,
    avail_page_file: u64,
    total_virtual: u64,
    avail_virtual: u64,
    avail_extended_virtual: u64,
};

/// The one mapping from Win32 error codes to libipc errors.
pub fn fromWin32(code: DWORD) Error {
    return switch (code) {
        2, 3 => error.NotFound, // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND
        5 => error.Access, // ERROR_ACCESS_DENIED
        6, 87 => error.Invalid, // ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER
        8, 14, 1455 => error.NoMemory, // NOT_ENOUGH_MEMORY, OUTOFMEMORY, COMMITMENT_LIMIT
        4 => error.TooManyFiles, // ERROR_TOO_MANY_OPEN_FILES
        112 => error.NoSpace, // ERROR_DISK_FULL
        183, 80 => error.Exists, // ERROR_ALREADY_EXISTS, ERROR_FILE_EXISTS
        206 => error.NameTooLong, // ERROR_FILENAME_EXCED_RANGE
        120, 50 => error.NotSupported, // CALL_NOT_IMPLEMENTED, NOT_SUPPORTED
        else => error.Io,
    };
}

pub fn lastError() Error {
    return fromWin32(@intFromEnum(windows.kernel32.GetLastError()));
}

fn lastCode() DWORD {
    return @intFromEnum(windows.kernel32.GetLastError());
}

pub fn handleOf(fd: Fd) HANDLE {
    return @ptrFromInt(@as(usize, @as(u32, @bitCast(fd))));
}

pub fn fdOf(handle: HANDLE) Error!Fd {
    const value = @intFromPtr(handle);
    if (value > std.math.maxInt(i32)) {
        windows.CloseHandle(handle);
        return error.Io;
    }
    return @intCast(value);
}

/// Builds `Local\libipc<infix><name without its leading '/'>` as UTF-16 in `buf` (names are ASCII).
pub fn objectName(buf: *[64]u16, infix: []const u8, name: []const u8) [:0]const u16 {
    std.debug.assert(name.len >= 2 and name.len <= 48 and name[0] == '/');
    var len: usize = 0;
    for ([_][]const u8{ "Local\\libipc", infix, name[1..] }) |part| {
        for (part) |c| {
            buf[len] = c;
            len += 1;
        }
    }
    buf[len] = 0;
    return buf[0..len :0];
}

/// Creates an unnamed section of `size` bytes (only anonymous segments are made this way here:
/// named ones come from `createNamed`). Sections are committed at creation (SEC_COMMIT), so
/// `reserve` changes nothing: running out of pagefile is an error here, never a fault on touch.
pub fn createFile(size: u64, mode: u32, anonymous: bool, reserve: bool) Error!Fd {
    _ = .{ mode, reserve };
    if (!anonymous) return error.NotSupported;
    return section(size, null);
}

fn section(size: u64, name: ?[*:0]const u16) Error!Fd {
    const h = CreateFileMappingW(windows.INVALID_HANDLE_VALUE, null, PAGE_READWRITE | SEC_COMMIT, @truncate(size >> 32), @truncate(size), name) orelse return lastError();
    if (name != null and lastCode() == ERROR_ALREADY_EXISTS) {
        windows.CloseHandle(h);
        return error.Exists;
    }
    return fdOf(h);
}

/// The creation mutex of the segment this thread is creating, released by `publish` (or `close`).
threadlocal var creating: ?struct { fd: Fd, mutex: HANDLE } = null;

/// Creates the section of a named segment under its name; error.Exists when the name is taken or
/// another process is creating it. Until `publish`, openers wait (see the file comment).
pub fn createNamed(size: u64, name: []const u8) Error!Fd {
    std.debug.assert(creating == null);
    var buf: [64]u16 = undefined;
    const mutex = CreateMutexW(null, 1, objectName(&buf, "!c-", name).ptr) orelse return lastError();
    if (lastCode() == ERROR_ALREADY_EXISTS) {
        windows.CloseHandle(mutex);
        return error.Exists;
    }
    const fd = section(size, objectName(&buf, "-", name).ptr) catch |err| {
        _ = ReleaseMutex(mutex);
        windows.CloseHandle(mutex);
        return err;
    };
    creating = .{ .fd = fd, .mutex = mutex };
    return fd;
}

/// Ends the creation of the segment `fd`: its header is written; openers waiting may read it.
pub fn publish(fd: Fd, name: []const u8) Error!void {
    _ = name;
    endCreation(fd);
}

fn endCreation(fd: Fd) void {
    const c = creating orelse return;
    if (c.fd != fd) return;
    _ = ReleaseMutex(c.mutex);
    windows.CloseHandle(c.mutex);
    creating = null;
}

pub fn openNamed(name: []const u8) Error!Fd {
    return openNamedAccess(name, FILE_MAP_READ | FILE_MAP_WRITE);
}

pub fn openNamedRead(name: []const u8) Error!Fd {
    return openNamedAccess(name, FILE_MAP_READ);
}

/// How long an opener waits for a creator to write a header: a creator writes it at once, so this
/// bound is only reached by a creator stopped in a debugger or starved for seconds.
const creation_wait_ms: DWORD = 10_000;

fn openNamedAccess(name: []const u8, access: DWORD) Error!Fd {
    var buf: [64]u16 = undefined;
    const h = OpenFileMappingW(access, 0, objectName(&buf, "-", name).ptr) orelse return lastError();
    const fd = try fdOf(h);
    // A creator still writing the header holds the creation mutex; wait for it to publish.
    if (OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, 0, objectName(&buf, "!c-", name).ptr)) |mutex| {
        defer windows.CloseHandle(mutex);
        const rc = WaitForSingleObject(mutex, creation_wait_ms);
        if (rc == WAIT_OBJECT_0 or rc == WAIT_ABANDONED) _ = ReleaseMutex(mutex);
    }
    return fd;
}

pub fn statNamed(name: []const u8) Error!FileInfo {
    const fd = try openNamedRead(name);
    defer close(fd);
    return fileInfo(fd);
}

/// Names cannot be removed from a live section: see the file comment. NotFound when no segment has
/// the name.
pub fn unlinkNamed(name: []const u8) Error!void {
    var buf: [64]u16 = undefined;
    const h = OpenFileMappingW(FILE_MAP_READ, 0, objectName(&buf, "-", name).ptr) orelse return lastError();
    windows.CloseHandle(h);
}

/// A duplicate of the handle `fd`, not inheritable.
pub fn dup(fd: Fd) Error!Fd {
    if (fd <= 0) return error.Invalid;
    var out: HANDLE = undefined;
    if (DuplicateHandle(GetCurrentProcess(), handleOf(fd), GetCurrentProcess(), &out, 0, 0, DUPLICATE_SAME_ACCESS) == 0) return lastError();
    return fdOf(out);
}

pub fn close(fd: Fd) void {
    if (fd <= 0) return;
    endCreation(fd);
    windows.CloseHandle(handleOf(fd));
}

/// Lets the handle `fd` reach children created with bInheritHandles TRUE (`on`), under the same
/// value, or not (off). 0 and negative values (the pseudo-handles of this process and thread) and
/// values that name no handle are error.Invalid.
pub fn inherit(fd: Fd, on: bool) Error!void {
    if (fd <= 0) return error.Invalid;
    if (SetHandleInformation(handleOf(fd), HANDLE_FLAG_INHERIT, if (on) HANDLE_FLAG_INHERIT else 0) == 0) return lastError();
}

/// Closes the handle `fd`; error.Invalid for 0, a negative value or a value that names no handle.
pub fn closeFd(fd: Fd) Error!void {
    if (fd <= 0) return error.Invalid;
    endCreation(fd);
    if (CloseHandle(handleOf(fd)) == 0) return lastError();
}

/// What is known of a section: its size (rounded up to pages). Sections carry no owner uid or mode
/// here: `uid` is the `effectiveUid` placeholder, so the owner check passes (the section's security
/// descriptor already decided who could open it).
pub const FileInfo = struct { size: u64, regular: bool, uid: u32, mode: u32, dev: u64, ino: u64 };

pub fn fileInfo(fd: Fd) Error!FileInfo {
    if (fd <= 0) return error.Invalid;
    const view = MapViewOfFile(handleOf(fd), FILE_MAP_READ, 0, 0, 0) orelse return lastError();
    defer _ = UnmapViewOfFile(view);
    var info: windows.MEMORY_BASIC_INFORMATION = undefined;
    _ = windows.VirtualQuery(view, &info, @sizeOf(windows.MEMORY_BASIC_INFORMATION)) catch return error.Io;
    return .{ .size = info.RegionSize, .regular = true, .uid = 0, .mode = 0o600, .dev = 0, .ino = @as(u32, @bitCast(fd)) };
}

/// Reads through a temporary read-only view.
pub fn readAt(fd: Fd, buf: []u8, offset: u64) Error!usize {
    const info = try fileInfo(fd);
    if (offset >= info.size) return 0;
    const len: usize = @intCast(@min(buf.len, info.size - offset));
    const view = MapViewOfFile(handleOf(fd), FILE_MAP_READ, 0, 0, @intCast(offset + len)) orelse return lastError();
    defer _ = UnmapViewOfFile(view);
    @memcpy(buf[0..len], (@as([*]const u8, @ptrCast(view)) + @as(usize, @intCast(offset)))[0..len]);
    return len;
}

pub fn map(fd: Fd, len: usize) Error![*]align(std.heap.page_size_min) u8 {
    if (fd <= 0) return error.Invalid;
    const view = MapViewOfFile(handleOf(fd), FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, len) orelse return lastError();
    return @ptrCast(@alignCast(view));
}

pub fn unmap(ptr: [*]align(std.heap.page_size_min) u8, len: usize) void {
    _ = len;
    _ = UnmapViewOfFile(ptr);
}

/// Pagefile-backed sections are limited by the commit limit (RAM plus pagefile).
pub fn capacity(anonymous: bool) Error!u64 {
    _ = anonymous;
    var status: MemoryStatusEx = std.mem.zeroes(MemoryStatusEx);
    status.length = @sizeOf(MemoryStatusEx);
    if (GlobalMemoryStatusEx(&status) == 0) return lastError();
    return status.total_page_file;
}

/// RtlGenRandom (advapi32's SystemFunction036), which cannot fail short of a broken system; the
/// clock is mixed in rather than returning predictable bytes if it ever does.
pub fn randomBytes(buf: []u8) void {
    var filled: usize = 0;
    while (filled < buf.len) {
        const chunk: u32 = @intCast(@min(buf.len - filled, std.math.maxInt(u32)));
        if (SystemFunction036(buf[filled..].ptr, chunk) == 0) break;
        filled += chunk;
    }
    var seed: u64 = monotonicNs();
    for (buf[filled..]) |*b| {
        seed = std.hash.Wyhash.hash(seed, "libipc");
        b.* = @truncate(seed);
    }
}

/// Who a process is: its pid and its creation time (100 ns units since 1601, from GetProcessTimes;
/// a reused pid has another). Windows has no pid namespaces: `pidns` is 0.
pub const Stamp = struct { pid: i32, start: u64, pidns: u64 };

var self_stamp: ?Stamp = null;
var self_stamp_lock: std.Thread.Mutex = .{};

pub fn selfStamp() Error!Stamp {
    self_stamp_lock.lock();
    defer self_stamp_lock.unlock();
    if (self_stamp) |stamp| return stamp;
    const pid: i32 = @intCast(GetCurrentProcessId());
    const stamp: Stamp = .{ .pid = pid, .start = try creationTime(GetCurrentProcess()), .pidns = 0 };
    self_stamp = stamp;
    return stamp;
}

pub fn creationTime(handle: HANDLE) Error!u64 {
    var creation: FILETIME = undefined;
    var unused: [3]FILETIME = undefined;
    if (GetProcessTimes(handle, &creation, &unused[0], &unused[1], &unused[2]) == 0) return lastError();
    return @as(u64, creation.dwHighDateTime) << 32 | creation.dwLowDateTime;
}

/// The creation time of process `pid`; error.NotFound when no process has that pid.
pub fn startTime(pid: i32) Error!u64 {
    if (pid <= 0) return error.NotFound;
    const h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, @intCast(pid)) orelse {
        // ERROR_INVALID_PARAMETER: no such process.
        return if (lastCode() == 87) error.NotFound else lastError();
    };
    defer windows.CloseHandle(h);
    var code: DWORD = 0;
    if (GetExitCodeProcess(h, &code) != 0 and code != STILL_ACTIVE) return error.NotFound;
    return creationTime(h);
}

/// Whether the process `pid` created at `start` still runs. An exited process whose handle another
/// process still holds is dead (its exit code is set). When in doubt (access denied), alive.
pub fn processAlive(pid: i32, start: u64) bool {
    const t = startTime(pid) catch |err| return err != error.NotFound;
    return t == start;
}

/// A process to wait for: `handle` (SYNCHRONIZE, signaled when it exits) when process `pid` runs
/// and was created at `start`; `gone` when no process has that pid or another process does (the
/// recorded one is dead); `unknown` when Windows will not say (access denied): wait without it.
pub const Watched = union(enum) { handle: HANDLE, gone, unknown };

pub fn watchProcess(pid: u32, start: u64) Watched {
    if (pid == 0 or pid > std.math.maxInt(i32)) return .unknown;
    const h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) orelse
        return if (lastCode() == 87) .gone else .unknown;
    var code: DWORD = 0;
    const created = creationTime(h) catch {
        windows.CloseHandle(h);
        return .unknown;
    };
    if (created != start or (GetExitCodeProcess(h, &code) != 0 and code != STILL_ACTIVE)) {
        windows.CloseHandle(h);
        return .gone;
    }
    return .{ .handle = h };
}

/// Windows has no uid to compare: sections are guarded by their security descriptors.
pub fn effectiveUid() u32 {
    return 0;
}

/// The session's libipc sections, from its object directory (windows_names.zig).
pub const NameIterator = @import("windows_names.zig").NameIterator;

/// A name cannot be removed while its section lives (see the file comment): `segment.unlinkDead`
/// and so the sweep remove nothing here, and say so (0 removed) rather than count a name that stays.
pub const names_removable = false;

/// Not measured here: spinning is never turned off for crowding.
pub fn runnableThreads() ?u32 {
    return null;
}

/// QueryPerformanceCounter in nanoseconds: one clock for every process of the machine.
pub fn monotonicNs() u64 {
    const ticks = windows.QueryPerformanceCounter();
    const freq = qpcFrequency();
    return @intCast((@as(u128, ticks) * std.time.ns_per_s) / freq);
}

var qpc_frequency = std.atomic.Value(u64).init(0);

fn qpcFrequency() u64 {
    const f = qpc_frequency.load(.monotonic);
    if (f != 0) return f;
    const fresh = windows.QueryPerformanceFrequency();
    qpc_frequency.store(fresh, .monotonic);
    return fresh;
}

/// Whether the page holding `address` is still mapped (the owner mutex's thread-exit hook skips
/// locks of unmapped segments).
pub fn mapped(address: usize) bool {
    var info: windows.MEMORY_BASIC_INFORMATION = undefined;
    _ = windows.VirtualQuery(@ptrFromInt(address), &info, @sizeOf(windows.MEMORY_BASIC_INFORMATION)) catch return false;
    return info.State == MEM_COMMIT;
}

test "selfStamp names this process; a named section is created once, opened, and dies with its last handle" {
    const stamp = try selfStamp();
    try std.testing.expect(stamp.start > 0);
    try std.testing.expect(processAlive(stamp.pid, stamp.start));
    try std.testing.expect(!processAlive(stamp.pid, stamp.start + 1));
    var name_buf: [32]u8 = undefined;
    const name = try std.fmt.bufPrint(&name_buf, "/wtest-{d}", .{stamp.pid});
    const fd = try createNamed(8192, name);
    try publish(fd, name);
    // Taken: by the section (the creation mutex is gone once published).
    try std.testing.expectError(error.Exists, createNamed(8192, name));
    try std.testing.expect(creating == null);
    const view = try map(fd, 8192);
    view[100] = 42;
    const other = try openNamed(name);
    var byte: [1]u8 = undefined;
    try std.testing.expectEqual(@as(usize, 1), try readAt(other, &byte, 100));
    try std.testing.expectEqual(@as(u8, 42), byte[0]);
    try std.testing.expect((try fileInfo(other)).size >= 8192);
    try unlinkNamed(name);
    close(other);
    unmap(view, 8192);
    close(fd);
    try std.testing.expectError(error.NotFound, openNamed(name));
    try std.testing.expectError(error.NotFound, unlinkNamed(name));
    try std.testing.expectError(error.NotFound, startTime(0x7fff_fff0));
}

test "inherit sets and clears HANDLE_FLAG_INHERIT; closeFd closes once; bad values are Invalid" {
    const fd = try createFile(4096, 0o600, true, false);
    const inherits = struct {
        fn of(f: Fd) !bool {
            var flags: DWORD = 0;
            if (GetHandleInformation(handleOf(f), &flags) == 0) return lastError();
            return flags & HANDLE_FLAG_INHERIT != 0;
        }
    }.of;
    try std.testing.expect(!try inherits(fd));
    try inherit(fd, true);
    try std.testing.expect(try inherits(fd));
    try inherit(fd, false);
    try std.testing.expect(!try inherits(fd));
    try closeFd(fd);
    try std.testing.expectError(error.Invalid, closeFd(fd));
    try std.testing.expectError(error.Invalid, inherit(fd, true));
    try std.testing.expectError(error.Invalid, inherit(0, true));
    try std.testing.expectError(error.Invalid, inherit(-1, false));
    try std.testing.expectError(error.Invalid, closeFd(0));
}
