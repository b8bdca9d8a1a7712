//! Cross-process wait and wake on a 32-bit word for Windows, without polling. WaitOnAddress wakes
//! only threads of the waker's process, so every word is keyed to named kernel objects instead.
//!
//! Key: a word inside a libipc segment is named by the segment and its offset in it. The segment is
//! found from the word's address (VirtualQuery: the allocation base of the view is the segment's
//! header, which starts with libipc's magic) and identified by a hash of its immutable header
//! (creator pid, start time, size, checksum): the same in every process that maps it. Any other word
//! (process memory, or `private`) is keyed by this process's pid and the address.
//!
//! Objects per key `k`: a one-page section `Local\libipc!n-k` holding the count of waiters, and a
//! semaphore `Local\libipc!s-k` the waiters block on ('!' is no character of a segment name, so no
//! segment `/n-k` or `/s-k` can take these names, nor a segment `/c-x` the creator mutex of `/x`).
//! A waiter creates (or opens) both, counts itself in, then re-checks its word and blocks only if it
//! still holds the expected value; a waker changes the word first, then opens the section (absent:
//! nobody waits, nothing to do), reads the count and releases the semaphore that many times (at most
//! `count`). So a wake between a waiter's check and its block stays in the semaphore and is not
//! lost. Both objects die with their last handle: a key nobody waits on leaves nothing. A release
//! meant for a waiter that timed out meanwhile may wake a later waiter early: a spurious wake-up,
//! which every caller already re-checks.
//!
//! A lock's waiter also waits on the lock holder's process handle (`futexWaitvHolder`): a holder
//! killed while holding the lock (TerminateProcess, a crash) signals it, and the waiter ends its wait
//! at once to judge the holder (owner_mutex.zig) instead of at its slice's end (wait.recheck_ns).
//! The recorded pid is checked against the recorded creation time before its handle is used.
//!
//! Limit: 63 words per wait (WaitForMultipleObjects takes 64 handles; one is for a lock's holder);
//! callers wait on fewer.

const std = @import("std");
const windows = std.os.windows;
const abi = @import("../abi.zig");
const w = @import("windows.zig");
const Error = abi.Error;
const HANDLE = windows.HANDLE;
const DWORD = windows.DWORD;

pub const WaitWord = struct { word: *const u32, expected: u32, private: bool };

pub const WaitResult = union(enum) {
    /// The word at this index was woken, or did not hold its expected value.
    woken: usize,
    timed_out,
    interrupted,
};

const words_max = 64;
const WAIT_TIMEOUT: DWORD = 0x102;
const SEMAPHORE_MODIFY_STATE: DWORD = 0x0002;
const semaphore_max: i32 = std.math.maxInt(i32);

extern "kernel32" fn CreateSemaphoreW(attributes: ?*anyopaque, initial: i32, maximum: i32, name: [*:0]const u16) callconv(.winapi) ?HANDLE;
extern "kernel32" fn OpenSemaphoreW(access: DWORD, inherit: BOOL, name: [*:0]const u16) callconv(.winapi) ?HANDLE;
extern "kernel32" fn ReleaseSemaphore(semaphore: HANDLE, count: i32, previous: ?*i32) callconv(.winapi) BOOL;
extern "kernel32" fn WaitForMultipleObjects(count: DWORD, handles: [*]const HANDLE, all: BOOL, ms: DWORD) callconv(.winapi) DWORD;
const BOOL = windows.BOOL;

const Key = struct { id: u64, offset: u64 };

/// The libipc segment magic (segment.zig's `magic`): the first bytes of every segment's header.
const segment_magic = "libipc\x00\x01";
/// The header bytes that name a segment: everything up to and including its checksum.
const header_id_len = 64;

