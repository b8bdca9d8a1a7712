//! glibc's robust, process-shared, error-checking pthread mutex: the one lock on Linux whose owner's
//! death the kernel reports to the next locker at once (the robust-futex list glibc registers for
//! every thread). libipc must not register a robust list of its own: the kernel keeps one per thread,
//! and replacing glibc's silently breaks every glibc robust mutex of that thread (PROBE.md Q3c).
//!
//! The lock word is the first 32-bit word of the pthread_mutex_t and follows the kernel's robust
//! futex protocol: owner TID | FUTEX_WAITERS | FUTEX_OWNER_DIED. libipc reads it to spin and to wait
//! elsewhere (async waits), and sets FUTEX_WAITERS before waiting so that both glibc's unlock and the
//! kernel's owner-death handling wake a waiter. `selfTest` checks the layout once per process.

const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const abi = @import("../abi.zig");
const Error = abi.Error;

pub const supported = builtin.abi.isGnu();

/// sizeof(pthread_mutex_t) for this target's glibc (40 on x86_64, 48 on aarch64).
pub const size: u32 = @sizeOf(std.c.pthread_mutex_t);
pub const alignment: u32 = @alignOf(std.c.pthread_mutex_t);
/// Identifies the libc whose layout a mutex in shared memory uses; peers of another libc refuse it.
pub const layout_tag: u32 = (1 << 16) | size; // 1: glibc

pub const waiters_bit: u32 = 0x8000_0000;
pub const owner_died_bit: u32 = 0x4000_0000;
pub const tid_mask: u32 = 0x3fff_ffff;

const Attr = extern struct { bytes: [16]u8 align(8) = [_]u8{0} ** 16 };
const PTHREAD_MUTEX_ERRORCHECK = 2;
const PTHREAD_PROCESS_SHARED = 1;
const PTHREAD_MUTEX_ROBUST = 1;

extern "c" fn pthread_mutexattr_init(attr: *Attr) c_int;
extern "c" fn pthread_mutexattr_destroy(attr: *Attr) c_int;
extern "c" fn pthread_mutexattr_settype(attr: *Attr, kind: c_int) c_int;
extern "c" fn pthread_mutexattr_setpshared(attr: *Attr, pshared: c_int) c_int;
extern "c" fn pthread_mutexattr_setrobust(attr: *Attr, robust: c_int) c_int;
extern "c" fn pthread_mutex_init(mutex: *anyopaque, attr: *const Attr) c_int;
extern "c" fn pthread_mutex_trylock(mutex: *anyopaque) c_int;
extern "c" fn pthread_mutex_unlock(mutex: *anyopaque) c_int;
extern "c" fn pthread_mutex_consistent(mutex: *anyopaque) c_int;
extern "c" fn pthread_mutex_destroy(mutex: *anyopaque) c_int;

const EBUSY = 16;
const EPERM = 1;
const EDEADLK = 35;
const EOWNERDEAD = 130;
const ENOTRECOVERABLE = 131;

/// Initializes `size` bytes at `memory` (aligned to `alignment`) as an unlocked mutex.
pub fn init(memory: *anyopaque) Error!void {
    var attr: Attr = .{};
    if (pthread_mutexattr_init(&attr) != 0) return error.Io;
    defer _ = pthread_mutexattr_destroy(&attr);
    if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK) != 0) return error.Io;
    if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0) return error.NotSupported;
    if (pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) return error.NotSupported;
    @memset(@as([*]u8, @ptrCast(memory))[0..size], 0);
    if (pthread_mutex_init(memory, &attr) != 0) return error.Io;
}

pub const Acquired = enum { locked, owner_died };

/// Takes the mutex if it is free. error.Busy when another thread holds it, error.Deadlock when the
/// calling thread does, error.NotRecoverable after an owner died and nobody repaired it.
pub inline fn tryLock(memory: *anyopaque) Error!Acquired {
    return switch (pthread_mutex_trylock(memory)) {
        0 => .locked,
        EOWNERDEAD => .owner_died,
        EBUSY => error.Busy,
        EDEADLK => error.Deadlock,
        ENOTRECOVERABLE => {
            releaseUnrecoverable(memory);
            return error.NotRecoverable;
        },
        else => error.Invalid,
    };
}

/// glibc's trylock of a not-recoverable robust mutex takes the lock word and returns
/// ENOTRECOVERABLE without releasing it (it compares the pre-CAS value with its own TID). Left so,
/// the mutex would look held by this thread forever; release the word as glibc's lock does.
noinline fn releaseUnrecoverable(memory: *anyopaque) void {
    const w = word(memory);
    if (@atomicLoad(u32, w, .acquire) & tid_mask != currentTid()) return;
    const old = @atomicRmw(u32, w, .Xchg, 0, .acq_rel);
    if (old & waiters_bit != 0) _ = linux.futex_3arg(w, .{ .cmd = .WAKE, .private = false }, 1);
}

