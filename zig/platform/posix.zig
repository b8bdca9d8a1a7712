//! What Linux and macOS do the same way through POSIX, written once: the errno-to-error mapping, the
//! environment, and the path of the image this code was loaded from (dladdr). Both OS layers use
//! these; nothing here may use a call one of them lacks.
//!
//! Invariants: `fromErrno` is the only place an errno becomes a libipc error on a POSIX system (both
//! errno enums name these cases the same way); `loadedFrom` returns only an absolute path that fit in
//! the caller's buffer, never a truncated one.

const std = @import("std");
const abi = @import("../abi.zig");

const Error = abi.Error;

/// The one mapping from an errno value (Linux's `linux.E` or Darwin's `std.c.E`) to libipc errors.
pub fn fromErrno(e: anytype) Error {
    return switch (e) {
        .INVAL, .BADF, .NOTDIR, .ISDIR, .LOOP => error.Invalid,
        .NOMEM => error.NoMemory,
        .NOSPC, .FBIG, .DQUOT, .OVERFLOW => error.NoSpace,
        .EXIST => error.Exists,
        .NOENT => error.NotFound,
        .ACCES, .PERM, .ROFS, .TXTBSY => error.Access,
        .NAMETOOLONG => error.NameTooLong,
        .MFILE, .NFILE => error.TooManyFiles,
        .NOSYS, .OPNOTSUPP => error.NotSupported,
        .TIMEDOUT => error.TimedOut,
        .BUSY, .AGAIN => error.Busy,
        else => error.Io,
    };
}

/// The value of environment variable `name`, or null.
pub fn getenv(name: [*:0]const u8) ?[]const u8 {
    const value = std.c.getenv(name) orelse return null;
    return std.mem.span(value);
}

const DlInfo = extern struct {
    fname: ?[*:0]const u8,
    fbase: ?*anyopaque,
    sname: ?[*:0]const u8,
    saddr: ?*anyopaque,
};
extern "c" fn dladdr(address: *const anyopaque, info: *DlInfo) c_int;

/// The absolute path dladdr gives for the file this code was loaded from: the shared library, or the
/// program libipc.a was linked into. Written to `buf`; null when dladdr knows no absolute path (a
/// static program is reported by the name it was started with: each OS layer then asks its kernel).
pub fn loadedFrom(buf: []u8) ?[]const u8 {
    var info: DlInfo = undefined;
    if (dladdr(@ptrCast(&loadedFrom), &info) != 0) {
        if (info.fname) |fname| {
            const path = std.mem.span(fname);
            if (path.len > 0 and path[0] == '/' and path.len <= buf.len) {
                @memcpy(buf[0..path.len], path);
                return buf[0..path.len];
            }
        }
    }
    return null;
}