fn keyOf(word: WaitWord) Key {
    const address = @intFromPtr(word.word);
    if (!word.private) {
        var info: windows.MEMORY_BASIC_INFORMATION = undefined;
        if (windows.VirtualQuery(@constCast(word.word), &info, @sizeOf(windows.MEMORY_BASIC_INFORMATION))) |_| {
            if (info.Type == w.MEM_MAPPED and @intFromPtr(info.AllocationBase) != 0) {
                const base: [*]const u8 = @ptrCast(info.AllocationBase);
                if (std.mem.eql(u8, base[0..segment_magic.len], segment_magic)) {
                    return .{ .id = std.hash.Wyhash.hash(0x6c69_6269_7063, base[0..header_id_len]), .offset = address - @intFromPtr(base) };
                }
            }
        } else |_| {}
    }
    return .{ .id = std.hash.Wyhash.hash(w.GetCurrentProcessId(), "libipc-private"), .offset = address };
}

fn keyName(buf: *[64]u16, kind: u8, key: Key) [:0]const u16 {
    var ascii: [48]u8 = undefined;
    const text = std.fmt.bufPrint(&ascii, "/{x:0>16}.{x}", .{ key.id, key.offset }) catch unreachable;
    const infix: []const u8 = if (kind == 'n') "!n-" else "!s-";
    return w.objectName(buf, infix, text);
}

/// The objects of one key as a waiter holds them.
const Slot = struct {
    counter: ?HANDLE = null,
    count: ?*u32 = null,
    semaphore: ?HANDLE = null,

    fn enter(slot: *Slot, key: Key) Error!void {
        var buf: [64]u16 = undefined;
        slot.counter = w.CreateFileMappingW(windows.INVALID_HANDLE_VALUE, null, w.PAGE_READWRITE | w.SEC_COMMIT, 0, 4096, keyName(&buf, 'n', key).ptr) orelse return w.lastError();
        const view = w.MapViewOfFile(slot.counter.?, w.FILE_MAP_READ | w.FILE_MAP_WRITE, 0, 0, 4096) orelse return w.lastError();
        slot.semaphore = CreateSemaphoreW(null, 0, semaphore_max, keyName(&buf, 's', key).ptr) orelse {
            _ = w.UnmapViewOfFile(view);
            return w.lastError();
        };
        slot.count = @ptrCast(@alignCast(view));
        _ = @atomicRmw(u32, slot.count.?, .Add, 1, .seq_cst);
    }

    fn leave(slot: *Slot) void {
        if (slot.count) |c| {
            _ = @atomicRmw(u32, c, .Sub, 1, .seq_cst);
            _ = w.UnmapViewOfFile(c);
        }
        if (slot.semaphore) |h| windows.CloseHandle(h);
        if (slot.counter) |h| windows.CloseHandle(h);
        slot.* = .{};
    }
};

/// Waits until one of `words` is woken or does not hold its expected value, or until the monotonic
/// time `deadline_ns` (null: no deadline).
pub fn futexWaitv(words: []const WaitWord, deadline_ns: ?u64) Error!WaitResult {
    return futexWaitvHolder(words, null, deadline_ns);
}

/// The process holding a lock one of the words belongs to (owner_mutex.zig's record).
pub const Holder = struct { pid: u32, start: u64 };

/// `futexWaitv` that also ends, with `timed_out` (as a slice's end: the caller judges the holder and
/// frees its lock), when `holder` dies: the wait includes the holder's process handle, opened and
/// checked against the recorded creation time (a reused pid is another process: the holder is dead
/// already, and the wait ends at once). A holder Windows will not open is not waited on.
pub fn futexWaitvHolder(words: []const WaitWord, holder: ?Holder, deadline_ns: ?u64) Error!WaitResult {
    if (words.len == 0) return error.Invalid;
    if (words.len > words_max - 1) return error.NotSupported;
    var slots: [words_max]Slot = [_]Slot{.{}} ** words_max;
    var handles: [words_max]HANDLE = undefined;
    defer for (slots[0..words.len]) |*slot| slot.leave();
    var count: DWORD = @intCast(words.len);
    const process: ?HANDLE = if (holder) |h| switch (w.watchProcess(h.pid, h.start)) {
        .handle => |ph| ph,
        .gone => return .timed_out,
        .unknown => null,
    } else null;
    defer if (process) |ph| windows.CloseHandle(ph);
    for (words, 0..) |word, i| {
        try slots[i].enter(keyOf(word));
        handles[i] = slots[i].semaphore.?;
    }
    // Counted in everywhere: a waker that changed a word after this check will find us.
    for (words, 0..) |word, i| {
        if (@atomicLoad(u32, word.word, .seq_cst) != word.expected) return .{ .woken = i };
    }
    var ms: DWORD = w.INFINITE;
    if (deadline_ns) |d| {
        const now = w.monotonicNs();
        if (d <= now) return .timed_out;
        ms = @intCast(@min((d - now + std.time.ns_per_ms - 1) / std.time.ns_per_ms, w.INFINITE - 1));
    }
    if (process) |ph| {
        handles[count] = ph;
        count += 1;
    }
    const rc = WaitForMultipleObjects(count, &handles, 0, ms);
    if (rc == WAIT_TIMEOUT) return .timed_out;
    if (rc < words.len) return .{ .woken = rc };
    // The holder's process handle: it exited.
    if (rc < count) return .timed_out;
    return w.lastError();
}

