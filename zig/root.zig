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
pub const tracker = @import("tracker.zig");
pub const platform = @import("platform/root.zig");
pub const wait = @import("wait.zig");
pub const mutex = @import("mutex.zig");
pub const waiter = @import("waiter.zig");
pub const semaphore = @import("semaphore.zig");
pub const event = @import("event.zig");
pub const condition = @import("condition.zig");
pub const barrier = @import("barrier.zig");
pub const rwlock = @import("rwlock.zig");
pub const heap = @import("heap.zig");
pub const chan = @import("chan.zig");

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
    const options: segment.CreateOptions = .{
        .mode = mode,
        .reserve = flags & abi.segment_reserve != 0,
        .track = flags & abi.segment_track != 0,
    };
    const seg = segment.create(naming, size_bytes, options, .segment, null) catch |err| return result(err);
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
    if (flags & ~abi.segment_open_flags != 0) return abi.code(error.Invalid);
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    const seg = segment.open(n, null, openOptions(flags)) catch |err| return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
}

pub export fn ipc_segment_open_fd(fd: i32, flags: u32, segment_out: ?*?*ipc_segment_t) i32 {
    const out = segment_out orelse return abi.code(error.Invalid);
    out.* = null;
    if (flags & ~abi.segment_open_flags != 0 or fd < 0) return abi.code(error.Invalid);
    const seg = segment.openFd(fd, null, openOptions(flags)) catch |err| return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
}

fn openOptions(flags: u32) segment.OpenOptions {
    return .{ .any_owner = flags & abi.segment_any_owner != 0 };
}