/// Releases the mutex; error.NotOwner unless the calling thread holds it.
pub inline fn unlock(memory: *anyopaque) Error!void {
    return switch (pthread_mutex_unlock(memory)) {
        0 => {},
        EPERM => error.NotOwner,
        else => error.Invalid,
    };
}

/// Marks the state protected by a mutex acquired with `owner_died` as repaired.
pub fn consistent(memory: *anyopaque) Error!void {
    // glibc's only failure is EINVAL: the mutex is not in the owner-died state.
    if (pthread_mutex_consistent(memory) != 0) return error.Invalid;
}

pub fn destroy(memory: *anyopaque) void {
    _ = pthread_mutex_destroy(memory);
}

/// The lock word: the first word of glibc's pthread_mutex_t.
pub fn word(memory: *anyopaque) *u32 {
    return @ptrCast(@alignCast(memory));
}

extern "c" fn pthread_atfork(
    prepare: ?*const fn () callconv(.c) void,
    parent: ?*const fn () callconv(.c) void,
    child: ?*const fn () callconv(.c) void,
) c_int;

/// The calling thread's id, cached per thread: gettid is a system call (~0.2 us on a VM), and the
/// rwlock needs the id on every read lock. A forked child's only thread has a new id, so fork
/// clears the cache (pthread_atfork, registered with the first use).
/// (A child made by a raw clone or fork system call, or by _Fork, runs no atfork handlers: such a
/// child must not use libipc locks its parent's thread has used.)
threadlocal var tid_cache: u32 = 0;
var atfork = std.once(registerAtFork);

fn registerAtFork() void {
    _ = pthread_atfork(null, null, forgetTid);
}

fn forgetTid() callconv(.c) void {
    tid_cache = 0;
    pid_cache = 0;
}

/// This process's id, cached the same way (getpid is a system call too).
var pid_cache: u32 = 0;

pub fn currentPid() u32 {
    const cached = @atomicLoad(u32, &pid_cache, .monotonic);
    if (cached != 0) return cached;
    atfork.call();
    const pid: u32 = @intCast(linux.getpid());
    @atomicStore(u32, &pid_cache, pid, .monotonic);
    return pid;
}

pub fn currentTid() u32 {
    if (tid_cache != 0) return tid_cache;
    atfork.call();
    tid_cache = @intCast(linux.gettid());
    return tid_cache;
}

var self_test_result = std.atomic.Value(u8).init(0); // 0 not run, 1 passed, 2 failed

/// Checks once per process that glibc's lock word is where and what this file assumes: the caller's
/// TID while locked, 0 when unlocked. error.NotSupported otherwise.
pub fn selfTest() Error!void {
    switch (self_test_result.load(.acquire)) {
        1 => return,
        2 => return error.NotSupported,
        else => {},
    }
    if (!supported) return error.NotSupported;
    var storage: std.c.pthread_mutex_t = .{};
    const memory: *anyopaque = @ptrCast(&storage);
    const passed = blk: {
        init(memory) catch break :blk false;
        defer destroy(memory);
        if (@atomicLoad(u32, word(memory), .acquire) != 0) break :blk false;
        _ = tryLock(memory) catch break :blk false;
        const held = @atomicLoad(u32, word(memory), .acquire);
        unlock(memory) catch break :blk false;
        break :blk held == currentTid() and @atomicLoad(u32, word(memory), .acquire) == 0;
    };
    self_test_result.store(if (passed) 1 else 2, .release);
    if (!passed) return error.NotSupported;
}

test "the glibc lock word follows the robust futex protocol" {
    try selfTest();
}

test "trylock, errorcheck and unlock by a non-owner" {
    var storage: std.c.pthread_mutex_t = .{};
    const m: *anyopaque = @ptrCast(&storage);
    try init(m);
    defer destroy(m);
    try std.testing.expectEqual(Acquired.locked, try tryLock(m));
    try std.testing.expectError(error.Deadlock, tryLock(m));
    const Other = struct {
        fn run(mm: *anyopaque, out: *?Error) void {
            unlock(mm) catch |err| {
                out.* = err;
            };
        }
    };
    var other_err: ?Error = null;
    const t = try std.Thread.spawn(.{}, Other.run, .{ m, &other_err });
    t.join();
    try std.testing.expectEqual(@as(?Error, error.NotOwner), other_err);
    try unlock(m);
    try std.testing.expectError(error.NotOwner, unlock(m));
}
