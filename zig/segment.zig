//! Shared-memory segments: a mapping of a shared file that starts with a versioned header, followed
//! by the user's bytes.
//!
//! Invariants:
//! - Every segment starts with a `Header` written once by its creator before any other process can
//!   reach it (named segments are published by name only after the header is written; anonymous ones
//!   are reachable only through an fd the creator hands out). The header never changes afterwards.
//! - A header read from a file is input, not truth: `validate` checks magic, ABI version, checksum,
//!   layout and size against the file before anything is mapped, and the process keeps its own
//!   validated copy of every field it needs; nothing is re-read from shared memory afterwards.
//! - The process-local `Segment` owns one fd (close-on-exec) and one mapping, both released by
//!   `close`, which is the only way a Segment is freed.
//! - Every name in /dev/shm may have been made by another user. A name is opened only when it is a
//!   regular file (never a FIFO, symlink, socket or device), without blocking or following links,
//!   and the opened file must be the one looked at. A segment owned by another user than the
//!   effective one is refused (error.Owner) unless the caller asks for any owner; the sweep and
//!   `unlinkDead` never even open another user's file.
//! - A name is removed by the sweep, `unlinkDead` or the tracker only when its header is valid, the
//!   file belongs to this user, and the creator the header names (pid, start time, pid namespace) is
//!   dead: never a live process's segment, never a file that is not a libipc segment.

const std = @import("std");
const abi = @import("abi.zig");
const name_ = @import("name.zig");
const platform = @import("platform/root.zig");
const tracker = @import("tracker.zig");
const Error = abi.Error;
const Name = name_.Name;

pub const magic = "libipc\x00\x01".*;

/// The first 128 bytes of every segment. Offsets 0 (magic) and 8 (abi_version) are frozen across all
/// ABI versions, so any libipc can tell a segment of another version from a foreign file.
pub const Header = extern struct {
    magic: [8]u8,
    abi_version: u32,
    kind: u32,
    header_size: u32,
    flags: u32,
    size_bytes: u64,
    creator_pid: i32,
    reserved0: u32,
    creator_start: u64,
    creator_pidns: u64,
    reserved1: u32,
    /// CRC-32 of the bytes before this field.
    checksum: u32,
    /// Room for state later ABI versions keep here; zero in this version.
    reserved2: [64]u8,

    pub const flag_anonymous: u32 = 1 << 0;
    const checksummed_len = @offsetOf(Header, "checksum");

    fn computeChecksum(h: *const Header) u32 {
        return std.hash.Crc32.hash(std.mem.asBytes(h)[0..checksummed_len]);
    }
};

comptime {
    std.debug.assert(@sizeOf(Header) == abi.segment_header_size);
    std.debug.assert(@offsetOf(Header, "abi_version") == 8);
    std.debug.assert(@offsetOf(Header, "checksum") == 60);
}

const live_marker: u32 = 0x5e9_1bc1;

pub const Segment = struct {
    live: u32,
    kind: abi.Kind,
    fd: platform.Fd,
    mapping: [*]align(std.heap.page_size_min) u8,
    mapping_len: usize,
    size: u64,
    creator_pid: i32,
    creator_start: u64,
    name: Name,

    /// The first byte of user data.
    pub fn data(seg: *const Segment) [*]u8 {
        return seg.mapping + abi.segment_header_size;
    }

    pub fn isLive(seg: *const Segment) bool {
        return seg.live == live_marker;
    }
};

pub const Naming = union(enum) {
    anonymous,
    unique,
    named: Name,
};

const allocator = std.heap.c_allocator;
const unique_name_attempts_max = 16;

/// Fills a new segment's user data before any other process can reach it (for segments that hold
/// one object, such as a standalone mutex).
pub const Init = struct {
    context: ?*anyopaque = null,
    run: *const fn (context: ?*anyopaque, data: []u8) Error!void,
};

pub const CreateOptions = struct {
    /// Permission bits of a named segment; 0 for `abi.segment_mode_default`.
    mode: u32 = 0,
    /// Allocate the memory now (fallocate).
    reserve: bool = false,
    /// Register the name with the tracker (which is started if needed). A named segment is also
    /// tracked when the tracker was started with `abi.tracker_all`.
    track: bool = false,
};

