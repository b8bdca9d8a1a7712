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

/// The C type `ipc_segment_t`: opaque to C, a `segment.Segment` here.
pub const ipc_segment_t = opaque {};

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
    if (flags & ~abi.segment_create_flags != 0) return abi.code(error.Invalid);
    const unique = flags & abi.segment_unique_name != 0;
    const naming: segment.Naming = if (name) |n| blk: {
        if (unique) return abi.code(error.Invalid);
        break :blk .{ .named = name_.parseC(n) catch |err| return result(err) };
    } else if (unique) .unique else .anonymous;
    const seg = segment.create(naming, size_bytes, mode, flags & abi.segment_reserve != 0, .segment) catch |err|
        return result(err);
    out.* = @ptrCast(seg);
    return abi.ok;
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

test {
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
