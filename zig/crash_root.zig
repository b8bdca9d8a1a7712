//! The root of the crash-test build of libipc (`zig build crashtest`): the whole library of
//! root.zig with its crash points compiled in (see crash.zig), plus two functions the driver
//! (tests/c/crash.c) uses to list every point, so that a point without a scenario fails the test.
//! Never installed, never exported by libipc.so or libipc.a.

const std = @import("std");
const crash = @import("crash.zig");
const wait = @import("wait.zig");

/// Read by crash.zig through @import("root"): this build holds the crash points.
pub const crash_points = true;

comptime {
    _ = @import("root.zig");
}

const names = blk: {
    const fields = @typeInfo(crash.Point).@"enum".fields;
    var list: [fields.len][*:0]const u8 = undefined;
    for (fields, 0..) |f, i| list[i] = f.name;
    break :blk list;
};

/// How many crash points the library has.
export fn ipc_crash_point_count() u32 {
    return names.len;
}

/// The name of point `index`, or NULL past the last.
export fn ipc_crash_point_name(index: u32) ?[*:0]const u8 {
    if (index >= names.len) return null;
    return names[index];
}

/// How often a parked waiter re-checks its word (wait.recheck_ns), or 0 when parks do not: then a
/// waiter beside a process killed between commit and wake sleeps until its timeout.
export fn ipc_crash_recheck_ns() u64 {
    if (@hasDecl(wait, "recheck_ns")) return wait.recheck_ns;
    return 0;
}
