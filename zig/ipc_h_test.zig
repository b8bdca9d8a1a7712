//! Checks zig/ipc.h against the implementation (TigerBeetle's header test): the header is translated
//! by Zig's C translator and compared with root.zig and abi.zig.
//!
//! - Every IPC_* constant in the header has exactly the value the implementation uses, and every
//!   result code, flag and limit of the implementation is declared in the header.
//! - Every ipc_* function in the header is exported by root.zig with the same parameter and result
//!   types (sizes, signedness, constness, pointer depth), and every export is declared in the header.

const std = @import("std");
const h = @import("ipc_h");
const lib = @import("libipc");
const abi = lib.abi;

const Constant = struct { name: []const u8, value: i128 };

/// Every constant the header must declare, with its value taken from the implementation.
const expected_constants = blk: {
    var list: []const Constant = &.{
        .{ .name = "IPC_VERSION_MAJOR", .value = abi.version_major },
        .{ .name = "IPC_VERSION_MINOR", .value = abi.version_minor },
        .{ .name = "IPC_VERSION_PATCH", .value = abi.version_patch },
        .{ .name = "IPC_VERSION", .value = abi.version },
        .{ .name = "IPC_ABI_VERSION", .value = abi.abi_version },
        .{ .name = "IPC_NAME_MAX", .value = abi.name_max },
        .{ .name = "IPC_SEGMENT_HEADER_SIZE", .value = @sizeOf(lib.segment.Header) },
        .{ .name = "IPC_SEGMENT_SIZE_MAX", .value = abi.segment_size_max },
        .{ .name = "IPC_SEGMENT_UNIQUE_NAME", .value = abi.segment_unique_name },
        .{ .name = "IPC_SEGMENT_RESERVE", .value = abi.segment_reserve },
        .{ .name = "IPC_SEGMENT_TRACK", .value = abi.segment_track },
        .{ .name = "IPC_SEGMENT_ANY_OWNER", .value = abi.segment_any_owner },
        .{ .name = "IPC_CREATOR_DEAD", .value = abi.creator_dead },
        .{ .name = "IPC_CREATOR_ALIVE", .value = abi.creator_alive },
        .{ .name = "IPC_CREATOR_UNKNOWN", .value = abi.creator_unknown },
        .{ .name = "IPC_TRACKER_ALL", .value = abi.tracker_all },
        .{ .name = "IPC_TRACKER_NAMES_MAX", .value = abi.tracker_names_max },
        .{ .name = "IPC_SPIN_NS_DEFAULT", .value = lib.wait.spin_ns_default },
        .{ .name = "IPC_SPIN_NS_MAX", .value = lib.wait.spin_ns_max },
        .{ .name = "IPC_KIND_SEGMENT", .value = @intFromEnum(abi.Kind.segment) },
        .{ .name = "IPC_KIND_MUTEX", .value = @intFromEnum(abi.Kind.mutex) },
        .{ .name = "IPC_MUTEX_SIZE", .value = lib.mutex.size },
        .{ .name = "IPC_MUTEX_ALIGN", .value = lib.mutex.alignment },
        .{ .name = "IPC_WAITER_SLOTS", .value = lib.waiter.slots_max },
        .{ .name = "IPC_KIND_SEMAPHORE", .value = @intFromEnum(abi.Kind.semaphore) },
        .{ .name = "IPC_KIND_EVENT", .value = @intFromEnum(abi.Kind.event) },
        .{ .name = "IPC_KIND_CONDITION", .value = @intFromEnum(abi.Kind.condition) },
        .{ .name = "IPC_KIND_BARRIER", .value = @intFromEnum(abi.Kind.barrier) },
        .{ .name = "IPC_KIND_RWLOCK", .value = @intFromEnum(abi.Kind.rwlock) },
        .{ .name = "IPC_KIND_HEAP", .value = @intFromEnum(abi.Kind.heap) },
        .{ .name = "IPC_HEAP_ROOTS_MAX", .value = lib.heap.roots_max },
        .{ .name = "IPC_HEAP_OFFSET", .value = lib.heap.data_offset },
        .{ .name = "IPC_HEAP_ALIGNMENT_MAX", .value = lib.heap.alignment_max },
        .{ .name = "IPC_HEAP_BLOCK_OFFSET_MASK", .value = (1 << lib.heap.offset_bits) - 1 },
        .{ .name = "IPC_HEAP_ROOT_NAME_MAX", .value = lib.heap.root_name_max },
        .{ .name = "IPC_HEAP_MISUSE_COUNT", .value = lib.heap.misuse_count },
        .{ .name = "IPC_HEAP_SIZE_MIN", .value = lib.heap.size_min },
        .{ .name = "IPC_HEAP_SIZE_MAX", .value = lib.heap.size_max },
        .{ .name = "IPC_HEAP_MISUSE_ABORT", .value = lib.heap.misuse_abort },
        .{ .name = "IPC_HEAP_ARENAS_MAX", .value = lib.heap.arenas_max },
        .{ .name = "IPC_KIND_CHAN", .value = @intFromEnum(abi.Kind.chan) },
        .{ .name = "IPC_CHAN_HEADER_SIZE", .value = lib.chan.header_size },
        .{ .name = "IPC_CHAN_ALIGN", .value = lib.chan.alignment },
        .{ .name = "IPC_CHAN_CAPACITY_MIN", .value = lib.chan.capacity_min },
        .{ .name = "IPC_CHAN_CAPACITY_MAX", .value = lib.chan.capacity_max },
        .{ .name = "IPC_CHAN_STREAM", .value = lib.chan.flag_stream },
        .{ .name = "IPC_CHAN_SINGLE", .value = lib.chan.flag_single },
        .{ .name = "IPC_CHAN_BATCH_MAX", .value = lib.batch_max },
        .{ .name = "IPC_SEM_SIZE", .value = lib.semaphore.size },
        .{ .name = "IPC_SEM_ALIGN", .value = lib.semaphore.alignment },
        .{ .name = "IPC_SEM_VALUE_MAX", .value = lib.semaphore.value_max },
        .{ .name = "IPC_EVENT_SIZE", .value = lib.event.size },
        .{ .name = "IPC_EVENT_ALIGN", .value = lib.event.alignment },
        .{ .name = "IPC_EVENT_AUTO_RESET", .value = lib.event.flag_auto_reset },
        .{ .name = "IPC_COND_SIZE", .value = lib.condition.size },
        .{ .name = "IPC_COND_ALIGN", .value = lib.condition.alignment },
        .{ .name = "IPC_BARRIER_SIZE", .value = lib.barrier.size },
        .{ .name = "IPC_BARRIER_ALIGN", .value = lib.barrier.alignment },
        .{ .name = "IPC_BARRIER_PARTIES_MAX", .value = lib.barrier.parties_max },
        .{ .name = "IPC_BARRIER_PASSED", .value = lib.barrier_passed },
        .{ .name = "IPC_RWLOCK_SIZE", .value = lib.rwlock.size },
        .{ .name = "IPC_RWLOCK_ALIGN", .value = lib.rwlock.alignment },
        .{ .name = "IPC_RWLOCK_SLOTS", .value = lib.rwlock.slots_count },
    };
    for (abi.codes) |row| {
        list = list ++ [_]Constant{.{ .name = "IPC_" ++ row.name, .value = row.value }};
    }
    break :blk list;
};

