//! The facts of the C ABI, each stated once: the library version, the ABI version stored in every
//! segment header, the result codes with their names and texts, object kinds, and limits.
//!
//! Invariants: result code values never change once released and are the same on every OS (they are
//! our own numbers, not errno values); every code has a distinct value, name and text; ipc.h repeats
//! these values and zig/ipc_h_test.zig fails when it drifts.

const std = @import("std");

pub const version_major: u32 = 0;
pub const version_minor: u32 = 1;
pub const version_patch: u32 = 0;
pub const version: u32 = (version_major << 16) | (version_minor << 8) | version_patch;
pub const version_string = std.fmt.comptimePrint("{d}.{d}.{d}", .{ version_major, version_minor, version_patch });

/// Stored in every segment header; a process only attaches to segments of its own ABI version.
/// Bump it whenever the layout of anything placed in shared memory changes.
pub const abi_version: u32 = 1;

/// Internal error set. Every error a public function can return is one of these, and `code` maps it
/// to the ABI's result code through the table below.
pub const Error = error{
    Invalid,
    NoMemory,
    NoSpace,
    Exists,
    NotFound,
    Access,
    NameTooLong,
    Protocol,
    Version,
    Range,
    Align,
    NotSupported,
    TooManyFiles,
    Closed,
    TimedOut,
    Canceled,
    Busy,
    NotOwner,
    Deadlock,
    NotRecoverable,
    Broken,
    Io,
    Kind,
    Pipe,
    Ended,
    Owner,
    Interrupted,
    NoHelper,
};

pub const Code = struct {
    value: i32,
    name: [:0]const u8,
    text: [:0]const u8,
    err: ?Error,
};

/// The one table of result codes. ipc.h declares `IPC_<name>` with the same value for each row.
pub const codes = [_]Code{
    .{ .value = 0, .name = "OK", .text = "success", .err = null },
    .{ .value = 1, .name = "OWNER_DIED", .text = "acquired; the previous owner died while holding it", .err = null },
    .{ .value = -1, .name = "EINVAL", .text = "invalid argument", .err = error.Invalid },
    .{ .value = -2, .name = "ENOMEM", .text = "out of memory or address space", .err = error.NoMemory },
    .{ .value = -3, .name = "ENOSPC", .text = "not enough space: larger than the system allows", .err = error.NoSpace },
    .{ .value = -4, .name = "EEXIST", .text = "already exists", .err = error.Exists },
    .{ .value = -5, .name = "ENOENT", .text = "no such object", .err = error.NotFound },
    .{ .value = -6, .name = "EACCES", .text = "permission denied", .err = error.Access },
    .{ .value = -7, .name = "ENAMETOOLONG", .text = "name too long", .err = error.NameTooLong },
    .{ .value = -8, .name = "EPROTO", .text = "not a libipc object, or its header is corrupt", .err = error.Protocol },
    .{ .value = -9, .name = "EVERSION", .text = "made by a libipc of another ABI version", .err = error.Version },
    .{ .value = -10, .name = "ERANGE", .text = "offset or size out of range", .err = error.Range },
    .{ .value = -11, .name = "EALIGN", .text = "offset not aligned as required", .err = error.Align },
    .{ .value = -12, .name = "ENOTSUP", .text = "not supported on this platform", .err = error.NotSupported },
    .{ .value = -13, .name = "EMFILE", .text = "too many open files", .err = error.TooManyFiles },
    .{ .value = -14, .name = "ECLOSED", .text = "object is closed", .err = error.Closed },
    .{ .value = -15, .name = "ETIMEDOUT", .text = "timed out", .err = error.TimedOut },
    .{ .value = -16, .name = "ECANCELED", .text = "wait canceled", .err = error.Canceled },
    .{ .value = -17, .name = "EBUSY", .text = "busy: would have to wait", .err = error.Busy },
    .{ .value = -18, .name = "EPERM", .text = "not the owner", .err = error.NotOwner },
    .{ .value = -19, .name = "EDEADLK", .text = "already held by the caller", .err = error.Deadlock },
    .{ .value = -20, .name = "ENOTRECOVERABLE", .text = "state not recoverable: an owner died and it was not repaired", .err = error.NotRecoverable },
    .{ .value = -21, .name = "EBROKEN", .text = "broken: another party timed out, aborted or died", .err = error.Broken },
    .{ .value = -22, .name = "EIO", .text = "unexpected operating system error", .err = error.Io },
    .{ .value = -23, .name = "EKIND", .text = "object is of another kind", .err = error.Kind },
    .{ .value = -24, .name = "EPIPE", .text = "closed for sending: the channel was closed", .err = error.Pipe },
    .{ .value = -25, .name = "EOF", .text = "end of channel: closed and drained", .err = error.Ended },
    .{ .value = -26, .name = "EOWNER", .text = "owned by another user (IPC_SEGMENT_ANY_OWNER accepts it)", .err = error.Owner },
    .{ .value = -27, .name = "EINTR", .text = "interrupted by a signal handler", .err = error.Interrupted },
    .{ .value = -28, .name = "ENOHELPER", .text = "the tracker's helper program libipc-tracker was not found (set LIBIPC_TRACKER)", .err = error.NoHelper },
};