pub export fn ipc_segment_close(handle: ?*ipc_segment_t) i32 {
    if (handle == null) return abi.ok;
    const seg = toSegment(handle) orelse return abi.code(error.Closed);
    // Channels attached in the mapping go with it (their handles are then error.Invalid).
    chan.forgetRange(@intFromPtr(seg.mapping), seg.mapping_len);
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

/// See ipc.h: `platform.inherit` (POSIX close-on-exec off/on, Windows HANDLE_FLAG_INHERIT).
pub export fn ipc_fd_inherit(fd: i32, inherit: i32) i32 {
    if (inherit != 0 and inherit != 1) return abi.code(error.Invalid);
    platform.inherit(fd, inherit == 1) catch |err| return result(err);
    return abi.ok;
}

/// See ipc.h: closes an fd or handle this process holds (an inherited one, once its segment is open).
pub export fn ipc_fd_close(fd: i32) i32 {
    platform.closeFd(fd) catch |err| return result(err);
    return abi.ok;
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

/// The C type `ipc_segment_info_t`: what `ipc_segment_info` reports about a named segment.
pub const ipc_segment_info_t = extern struct {
    size_bytes: u64,
    creator_start: u64,
    creator_pid: i32,
    creator_state: u32,
    kind: u32,
    uid: u32,
    mode: u32,
    reserved: u32,
};

pub export fn ipc_segment_info(name: ?[*:0]const u8, info_out: ?*ipc_segment_info_t) i32 {
    const out = info_out orelse return abi.code(error.Invalid);
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    const info = segment.inspect(n) catch |err| return result(err);
    const self = platform.selfStamp() catch |err| return result(err);
    out.* = .{
        .size_bytes = info.header.size_bytes,
        .creator_start = info.header.creator_start,
        .creator_pid = info.header.creator_pid,
        .creator_state = segment.creatorState(&info.header, self),
        .kind = info.header.kind,
        .uid = info.file.uid,
        .mode = info.file.mode,
        .reserved = 0,
    };
    return abi.ok;
}

pub export fn ipc_segment_list(buf: ?[*]u8, buf_len: u32) i32 {
    if (buf == null and buf_len != 0) return abi.code(error.Invalid);
    const bytes: []u8 = if (buf) |b| b[0..buf_len] else &.{};
    const needed = segment.list(bytes) catch |err| return result(err);
    if (needed > std.math.maxInt(i32)) return abi.code(error.Range);
    return @intCast(needed);
}

pub export fn ipc_segment_unlink_dead(name: ?[*:0]const u8) i32 {
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    const removed = segment.unlinkDead(n, null) catch |err| return result(err);
    return @intFromBool(removed);
}

// ---------------------------------------------------------------------------------------------------
// The tracker: a helper process that removes this process's tracked names once it has died.

pub export fn ipc_tracker_start(helper_path: ?[*:0]const u8, flags: u32) i32 {
    if (flags & ~abi.tracker_flags != 0) return abi.code(error.Invalid);
    var path: ?[]const u8 = null;
    if (helper_path) |p| {
        // Bounded, so an unterminated string is reported as too long rather than read to its end.
        var len: usize = 0;
        while (p[len] != 0) : (len += 1) {
            if (len == tracker.path_max) return abi.code(error.NameTooLong);
        }
        path = p[0..len];
    }
    tracker.start(path, flags & abi.tracker_all != 0) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_tracker_track(name: ?[*:0]const u8) i32 {
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    segment.track(n) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_tracker_untrack(name: ?[*:0]const u8) i32 {
    const n = name_.parseC(name orelse return abi.code(error.Invalid)) catch |err| return result(err);
    return @intFromBool(tracker.unregister(n));
}

pub export fn ipc_tracker_stop() i32 {
    tracker.stop();
    return abi.ok;
}

pub export fn ipc_tracker_status(pid_out: ?*i32, names_out: ?*u32, flags_out: ?*u32) i32 {
    const s = tracker.status();
    if (pid_out) |p| p.* = s.helper;
    if (names_out) |n| n.* = s.names;
    if (flags_out) |f| f.* = if (s.all) abi.tracker_all else 0;
    return abi.ok;
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

pub export fn ipc_interruptible_set(on: u32) i32 {
    if (on > 1) return abi.code(error.Invalid);
    wait.setInterruptible(on == 1);
    return abi.ok;
}

pub export fn ipc_interruptible_get() u32 {
    return @intFromBool(wait.isInterruptible());
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

fn mutexIn(handle: ?*ipc_segment_t, offset: u64) abi.Error!*mutex.Mutex {
    return objectIn(mutex.Mutex, mutex.alignment, handle, offset);
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
    const options: segment.CreateOptions = .{ .mode = mode, .track = flags & abi.segment_track != 0 };
    const seg = segment.create(naming, mutex.size, options, .mutex, .{ .run = mutex.initData }) catch |err|
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
    const acquired = mutex.lockFor(m, timeout_ns) catch |err| return result(err);
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
// Shared helpers of the synchronization objects below.

/// The object of type T at `offset` in the segment's data, bounds- and alignment-checked.
fn objectIn(comptime T: type, comptime alignment: u32, handle: ?*ipc_segment_t, offset: u64) abi.Error!*T {
    const seg = toSegment(handle) orelse return error.Closed;
    if (offset % alignment != 0) return error.Align;
    if (offset > seg.size or seg.size - offset < @sizeOf(T)) return error.Range;
    return @ptrCast(@alignCast(seg.data() + @as(usize, @intCast(offset))));
}

/// A handle checked for null, alignment and the object's magic (`M.validate`).
inline fn toObject(comptime T: type, comptime M: type, handle: anytype) abi.Error!*T {
    const p = handle orelse return error.Invalid;
    if (@intFromPtr(p) % M.alignment != 0) return error.Align;
    const object: *T = @ptrCast(@alignCast(p));
    try M.validate(object);
    return object;
}

/// Raw memory checked for null and alignment, for the `*_init` functions.
fn rawObject(comptime T: type, comptime alignment: u32, memory: ?*anyopaque) abi.Error!*T {
    const p = memory orelse return error.Invalid;
    if (@intFromPtr(p) % alignment != 0) return error.Align;
    return @ptrCast(@alignCast(p));
}

/// A segment of `kind` whose data holds one object made by `init`, published only once made.
fn createStandalone(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    kind: abi.Kind,
    size: u32,
    init: segment.Init,
    segment_out: ?*?*ipc_segment_t,
) abi.Error!*segment.Segment {
    return createStandaloneSized(name, mode, flags, kind, size, init, segment_out);
}

fn createStandaloneSized(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    kind: abi.Kind,
    size: u64,
    init: segment.Init,
    segment_out: ?*?*ipc_segment_t,
) abi.Error!*segment.Segment {
    const seg_out = segment_out orelse return error.Invalid;
    seg_out.* = null;
    if (flags & abi.segment_reserve != 0) return error.Invalid;
    const naming = try parseNaming(name, flags);
    const seg = try segment.create(naming, size, .{ .mode = mode, .track = flags & abi.segment_track != 0 }, kind, init);
    seg_out.* = @ptrCast(seg);
    return seg;
}

fn deadlineOf(timeout_ns: i64) wait.Deadline {
    return wait.Deadline.after(timeout_ns);
}

fn boolCode(value: abi.Error!bool) i32 {
    return if (value) |v| @intFromBool(v) else |err| result(err);
}

// ---------------------------------------------------------------------------------------------------
// Semaphores.

/// The C type `ipc_sem_t`: the 64-byte `semaphore.Semaphore` in shared memory.
pub const ipc_sem_t = opaque {};

fn toSem(handle: ?*ipc_sem_t) abi.Error!*semaphore.Semaphore {
    return toObject(semaphore.Semaphore, semaphore, handle);
}

const SemParams = struct { value: u32, max: u32 };

fn semInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    const params: *const SemParams = @ptrCast(@alignCast(context.?));
    try semaphore.init(@ptrCast(@alignCast(data.ptr)), params.value, params.max);
}

pub export fn ipc_sem_init(memory: ?*anyopaque, value: u32, max: u32) i32 {
    const s = rawObject(semaphore.Semaphore, semaphore.alignment, memory) catch |err| return result(err);
    semaphore.init(s, value, max) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_sem_init_at(handle: ?*ipc_segment_t, offset: u64, value: u32, max: u32, sem_out: ?*?*ipc_sem_t) i32 {
    const out = sem_out orelse return abi.code(error.Invalid);
    out.* = null;
    const s = objectIn(semaphore.Semaphore, semaphore.alignment, handle, offset) catch |err| return result(err);
    semaphore.init(s, value, max) catch |err| return result(err);
    out.* = @ptrCast(s);
    return abi.ok;
}

pub export fn ipc_sem_at(handle: ?*ipc_segment_t, offset: u64, sem_out: ?*?*ipc_sem_t) i32 {
    const out = sem_out orelse return abi.code(error.Invalid);
    out.* = null;
    const s = objectIn(semaphore.Semaphore, semaphore.alignment, handle, offset) catch |err| return result(err);
    semaphore.validate(s) catch |err| return result(err);
    out.* = @ptrCast(s);
    return abi.ok;
}

pub export fn ipc_sem_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    value: u32,
    max: u32,
    segment_out: ?*?*ipc_segment_t,
    sem_out: ?*?*ipc_sem_t,
) i32 {
    const out = sem_out orelse return abi.code(error.Invalid);
    out.* = null;
    var params: SemParams = .{ .value = value, .max = max };
    const seg = createStandalone(name, mode, flags, .semaphore, semaphore.size, .{
        .context = &params,
        .run = semInitData,
    }, segment_out) catch |err| return result(err);
    out.* = @ptrCast(seg.data());
    return abi.ok;
}

pub export fn ipc_sem_acquire(handle: ?*ipc_sem_t, n: u32, timeout_ns: i64) i32 {
    const s = toSem(handle) catch |err| return result(err);
    semaphore.acquire(s, n, deadlineOf(timeout_ns)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_sem_try_acquire(handle: ?*ipc_sem_t, n: u32) i32 {
    const s = toSem(handle) catch |err| return result(err);
    const got = semaphore.tryAcquire(s, n) catch |err| return result(err);
    return if (got) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_sem_release(handle: ?*ipc_sem_t, n: u32) i32 {
    const s = toSem(handle) catch |err| return result(err);
    semaphore.release(s, n) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_sem_value(handle: ?*ipc_sem_t) i32 {
    const s = toSem(handle) catch |err| return result(err);
    const v = semaphore.value(s) catch |err| return result(err);
    return @intCast(v);
}

pub export fn ipc_sem_max(handle: ?*ipc_sem_t) i32 {
    const s = toSem(handle) catch |err| return result(err);
    return @intCast(semaphore.maxOf(s) catch |err| return result(err));
}

pub export fn ipc_sem_word(handle: ?*ipc_sem_t) ?*const u32 {
    const s = toSem(handle) catch return null;
    return &s.count.value;
}

pub export fn ipc_sem_acquire_step(handle: ?*ipc_sem_t, n: u32, registered: u32, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const s = toSem(handle) catch |err| return result(err);
    const got = semaphore.acquireStep(s, n, registered != 0, out) catch |err| return result(err);
    return if (got) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_sem_unwait(handle: ?*ipc_sem_t, n: u32) i32 {
    const s = toSem(handle) catch |err| return result(err);
    semaphore.unwait(s, n);
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Events.

/// The C type `ipc_event_t`: the 64-byte `event.Event` in shared memory.
pub const ipc_event_t = opaque {};

fn toEvent(handle: ?*ipc_event_t) abi.Error!*event.Event {
    return toObject(event.Event, event, handle);
}

fn eventInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    const flags: *const u32 = @ptrCast(@alignCast(context.?));
    try event.init(@ptrCast(@alignCast(data.ptr)), flags.*);
}

pub export fn ipc_event_init(memory: ?*anyopaque, event_flags: u32) i32 {
    const e = rawObject(event.Event, event.alignment, memory) catch |err| return result(err);
    event.init(e, event_flags) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_event_init_at(handle: ?*ipc_segment_t, offset: u64, event_flags: u32, event_out: ?*?*ipc_event_t) i32 {
    const out = event_out orelse return abi.code(error.Invalid);
    out.* = null;
    const e = objectIn(event.Event, event.alignment, handle, offset) catch |err| return result(err);
    event.init(e, event_flags) catch |err| return result(err);
    out.* = @ptrCast(e);
    return abi.ok;
}

pub export fn ipc_event_at(handle: ?*ipc_segment_t, offset: u64, event_out: ?*?*ipc_event_t) i32 {
    const out = event_out orelse return abi.code(error.Invalid);
    out.* = null;
    const e = objectIn(event.Event, event.alignment, handle, offset) catch |err| return result(err);
    event.validate(e) catch |err| return result(err);
    out.* = @ptrCast(e);
    return abi.ok;
}

pub export fn ipc_event_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    event_flags: u32,
    segment_out: ?*?*ipc_segment_t,
    event_out: ?*?*ipc_event_t,
) i32 {
    const out = event_out orelse return abi.code(error.Invalid);
    out.* = null;
    var params = event_flags;
    const seg = createStandalone(name, mode, flags, .event, event.size, .{
        .context = &params,
        .run = eventInitData,
    }, segment_out) catch |err| return result(err);
    out.* = @ptrCast(seg.data());
    return abi.ok;
}

pub export fn ipc_event_set(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    event.set(e) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_event_clear(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    event.clear(e) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_event_is_set(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    return boolCode(event.isSet(e));
}

pub export fn ipc_event_flags(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    // Checked again: a peer may have rewritten the flags since `toEvent` validated them.
    const flags = @atomicLoad(u32, &e.flags, .monotonic);
    if (flags & ~event.flags_all != 0) return result(error.Protocol);
    return @intCast(flags);
}

pub export fn ipc_event_wait(handle: ?*ipc_event_t, timeout_ns: i64) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    event.waitSet(e, deadlineOf(timeout_ns)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_event_try_wait(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    const set = event.tryWait(e) catch |err| return result(err);
    return if (set) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_event_word(handle: ?*ipc_event_t) ?*const u32 {
    const e = toEvent(handle) catch return null;
    return &e.state.value;
}

pub export fn ipc_event_wait_step(handle: ?*ipc_event_t, registered: u32, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const e = toEvent(handle) catch |err| return result(err);
    const set = event.waitStep(e, registered != 0, out) catch |err| return result(err);
    return if (set) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_event_unwait(handle: ?*ipc_event_t) i32 {
    const e = toEvent(handle) catch |err| return result(err);
    event.unwait(e);
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Conditions.

/// The C type `ipc_cond_t`: the 64-byte `condition.Condition` in shared memory.
pub const ipc_cond_t = opaque {};

fn toCond(handle: ?*ipc_cond_t) abi.Error!*condition.Condition {
    return toObject(condition.Condition, condition, handle);
}

fn condInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    _ = context;
    try mutex.init(@ptrCast(@alignCast(data.ptr)));
    condition.init(@ptrCast(@alignCast(data.ptr + mutex.size)));
}

pub export fn ipc_cond_init(memory: ?*anyopaque) i32 {
    const c = rawObject(condition.Condition, condition.alignment, memory) catch |err| return result(err);
    condition.init(c);
    return abi.ok;
}

pub export fn ipc_cond_init_at(handle: ?*ipc_segment_t, offset: u64, cond_out: ?*?*ipc_cond_t) i32 {
    const out = cond_out orelse return abi.code(error.Invalid);
    out.* = null;
    const c = objectIn(condition.Condition, condition.alignment, handle, offset) catch |err| return result(err);
    condition.init(c);
    out.* = @ptrCast(c);
    return abi.ok;
}

pub export fn ipc_cond_at(handle: ?*ipc_segment_t, offset: u64, cond_out: ?*?*ipc_cond_t) i32 {
    const out = cond_out orelse return abi.code(error.Invalid);
    out.* = null;
    const c = objectIn(condition.Condition, condition.alignment, handle, offset) catch |err| return result(err);
    condition.validate(c) catch |err| return result(err);
    out.* = @ptrCast(c);
    return abi.ok;
}

pub export fn ipc_cond_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    segment_out: ?*?*ipc_segment_t,
    cond_out: ?*?*ipc_cond_t,
    mutex_out: ?*?*ipc_mutex_t,
) i32 {
    const out = cond_out orelse return abi.code(error.Invalid);
    const m_out = mutex_out orelse return abi.code(error.Invalid);
    out.* = null;
    m_out.* = null;
    const seg = createStandalone(name, mode, flags, .condition, mutex.size + condition.size, .{
        .run = condInitData,
    }, segment_out) catch |err| return result(err);
    m_out.* = @ptrCast(seg.data());
    out.* = @ptrCast(seg.data() + mutex.size);
    return abi.ok;
}

pub export fn ipc_cond_wait(handle: ?*ipc_cond_t, mutex_handle: ?*ipc_mutex_t, timeout_ns: i64) i32 {
    const c = toCond(handle) catch |err| return result(err);
    const m = toMutex(mutex_handle) catch |err| return result(err);
    const woken = condition.waitNotified(c, m, deadlineOf(timeout_ns)) catch |err| return result(err);
    if (woken.relocked == .owner_died) return abi.owner_died;
    if (woken.interrupted) return abi.code(error.Interrupted);
    return if (woken.notified) abi.ok else abi.code(error.TimedOut);
}

pub export fn ipc_cond_notify(handle: ?*ipc_cond_t, n: u32) i32 {
    const c = toCond(handle) catch |err| return result(err);
    condition.notify(c, n);
    return abi.ok;
}

pub export fn ipc_cond_notify_all(handle: ?*ipc_cond_t) i32 {
    const c = toCond(handle) catch |err| return result(err);
    condition.notifyAll(c);
    return abi.ok;
}

pub export fn ipc_cond_word(handle: ?*ipc_cond_t) ?*const u32 {
    const c = toCond(handle) catch return null;
    return &c.sequence.value;
}

pub export fn ipc_cond_prepare(handle: ?*ipc_cond_t, mutex_handle: ?*ipc_mutex_t, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const c = toCond(handle) catch |err| return result(err);
    const m = toMutex(mutex_handle) catch |err| return result(err);
    out.* = condition.prepare(c, m, true) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_cond_unwait(handle: ?*ipc_cond_t) i32 {
    const c = toCond(handle) catch |err| return result(err);
    condition.unwait(c);
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Barriers.

/// The C type `ipc_barrier_t`: the 64-byte `barrier.Barrier` in shared memory.
pub const ipc_barrier_t = opaque {};

fn toBarrier(handle: ?*ipc_barrier_t) abi.Error!*barrier.Barrier {
    return toObject(barrier.Barrier, barrier, handle);
}

fn barrierInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    const parties: *const u32 = @ptrCast(@alignCast(context.?));
    try barrier.init(@ptrCast(@alignCast(data.ptr)), parties.*);
}

pub export fn ipc_barrier_init(memory: ?*anyopaque, parties: u32) i32 {
    const b = rawObject(barrier.Barrier, barrier.alignment, memory) catch |err| return result(err);
    barrier.init(b, parties) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_barrier_init_at(handle: ?*ipc_segment_t, offset: u64, parties: u32, barrier_out: ?*?*ipc_barrier_t) i32 {
    const out = barrier_out orelse return abi.code(error.Invalid);
    out.* = null;
    const b = objectIn(barrier.Barrier, barrier.alignment, handle, offset) catch |err| return result(err);
    barrier.init(b, parties) catch |err| return result(err);
    out.* = @ptrCast(b);
    return abi.ok;
}

pub export fn ipc_barrier_at(handle: ?*ipc_segment_t, offset: u64, barrier_out: ?*?*ipc_barrier_t) i32 {
    const out = barrier_out orelse return abi.code(error.Invalid);
    out.* = null;
    const b = objectIn(barrier.Barrier, barrier.alignment, handle, offset) catch |err| return result(err);
    barrier.validate(b) catch |err| return result(err);
    out.* = @ptrCast(b);
    return abi.ok;
}

pub export fn ipc_barrier_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    parties: u32,
    segment_out: ?*?*ipc_segment_t,
    barrier_out: ?*?*ipc_barrier_t,
) i32 {
    const out = barrier_out orelse return abi.code(error.Invalid);
    out.* = null;
    var params = parties;
    const seg = createStandalone(name, mode, flags, .barrier, barrier.size, .{
        .context = &params,
        .run = barrierInitData,
    }, segment_out) catch |err| return result(err);
    out.* = @ptrCast(seg.data());
    return abi.ok;
}

pub export fn ipc_barrier_wait(handle: ?*ipc_barrier_t, timeout_ns: i64) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    const index = barrier.arriveAndWait(b, deadlineOf(timeout_ns)) catch |err| return result(err);
    return @intCast(index);
}

pub export fn ipc_barrier_arrive(handle: ?*ipc_barrier_t, ticket_out: ?*u32) i32 {
    const out = ticket_out orelse return abi.code(error.Invalid);
    const b = toBarrier(handle) catch |err| return result(err);
    const arrival = barrier.arrive(b) catch |err| return result(err);
    out.* = arrival.ticket orelse barrier_passed;
    return @intCast(arrival.index);
}

/// `ipc_barrier_arrive`'s ticket when the arrival opened the barrier.
pub const barrier_passed: u32 = 0xffff_ffff;

pub export fn ipc_barrier_check(handle: ?*ipc_barrier_t, ticket: u32, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const b = toBarrier(handle) catch |err| return result(err);
    if (ticket == barrier_passed) return abi.ok;
    return switch (barrier.check(b, ticket)) {
        .passed => abi.ok,
        .broken => abi.code(error.Broken),
        .wait => |w| blk: {
            out.* = w;
            break :blk abi.code(error.Busy);
        },
    };
}

pub export fn ipc_barrier_break(handle: ?*ipc_barrier_t, ticket: u32) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    if (ticket == barrier_passed) return 1;
    return if (barrier.breakGeneration(b, ticket)) abi.ok else 1;
}

pub export fn ipc_barrier_abort(handle: ?*ipc_barrier_t) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    barrier.abort(b);
    return abi.ok;
}

pub export fn ipc_barrier_reset(handle: ?*ipc_barrier_t) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    barrier.reset(b);
    return abi.ok;
}

pub export fn ipc_barrier_parties(handle: ?*ipc_barrier_t) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    return @intCast(barrier.partiesOf(b) catch |err| return result(err));
}

pub export fn ipc_barrier_waiting(handle: ?*ipc_barrier_t) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    return @intCast(barrier.waiting(b));
}

pub export fn ipc_barrier_broken(handle: ?*ipc_barrier_t) i32 {
    const b = toBarrier(handle) catch |err| return result(err);
    return @intFromBool(barrier.broken(b));
}

pub export fn ipc_barrier_word(handle: ?*ipc_barrier_t) ?*const u32 {
    const b = toBarrier(handle) catch return null;
    return b.stateWord();
}

// ---------------------------------------------------------------------------------------------------
// Readers-writer locks.

/// The C type `ipc_rwlock_t`: the `rwlock.RwLock` object in shared memory.
pub const ipc_rwlock_t = opaque {};

fn toRwLock(handle: ?*ipc_rwlock_t) abi.Error!*rwlock.RwLock {
    return toObject(rwlock.RwLock, rwlock, handle);
}

fn rwlockInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    _ = context;
    try rwlock.init(@ptrCast(@alignCast(data.ptr)));
}

fn stepCode(step: rwlock.Step, word_out: *?*const u32, expected_out: *u32) i32 {
    switch (step) {
        .acquired => |a| return acquiredCode(a),
        .wait => |w| {
            word_out.* = w.word;
            expected_out.* = w.expected;
            return abi.code(error.Busy);
        },
    }
}

fn optionalAcquired(got: abi.Error!?mutex.Acquired) i32 {
    const a = (got catch |err| return result(err)) orelse return abi.code(error.Busy);
    return acquiredCode(a);
}

pub export fn ipc_rwlock_init(memory: ?*anyopaque) i32 {
    const rw = rawObject(rwlock.RwLock, rwlock.alignment, memory) catch |err| return result(err);
    rwlock.init(rw) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_rwlock_init_at(handle: ?*ipc_segment_t, offset: u64, rwlock_out: ?*?*ipc_rwlock_t) i32 {
    const out = rwlock_out orelse return abi.code(error.Invalid);
    out.* = null;
    const rw = objectIn(rwlock.RwLock, rwlock.alignment, handle, offset) catch |err| return result(err);
    rwlock.init(rw) catch |err| return result(err);
    out.* = @ptrCast(rw);
    return abi.ok;
}

pub export fn ipc_rwlock_at(handle: ?*ipc_segment_t, offset: u64, rwlock_out: ?*?*ipc_rwlock_t) i32 {
    const out = rwlock_out orelse return abi.code(error.Invalid);
    out.* = null;
    const rw = objectIn(rwlock.RwLock, rwlock.alignment, handle, offset) catch |err| return result(err);
    rwlock.validateAll(rw) catch |err| return result(err);
    out.* = @ptrCast(rw);
    return abi.ok;
}

pub export fn ipc_rwlock_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    segment_out: ?*?*ipc_segment_t,
    rwlock_out: ?*?*ipc_rwlock_t,
) i32 {
    const out = rwlock_out orelse return abi.code(error.Invalid);
    out.* = null;
    const seg = createStandalone(name, mode, flags, .rwlock, rwlock.size, .{ .run = rwlockInitData }, segment_out) catch |err|
        return result(err);
    out.* = @ptrCast(seg.data());
    return abi.ok;
}

pub export fn ipc_rwlock_read_lock(handle: ?*ipc_rwlock_t, timeout_ns: i64) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    const a = rwlock.readLock(rw, deadlineOf(timeout_ns)) catch |err| return result(err);
    return acquiredCode(a);
}

pub export fn ipc_rwlock_try_read_lock(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    return optionalAcquired(rwlock.tryRead(rw));
}

pub export fn ipc_rwlock_read_unlock(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    rwlock.readUnlock(rw) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_rwlock_write_lock(handle: ?*ipc_rwlock_t, timeout_ns: i64) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    const a = rwlock.writeLock(rw, deadlineOf(timeout_ns)) catch |err| return result(err);
    return acquiredCode(a);
}

pub export fn ipc_rwlock_try_write_lock(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    return optionalAcquired(rwlock.tryWrite(rw));
}

pub export fn ipc_rwlock_write_unlock(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    rwlock.writeUnlock(rw) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_rwlock_consistent(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    rwlock.consistent(rw) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_rwlock_readers(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    return @intCast(rwlock.readers(rw));
}

pub export fn ipc_rwlock_held(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    return @intFromBool(rwlock.heldByCaller(rw));
}

/// A word a previous read step returned: one of the lock's own words, or error.Invalid.
fn waitedWord(rw: *rwlock.RwLock, word: ?*const u32) abi.Error!*const u32 {
    const w = word orelse return error.Invalid;
    if (w != &rw.slot_free.value and w != rw.writer.word()) return error.Invalid;
    return w;
}

pub export fn ipc_rwlock_read_step(handle: ?*ipc_rwlock_t, waited: ?*const u32, word_out: ?*?*const u32, expected_out: ?*u32) i32 {
    const w_out = word_out orelse return abi.code(error.Invalid);
    const out = expected_out orelse return abi.code(error.Invalid);
    const rw = toRwLock(handle) catch |err| return result(err);
    const previous: ?*const u32 = if (waited == null) null else waitedWord(rw, waited) catch |err| return result(err);
    return stepCode(rwlock.readStep(rw, previous) catch |err| return result(err), w_out, out);
}

pub export fn ipc_rwlock_unwait(handle: ?*ipc_rwlock_t, waited: ?*const u32) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    rwlock.unwait(rw, waitedWord(rw, waited) catch |err| return result(err));
    return abi.ok;
}

pub export fn ipc_rwlock_write_step(handle: ?*ipc_rwlock_t, continuing: u32, word_out: ?*?*const u32, expected_out: ?*u32) i32 {
    const w_out = word_out orelse return abi.code(error.Invalid);
    const out = expected_out orelse return abi.code(error.Invalid);
    const rw = toRwLock(handle) catch |err| return result(err);
    return stepCode(rwlock.writeStep(rw, continuing != 0) catch |err| return result(err), w_out, out);
}

pub export fn ipc_rwlock_write_abandon(handle: ?*ipc_rwlock_t) i32 {
    const rw = toRwLock(handle) catch |err| return result(err);
    rwlock.abandonWrite(rw) catch |err| return result(err);
    return abi.ok;
}

// ---------------------------------------------------------------------------------------------------
// Shared heaps.

/// The C type `ipc_heap_t`: opaque to C, a `HeapHandle` here (this process's view of a heap
/// segment).
pub const ipc_heap_t = opaque {};

const heap_live_marker: u32 = 0x4ea9_11fe;
const arena_live_marker: u32 = 0x4ea9_a7e0;

/// The C type `ipc_heap_arena_t`: opaque to C, a `HeapHandle` with an arena here (a view of the
/// heap of its own, whose blocks come from the arena).
pub const ipc_heap_arena_t = opaque {};

const HeapHandle = struct {
    /// `heap_live_marker` for an ipc_heap_t, `arena_live_marker` for an ipc_heap_arena_t.
    live: u32,
    seg: *segment.Segment,
    heap: heap.Heap,
    arena: ?heap.arena_mod.View = null,
};

/// The heap's memory inside a segment's data: from the first system page boundary on.
fn heapMemory(seg: *segment.Segment) abi.Error![]u8 {
    const data = seg.data();
    const skip = std.mem.alignForward(usize, @intFromPtr(data), heap.base_alignment) - @intFromPtr(data);
    if (seg.size <= skip) return error.Range;
    return data[skip..@intCast(seg.size)];
}

fn heapInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    _ = context;
    const skip = std.mem.alignForward(usize, @intFromPtr(data.ptr), heap.base_alignment) - @intFromPtr(data.ptr);
    var tag: [4]u8 = undefined;
    platform.randomBytes(&tag);
    try heap.init(data[skip..], std.mem.readInt(u32, &tag, .little));
}

fn attachHeap(seg: *segment.Segment, out: *?*ipc_heap_t) abi.Error!void {
    if (seg.kind != .heap) return error.Kind;
    const h = std.heap.c_allocator.create(HeapHandle) catch return error.NoMemory;
    errdefer std.heap.c_allocator.destroy(h);
    h.* = .{ .live = heap_live_marker, .seg = seg, .heap = try heap.attach(try heapMemory(seg)) };
    // Opening a heap is one of the moments a dead owner's arenas are noticed and given back (when
    // the page lock is free: opening never waits for it).
    _ = heap.arena_mod.reapIfFree(&h.heap) catch 0;
    out.* = @ptrCast(h);
}

fn toHeap(handle: ?*ipc_heap_t) abi.Error!*heap.Heap {
    const h: *HeapHandle = @ptrCast(@alignCast(handle orelse return error.Invalid));
    if (h.live != heap_live_marker or !h.seg.isLive()) return error.Closed;
    return &h.heap;
}

pub export fn ipc_heap_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    size_bytes: u64,
    segment_out: ?*?*ipc_segment_t,
    heap_out: ?*?*ipc_heap_t,
) i32 {
    const out = heap_out orelse return abi.code(error.Invalid);
    out.* = null;
    if (size_bytes < heap.size_min or size_bytes > heap.size_max) return abi.code(error.Range);
    _ = heap.plan(size_bytes) catch |err| return result(err);
    const seg = createStandaloneSized(name, mode, flags, .heap, size_bytes + heap.base_alignment, .{ .run = heapInitData }, segment_out) catch |err|
        return result(err);
    attachHeap(seg, out) catch |err| {
        segment_out.?.* = null;
        if (seg.name.len > 0) segment.unlink(seg.name) catch {};
        segment.close(seg);
        return result(err);
    };
    return abi.ok;
}

pub export fn ipc_heap_attach(handle: ?*ipc_segment_t, heap_out: ?*?*ipc_heap_t) i32 {
    const out = heap_out orelse return abi.code(error.Invalid);
    out.* = null;
    const seg = toSegment(handle) orelse return abi.code(error.Closed);
    attachHeap(seg, out) catch |err| return result(err);
    return abi.ok;
}

/// The view behind a callback context: an ipc_heap_t or an ipc_heap_arena_t.
fn toAllocator(context: ?*anyopaque) abi.Error!*HeapHandle {
    const h: *HeapHandle = @ptrCast(@alignCast(context orelse return error.Invalid));
    if ((h.live != heap_live_marker and h.live != arena_live_marker) or !h.seg.isLive()) return error.Closed;
    return h;
}

fn toArena(handle: ?*ipc_heap_arena_t) abi.Error!*HeapHandle {
    const h: *HeapHandle = @ptrCast(@alignCast(handle orelse return error.Invalid));
    if (h.live != arena_live_marker or h.arena == null or !h.seg.isLive()) return error.Closed;
    return h;
}

fn arenaHandle(from: *HeapHandle, view: heap.arena_mod.View, out: *?*ipc_heap_arena_t) abi.Error!void {
    const a = std.heap.c_allocator.create(HeapHandle) catch return error.NoMemory;
    errdefer std.heap.c_allocator.destroy(a);
    a.* = .{ .live = arena_live_marker, .seg = from.seg, .heap = try heap.attach(from.heap.base[0..@intCast(from.heap.size)]), .arena = view };
    a.heap.misuse_action.store(from.heap.misuse_action.load(.monotonic), .monotonic);
    out.* = @ptrCast(a);
}

pub export fn ipc_heap_arena_create(handle: ?*ipc_heap_t, arena_out: ?*?*ipc_heap_arena_t) i32 {
    const out = arena_out orelse return abi.code(error.Invalid);
    out.* = null;
    const hh = toHeapHandle(handle) catch |err| return result(err);
    var view = heap.arena_mod.create(&hh.heap) catch |err| return result(err);
    arenaHandle(hh, view, out) catch |err| {
        heap.arena_mod.destroy(&hh.heap, &view) catch {};
        return result(err);
    };
    return abi.ok;
}

pub export fn ipc_heap_arena_open(handle: ?*ipc_heap_t, id: u32, arena_out: ?*?*ipc_heap_arena_t) i32 {
    const out = arena_out orelse return abi.code(error.Invalid);
    out.* = null;
    const hh = toHeapHandle(handle) catch |err| return result(err);
    const view = heap.arena_mod.open(&hh.heap, id) catch |err| return result(err);
    arenaHandle(hh, view, out) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_arena_close(handle: ?*ipc_heap_arena_t) i32 {
    if (handle == null) return abi.ok;
    const a: *HeapHandle = @ptrCast(@alignCast(handle.?));
    if (a.live != arena_live_marker) return abi.code(error.Closed);
    a.live = 0;
    std.heap.c_allocator.destroy(a);
    return abi.ok;
}

pub export fn ipc_heap_arena_id(handle: ?*ipc_heap_arena_t, id_out: ?*u32) i32 {
    const out = id_out orelse return abi.code(error.Invalid);
    const a = toArena(handle) catch |err| return result(err);
    out.* = a.arena.?.id();
    return abi.ok;
}

pub export fn ipc_heap_arena_owner(handle: ?*ipc_heap_arena_t, pid_out: ?*i32) i32 {
    const out = pid_out orelse return abi.code(error.Invalid);
    const a = toArena(handle) catch |err| return result(err);
    const pid = heap.arena_mod.ownerPid(&a.heap, &a.arena.?) catch |err| return result(err);
    if (pid > std.math.maxInt(i32)) return abi.code(error.Protocol);
    out.* = @intCast(pid);
    return abi.ok;
}

pub export fn ipc_heap_arena_malloc(handle: ?*ipc_heap_arena_t, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const a = toArena(handle) catch |err| return result(err);
    out.* = heap.arena_mod.malloc(&a.heap, &a.arena.?, size) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_arena_reset(handle: ?*ipc_heap_arena_t) i32 {
    const a = toArena(handle) catch |err| return result(err);
    heap.arena_mod.reset(&a.heap, &a.arena.?) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_arena_destroy(handle: ?*ipc_heap_arena_t) i32 {
    const a = toArena(handle) catch |err| return result(err);
    heap.arena_mod.destroy(&a.heap, &a.arena.?) catch |err| return result(err);
    return ipc_heap_arena_close(handle);
}

pub export fn ipc_heap_arena_hand_over(handle: ?*ipc_heap_arena_t, pid: i32) i32 {
    const a = toArena(handle) catch |err| return result(err);
    heap.arena_mod.handOver(&a.heap, &a.arena.?, pid) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_arena_reap(handle: ?*ipc_heap_t, count_out: ?*u32) i32 {
    const h = toHeap(handle) catch |err| return result(err);
    const n = heap.arena_mod.reap(h) catch |err| return result(err);
    if (count_out) |out| out.* = n;
    return abi.ok;
}

fn toHeapHandle(handle: ?*ipc_heap_t) abi.Error!*HeapHandle {
    const h: *HeapHandle = @ptrCast(@alignCast(handle orelse return error.Invalid));
    if (h.live != heap_live_marker or !h.seg.isLive()) return error.Closed;
    return h;
}

pub export fn ipc_heap_close(handle: ?*ipc_heap_t) i32 {
    if (handle == null) return abi.ok;
    const h: *HeapHandle = @ptrCast(@alignCast(handle.?));
    if (h.live != heap_live_marker) return abi.code(error.Closed);
    h.live = 0;
    std.heap.c_allocator.destroy(h);
    return abi.ok;
}

pub export fn ipc_heap_malloc(handle: ?*ipc_heap_t, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const h = toHeap(handle) catch |err| return result(err);
    out.* = heap.malloc(h, size) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_aligned_alloc(handle: ?*ipc_heap_t, alignment: u64, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const h = toHeap(handle) catch |err| return result(err);
    out.* = heap.mallocAligned(h, size, alignment) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_calloc(handle: ?*ipc_heap_t, count: u64, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const h = toHeap(handle) catch |err| return result(err);
    const total = std.math.mul(u64, count, size) catch return abi.code(error.Range);
    const block = heap.malloc(h, total) catch |err| return result(err);
    const p = heap.pointer(h, block) catch |err| return result(err);
    @memset(p[0..@intCast(total)], 0);
    out.* = block;
    return abi.ok;
}

pub export fn ipc_heap_realloc(handle: ?*ipc_heap_t, block: u64, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    const h = toHeap(handle) catch |err| return result(err);
    out.* = heap.realloc(h, block, size) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_free(handle: ?*ipc_heap_t, block: u64) i32 {
    const h = toHeap(handle) catch |err| return result(err);
    if (block == 0) return abi.ok;
    heap.free(h, block) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_usable_size(handle: ?*ipc_heap_t, block: u64, size_out: ?*u64) i32 {
    const out = size_out orelse return abi.code(error.Invalid);
    const h = toHeap(handle) catch |err| return result(err);
    out.* = heap.usableSize(h, block) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_pointer(handle: ?*ipc_heap_t, block: u64) ?*anyopaque {
    const h = toHeap(handle) catch return null;
    return heap.pointer(h, block) catch null;
}

pub export fn ipc_heap_handle(handle: ?*ipc_heap_t, ptr: ?*const anyopaque, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    const h = toHeap(handle) catch |err| return result(err);
    const p = @intFromPtr(ptr orelse return abi.code(error.Invalid));
    const base = @intFromPtr(h.base);
    if (p < base or p - base >= h.size) return abi.code(error.Range);
    out.* = h.handleOf(p - base);
    _ = h.offsetOf(out.*) catch |err| {
        out.* = 0;
        return result(err);
    };
    return abi.ok;
}

pub export fn ipc_heap_root(handle: ?*ipc_heap_t, name: ?[*:0]const u8, size: u64, block_out: ?*u64) i32 {
    const out = block_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const h = toHeap(handle) catch |err| return result(err);
    const n = std.mem.span(name orelse return abi.code(error.Invalid));
    out.* = heap.root(h, n, size) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_root_remove(handle: ?*ipc_heap_t, name: ?[*:0]const u8) i32 {
    const h = toHeap(handle) catch |err| return result(err);
    heap.removeRoot(h, std.mem.span(name orelse return abi.code(error.Invalid))) catch |err| return result(err);
    return abi.ok;
}

/// The C type `ipc_heap_stats_t`.
pub const ipc_heap_stats_t = extern struct {
    in_use: u64,
    reserved: u64,
    free_pages: u64,
    largest_free: u64,
    allocations: u64,
};

pub export fn ipc_heap_check(handle: ?*ipc_heap_t, stats_out: ?*ipc_heap_stats_t, problem_out: ?*?[*:0]const u8) i32 {
    const h = toHeap(handle) catch |err| return result(err);
    var stats: heap.Stats = undefined;
    const problem = heap.check(h, &stats);
    if (stats_out) |s| s.* = .{
        .in_use = stats.in_use,
        .reserved = stats.reserved,
        .free_pages = stats.free_pages,
        .largest_free = stats.largest_free,
        .allocations = stats.allocations,
    };
    if (problem_out) |p| p.* = if (problem) |pr| pr.what.ptr else null;
    const p = problem orelse return abi.ok;
    return abi.code(if (p.busy) error.Busy else error.Protocol);
}

pub export fn ipc_heap_round_up(handle: ?*ipc_heap_t, size: u64, size_out: ?*u64) i32 {
    const out = size_out orelse return abi.code(error.Invalid);
    out.* = 0;
    _ = toHeap(handle) catch |err| return result(err);
    out.* = heap.roundUp(size) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_heap_on_misuse(handle: ?*ipc_heap_t, action: u32) i32 {
    const h = toHeap(handle) catch |err| return result(err);
    if (action != heap.misuse_count and action != heap.misuse_abort) return abi.code(error.Invalid);
    h.misuse_action.store(action, .monotonic);
    return abi.ok;
}

pub export fn ipc_heap_misuses(handle: ?*ipc_heap_t, count_out: ?*u64) i32 {
    const out = count_out orelse return abi.code(error.Invalid);
    const h = toHeap(handle) catch |err| return result(err);
    out.* = h.misuses.load(.monotonic);
    return abi.ok;
}

// The callbacks: malloc, calloc, aligned_alloc, realloc, free, usable size and round-up with a
// context first (the ipc_heap_t), for C code that takes an allocator as function pointers. C
// semantics: size 0 gets a unique block of the smallest class; realloc(p, 0) frees p and returns NULL
// (as glibc). A pointer that is no allocated block of the heap is a misuse: counted, never obeyed,
// and an abort when the view asked for one (ipc_heap_on_misuse).

/// Counts a misuse of the callbacks, and aborts if this view asked for that.
fn misuse(h: *heap.Heap, op: []const u8, ptr: ?*const anyopaque, err: abi.Error) void {
    _ = h.misuses.fetchAdd(1, .monotonic);
    if (h.misuse_action.load(.monotonic) != heap.misuse_abort) return;
    const address = if (ptr) |p| @intFromPtr(p) else 0;
    std.debug.print("libipc: {s}(0x{x}): not an allocated block of this heap ({s}); aborting (ipc_heap_on_misuse)\n", .{ op, address, @errorName(err) });
    std.posix.abort();
}

/// The handle of the block at `ptr`, or null (a misuse, counted) when `ptr` is outside the heap.
fn callbackBlock(h: *heap.Heap, op: []const u8, ptr: *const anyopaque) ?u64 {
    const p = @intFromPtr(ptr);
    const base = @intFromPtr(h.base);
    if (p < base or p - base >= h.size) {
        misuse(h, op, ptr, error.Range);
        return null;
    }
    return h.handleOf(p - base);
}

/// A block of `size` bytes from the context's source: its arena, or the heap's shared pool.
fn callbackMalloc(a: *HeapHandle, size: u64) abi.Error!u64 {
    if (a.arena) |*view| return heap.arena_mod.malloc(&a.heap, view, size);
    return heap.malloc(&a.heap, size);
}

pub export fn ipc_heap_alloc_fn(context: ?*anyopaque, size: usize) ?*anyopaque {
    const a = toAllocator(context) catch return null;
    const block = callbackMalloc(a, @max(size, 1)) catch return null;
    return heap.pointer(&a.heap, block) catch null;
}

pub export fn ipc_heap_calloc_fn(context: ?*anyopaque, count: usize, size: usize) ?*anyopaque {
    const a = toAllocator(context) catch return null;
    const total = std.math.mul(usize, count, size) catch return null;
    const block = callbackMalloc(a, @max(total, 1)) catch return null;
    const p = heap.pointer(&a.heap, block) catch return null;
    @memset(p[0..total], 0);
    return p;
}

pub export fn ipc_heap_aligned_alloc_fn(context: ?*anyopaque, alignment: usize, size: usize) ?*anyopaque {
    const a = toAllocator(context) catch return null;
    const block = (if (a.arena) |*view|
        heap.arena_mod.mallocAligned(&a.heap, view, @max(size, 1), alignment)
    else
        heap.mallocAligned(&a.heap, @max(size, 1), alignment)) catch return null;
    return heap.pointer(&a.heap, block) catch null;
}

pub export fn ipc_heap_free_fn(context: ?*anyopaque, ptr: ?*anyopaque) void {
    const a = toAllocator(context) catch return;
    const h = &a.heap;
    const block = callbackBlock(h, "ipc_heap_free_fn", ptr orelse return) orelse return;
    heap.free(h, block) catch |err| misuse(h, "ipc_heap_free_fn", ptr, err);
}

pub export fn ipc_heap_realloc_fn(context: ?*anyopaque, ptr: ?*anyopaque, size: usize) ?*anyopaque {
    const a = toAllocator(context) catch return null;
    const h = &a.heap;
    if (ptr == null) return ipc_heap_alloc_fn(context, size);
    if (size == 0) {
        ipc_heap_free_fn(context, ptr);
        return null;
    }
    const block = callbackBlock(h, "ipc_heap_realloc_fn", ptr.?) orelse return null;
    const moved = (if (a.arena) |*view| heap.arena_mod.realloc(h, view, block, size) else heap.realloc(h, block, size)) catch |err| {
        // Out of memory leaves the block as it was, as C's realloc does (so does an arena this
        // process no longer owns); anything else is a block the heap does not hold.
        if (err != error.NoMemory and err != error.NotOwner and err != error.NotFound) misuse(h, "ipc_heap_realloc_fn", ptr, err);
        return null;
    };
    return heap.pointer(h, moved) catch null;
}

pub export fn ipc_heap_usable_size_fn(context: ?*anyopaque, ptr: ?*const anyopaque) usize {
    const h = &(toAllocator(context) catch return 0).heap;
    const block = callbackBlock(h, "ipc_heap_usable_size_fn", ptr orelse return 0) orelse return 0;
    const size = heap.usableSize(h, block) catch |err| {
        misuse(h, "ipc_heap_usable_size_fn", ptr, err);
        return 0;
    };
    return @intCast(size);
}

pub export fn ipc_heap_round_up_fn(context: ?*anyopaque, size: usize) usize {
    _ = toAllocator(context) catch return 0;
    return @intCast(heap.roundUp(size) catch return 0);
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

// ---------------------------------------------------------------------------------------------------
// Channels: Chan, MVar (single), Pipe (stream).

/// The C type `ipc_chan_t`: the `chan.Chan` header in shared memory, its ring right after it. Only
/// pointers this process attached (ipc_chan_init, _init_at, _at, _create) are channels to it: the
/// capacity it uses is the one it checked against its mapping then (see zig/chan/handles.zig).
pub const ipc_chan_t = opaque {};

fn toChan(handle: ?*ipc_chan_t) abi.Error!chan.Handle {
    return chan.handleOf(@intFromPtr(handle orelse return error.Invalid));
}

fn bytesIn(ptr: ?*const anyopaque, length: u64) abi.Error![]const u8 {
    if (length == 0) return &.{};
    const p: [*]const u8 = @ptrCast(ptr orelse return error.Invalid);
    if (length > chan.capacity_max) return error.Range;
    return p[0..@intCast(length)];
}

fn bufferOut(ptr: ?*anyopaque, length: u64) abi.Error![]u8 {
    if (length == 0) return &.{};
    const p: [*]u8 = @ptrCast(ptr orelse return error.Invalid);
    return p[0..@intCast(@min(length, chan.capacity_max))];
}

const ChanParams = struct { capacity: u32, flags: u32 };

fn chanInitData(context: ?*anyopaque, data: []u8) abi.Error!void {
    const params: *const ChanParams = @ptrCast(@alignCast(context.?));
    _ = try chan.init(data, params.capacity, params.flags);
}

fn recvCode(r: chan.RecvResult, length_out: *u64) i32 {
    switch (r) {
        .received => |n| {
            length_out.* = n;
            return abi.ok;
        },
        .too_small => |n| {
            length_out.* = n;
            return abi.code(error.Range);
        },
        .ended => return abi.code(error.Ended),
        .blocked => return abi.code(error.Busy),
    }
}

pub export fn ipc_chan_size(capacity: u64, size_out: ?*u64) i32 {
    const out = size_out orelse return abi.code(error.Invalid);
    out.* = chan.sizeFor(capacity) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_init(memory: ?*anyopaque, size: u64, capacity: u32, flags: u32) i32 {
    const p: [*]u8 = @ptrCast(memory orelse return abi.code(error.Invalid));
    const len: usize = @intCast(@min(size, chan.capacity_max + chan.header_size));
    const c = chan.init(p[0..len], capacity, flags) catch |err| return result(err);
    _ = chan.attach(c, len) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_init_at(handle: ?*ipc_segment_t, offset: u64, capacity: u32, flags: u32, chan_out: ?*?*ipc_chan_t) i32 {
    const out = chan_out orelse return abi.code(error.Invalid);
    out.* = null;
    const memory = chanMemory(handle, offset) catch |err| return result(err);
    const c = chan.init(memory, capacity, flags) catch |err| return result(err);
    out.* = @ptrCast((chan.attach(c, memory.len) catch |err| return result(err)).c);
    return abi.ok;
}

pub export fn ipc_chan_at(handle: ?*ipc_segment_t, offset: u64, chan_out: ?*?*ipc_chan_t) i32 {
    const out = chan_out orelse return abi.code(error.Invalid);
    out.* = null;
    const memory = chanMemory(handle, offset) catch |err| return result(err);
    const c = chan.validate(memory) catch |err| return result(err);
    out.* = @ptrCast((chan.attach(c, memory.len) catch |err| return result(err)).c);
    return abi.ok;
}

/// The segment's data from `offset` on, checked for alignment and room for a header.
fn chanMemory(handle: ?*ipc_segment_t, offset: u64) abi.Error![]u8 {
    const seg = toSegment(handle) orelse return error.Closed;
    if (offset % chan.alignment != 0) return error.Align;
    if (offset > seg.size or seg.size - offset < chan.header_size) return error.Range;
    return (seg.data() + @as(usize, @intCast(offset)))[0..@intCast(seg.size - offset)];
}

pub export fn ipc_chan_create(
    name: ?[*:0]const u8,
    mode: u32,
    flags: u32,
    capacity: u32,
    chan_flags: u32,
    segment_out: ?*?*ipc_segment_t,
    chan_out: ?*?*ipc_chan_t,
) i32 {
    const out = chan_out orelse return abi.code(error.Invalid);
    out.* = null;
    const size = chan.sizeFor(capacity) catch |err| return result(err);
    if (chan_flags & ~chan.flags_all != 0 or chan_flags == chan.flags_all) return abi.code(error.Invalid);
    var params: ChanParams = .{ .capacity = capacity, .flags = chan_flags };
    const seg = createStandaloneSized(name, mode, flags, .chan, size, .{ .run = chanInitData, .context = &params }, segment_out) catch |err|
        return result(err);
    const c: *chan.Chan = @ptrCast(@alignCast(seg.data()));
    const h = chan.attach(c, @intCast(size)) catch |err| {
        segment_out.?.* = null;
        if (seg.name.len > 0) segment.unlink(seg.name) catch {};
        segment.close(seg);
        return result(err);
    };
    out.* = @ptrCast(h.c);
    return abi.ok;
}

pub export fn ipc_chan_send(handle: ?*ipc_chan_t, message: ?*const anyopaque, length: u64, timeout_ns: i64) i32 {
    const c = toChan(handle) catch |err| return result(err);
    chan.send(c, bytesIn(message, length) catch |err| return result(err), deadlineOf(timeout_ns)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_try_send(handle: ?*ipc_chan_t, message: ?*const anyopaque, length: u64) i32 {
    const c = toChan(handle) catch |err| return result(err);
    var expected: u32 = 0;
    const sent = chan.sendStep(c, &.{bytesIn(message, length) catch |err| return result(err)}, false, &expected) catch |err| return result(err);
    if (!sent) chan.unwait(c, .writable);
    return if (sent) abi.ok else abi.code(error.Busy);
}

/// Messages for the batch calls: `count` messages packed back to back in `data`, their lengths in
/// `lengths`. At most this many per call.
pub const batch_max = 1024;

fn batchOf(data: ?*const anyopaque, lengths: ?[*]const u32, count: u32, slices: *[batch_max][]const u8) abi.Error![]const []const u8 {
    if (count == 0 or count > batch_max) return error.Range;
    const ls = lengths orelse return error.Invalid;
    var offset: u64 = 0;
    for (0..count) |i| offset += ls[i];
    const bytes = try bytesIn(data, offset);
    offset = 0;
    for (0..count) |i| {
        slices[i] = bytes[@intCast(offset)..][0..ls[i]];
        offset += ls[i];
    }
    return slices[0..count];
}

pub export fn ipc_chan_send_many(handle: ?*ipc_chan_t, data: ?*const anyopaque, lengths: ?[*]const u32, count: u32, timeout_ns: i64) i32 {
    const c = toChan(handle) catch |err| return result(err);
    var slices: [batch_max][]const u8 = undefined;
    const batch = batchOf(data, lengths, count, &slices) catch |err| return result(err);
    chan.sendMany(c, batch, deadlineOf(timeout_ns)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_recv(handle: ?*ipc_chan_t, buffer: ?*anyopaque, capacity: u64, length_out: ?*u64, timeout_ns: i64) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recv(c, bufferOut(buffer, capacity) catch |err| return result(err), false, deadlineOf(timeout_ns)) catch |err| return result(err);
    return recvCode(r, out);
}

pub export fn ipc_chan_try_recv(handle: ?*ipc_chan_t, buffer: ?*anyopaque, capacity: u64, length_out: ?*u64) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.tryRecv(c, bufferOut(buffer, capacity) catch |err| return result(err), false, chan.at_once) catch |err| return result(err);
    if (r == .received) chan.wakeAfter(c, &c.c.writable);
    return recvCode(r, out);
}

pub export fn ipc_chan_peek(handle: ?*ipc_chan_t, buffer: ?*anyopaque, capacity: u64, length_out: ?*u64, timeout_ns: i64) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recv(c, bufferOut(buffer, capacity) catch |err| return result(err), true, deadlineOf(timeout_ns)) catch |err| return result(err);
    return recvCode(r, out);
}

pub export fn ipc_chan_recv_many(
    handle: ?*ipc_chan_t,
    buffer: ?*anyopaque,
    capacity: u64,
    lengths: ?[*]u32,
    max: u32,
    count_out: ?*u32,
    timeout_ns: i64,
) i32 {
    const out = count_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const ls = lengths orelse return abi.code(error.Invalid);
    if (max == 0 or max > batch_max) return abi.code(error.Range);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recvMany(c, bufferOut(buffer, capacity) catch |err| return result(err), ls[0..max], deadlineOf(timeout_ns)) catch |err| return result(err);
    out.* = r.count;
    var length: u64 = 0;
    const rc = recvCode(r.result, &length);
    if (r.result == .too_small) ls[0] = @intCast(length);
    return rc;
}

pub export fn ipc_chan_swap(
    handle: ?*ipc_chan_t,
    message: ?*const anyopaque,
    length: u64,
    buffer: ?*anyopaque,
    capacity: u64,
    length_out: ?*u64,
    timeout_ns: i64,
) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const msg = bytesIn(message, length) catch |err| return result(err);
    const r = chan.swap(c, msg, bufferOut(buffer, capacity) catch |err| return result(err), deadlineOf(timeout_ns)) catch |err| return result(err);
    return recvCode(r, out);
}

pub export fn ipc_chan_replace(handle: ?*ipc_chan_t, message: ?*const anyopaque, length: u64) i32 {
    const c = toChan(handle) catch |err| return result(err);
    chan.replace(c, bytesIn(message, length) catch |err| return result(err)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_write(handle: ?*ipc_chan_t, bytes: ?*const anyopaque, length: u64, timeout_ns: i64) i32 {
    const c = toChan(handle) catch |err| return result(err);
    if (length > 0 and bytes == null) return abi.code(error.Invalid);
    const p: [*]const u8 = if (bytes) |b| @ptrCast(b) else undefined;
    chan.write(c, if (length == 0) &.{} else p[0..@intCast(length)], deadlineOf(timeout_ns)) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_read(handle: ?*ipc_chan_t, buffer: ?*anyopaque, capacity: u64, read_out: ?*u64, timeout_ns: i64) i32 {
    const out = read_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.read(c, bufferOut(buffer, capacity) catch |err| return result(err), deadlineOf(timeout_ns)) catch |err| return result(err);
    switch (r) {
        .read => |n| out.* = n,
        .ended => return abi.code(error.Ended),
        .blocked => unreachable,
    }
    return abi.ok;
}

pub export fn ipc_chan_close(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    chan.close(c) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_is_closed(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    return @intFromBool(chan.isClosed(c.c));
}

pub export fn ipc_chan_pending(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    const n = chan.pending(c) catch |err| return result(err);
    return @intCast(n);
}

pub export fn ipc_chan_capacity(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    return @intCast(c.capacity);
}

pub export fn ipc_chan_flags(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    // Checked again: a peer may have rewritten the flags since `toChan` validated them.
    const flags = @atomicLoad(u32, &c.c.flags, .monotonic);
    if (flags & ~chan.flags_all != 0) return result(error.Protocol);
    return @intCast(flags);
}

pub export fn ipc_chan_message_max(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    return @intCast(chan.messageMax(c.capacity));
}

pub export fn ipc_chan_word(handle: ?*ipc_chan_t, side: u32) ?*const u32 {
    const c = toChan(handle) catch return null;
    if (side > 1) return null;
    return &chan.sideWord(c, @enumFromInt(side)).value;
}

pub export fn ipc_chan_send_step(handle: ?*ipc_chan_t, message: ?*const anyopaque, length: u64, registered: u32, expected_out: ?*u32) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const msg = bytesIn(message, length) catch |err| return result(err);
    const sent = chan.sendStep(c, &.{msg}, registered != 0, out) catch |err| return result(err);
    return if (sent) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_chan_send_many_step(
    handle: ?*ipc_chan_t,
    data: ?*const anyopaque,
    lengths: ?[*]const u32,
    count: u32,
    registered: u32,
    expected_out: ?*u32,
) i32 {
    const out = expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    var slices: [batch_max][]const u8 = undefined;
    const batch = batchOf(data, lengths, count, &slices) catch |err| return result(err);
    const sent = chan.sendStep(c, batch, registered != 0, out) catch |err| return result(err);
    return if (sent) abi.ok else abi.code(error.Busy);
}

pub export fn ipc_chan_recv_step(
    handle: ?*ipc_chan_t,
    buffer: ?*anyopaque,
    capacity: u64,
    peek: u32,
    registered: u32,
    length_out: ?*u64,
    expected_out: ?*u32,
) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const expected = expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recvStep(c, bufferOut(buffer, capacity) catch |err| return result(err), peek != 0, registered != 0, expected) catch |err| return result(err);
    return recvCode(r, out);
}

pub export fn ipc_chan_recv_many_step(
    handle: ?*ipc_chan_t,
    buffer: ?*anyopaque,
    capacity: u64,
    lengths: ?[*]u32,
    max: u32,
    registered: u32,
    count_out: ?*u32,
    expected_out: ?*u32,
) i32 {
    const out = count_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const expected = expected_out orelse return abi.code(error.Invalid);
    const ls = lengths orelse return abi.code(error.Invalid);
    if (max == 0 or max > batch_max) return abi.code(error.Range);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recvManyStep(c, bufferOut(buffer, capacity) catch |err| return result(err), ls[0..max], registered != 0, expected) catch |err| return result(err);
    out.* = r.count;
    var length: u64 = 0;
    const rc = recvCode(r.result, &length);
    if (r.result == .too_small) ls[0] = @intCast(length);
    return rc;
}

/// The C type `ipc_chan_loan_t`: a loan of views, {from, to}.
fn loanOf(loan: ?[*]u32) abi.Error!*chan.Loan {
    return @ptrCast(@alignCast(loan orelse return error.Invalid));
}

fn viewsCode(r: anytype, lengths: [*]u32, count_out: *u32) i32 {
    count_out.* = r.count;
    var length: u64 = 0;
    const rc = recvCode(r.result, &length);
    if (r.result == .too_small) lengths[0] = @intCast(length);
    return rc;
}

pub export fn ipc_chan_recv_views(
    handle: ?*ipc_chan_t,
    offsets: ?[*]u32,
    lengths: ?[*]u32,
    max: u32,
    count_out: ?*u32,
    loan: ?[*]u32,
    timeout_ns: i64,
) i32 {
    const out = count_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const os = offsets orelse return abi.code(error.Invalid);
    const ls = lengths orelse return abi.code(error.Invalid);
    if (max == 0 or max > batch_max) return abi.code(error.Range);
    const l = loanOf(loan) catch |err| return result(err);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recvLoan(c, os[0..max], ls[0..max], l, deadlineOf(timeout_ns)) catch |err| return result(err);
    return viewsCode(r, ls, out);
}

pub export fn ipc_chan_recv_views_step(
    handle: ?*ipc_chan_t,
    offsets: ?[*]u32,
    lengths: ?[*]u32,
    max: u32,
    count_out: ?*u32,
    loan: ?[*]u32,
    registered: u32,
    expected_out: ?*u32,
) i32 {
    const out = count_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const expected = expected_out orelse return abi.code(error.Invalid);
    const os = offsets orelse return abi.code(error.Invalid);
    const ls = lengths orelse return abi.code(error.Invalid);
    if (max == 0 or max > batch_max) return abi.code(error.Range);
    const l = loanOf(loan) catch |err| return result(err);
    const c = toChan(handle) catch |err| return result(err);
    const r = chan.recvLoanStep(c, os[0..max], ls[0..max], l, registered != 0, expected) catch |err| return result(err);
    return viewsCode(r, ls, out);
}

pub export fn ipc_chan_release(handle: ?*ipc_chan_t, loan: ?[*]u32) i32 {
    const l = loanOf(loan) catch |err| return result(err);
    if (l.from == l.to) return abi.ok;
    const c = toChan(handle) catch |err| return result(err);
    chan.release(c, l.*) catch |err| return result(err);
    l.* = .{ .from = l.to, .to = l.to };
    return abi.ok;
}

pub export fn ipc_chan_views_out(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    return @intFromBool(chan.viewsOut(c));
}

pub export fn ipc_chan_swap_step(
    handle: ?*ipc_chan_t,
    message: ?*const anyopaque,
    length: u64,
    buffer: ?*anyopaque,
    capacity: u64,
    registered: u32,
    length_out: ?*u64,
    expected_out: ?*u32,
) i32 {
    const out = length_out orelse return abi.code(error.Invalid);
    const expected = expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const msg = bytesIn(message, length) catch |err| return result(err);
    const r = chan.swapStep(c, msg, bufferOut(buffer, capacity) catch |err| return result(err), registered != 0, expected) catch |err| return result(err);
    return recvCode(r, out);
}

pub export fn ipc_chan_write_step(handle: ?*ipc_chan_t, bytes: ?*const anyopaque, length: u64, registered: u32, written_out: ?*u64, expected_out: ?*u32) i32 {
    const out = written_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const expected = expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    const data = bytesIn(bytes, length) catch |err| return result(err);
    switch (chan.writeStep(c, data, registered != 0, expected) catch |err| return result(err)) {
        .wrote => |n| out.* = n,
        .blocked => return abi.code(error.Busy),
    }
    return abi.ok;
}

pub export fn ipc_chan_read_step(
    handle: ?*ipc_chan_t,
    buffer: ?*anyopaque,
    capacity: u64,
    registered: u32,
    read_out: ?*u64,
    expected_out: ?*u32,
    writer_expected_out: ?*u32,
) i32 {
    const out = read_out orelse return abi.code(error.Invalid);
    out.* = 0;
    const expected = expected_out orelse return abi.code(error.Invalid);
    const writer_expected = writer_expected_out orelse return abi.code(error.Invalid);
    const c = toChan(handle) catch |err| return result(err);
    switch (chan.readStep(c, bufferOut(buffer, capacity) catch |err| return result(err), registered != 0, expected, writer_expected) catch |err| return result(err)) {
        .read => |n| out.* = n,
        .ended => return abi.code(error.Ended),
        .blocked => return abi.code(error.Busy),
    }
    return abi.ok;
}

pub export fn ipc_chan_writer_attach(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    chan.attachWriter(c) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_writer_detach(handle: ?*ipc_chan_t) i32 {
    const c = toChan(handle) catch |err| return result(err);
    chan.detachWriter(c) catch |err| return result(err);
    return abi.ok;
}

pub export fn ipc_chan_writer_word(handle: ?*ipc_chan_t) ?*const u32 {
    const c = toChan(handle) catch return null;
    return c.c.writer.word();
}

pub export fn ipc_chan_unwait(handle: ?*ipc_chan_t, side: u32) i32 {
    const c = toChan(handle) catch |err| return result(err);
    if (side > 1) return abi.code(error.Invalid);
    chan.unwait(c, @enumFromInt(side));
    return abi.ok;
}

test {
    _ = @import("crash.zig");
    _ = heap;
    // The heap's test files import heap.zig, so heap.zig does not import them back.
    _ = @import("heap/heap_test.zig");
    _ = @import("heap/damage_test.zig");
    _ = @import("heap/arena_test.zig");
    _ = chan;
    _ = semaphore;
    _ = event;
    _ = condition;
    _ = barrier;
    _ = rwlock;
    _ = wait;
    _ = mutex;
    _ = waiter;
    _ = abi;
    _ = name_;
    _ = segment;
    _ = tracker;
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
