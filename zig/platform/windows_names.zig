//! The names of this session's libipc sections on Windows (`NameIterator`: what `ipc_segment_list`
//! and the sweep walk). Windows keeps no files for them: a named section is an entry of the
//! session's object directory (`\Sessions\<id>\BaseNamedObjects`, or `\BaseNamedObjects` in session
//! 0: what the `Local\` prefix of windows.zig's names stands for) while its last handle or view
//! lives. So the directory is read with NtQueryDirectoryObject, one entry at a time, and every
//! entry of type "Section" named `libipc-<name>` is yielded as `/<name>`.
//!
//! Entries are input written by any process of the session: names that are not ASCII or too long
//! for a segment name are skipped, never truncated. The wait objects of windows_wait.zig are
//! sections too, but named `libipc!n-…`: the prefix leaves them out. The walk is bounded by
//! `entries_max`.

const std = @import("std");
const windows = std.os.windows;
const abi = @import("../abi.zig");
const w = @import("windows.zig");
const Error = abi.Error;
const HANDLE = windows.HANDLE;
const NTSTATUS = windows.NTSTATUS;

const DIRECTORY_QUERY: u32 = 0x0001;
/// STATUS_NO_MORE_ENTRIES: the walk is over.
const no_more_entries: u32 = 0x8000_001A;
/// The most directory entries one walk reads (a session holds a few hundred named objects).
const entries_max: u32 = 1 << 20;
const prefix = "libipc-";

const DirectoryEntry = extern struct { name: windows.UNICODE_STRING, type_name: windows.UNICODE_STRING };

extern "ntdll" fn NtOpenDirectoryObject(handle: *HANDLE, access: u32, attributes: *windows.OBJECT_ATTRIBUTES) callconv(.winapi) NTSTATUS;
extern "ntdll" fn NtQueryDirectoryObject(handle: HANDLE, buffer: *anyopaque, length: u32, single: windows.BOOLEAN, restart: windows.BOOLEAN, context: *u32, returned: ?*u32) callconv(.winapi) NTSTATUS;
extern "kernel32" fn ProcessIdToSessionId(pid: u32, session: *u32) callconv(.winapi) windows.BOOL;

pub const NameIterator = struct {
    dir: HANDLE,
    context: u32 = 0,
    seen: u32 = 0,
    buf: [2048]u8 align(8) = undefined,
    name: [64]u8 = undefined,

    pub fn init() Error!NameIterator {
        var session: u32 = 0;
        if (ProcessIdToSessionId(w.GetCurrentProcessId(), &session) == 0) return w.lastError();
        var ascii: [64]u8 = undefined;
        const path = if (session == 0)
            "\\BaseNamedObjects"
        else
            std.fmt.bufPrint(&ascii, "\\Sessions\\{d}\\BaseNamedObjects", .{session}) catch unreachable;
        var wide: [64]u16 = undefined;
        for (path, 0..) |c, i| wide[i] = c;
        var ustr: windows.UNICODE_STRING = .{
            .Length = @intCast(path.len * 2),
            .MaximumLength = @intCast(path.len * 2),
            .Buffer = &wide,
        };
        var attributes: windows.OBJECT_ATTRIBUTES = .{
            .Length = @sizeOf(windows.OBJECT_ATTRIBUTES),
            .RootDirectory = null,
            .ObjectName = &ustr,
            .Attributes = 0,
            .SecurityDescriptor = null,
            .SecurityQualityOfService = null,
        };
        var dir: HANDLE = undefined;
        const status = NtOpenDirectoryObject(&dir, DIRECTORY_QUERY, &attributes);
        if (status != .SUCCESS) return if (status == .ACCESS_DENIED) error.Access else error.Io;
        return .{ .dir = dir };
    }

    pub fn deinit(it: *NameIterator) void {
        windows.CloseHandle(it.dir);
    }

    /// The next section named `libipc-<name>`, as `/<name>`, or null at the end. Valid until the
    /// next call.
    pub fn next(it: *NameIterator) Error!?[]const u8 {
        while (it.seen < entries_max) {
            it.seen += 1;
            const status = NtQueryDirectoryObject(it.dir, &it.buf, it.buf.len, 1, @intFromBool(it.seen == 1), &it.context, null);
            if (@intFromEnum(status) == no_more_entries) return null;
            // An entry too long for the buffer is no libipc name: skip it.
            if (status == .BUFFER_TOO_SMALL or status == .BUFFER_OVERFLOW) continue;
            if (status != .SUCCESS) return error.Io;
            const entry: *const DirectoryEntry = @ptrCast(&it.buf);
            if (!equalsAscii(entry.type_name, "Section")) continue;
            if (it.nameOf(entry.name)) |name| return name;
        }
        return null;
    }

    fn nameOf(it: *NameIterator, ustr: windows.UNICODE_STRING) ?[]const u8 {
        const chars = unicodeChars(ustr) orelse return null;
        if (chars.len <= prefix.len or chars.len - prefix.len + 1 > it.name.len) return null;
        for (prefix, 0..) |c, i| if (chars[i] != c) return null;
        it.name[0] = '/';
        for (chars[prefix.len..], 1..) |c, i| {
            if (c == 0 or c > 0x7e) return null;
            it.name[i] = @intCast(c);
        }
        return it.name[0 .. chars.len - prefix.len + 1];
    }
};

fn unicodeChars(ustr: windows.UNICODE_STRING) ?[]const u16 {
    const buffer = ustr.Buffer orelse return null;
    return buffer[0 .. ustr.Length / 2];
}

fn equalsAscii(ustr: windows.UNICODE_STRING, text: []const u8) bool {
    const chars = unicodeChars(ustr) orelse return false;
    if (chars.len != text.len) return false;
    for (text, chars) |c, u| if (u != c) return false;
    return true;
}

test "the session's libipc sections are listed by name, and a closed one is gone" {
    var name_buf: [32]u8 = undefined;
    const name = try std.fmt.bufPrint(&name_buf, "/wlist-{d}", .{w.GetCurrentProcessId()});
    const fd = try w.createNamed(8192, name);
    try w.publish(fd, name);
    var found = false;
    {
        var it = try NameIterator.init();
        defer it.deinit();
        while (try it.next()) |n| found = found or std.mem.eql(u8, n, name);
    }
    try std.testing.expect(found);
    w.close(fd);
    found = false;
    var it = try NameIterator.init();
    defer it.deinit();
    while (try it.next()) |n| found = found or std.mem.eql(u8, n, name);
    try std.testing.expect(!found);
}
