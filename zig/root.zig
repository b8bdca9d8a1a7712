//! The ABI root: the only file that exports `ipc_*` symbols. Each export checks its arguments,
//! calls into the file that implements the concept, and turns Zig errors into result codes with
//! `abi.code`. Nothing here keeps state.
//!
//! Every export is a plain C function: no structs by value, no varargs, no enums in prototypes,
//! out-parameters last, an `int32_t` result (0 success, negative `IPC_E*`, positive only where the
//! header documents it). Each is safe to call from any thread and to hand to other code as a raw
//! function pointer.

const std = @import("std");
pub const abi = @import("abi.zig");
pub const name_ = @import("name.zig");
pub const segment = @import("segment.zig");
pub const platform = @import("platform/root.zig");
pub const wait = @import("wait.zig");
pub const mutex = @import("mutex.zig");
pub const waiter = @import("waiter.zig");

/// The C type `ipc_segment_t`: opaque to C, a `segment.Segment` here.
pub const ipc_segment_t = opaque {};
/// The C type `ipc_mutex_t`: the 64-byte `mutex.Mutex` object itself, in shared memory.
pub const ipc_mutex_t = opaque {};
/// The C type `ipc_waiter_t`: opaque to C, a `waiter.Waiter` here.
pub const ipc_waiter_t = opaque {};

fn toSegment(handle: ?*ipc_segment_t) ?*segment.Segment {
    const seg: *segment.Segment = @ptrCast(@alignCast(handle orelse return null));
    return if (seg.isLive()) seg else null;
}

fn toConstSegment(handle: ?*const ipc_segment_t) ?*const segment.Segment {
    const seg: *const segment.Segment = @ptrCast(@alignCast(handle orelse return null));
    return if (seg.isLive()) seg else null;
}

fn result(err: abi.Error) i32 {
    return abi.code(err);
}

// ---------------------------------------------------------------------------------------------------
// Version and result codes.

pub export fn ipc_version() u32 {
    return abi.version;
}

pub export fn ipc_version_string() [*:0]const u8 {
    return abi.version_string;
}

pub export fn ipc_abi_version() u32 {
    return abi.abi_version;
}

pub export fn ipc_strerror(code: i32) [*:0]const u8 {
    const row = abi.find(code) orelse return "unknown result code";
    return row.text.ptr;
}

pub export fn ipc_errname(code: i32) [*:0]const u8 {
    const row = abi.find(code) orelse return "EUNKNOWN";
    return row.name.ptr;
}

// ---------------------------------------------------------------------------------------------------
// Names.