/// Wakes up to `count` waiters on `word`; returns how many releases were made.
pub fn futexWake(word: *const u32, count: u32, private: bool) u32 {
    const key = keyOf(.{ .word = word, .expected = 0, .private = private });
    var buf: [64]u16 = undefined;
    const counter = w.OpenFileMappingW(w.FILE_MAP_READ, 0, keyName(&buf, 'n', key).ptr) orelse return 0;
    defer windows.CloseHandle(counter);
    const view = w.MapViewOfFile(counter, w.FILE_MAP_READ, 0, 0, 4096) orelse return 0;
    const waiting = @atomicLoad(u32, @as(*const u32, @ptrCast(@alignCast(view))), .seq_cst);
    _ = w.UnmapViewOfFile(view);
    const n: u32 = @min(count, waiting, @as(u32, @intCast(semaphore_max)));
    if (n == 0) return 0;
    const semaphore = OpenSemaphoreW(SEMAPHORE_MODIFY_STATE, 0, keyName(&buf, 's', key).ptr) orelse return 0;
    defer windows.CloseHandle(semaphore);
    if (ReleaseSemaphore(semaphore, @intCast(n), null) == 0) return 0;
    return n;
}

test "a waiter in another thread is counted and woken; a changed word returns at once; a deadline passes" {
    var word: u32 = 0;
    // A changed word returns without blocking.
    try std.testing.expect((try futexWaitv(&.{.{ .word = &word, .expected = 1, .private = false }}, null)) == .woken);
    // An unchanged word times out; nobody waits, so a wake releases nothing.
    const start = w.monotonicNs();
    try std.testing.expect((try futexWaitv(&.{.{ .word = &word, .expected = 0, .private = false }}, start + 2 * std.time.ns_per_ms)) == .timed_out);
    try std.testing.expect(w.monotonicNs() >= start + 2 * std.time.ns_per_ms);
    try std.testing.expectEqual(@as(u32, 0), futexWake(&word, 1, false));
    // A waiter in another thread: the waker sees it counted and releases exactly one.
    const Waiter = struct {
        fn run(wd: *u32, out: *?WaitResult) void {
            while (@atomicLoad(u32, wd, .seq_cst) == 0) {
                out.* = futexWaitv(&.{.{ .word = wd, .expected = 0, .private = false }}, null) catch null;
            }
        }
    };
    var result: ?WaitResult = null;
    const th = try std.Thread.spawn(.{}, Waiter.run, .{ &word, &result });
    var released: u32 = 0;
    // Wait for the waiter to be counted in (an event, not a sleep: the count is the waiter's own).
    const give_up = w.monotonicNs() + 60 * std.time.ns_per_s;
    while (released == 0 and w.monotonicNs() < give_up) {
        @atomicStore(u32, &word, 0, .seq_cst);
        released = futexWake(&word, 1, false);
        if (released == 0) std.Thread.yield() catch {};
    }
    @atomicStore(u32, &word, 1, .seq_cst);
    _ = futexWake(&word, std.math.maxInt(u32), false);
    th.join();
    try std.testing.expectEqual(@as(u32, 1), released);
    try std.testing.expect(result != null and result.? == .woken);
}