/// Creates a segment with `size` bytes of user data, zero-filled, then passed to `init` if given.
pub fn create(naming: Naming, size: u64, options: CreateOptions, kind: abi.Kind, init: ?Init) Error!*Segment {
    const mode = options.mode;
    const reserve = options.reserve;
    if (size == 0) return error.Invalid;
    if (size > abi.segment_size_max) return error.Range;
    if (mode > 0o777) return error.Invalid;
    const anonymous = naming == .anonymous;
    const total = size + abi.segment_header_size;
    if (total > try platform.capacity(anonymous)) return error.NoSpace;
    const stamp = try platform.selfStamp();

    if (naming == .named) {
        // A generated name claims its creator; only that process may create it.
        if (name_.parseGenerated(naming.named.slice())) |creator| {
            if (creator.pid != stamp.pid or creator.start != stamp.start) return error.Invalid;
        }
    }

    // Where an object cannot be named after its creation (Windows), a named segment is created
    // under its name and guarded until `publish` (see platform/windows.zig).
    const name_at_create = @hasDecl(platform.impl, "createNamed") and !anonymous;
    var early_name: Name = .{};
    const fd = if (name_at_create) try createNamed(naming, total, mode, stamp, &early_name) else try platform.createFile(total, if (mode == 0) abi.segment_mode_default else mode, anonymous, reserve);
    errdefer platform.close(fd);
    const mapping = try platform.map(fd, @intCast(total));
    errdefer platform.unmap(mapping, @intCast(total));

    // Where the name exists from the start (macOS, Windows), an opener may map the object before
    // it is ready: the magic is stored last, after `init`, so until then it finds no libipc header
    // (error.Protocol), never a header over unfinished contents.
    const header: *Header = @ptrCast(mapping);
    var filled: Header = .{
        .magic = magic,
        .abi_version = abi.abi_version,
        .kind = @intFromEnum(kind),
        .header_size = abi.segment_header_size,
        .flags = if (anonymous) Header.flag_anonymous else 0,
        .size_bytes = size,
        .creator_pid = stamp.pid,
        .reserved0 = 0,
        .creator_start = stamp.start,
        .creator_pidns = stamp.pidns,
        .reserved1 = 0,
        .checksum = 0,
        .reserved2 = [_]u8{0} ** 64,
    };
    filled.checksum = filled.computeChecksum();
    if (name_at_create) filled.magic = [_]u8{0} ** magic.len;
    header.* = filled;
    if (init) |i| try i.run(i.context, (mapping + abi.segment_header_size)[0..@intCast(size)]);
    if (name_at_create) @atomicStore(u64, @as(*u64, @ptrCast(@alignCast(&header.magic))), std.mem.readInt(u64, &magic, .little), .release);

    // A tracked name is registered before it is published (see tracker.zig).
    const tracked = naming != .anonymous and (options.track or tracker.tracksAll());
    var name: Name = .{};
    var registered = false;
    if (name_at_create) {
        registered = tracked and try tracker.register(early_name);
        try platform.publish(fd, early_name.slice());
        name = early_name;
    } else switch (naming) {
        .anonymous => {},
        .named => |n| {
            registered = tracked and try tracker.register(n);
            platform.publish(fd, n.slice()) catch |err| {
                if (registered) _ = tracker.unregister(n);
                return err;
            };
            name = n;
        },
        .unique => {
            var attempt: u32 = 0;
            while (true) : (attempt += 1) {
                var random: [8]u8 = undefined;
                platform.randomBytes(&random);
                const n = name_.generate(.{ .pid = stamp.pid, .start = stamp.start }, std.mem.readInt(u64, &random, .little));
                registered = tracked and try tracker.register(n);
                if (platform.publish(fd, n.slice())) {
                    name = n;
                    break;
                } else |err| {
                    if (registered) _ = tracker.unregister(n);
                    if (err != error.Exists or attempt + 1 == unique_name_attempts_max) return err;
                }
            }
        },
    }
    errdefer if (name.len > 0) {
        platform.unlinkNamed(name.slice()) catch {};
        if (registered) _ = tracker.unregister(name);
    };

    const seg = allocator.create(Segment) catch return error.NoMemory;
    seg.* = .{
        .live = live_marker,
        .kind = kind,
        .fd = fd,
        .mapping = mapping,
        .mapping_len = @intCast(total),
        .size = size,
        .creator_pid = stamp.pid,
        .creator_start = stamp.start,
        .name = name,
    };
    return seg;
}