pub export fn ipc_name_validate(name: ?[*:0]const u8) i32 {
    _ = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_name_generate(buf: ?[*]u8, buf_len: u32) i32 {
    const out = buf orelse return abi.code(error.Invalid);
    if (buf_len < abi.name_max + 1) return abi.code(error.Range);
    const stamp = platform.selfStamp() catch |err| return result(err);
    var random: [8]u8 = undefined;
    platform.randomBytes(&random);
    const n = name_.generate(.{ .pid = stamp.pid, .start = stamp.start }, std.mem.readInt(u64, &random, .little));
    @memcpy(out[0 .. n.len + 1], n.bytes[0 .. n.len + 1]);
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Segments.

pub export fn ipc_segment_create(
    name: ?[*:0]const u8,
    size_bytes: u64,
    mode: u32,
    flags: u32,
    segment_out: ?*?*ipc_segment_t,
) i32 {
    const out = segment_out orelse return abi.code(error.Invalid);
    out.* = null;
    const naming = parseNaming(name, flags) catch |err| return result(err);
    const seg = segment.create(naming, size_bytes, mode, flags & abi.segment_reserve != 0, .segment, null) catch |err|
        return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
}

fn parseNaming(name: ?[*:0]const u8, flags: u32) abi.Error!segment.Naming {
    if (flags & ~abi.segment_create_flags != 0) return error.Invalid;
    const unique = flags & abi.segment_unique_name != 0;
    if (name) |n| {
        if (unique) return error.Invalid;
        return .{ .named = try name_.parseC(n) };
    }
    return if (unique) .unique else .anonymous;
}

pub export fn ipc_segment_open(name: ?[*:0]const u8, flags: u32, segment_out: ?*?*ipc_segment_t) i32 {
    const out = segment_out orelse return abi.code(error.Invalid);
    out.* = null;
    if (flags != 0) return abi.code(error.Invalid);
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    const seg = segment.open(n, null) catch |err| return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
}

pub export fn ipc_segment_open_fd(fd: i32, flags: u32, segment_out: ?*?*ipc_segment_t) i32 {
    const out = segment_out orelse return abi.code(error.Invalid);
    out.* = null;
    if (flags != 0 or fd < 0) return abi.code(error.Invalid);
    const seg = segment.openFd(fd, null) catch |err| return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
}

pub export fn ipc_segment_close(handle: ?*ipc_segment_t) i32 {
    if (handle == null) return abi.ok;
    const seg = toSegment(handle) orelse return abi.code(error.Closed);
    segment.close(seg);
    return abi.ok;
}

pub export fn ipc_segment_base(handle: ?*const ipc_segment_t) ?*anyopaque {
    const seg = toConstSegment(handle) orelse return null;
    return seg.data();
}

pub export fn ipc_segment_size(handle: ?*const ipc_segment_t) u64 {
    const seg = toConstSegment(handle) orelse return 0;
    return seg.size;
}

pub export fn ipc_segment_fd(handle: ?*const ipc_segment_t) i32 {
    const seg = toConstSegment(handle) orelse return abi.code(error.Closed);
    return seg.fd;
}

pub export fn ipc_segment_kind(handle: ?*const ipc_segment_t) u32 {
    const seg = toConstSegment(handle) orelse return 0;
    return @intFromEnum(seg.kind);
}

pub export fn ipc_segment_name(handle: ?*const ipc_segment_t) [*:0]const u8 {
    const seg = toConstSegment(handle) orelse return "";
    return seg.name.z().ptr;
}

pub export fn ipc_segment_creator(handle: ?*const ipc_segment_t, pid_out: ?*i32, start_out: ?*u64) i32 {
    const seg = toConstSegment(handle) orelse return abi.code(error.Closed);
    if (pid_out) |p| p.* = seg.creator_pid;
    if (start_out) |s| s.* = seg.creator_start;
    return abi.ok;
}

pub export fn ipc_segment_capacity(anonymous: u32, bytes_out: ?*u64) i32 {
    const out = bytes_out orelse return abi.code(error.Invalid);
    if (anonymous > 1) return abi.code(error.Invalid);
    const total = platform.capacity(anonymous == 1) catch |err| return result(err);
    out.* = @min(total -| abi.segment_header_size, abi.segment_size_max);
    return abi.ok;
}

pub export fn ipc_segment_unlink(name: ?[*:0]const u8) i32 {
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    segment.unlink(n) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_segment_sweep() i32 {
    const removed = segment.sweep() catch |err| return result(err);
    return @intCast(@min(removed, std.math.maxInt(i32)));
}

// ---------------------------------------------------------------------------------------------------
// Waiting on words: the machinery every primitive is built on, exposed for bindings and C users.

/// A word pointer from C, checked for alignment (parameters are declared align(1) so that the
/// check is not optimized away).
fn aligned(word: *align(1) const u32) abi.Error!*const u32 {
    if (@intFromPtr(word) % @alignOf(u32) != 0) return error.Align;
    return @alignCast(word);
}

pub export fn ipc_now_ns() u64 {
    return platform.monotonicNs();
}

pub export fn ipc_spin_set(spin_ns: u32) i32 {
    wait.setSpin(spin_ns) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_spin_get() u32 {
    return wait.spin();
}

pub export fn ipc_wait(word: ?*align(1) const u32, expected: u32, timeout_ns: i64, cancel_word: ?*align(1) const u32) i32 {
    const w = aligned(word orelse return abi.code(error.Invalid)) catch |err| return result(err);
    const cancel: ?*const u32 = if (cancel_word) |c| aligned(c) catch |err| return result(err) else null;
    const outcome = wait.wait(w, expected, wait.Deadline.after(timeout_ns), cancel) catch |err| return result(err);
    return switch (outcome) {
        .woken => abi.ok,
        .timed_out => abi.code(error.TimedOut),
        .canceled => abi.code(error.Canceled),
    };
}

pub export fn ipc_wake(word: ?*align(1) const u32, count: u32) i32 {
    const w = aligned(word orelse return abi.code(error.Invalid)) catch |err| return result(err);
    return @intCast(@min(wait.wake(w, count), std.math.maxInt(i32)));
}

pub export fn ipc_wait_cancel(cancel_word: ?*align(1) u32) i32 {
    const c = cancel_word orelse return abi.code(error.Invalid);
    if (@intFromPtr(c) % @alignOf(u32) != 0) return abi.code(error.Align);
    wait.cancelWait(@alignCast(c));
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Mutexes.

inline fn toMutex(handle: ?*ipc_mutex_t) abi.Error!*mutex.Mutex {
    const m = handle orelse return error.Invalid;
    if (@intFromPtr(m) % mutex.alignment != 0) return error.Align;
    const object: *mutex.Mutex = @ptrCast(@alignCast(m));
    try mutex.validate(object);
    return object;
}

fn acquiredCode(a: mutex.Acquired) i32 {
    return switch (a) {
        .locked => abi.ok,
        .owner_died => abi.owner_died,
    };
}

/// The mutex at `offset` in the segment's data, bounds- and alignment-checked.
fn mutexIn(handle: ?*ipc_segment_t, offset: u64) abi.Error!*mutex.Mutex {
    const seg = toSegment(handle) orelse return error.Closed;
    if (offset % mutex.alignment != 0) return error.Align;
    if (offset > seg.size or seg.size - offset < mutex.size) return error.Range;
    return @ptrCast(@alignCast(seg.data() + @as(usize, @intCast(offset))));
}

pub export fn ipc_mutex_init(memory: ?*anyopaque) i32 {
    const m = memory orelse return abi.code(error.Invalid);
    if (@intFromPtr(m) % mutex.alignment != 0) return abi.code(error.Align);
    mutex.init(@ptrCast(@alignCast(m))) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_mutex_init_at(handle: ?*ipc_segment_t, offset: u64, mutex_out: ?*?*ipc_mutex_t) i32 {
    const out = mutex_out orelse return abi.code(error.Invalid);
    out.* = null;
    const m = mutexIn(handle, offset) catch |err| return result(err);
    mutex.init(m) catch |err| return result(err);
    out.* = @ptrCast(m);
    return abi.ok;
}

pub export fn ipc_mutex_at(handle: ?*ipc_segment_t, offset: u64, mutex_out: ?*?*ipc_mutex_t) i32 {
    const out = mutex_out orelse return abi.code(error.Invalid);
    out.* = null;
    const m = mutexIn(handle, offset) catch |err| return result(err);
    mutex.validate(m) catch |err| return result(err);
    out.* = @ptrCast(m);
    return abi.ok;
}

pub export fn ipc_mutex_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    segment_out: ?*?*ipc_segment_t,
    mutex_out: ?*?*ipc_mutex_t,
) i32 {
    const seg_out = segment_out orelse return abi.code(error.Invalid);
    const out = mutex_out orelse return abi.code(error.Invalid);
    seg_out.* = null;
    out.* = null;
    if (flags & abi.segment_reserve != 0) return abi.code(error.Invalid);
    const naming = parseNaming(name, flags) catch |err| return result(err);
    const seg = segment.create(naming, mutex.size, mode, false, .mutex, .{ .run = mutex.initData }) catch |err|
        return result(err);
    seg_out.* = @ptrCast(seg);
    out.* = @ptrCast(seg.data());
    return abi.ok;
}

pub export fn ipc_mutex_lock(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    const acquired = mutex.lock(m, .never) catch |err| return result(err);
    return acquiredCode(acquired);
}

pub export fn ipc_mutex_timed_lock(handle: ?*ipc_mutex_t, timeout_ns: i64) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    const acquired = mutex.lock(m, wait.Deadline.after(timeout_ns)) catch |err| return result(err);
    return acquiredCode(acquired);
}

pub export fn ipc_mutex_try_lock(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    const acquired = mutex.tryLock(m) catch |err| return result(err);
    return acquiredCode(acquired);
}

pub export fn ipc_mutex_unlock(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    mutex.unlock(m) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_mutex_consistent(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    mutex.consistent(m) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_mutex_destroy(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    mutex.destroy(m) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_mutex_holder(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    return @intCast(mutex.holder(m));
}

pub export fn ipc_mutex_held(handle: ?*ipc_mutex_t) i32 {
    const m = toMutex(handle) catch |err| return result(err);
    return @intFromBool(mutex.heldByCaller(m));
}

pub export fn ipc_mutex_word(handle: ?*ipc_mutex_t) ?*const u32 {
    const m = toMutex(handle) catch return null;
    return m.word();
}

pub export fn ipc_mutex_lock_step(handle: ?*ipc_mutex_t, contended: u32, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const m = toMutex(handle) catch |err| return result(err);
    switch (mutex.lockStep(m, contended != 0) catch |err| return result(err)) {
        .acquired => |a| return acquiredCode(a),
        .wait => |expected| {
            out.* = expected;
            return abi.code(error.Busy);
        },
    }
}

// ---------------------------------------------------------------------------------------------------
// Waiters: many waits multiplexed for event-loop runtimes.

fn toWaiter(handle: ?*ipc_waiter_t) ?*waiter.Waiter {
    const w: *waiter.Waiter = @ptrCast(@alignCast(handle orelse return null));
    return if (w.isLive()) w else null;
}

pub export fn ipc_waiter_create(callback: ?waiter.Callback, waiter_out: ?*?*ipc_waiter_t) i32 {
    const out = waiter_out orelse return abi.code(error.Invalid);
    out.* = null;
    const w = waiter.create(callback) catch |err| return result(err);
    out.* = @ptrCast(w);
    return abi.ok;
}

pub export fn ipc_waiter_submit(handle: ?*ipc_waiter_t, word: ?*align(1) const u32, expected: u32, timeout_ns: i64, token: u32) i32 {
    const w = toWaiter(handle) orelse return abi.code(error.Closed);
    const p = aligned(word orelse return abi.code(error.Invalid)) catch |err| return result(err);
    waiter.submit(w, p, expected, timeout_ns, token) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_waiter_cancel(handle: ?*ipc_waiter_t, token: u32) i32 {
    const w = toWaiter(handle) orelse return abi.code(error.Closed);
    waiter.cancel(w, token) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_waiter_forget(handle: ?*ipc_waiter_t, base: ?*const anyopaque, len: u64) i32 {
    const w = toWaiter(handle) orelse return abi.code(error.Closed);
    const start = base orelse return abi.code(error.Invalid);
    const dropped = waiter.forget(w, @intFromPtr(start), @intCast(@min(len, std.math.maxInt(usize))));
    return @intCast(dropped);
}

pub export fn ipc_waiter_next(handle: ?*ipc_waiter_t, tokens_out: ?[*]u32, results_out: ?[*]i32, capacity: u32) i32 {
    const w = toWaiter(handle) orelse return abi.code(error.Closed);
    const tokens = tokens_out orelse return abi.code(error.Invalid);
    const results = results_out orelse return abi.code(error.Invalid);
    if (capacity == 0) return abi.code(error.Invalid);
    var out: [waiter.slots_max]waiter.Completion = undefined;
    const n = waiter.next(w, out[0..@min(capacity, waiter.slots_max)]) catch |err| return result(err);
    for (out[0..n], 0..) |c, i| {
        tokens[i] = c.token;
        results[i] = c.result;
    }
    return @intCast(n);
}

pub export fn ipc_waiter_destroy(handle: ?*ipc_waiter_t) i32 {
    if (handle == null) return abi.ok;
    const w = toWaiter(handle) orelse return abi.code(error.Closed);
    waiter.destroy(w);
    return abi.ok;
}

test {
    _ = wait;
    _ = mutex;
    _ = waiter;
    _ = abi;
    _ = name_;
    _ = segment;
    _ = platform;
}

test "the exported functions report closed and null handles" {
    try std.testing.expectEqual(abi.code(error.Invalid), ipc_segment_open(null, 0, null));
    var out: ?*ipc_segment_t = null;
    try std.testing.expectEqual(abi.code(error.Invalid), ipc_segment_create(null, 16, 0, 1 << 30, &out));
    try std.testing.expectEqual(abi.code(error.Invalid), ipc_segment_create("x", 16, 0, abi.segment_unique_name, &out));
    try std.testing.expectEqual(abi.ok, ipc_segment_close(null));
    try std.testing.expect(ipc_segment_base(null) == null);
    try std.testing.expectEqualStrings("EINVAL", std.mem.span(ipc_errname(-1)));
    try std.testing.expectEqualStrings("EUNKNOWN", std.mem.span(ipc_errname(-9999)));
    try std.testing.expectEqualStrings("success", std.mem.span(ipc_strerror(0)));
    var buf: [32]u8 = undefined;
    try std.testing.expectEqual(abi.ok, ipc_name_generate(&buf, buf.len));
    try std.testing.expectEqual(abi.ok, ipc_name_validate(@ptrCast(&buf)));
    try std.testing.expectEqual(abi.code(error.Range), ipc_name_generate(&buf, 8));
}