/// Names in the header that are not values (include guards).
const ignored = [_][]const u8{"IPC_H"};

fn expectedValue(comptime name: []const u8) ?i128 {
    for (expected_constants) |c| {
        if (std.mem.eql(u8, c.name, name)) return c.value;
    }
    return null;
}

test "every IPC_ constant in ipc.h matches the implementation" {
    @setEvalBranchQuota(100_000);
    comptime var seen: usize = 0;
    inline for (@typeInfo(h).@"struct".decls) |decl| {
        if (comptime !std.mem.startsWith(u8, decl.name, "IPC_")) continue;
        if (comptime isIgnored(decl.name)) continue;
        const want = comptime expectedValue(decl.name) orelse
            @compileError("ipc.h declares " ++ decl.name ++ ", which the implementation does not know");
        const got: i128 = @field(h, decl.name);
        if (got != want) {
            std.debug.print("{s}: ipc.h says {d}, the implementation {d}\n", .{ decl.name, got, want });
            return error.TestUnexpectedResult;
        }
        seen += 1;
    }
    inline for (expected_constants) |c| {
        if (!@hasDecl(h, c.name)) {
            std.debug.print("ipc.h lacks {s}\n", .{c.name});
            return error.TestUnexpectedResult;
        }
    }
    try std.testing.expectEqual(expected_constants.len, seen);
}

fn isIgnored(comptime name: []const u8) bool {
    for (ignored) |i| {
        if (std.mem.eql(u8, i, name)) return true;
    }
    return false;
}

test "every ipc_ function in ipc.h is exported with the same signature, and vice versa" {
    @setEvalBranchQuota(100_000);
    comptime var header_fns: usize = 0;
    inline for (@typeInfo(h).@"struct".decls) |decl| {
        if (comptime !std.mem.startsWith(u8, decl.name, "ipc_")) continue;
        const C = @TypeOf(@field(h, decl.name));
        if (@typeInfo(C) != .@"fn") continue;
        header_fns += 1;
        if (!@hasDecl(lib, decl.name)) {
            std.debug.print("ipc.h declares {s}, which root.zig does not export\n", .{decl.name});
            return error.TestUnexpectedResult;
        }
        const Z = @TypeOf(@field(lib, decl.name));
        try expectSameFn(decl.name, C, Z);
    }
    comptime var exported: usize = 0;
    inline for (@typeInfo(lib).@"struct".decls) |decl| {
        if (comptime !std.mem.startsWith(u8, decl.name, "ipc_")) continue;
        if (@typeInfo(@TypeOf(@field(lib, decl.name))) != .@"fn") continue;
        exported += 1;
        if (!@hasDecl(h, decl.name)) {
            std.debug.print("root.zig exports {s}, which ipc.h does not declare\n", .{decl.name});
            return error.TestUnexpectedResult;
        }
    }
    try std.testing.expectEqual(header_fns, exported);
    try std.testing.expect(exported > 0);
}