test "a word in a libipc segment is keyed by its header and offset, the same through two views" {
    const fd = try w.createFile(65536, 0o600, true, false);
    defer w.close(fd);
    const a = try w.map(fd, 65536);
    defer w.unmap(a, 65536);
    const b = try w.map(fd, 65536);
    defer w.unmap(b, 65536);
    @memcpy(a[0..segment_magic.len], segment_magic);
    const ka = keyOf(.{ .word = @ptrCast(@alignCast(a + 4096)), .expected = 0, .private = false });
    const kb = keyOf(.{ .word = @ptrCast(@alignCast(b + 4096)), .expected = 0, .private = false });
    try std.testing.expect(@intFromPtr(a) != @intFromPtr(b));
    try std.testing.expectEqual(ka, kb);
    try std.testing.expectEqual(@as(u64, 4096), ka.offset);
    // Not a segment: keyed by address.
    a[0] = 'x';
    const kc = keyOf(.{ .word = @ptrCast(@alignCast(a + 4096)), .expected = 0, .private = false });
    try std.testing.expectEqual(@as(u64, @intFromPtr(a + 4096)), kc.offset);
}

/// A second process that stays alive until terminated: this test program, started suspended.
fn startSuspended() !windows.PROCESS_INFORMATION {
    var path_buf: [windows.PATH_MAX_WIDE:0]u16 = undefined;
    const path = try windows.GetModuleFileNameW(null, &path_buf, path_buf.len);
    var si = std.mem.zeroes(windows.STARTUPINFOW);
    si.cb = @sizeOf(windows.STARTUPINFOW);
    var pi: windows.PROCESS_INFORMATION = undefined;
    try windows.CreateProcessW(path.ptr, null, null, null, 0, .{ .create_suspended = true }, null, null, &si, &pi);
    return pi;
}

fn waitersOn(word: *const u32) u32 {
    var buf: [64]u16 = undefined;
    const counter = w.OpenFileMappingW(w.FILE_MAP_READ, 0, keyName(&buf, 'n', keyOf(.{ .word = word, .expected = 0, .private = false })).ptr) orelse return 0;
    defer windows.CloseHandle(counter);
    const view = w.MapViewOfFile(counter, w.FILE_MAP_READ, 0, 0, 4096) orelse return 0;
    defer _ = w.UnmapViewOfFile(view);
    return @atomicLoad(u32, @as(*const u32, @ptrCast(@alignCast(view))), .seq_cst);
}

test "a lock waiter sees its holder process terminated at once, not at its deadline; a reused pid is seen as dead" {
    const pi = try startSuspended();
    defer windows.CloseHandle(pi.hThread);
    defer windows.CloseHandle(pi.hProcess);
    // Never left running when a check fails (it would hold the test's output pipe open).
    defer windows.TerminateProcess(pi.hProcess, 9) catch {};
    const start = try w.creationTime(pi.hProcess);
    var word: u32 = 0;
    // The holder's pid with another creation time is another process: the recorded one is dead.
    const far = w.monotonicNs() + 60 * std.time.ns_per_s;
    try std.testing.expect((try futexWaitvHolder(&.{.{ .word = &word, .expected = 0, .private = false }}, .{ .pid = pi.dwProcessId, .start = start + 1 }, far)) == .timed_out);
    try std.testing.expect(w.monotonicNs() < far);
    // A waiter parked beside the live holder: only the holder's death can end its wait before the
    // deadline (nobody wakes the word).
    const Waiter = struct {
        fn run(wd: *u32, holder: Holder, deadline: u64, out: *?WaitResult) void {
            out.* = futexWaitvHolder(&.{.{ .word = wd, .expected = 0, .private = false }}, holder, deadline) catch null;
        }
    };
    var result: ?WaitResult = null;
    const th = try std.Thread.spawn(.{}, Waiter.run, .{ &word, Holder{ .pid = pi.dwProcessId, .start = start }, far, &result });
    // Counted in: the waiter is parked or about to (its process handle is taken before it counts).
    while (waitersOn(&word) == 0) std.Thread.yield() catch {};
    try windows.TerminateProcess(pi.hProcess, 9);
    th.join();
    try std.testing.expect(result != null and result.? == .timed_out);
    try std.testing.expect(w.monotonicNs() < far);
}
