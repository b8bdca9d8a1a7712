//! Names of shared objects (the Haskell seed's SONames): validation, canonical form, and the
//! generated names that carry their creator's identity.
//!
//! A name is an optional leading '/' followed by 1 to 30 characters from [A-Za-z0-9._-], the first of
//! which is not '.' or '-'. The canonical form has the leading '/' and is at most `abi.name_max` (31)
//! bytes, the macOS limit, so the same name works on every system libipc targets.
//!
//! Generated names look like "/ipc.<pid>.<start>.<random>" with base-36 fields: the creator's pid and
//! process start time let a sweep tell whether the creator is still alive. The prefix "ipc." is
//! reserved for them: a name with that prefix is valid only if it parses as a generated name.

const std = @import("std");
const abi = @import("abi.zig");
const Error = abi.Error;

pub const generated_prefix = "/ipc.";

/// A canonical name stored inline: `len` bytes of `bytes` are the name, followed by a NUL.
pub const Name = struct {
    bytes: [abi.name_max + 1]u8 = [_]u8{0} ** (abi.name_max + 1),
    len: u8 = 0,

    pub fn slice(n: *const Name) []const u8 {
        return n.bytes[0..n.len];
    }

    pub fn z(n: *const Name) [:0]const u8 {
        return n.bytes[0..n.len :0];
    }
};

fn isNameChar(c: u8, first: bool) bool {
    return switch (c) {
        'A'...'Z', 'a'...'z', '0'...'9', '_' => true,
        '.', '-' => !first,
        else => false,
    };
}

/// Validates `raw` and returns its canonical form.
pub fn parse(raw: []const u8) Error!Name {
    const body = if (raw.len > 0 and raw[0] == '/') raw[1..] else raw;
    if (body.len == 0) return error.Invalid;
    if (body.len + 1 > abi.name_max) return error.NameTooLong;
    for (body, 0..) |c, i| {
        if (!isNameChar(c, i == 0)) return error.Invalid;
    }
    var name: Name = .{};
    name.bytes[0] = '/';
    @memcpy(name.bytes[1..][0..body.len], body);
    name.len = @intCast(body.len + 1);
    if (std.mem.startsWith(u8, name.slice(), generated_prefix) and parseGenerated(name.slice()) == null) {
        return error.Invalid;
    }
    return name;
}

/// Parses a NUL-terminated C string, reading at most `abi.name_max + 2` bytes of it so that an
/// unterminated or huge string is reported as too long rather than read to its end.
pub fn parseC(raw: [*:0]const u8) Error!Name {
    var len: usize = 0;
    while (raw[len] != 0) : (len += 1) {
        if (len > abi.name_max + 1) return error.NameTooLong;
    }
    return parse(raw[0..len]);
}

pub const Creator = struct { pid: i32, start: u64 };

/// The creator encoded in a generated name, or null if `name` (canonical) is not a generated name.
pub fn parseGenerated(name: []const u8) ?Creator {
    if (!std.mem.startsWith(u8, name, generated_prefix)) return null;
    var fields = std.mem.splitScalar(u8, name[generated_prefix.len..], '.');
    const pid_text = fields.next() orelse return null;
    const start_text = fields.next() orelse return null;
    const random_text = fields.next() orelse return null;
    if (fields.next() != null) return null;
    if (random_text.len == 0) return null;
    for (random_text) |c| {
        if (std.fmt.charToDigit(c, 36) catch null == null or std.ascii.isUpper(c)) return null;
    }
    const pid = parseBase36(i32, pid_text) orelse return null;
    if (pid <= 0) return null;
    const start = parseBase36(u64, start_text) orelse return null;
    return .{ .pid = pid, .start = start };
}

fn parseBase36(comptime T: type, text: []const u8) ?T {
    if (text.len == 0 or text.len > 13) return null;
    for (text) |c| {
        if (std.ascii.isUpper(c)) return null;
    }
    return std.fmt.parseInt(T, text, 36) catch null;
}

