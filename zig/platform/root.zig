//! The platform layer: the only code that differs between operating systems. Every other file calls
//! the OS through this one. Linux, macOS (macos.zig) and Windows (windows.zig) are implemented; on
//! other systems the same functions exist and fail with error.NotSupported, so the library compiles
//! everywhere and says plainly what it cannot do.
//!
//! The robust mutex's protocol is chosen at build time (`-Dmutex=robust|owner`, build.zig): `robust`
//! links each held lock into the thread's kernel robust list (robust_mutex.zig, Linux with glibc);
//! `owner` records the holder in the lock and lets waiters judge it (owner_mutex.zig: the default
//! on musl and macOS, where no usable kernel list exists). Both offer the same interface.

const builtin = @import("builtin");
const options = @import("build_options");
const Error = @import("../abi.zig").Error;

pub const impl = switch (builtin.os.tag) {
    .linux => @import("linux.zig"),
    .windows => @import("windows.zig"),
    .macos => @import("macos.zig"),
    else => @import("unsupported.zig"),
};

pub const supported = impl.supported;
pub const Fd = impl.Fd;
pub const Stamp = impl.Stamp;
pub const FileInfo = impl.FileInfo;
pub const NameIterator = impl.NameIterator;
pub const WaitWord = impl.WaitWord;
pub const WaitResult = impl.WaitResult;
pub const robust_mutex = switch (options.mutex) {
    .robust => impl.robust_mutex,
    .owner => @import("owner_mutex.zig"),
};

/// Child processes, sockets and fork handlers for the tracker.
pub const process = impl.process;

pub const createFile = impl.createFile;
pub const publish = impl.publish;
pub const openNamed = impl.openNamed;
pub const openNamedRead = impl.openNamedRead;
pub const statNamed = impl.statNamed;
pub const unlinkNamed = impl.unlinkNamed;
pub const dup = impl.dup;
pub const close = impl.close;
/// Makes an fd (POSIX: close-on-exec off) or handle (Windows: HANDLE_FLAG_INHERIT) inheritable by
/// the children this process starts, or not again; error.Invalid for a value that names none.
pub const inherit = impl.inherit;
/// Closes an fd or handle that a caller names (an inherited one, say); unlike `close`, reports a
/// value that names none as error.Invalid.
pub const closeFd = impl.closeFd;
pub const fileInfo = impl.fileInfo;
pub const readAt = impl.readAt;
pub const map = impl.map;
pub const unmap = impl.unmap;
pub const capacity = impl.capacity;
pub const randomBytes = impl.randomBytes;
pub const selfStamp = impl.selfStamp;
pub const processAlive = impl.processAlive;
/// The start time of process `pid` (the `start` of its stamp); error.NotFound when none runs.
pub const startTime = impl.startTime;
pub const effectiveUid = impl.effectiveUid;
pub const runnableThreads = impl.runnableThreads;
pub const monotonicNs = impl.monotonicNs;
pub const futexWaitv = impl.futexWaitv;

/// `futexWaitv` where `words[lock]` (if given) is a robust mutex's lock word: on a platform that can
/// wait for a process's death (Windows: its process handle), the wait also ends (`timed_out`, as a
/// slice's end) when the lock's recorded holder dies, so that the caller's `reapLock` frees it at
/// once. Elsewhere, and with the kernel-list protocol, the plain wait.
pub fn futexWaitvLock(words: []const WaitWord, lock: ?usize, deadline_ns: ?u64) Error!WaitResult {
    if (options.mutex == .owner and @hasDecl(impl, "futexWaitvHolder")) {
        if (lock) |i| {
            const h = robust_mutex.holder(words[i].word);
            return impl.futexWaitvHolder(words, if (h) |x| .{ .pid = x.pid, .start = x.start } else null, deadline_ns);
        }
    }
    return impl.futexWaitv(words, deadline_ns);
}
pub const futexWake = impl.futexWake;

test {
    _ = impl;
    _ = robust_mutex;
}