/// Creates the section of a named or uniquely named segment under its name (`name_out`), for
/// platforms that name objects only at creation.
fn createNamed(naming: Naming, total: u64, mode: u32, stamp: platform.Stamp, name_out: *Name) Error!platform.Fd {
    switch (naming) {
        .anonymous => unreachable,
        .named => |n| {
            name_out.* = n;
            return createNamedAt(total, n.slice(), mode);
        },
        .unique => {
            var attempt: u32 = 0;
            while (true) : (attempt += 1) {
                var random: [8]u8 = undefined;
                platform.randomBytes(&random);
                const n = name_.generate(.{ .pid = stamp.pid, .start = stamp.start }, std.mem.readInt(u64, &random, .little));
                if (createNamedAt(total, n.slice(), mode)) |fd| {
                    name_out.* = n;
                    return fd;
                } else |err| {
                    if (err != error.Exists or attempt + 1 == unique_name_attempts_max) return err;
                }
            }
        },
    }
}

/// The platform's `createNamed`, given the permission bits where it takes them (macOS; Windows
/// applies none).
fn createNamedAt(total: u64, name: []const u8, mode: u32) Error!platform.Fd {
    const f = platform.impl.createNamed;
    if (@typeInfo(@TypeOf(f)).@"fn".params.len == 3) return f(total, name, if (mode == 0) abi.segment_mode_default else mode);
    return f(total, name);
}

pub const OpenOptions = struct {
    /// Accept a segment owned by another user than this process's effective user.
    any_owner: bool = false,
};

/// Opens the segment called `name`. With `kind` given, a segment of another kind is error.Kind. A
/// name that is not a regular file is error.Protocol and is never read (see `platform.openNamed`);
/// a segment of another user is error.Owner unless `options.any_owner`.
pub fn open(name: Name, kind: ?abi.Kind, options: OpenOptions) Error!*Segment {
    const fd = try platform.openNamed(name.slice());
    errdefer platform.close(fd);
    return attach(fd, name, kind, options);
}

/// Opens the segment behind `fd` (for example one inherited from a parent). The fd is duplicated;
/// the caller keeps and still owns `fd`. The same checks as `open` apply: an fd can come from any
/// process, and what it refers to (another user's file, a FIFO, a device) is input like a name.
pub fn openFd(fd: platform.Fd, kind: ?abi.Kind, options: OpenOptions) Error!*Segment {
    const own = try platform.dup(fd);
    errdefer platform.close(own);
    return attach(own, .{}, kind, options);
}

/// Validates the file and the header in `fd` and maps the segment. Takes ownership of `fd` on
/// success only. The owner and the type are checked before a byte is read.
fn attach(fd: platform.Fd, name: Name, kind: ?abi.Kind, options: OpenOptions) Error!*Segment {
    const info = try platform.fileInfo(fd);
    if (!info.regular) return error.Protocol;
    if (!options.any_owner and info.uid != platform.effectiveUid()) return error.Owner;
    var header: Header = undefined;
    if (info.size < @sizeOf(Header)) return error.Protocol;
    const read = try platform.readAt(fd, std.mem.asBytes(&header), 0);
    if (read < @sizeOf(Header)) return error.Protocol;
    try validate(&header, info.size);
    if (kind) |k| {
        if (header.kind != @intFromEnum(k)) return error.Kind;
    }

    const total: usize = @intCast(header.size_bytes + header.header_size);
    const mapping = try platform.map(fd, total);
    errdefer platform.unmap(mapping, total);
    const seg = allocator.create(Segment) catch return error.NoMemory;
    seg.* = .{
        .live = live_marker,
        .kind = @enumFromInt(header.kind),
        .fd = fd,
        .mapping = mapping,
        .mapping_len = total,
        .size = header.size_bytes,
        .creator_pid = header.creator_pid,
        .creator_start = header.creator_start,
        .name = name,
    };
    return seg;
}