/// A fresh generated name for the process `creator`: "/ipc.<pid>.<start>.<8 random chars>".
pub fn generate(creator: Creator, random: u64) Name {
    var name: Name = .{};
    var random_chars: [8]u8 = undefined;
    var r = random;
    for (&random_chars) |*c| {
        c.* = std.fmt.digitToChar(@intCast(r % 36), .lower);
        r /= 36;
    }
    const text = std.fmt.bufPrint(&name.bytes, "{s}{s}.{s}.{s}", .{
        generated_prefix,
        base36(@intCast(creator.pid)).slice(),
        base36(creator.start).slice(),
        random_chars[0..],
    }) catch unreachable;
    name.len = @intCast(text.len);
    std.debug.assert(name.len <= abi.name_max);
    return name;
}

const Base36 = struct {
    buf: [13]u8 = undefined,
    start: u8 = 13,
    fn slice(b: *const Base36) []const u8 {
        return b.buf[b.start..];
    }
};

fn base36(value: u64) Base36 {
    var out: Base36 = .{};
    var v = value;
    while (true) {
        out.start -= 1;
        out.buf[out.start] = std.fmt.digitToChar(@intCast(v % 36), .lower);
        v /= 36;
        if (v == 0) break;
    }
    return out;
}

comptime {
    // The longest generated name fits: pid < 2^22 (Linux's pid_max limit) is 5 base-36 digits and a
    // start time below 36^8 clock ticks (about 890 years at 100 Hz) is 8 digits.
    std.debug.assert(generated_prefix.len + 5 + 1 + 8 + 1 + 8 <= abi.name_max);
}

test "parse accepts valid names and canonicalizes the leading slash" {
    try std.testing.expectEqualStrings("/a", (try parse("a")).slice());
    try std.testing.expectEqualStrings("/a", (try parse("/a")).slice());
    try std.testing.expectEqualStrings("/My_seg-1.x", (try parse("My_seg-1.x")).slice());
    const longest = "/" ++ "a" ** 30;
    try std.testing.expectEqualStrings(longest, (try parse(longest)).slice());
}

test "parse rejects bad names with specific errors" {
    try std.testing.expectError(error.Invalid, parse(""));
    try std.testing.expectError(error.Invalid, parse("/"));
    try std.testing.expectError(error.NameTooLong, parse("a" ** 31));
    try std.testing.expectError(error.NameTooLong, parse("/" ++ "a" ** 31));
    try std.testing.expectError(error.Invalid, parse("a/b"));
    try std.testing.expectError(error.Invalid, parse("//a"));
    try std.testing.expectError(error.Invalid, parse("caf\xc3\xa9"));
    try std.testing.expectError(error.Invalid, parse("."));
    try std.testing.expectError(error.Invalid, parse(".."));
    try std.testing.expectError(error.Invalid, parse(".hidden"));
    try std.testing.expectError(error.Invalid, parse("-x"));
    try std.testing.expectError(error.Invalid, parse("a b"));
    try std.testing.expectError(error.Invalid, parse("ipc.not-generated"));
}

test "generated names round-trip and stay within the limit" {
    const creator: Creator = .{ .pid = 4194303, .start = 36 * 36 * 36 * 36 * 36 * 36 * 36 * 36 - 1 };
    const name = generate(creator, std.math.maxInt(u64));
    try std.testing.expect(name.len <= abi.name_max);
    const parsed = parseGenerated(name.slice()).?;
    try std.testing.expectEqual(creator, parsed);
    _ = try parse(name.slice());
    try std.testing.expect(parseGenerated("/ipc.1.2") == null);
    try std.testing.expect(parseGenerated("/ipc.1.2.abc.d") == null);
    try std.testing.expect(parseGenerated("/ipc.0.2.abc") == null);
    try std.testing.expect(parseGenerated("/ipc.A.2.abc") == null);
    try std.testing.expect(parseGenerated("/other") == null);
}

test "parseC stops reading at the limit" {
    const long: [*:0]const u8 = "a" ** 200;
    try std.testing.expectError(error.NameTooLong, parseC(long));
    try std.testing.expectEqualStrings("/ok", (try parseC("ok")).slice());
}