test "the header's opaque handle types exist" {
    try std.testing.expect(@typeInfo(h.ipc_segment_t) == .@"opaque");
    try std.testing.expect(@typeInfo(h.ipc_mutex_t) == .@"opaque");
    try std.testing.expect(@typeInfo(h.ipc_waiter_t) == .@"opaque");
    try std.testing.expect(@typeInfo(h.ipc_heap_arena_t) == .@"opaque");
}

test "ipc_segment_info_t has the implementation's fields, offsets and size" {
    try std.testing.expect(comptime compatible(h.ipc_segment_info_t, lib.ipc_segment_info_t));
}

fn expectSameFn(comptime name: []const u8, comptime C: type, comptime Z: type) !void {
    const c = @typeInfo(C).@"fn";
    const z = @typeInfo(Z).@"fn";
    if (!z.calling_convention.eql(std.builtin.CallingConvention.c)) {
        std.debug.print("{s}: not exported with the C calling convention\n", .{name});
        return error.TestUnexpectedResult;
    }
    if (c.params.len != z.params.len) {
        std.debug.print("{s}: ipc.h has {d} parameters, root.zig {d}\n", .{ name, c.params.len, z.params.len });
        return error.TestUnexpectedResult;
    }
    inline for (c.params, z.params, 0..) |cp, zp, i| {
        if (!comptime compatible(cp.type.?, zp.type.?)) {
            std.debug.print("{s}: parameter {d} is {s} in ipc.h but {s} in root.zig\n", .{ name, i, @typeName(cp.type.?), @typeName(zp.type.?) });
            return error.TestUnexpectedResult;
        }
    }
    if (!comptime compatible(c.return_type.?, z.return_type.?)) {
        std.debug.print("{s}: returns {s} in ipc.h but {s} in root.zig\n", .{ name, @typeName(c.return_type.?), @typeName(z.return_type.?) });
        return error.TestUnexpectedResult;
    }
}

/// Whether a type from the translated header and a type from root.zig have the same C meaning.
fn compatible(comptime C: type, comptime Z: type) bool {
    if (C == Z) return true;
    const ci = @typeInfo(C);
    const zi = @typeInfo(Z);
    return switch (ci) {
        .int => |c| zi == .int and zi.int.bits == c.bits and zi.int.signedness == c.signedness,
        .void => zi == .void,
        .@"struct" => |c| blk: {
            if (zi != .@"struct" or zi.@"struct".fields.len != c.fields.len or @sizeOf(C) != @sizeOf(Z)) break :blk false;
            for (c.fields, zi.@"struct".fields) |cf, zf| {
                if (!std.mem.eql(u8, cf.name, zf.name) or !compatible(cf.type, zf.type)) break :blk false;
                if (@offsetOf(C, cf.name) != @offsetOf(Z, zf.name)) break :blk false;
            }
            break :blk true;
        },
        .@"fn" => |c| blk: {
            if (zi != .@"fn" or zi.@"fn".params.len != c.params.len) break :blk false;
            if (!zi.@"fn".calling_convention.eql(std.builtin.CallingConvention.c)) break :blk false;
            for (c.params, zi.@"fn".params) |cp, zp| {
                if (!compatible(cp.type.?, zp.type.?)) break :blk false;
            }
            break :blk compatible(c.return_type.?, zi.@"fn".return_type.?);
        },
        .pointer, .optional => {
            const cp = pointerInfo(C) orelse return false;
            const zp = pointerInfo(Z) orelse return false;
            if (cp.is_const != zp.is_const) return false;
            if (@typeInfo(cp.child) == .@"opaque" and @typeInfo(zp.child) == .@"opaque") {
                // `void *` is anyopaque on both sides; handle types are opaque structs of the same name.
                if ((cp.child == anyopaque) != (zp.child == anyopaque)) return false;
                return cp.child == anyopaque or std.mem.endsWith(u8, @typeName(zp.child), typeBaseName(cp.child));
            }
            return compatible(cp.child, zp.child);
        },
        else => false,
    };
}

/// "struct_ipc_segment" -> "ipc_segment_t", the name root.zig uses for the same handle.
fn typeBaseName(comptime T: type) []const u8 {
    const full = @typeName(T);
    const base = if (std.mem.lastIndexOfScalar(u8, full, '.')) |dot| full[dot + 1 ..] else full;
    const prefix = "struct_";
    return (if (std.mem.startsWith(u8, base, prefix)) base[prefix.len..] else base) ++ "_t";
}

fn pointerInfo(comptime T: type) ?std.builtin.Type.Pointer {
    return switch (@typeInfo(T)) {
        .pointer => |p| p,
        .optional => |o| switch (@typeInfo(o.child)) {
            .pointer => |p| p,
            else => null,
        },
        else => null,
    };
}