/// Checks a header copied out of a file of `file_size` bytes.
pub fn validate(header: *const Header, file_size: u64) Error!void {
    if (!std.mem.eql(u8, &header.magic, &magic)) return error.Protocol;
    if (header.abi_version != abi.abi_version) return error.Version;
    if (header.checksum != header.computeChecksum()) return error.Protocol;
    if (header.header_size != abi.segment_header_size) return error.Protocol;
    if (header.size_bytes == 0 or header.size_bytes > abi.segment_size_max) return error.Protocol;
    if (header.size_bytes + header.header_size > file_size) return error.Protocol;
}

pub fn close(seg: *Segment) void {
    std.debug.assert(seg.isLive());
    seg.live = 0;
    platform.unmap(seg.mapping, seg.mapping_len);
    platform.close(seg.fd);
    allocator.destroy(seg);
}

/// Removes the name of a libipc segment. Processes that have it open keep using it; the memory is
/// freed when the last of them closes it. A file that is not a libipc segment is left alone. The
/// name is no longer tracked afterwards (nor when it was gone already).
pub fn unlink(name: Name) Error!void {
    unlinkSegment(name) catch |err| {
        if (err == error.NotFound) _ = tracker.unregister(name);
        return err;
    };
    _ = tracker.unregister(name);
}

fn unlinkSegment(name: Name) Error!void {
    const fd = try platform.openNamedRead(name.slice());
    defer platform.close(fd);
    var got: [8]u8 = undefined;
    const read = try platform.readAt(fd, &got, 0);
    if (read < got.len or !std.mem.eql(u8, &got, &magic)) return error.Protocol;
    try platform.unlinkNamed(name.slice());
}

/// A named segment's header, validated, and what the file system says about the file.
pub const Info = struct { header: Header, file: platform.FileInfo };

/// Reads the header of the segment called `name` without mapping it (read access is enough).
/// error.Protocol or error.Version when it is not a libipc segment of this ABI version.
pub fn inspect(name: Name) Error!Info {
    const fd = try platform.openNamedRead(name.slice());
    defer platform.close(fd);
    const file = try platform.fileInfo(fd);
    if (!file.regular or file.size < @sizeOf(Header)) return error.Protocol;
    var header: Header = undefined;
    const read = try platform.readAt(fd, std.mem.asBytes(&header), 0);
    if (read < @sizeOf(Header)) return error.Protocol;
    try validate(&header, file.size);
    return .{ .header = header, .file = file };
}

/// What is known about the creator a header names, seen from this process.
pub fn creatorState(header: *const Header, self: platform.Stamp) u32 {
    if (header.creator_pidns != self.pidns) return abi.creator_unknown;
    return if (platform.processAlive(header.creator_pid, header.creator_start)) abi.creator_alive else abi.creator_dead;
}

/// Removes `name` if it is a libipc segment of this user, made in this pid namespace, whose creator
/// has died — and, with `creator` given, made by exactly that process. Returns whether it did. There
/// is no way to unlink "the file just checked", so a process that unlinks the name and creates a
/// new segment under it between the check and the unlink loses its new name; no live process's
/// segment can be removed otherwise.
pub fn unlinkDead(name: Name, creator: ?platform.Stamp) Error!bool {
    const self = try platform.selfStamp();
    // Another user's file is never opened: its owner could have made it anything, and the sweep
    // runs this for names any user can create. The opened file is checked again by `inspect`
    // (same file, still regular) and its owner once more below.
    const uid = platform.effectiveUid();
    const before = try platform.statNamed(name.slice());
    if (before.uid != uid) return false;
    if (!before.regular) return error.Protocol;
    const info = try inspect(name);
    const h = &info.header;
    if (info.file.uid != uid or info.file.dev != before.dev or info.file.ino != before.ino) return false;
    if (creator) |c| {
        if (h.creator_pid != c.pid or h.creator_start != c.start or h.creator_pidns != c.pidns) return false;
    }
    if (creatorState(h, self) != abi.creator_dead) return false;
    // Where a name lives exactly as long as its segment's last handle (Windows), there is nothing to
    // remove: the name goes with the last process that holds it.
    if (@hasDecl(platform.impl, "names_removable") and !platform.impl.names_removable) return false;
    try platform.unlinkNamed(name.slice());
    return true;
}