pub const ok: i32 = 0;
pub const owner_died: i32 = 1;

pub fn code(err: Error) i32 {
    inline for (codes) |row| {
        if (row.err) |e| {
            if (e == err) return row.value;
        }
    }
    unreachable;
}

pub fn find(value: i32) ?*const Code {
    for (&codes) |*row| {
        if (row.value == value) return row;
    }
    return null;
}

/// Object kinds stored in headers so that a segment or an in-segment object opened as the wrong
/// thing is refused with IPC_EKIND instead of being misread.
pub const Kind = enum(u32) {
    segment = 1,
    /// A segment holding one mutex at the start of its data (`ipc_mutex_create`).
    mutex = 2,
    /// One semaphore at the start of the data (`ipc_sem_create`).
    semaphore = 3,
    /// One event (`ipc_event_create`).
    event = 4,
    /// A mutex at offset 0 and its condition at offset 64 (`ipc_cond_create`).
    condition = 5,
    /// One barrier (`ipc_barrier_create`).
    barrier = 6,
    /// One readers-writer lock (`ipc_rwlock_create`).
    rwlock = 7,
    /// A shared heap (`ipc_heap_create`).
    heap = 8,
    /// One channel: Chan, MVar or Pipe (`ipc_chan_create`).
    chan = 9,
    _,
};

/// Longest name in bytes, counting the leading '/', not counting the terminating NUL. 31 is macOS's
/// PSHMNAMLEN, the smallest limit among the systems libipc targets.
pub const name_max: u32 = 31;
/// Largest user size of a segment: 2^47 bytes (128 TiB), the user address space of x86_64 Linux.
pub const segment_size_max: u64 = 1 << 47;
/// Bytes before the user data in every segment; user data starts at this offset and is aligned to it.
pub const segment_header_size: u32 = 128;

// Segment creation flags.
pub const segment_unique_name: u32 = 1 << 0;
pub const segment_reserve: u32 = 1 << 1;
/// Register the name with this process's tracker (zig/tracker.zig), which removes it once the
/// process has died.
pub const segment_track: u32 = 1 << 2;
pub const segment_create_flags: u32 = segment_unique_name | segment_reserve | segment_track;

// Segment open flags.
/// Accept a segment owned by another user than this process's effective user. Without it such a
/// segment is refused with EOWNER: another user could have pre-created the name (squatting) and can
/// write the segment at will.
pub const segment_any_owner: u32 = 1 << 3;
pub const segment_open_flags: u32 = segment_any_owner;

// Tracker start flags.
/// Track every named object this process creates from now on, as if each had `segment_track`.
pub const tracker_all: u32 = 1 << 0;
pub const tracker_flags: u32 = tracker_all;
/// Most names one process's tracker holds at once.
pub const tracker_names_max: u32 = 1 << 16;

// What `ipc_segment_info` says about a segment's creator.
pub const creator_dead: u32 = 0;
pub const creator_alive: u32 = 1;
/// The creator lived in another pid namespace: its pid means nothing here.
pub const creator_unknown: u32 = 2;

/// Permission bits of a named segment when the caller passes 0.
pub const segment_mode_default: u32 = 0o600;

comptime {
    @setEvalBranchQuota(20_000);
    // Values, names and errors are each distinct.
    for (codes, 0..) |a, i| {
        for (codes[i + 1 ..]) |b| {
            std.debug.assert(a.value != b.value);
            std.debug.assert(!std.mem.eql(u8, a.name, b.name));
            if (a.err != null and b.err != null) std.debug.assert(a.err.? != b.err.?);
        }
    }
    // Every internal error has a code.
    for (@typeInfo(Error).error_set.?) |e| {
        var found = false;
        for (codes) |row| {
            if (row.err) |err| {
                if (std.mem.eql(u8, @errorName(err), e.name)) found = true;
            }
        }
        std.debug.assert(found);
    }
}

test "every error maps to a distinct negative code" {
    inline for (@typeInfo(Error).error_set.?) |e| {
        const value = code(@field(Error, e.name));
        try std.testing.expect(value < 0);
        try std.testing.expect(find(value).?.err.? == @field(Error, e.name));
    }
    try std.testing.expect(find(12345) == null);
}