/// Removes every generated name whose creator process is dead, and returns how many were removed.
/// Only segments owned by this user and made in this pid namespace are considered: a pid only
/// identifies a process within its namespace.
pub fn sweep() Error!u32 {
    var it = try platform.NameIterator.init();
    defer it.deinit();
    var removed: u32 = 0;
    // Names of one process tend to come together; a live creator is looked up once per run of them.
    var last_live: ?name_.Creator = null;
    while (try it.next()) |entry| {
        // The name tells the creator: a live one costs no open.
        const creator = name_.parseGenerated(entry) orelse continue;
        if (last_live) |l| {
            if (l.pid == creator.pid and l.start == creator.start) continue;
        }
        if (platform.processAlive(creator.pid, creator.start)) {
            last_live = creator;
            continue;
        }
        const name = name_.parse(entry) catch continue;
        if (unlinkDead(name, null) catch false) removed += 1;
    }
    return removed;
}

/// Registers the named segment `name`, which this process must have created, with the tracker.
pub fn track(name: Name) Error!void {
    const info = try inspect(name);
    const self = try platform.selfStamp();
    const h = &info.header;
    if (h.creator_pid != self.pid or h.creator_start != self.start or h.creator_pidns != self.pidns) {
        return error.NotOwner;
    }
    _ = try tracker.register(name);
}

/// Writes the names of the libipc segments in /dev/shm into `buf`, each followed by a NUL, and
/// returns how many bytes that takes: when more than `buf.len`, `buf` holds only whole names that
/// fit and the caller asks again with a larger buffer. A libipc segment is a file that starts with
/// libipc's magic (any ABI version) or carries a generated name; files this user cannot read and
/// that carry no generated name are not listed, nor is anything but a regular file.
pub fn list(buf: []u8) Error!usize {
    var it = try platform.NameIterator.init();
    defer it.deinit();
    var needed: usize = 0;
    var fits = true;
    while (try it.next()) |entry| {
        const name = name_.parse(entry) catch continue;
        // Only regular files can be segments; looking costs no open.
        const file = platform.statNamed(name.slice()) catch continue;
        if (!file.regular) continue;
        if (name_.parseGenerated(name.slice()) == null and !hasMagic(name)) continue;
        const len = name.len + 1;
        fits = fits and needed + len <= buf.len;
        if (fits) @memcpy(buf[needed..][0..len], name.bytes[0..len]);
        needed += len;
    }
    return needed;
}

fn hasMagic(name: Name) bool {
    const fd = platform.openNamedRead(name.slice()) catch return false;
    defer platform.close(fd);
    var got: [8]u8 = undefined;
    const read = platform.readAt(fd, &got, 0) catch return false;
    return read == got.len and std.mem.eql(u8, &got, &magic);
}

const testing = std.testing;

test "create, open by name, see each other's writes, unlink" {
    const n = try name_.parse("ipctest-zig-segment");
    platform.unlinkNamed(n.slice()) catch {};
    const a = try create(.{ .named = n }, 1000, .{}, .segment, null);
    defer close(a);
    try testing.expectEqual(@as(u64, 1000), a.size);
    try testing.expectEqual(@as(u8, 0), a.data()[999]);
    a.data()[0] = 42;
    const b = try open(n, .segment, .{});
    defer close(b);
    try testing.expectEqual(@as(u8, 42), b.data()[0]);
    b.data()[999] = 7;
    try testing.expectEqual(@as(u8, 7), a.data()[999]);
    try testing.expectError(error.Exists, create(.{ .named = n }, 10, .{}, .segment, null));
    try unlink(n);
    try testing.expectError(error.NotFound, open(n, null, .{}));
}

test "anonymous segments are shared through their fd" {
    const a = try create(.anonymous, 64, .{}, .segment, null);
    defer close(a);
    try testing.expectEqual(@as(usize, 0), a.name.len);
    const b = try openFd(a.fd, .segment, .{});
    defer close(b);
    a.data()[63] = 9;
    try testing.expectEqual(@as(u8, 9), b.data()[63]);
    try testing.expectError(error.Kind, openFd(a.fd, @enumFromInt(99), .{}));
}

test "bad sizes and modes are refused" {
    try testing.expectError(error.Invalid, create(.anonymous, 0, .{}, .segment, null));
    try testing.expectError(error.Range, create(.anonymous, abi.segment_size_max + 1, .{}, .segment, null));
    try testing.expectError(error.NoSpace, create(.unique, abi.segment_size_max, .{}, .segment, null));
    try testing.expectError(error.Invalid, create(.unique, 10, .{ .mode = 0o1777 }, .segment, null));
}

test "a damaged header is refused" {
    var h: Header = undefined;
    const s = try create(.anonymous, 16, .{}, .segment, null);
    defer close(s);
    h = @as(*const Header, @ptrCast(s.mapping)).*;
    try validate(&h, 144);
    try testing.expectError(error.Protocol, validate(&h, 143));
    var bad = h;
    bad.magic[0] = 'X';
    try testing.expectError(error.Protocol, validate(&bad, 144));
    bad = h;
    bad.abi_version += 1;
    try testing.expectError(error.Version, validate(&bad, 144));
    bad = h;
    bad.size_bytes += 1;
    try testing.expectError(error.Protocol, validate(&bad, 1 << 20));
}

test "generated names belong to their creator, and a live creator's segment survives a sweep" {
    const s = try create(.unique, 16, .{}, .segment, null);
    defer close(s);
    const creator = name_.parseGenerated(s.name.slice()).?;
    const self = try platform.selfStamp();
    try testing.expectEqual(self.pid, creator.pid);
    // A live creator's segment survives a sweep.
    _ = try sweep();
    const again = try open(s.name, null, .{});
    close(again);
    try unlink(s.name);
    // Another process's generated name cannot be created here.
    const foreign = name_.generate(.{ .pid = self.pid, .start = self.start + 1 }, 1);
    try testing.expectError(error.Invalid, create(.{ .named = foreign }, 16, .{}, .segment, null));
}

test "a FIFO, a symlink or another user's file under a name is refused, never opened blocking" {
    const linux = std.os.linux;
    const fifo = try name_.parse("ipctest-zig-fifo");
    const link = try name_.parse("ipctest-zig-link");
    const target = try name_.parse("ipctest-zig-target");
    for ([_]Name{ fifo, link, target }) |n| platform.unlinkNamed(n.slice()) catch {};
    try testing.expectEqual(@as(usize, 0), linux.mknod("/dev/shm/ipctest-zig-fifo", linux.S.IFIFO | 0o666, 0));
    defer platform.unlinkNamed(fifo.slice()) catch {};
    // Each of these hung in a read-only open of the FIFO before opens were non-blocking.
    try testing.expectError(error.Protocol, open(fifo, null, .{}));
    try testing.expectError(error.Protocol, inspect(fifo));
    try testing.expectError(error.Protocol, unlink(fifo));
    try testing.expectError(error.Protocol, unlinkDead(fifo, null));
    var buf: [1 << 16]u8 = undefined;
    const listed = buf[0..try list(&buf)];
    try testing.expect(std.mem.indexOf(u8, listed, "/ipctest-zig-fifo\x00") == null);

    const seg = try create(.{ .named = target }, 16, .{}, .segment, null);
    defer close(seg);
    defer platform.unlinkNamed(target.slice()) catch {};
    try testing.expectEqual(@as(usize, 0), linux.symlink("/dev/shm/ipctest-zig-target", "/dev/shm/ipctest-zig-link"));
    defer platform.unlinkNamed(link.slice()) catch {};
    try testing.expectError(error.Protocol, open(link, null, .{}));
    try testing.expectError(error.Protocol, inspect(link));

    // Another user's segment: refused unless any owner is accepted; unlinkDead keeps it.
    if (platform.effectiveUid() != 0) return;
    try testing.expectEqual(@as(usize, 0), linux.fchown(seg.fd, 65534, 65534));
    try testing.expectError(error.Owner, open(target, null, .{}));
    try testing.expectError(error.Owner, openFd(seg.fd, null, .{}));
    const any = try open(target, .segment, .{ .any_owner = true });
    close(any);
    try testing.expectEqual(@as(u32, 65534), (try inspect(target)).file.uid);
    try testing.expectEqual(false, try unlinkDead(target, null));
}
