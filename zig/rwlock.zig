//! The readers-writer lock: many readers or one writer, robust against the death of either, and
//! writer-preferring so that a stream of readers cannot starve a writer.
//!
//! Layout (2176 bytes, 64-byte aligned): a header line, a writer mutex, and `slots_count` reader
//! slots, each a robust mutex on its own cache line. A reader takes one free slot (starting at
//! `tid % slots_count`, so readers on different threads touch different lines) and then checks that
//! no writer holds the writer mutex, backing off if one does; a writer takes the writer mutex, which
//! stops new readers, then waits until every slot is free (the readers inside have left). Reader and
//! writer each take their lock before looking at the other's (a Dekker handshake).
//! Every lock involved is a kernel-robust mutex (mutex.zig), so:
//! - a reader that dies releases its slot at once; its slot comes back OWNER_DIED to the next taker,
//!   which repairs it internally (a slot guards nothing: readers do not write);
//! - a writer that dies releases the writer mutex; the next taker of the writer mutex
//!   (a writer, or a reader that sees the dead writer's word) sets the `owner_died` flag if the dead
//!   writer held the whole write lock (`writing`), and every acquisition reports OWNER_DIED until a
//!   writer repairs the data and calls `consistent`. That taker sets the flag before it clears
//!   `writing`, so a taker that dies in between leaves the report for the next. A writer that dies while still waiting for
//!   readers wrote nothing: its part is released and nobody is told.
//! Nothing here polls or waits for a timeout to learn of a death.
//!
//! Readers park on the writer mutex's word (marked FUTEX_WAITERS, so glibc's unlock and the kernel's
//! owner-death handling wake one) and are counted in `readers_waiting`, so that a writer's unlock
//! wakes them all; readers that find all slots taken park on `slot_free`, which a read unlock bumps
//! while any wait there. Only a writer (one at a time: it holds the writer mutex) parks on a slot's
//! word, where glibc's unlock and the kernel wake one waiter. A reader waiting for a slot whose
//! holder dies is not woken by that death, only by the next read unlock or its timeout. Locks belong to the thread that took them. Read locks may be taken more than once
//! by a thread (each takes a slot) but not while a writer waits: that deadlocks, as with pthreads.
//! At most `slots_count` read locks are held at once; more readers wait for a slot.

const std = @import("std");
const builtin = @import("builtin");
const abi = @import("abi.zig");
const platform = @import("platform/root.zig");
const wait = @import("wait.zig");
const mutex = @import("mutex.zig");
const rm = platform.robust_mutex;
const Error = abi.Error;
const Acquired = mutex.Acquired;

pub const magic: u32 = 0x4c57_5249; // "IRWL" little-endian
pub const slots_count: u32 = 32;
pub const alignment: u32 = 64;
pub const size: u32 = 64 * (2 + slots_count);

const flag_owner_died: u32 = 1;

pub const RwLock = extern struct {
    magic: u32,
    slots: u32,
    flags: u32,
    readers_waiting: u32,
    /// 1 while a writer holds the whole write lock (not while it is still waiting for readers):
    /// only a writer that dies then can have left the data half-written.
    writing: u32,
    /// Bumped by a read unlock while readers wait for a free slot (all 32 taken); they park on it.
    slot_free: wait.WaitWord,
    padding: [36]u8,
    writer: mutex.Mutex,
    slot: [slots_count]mutex.Mutex,
};

comptime {
    std.debug.assert(@sizeOf(RwLock) == size);
    std.debug.assert(@offsetOf(RwLock, "writer") == 64);
}

pub fn init(rw: *RwLock) Error!void {
    @atomicStore(u32, &rw.magic, 0, .release);
    rw.slots = slots_count;
    rw.flags = 0;
    rw.readers_waiting = 0;
    rw.writing = 0;
    rw.slot_free = .{ .value = 0, .waiters = 0 };
    @memset(&rw.padding, 0);
    try mutex.init(&rw.writer);
    for (&rw.slot) |*s| try mutex.init(s);
    @atomicStore(u32, &rw.magic, magic, .release);
}

/// The per-call check: header and writer mutex.
pub fn validate(rw: *RwLock) Error!void {
    if (@atomicLoad(u32, &rw.magic, .acquire) != magic) return error.Protocol;
    if (rw.slots != slots_count) return error.Protocol;
    try mutex.validate(&rw.writer);
}

/// The check made once when a process first uses a lock another initialized: every slot too.
pub fn validateAll(rw: *RwLock) Error!void {
    try validate(rw);
    for (&rw.slot) |*s| try mutex.validate(s);
}

fn state(rw: *const RwLock) Acquired {
    return if (@atomicLoad(u32, &rw.flags, .seq_cst) & flag_owner_died != 0) .owner_died else .locked;
}

fn writerWord(rw: *RwLock) u32 {
    return @atomicLoad(u32, rw.writer.word(), .seq_cst);
}

fn writerHeld(rw: *RwLock) bool {
    return writerWord(rw) & rm.tid_mask != 0;
}

fn homeSlot() u32 {
    return rm.currentTid() % slots_count;
}

/// Called by whoever takes the writer mutex. A previous holder that died while writing leaves the
/// data suspect; one that died while still waiting for readers wrote nothing.
/// The flag is set before `writing` is cleared: a taker killed between the two stores leaves both
/// set (the next taker sets the flag again, harmlessly), never `writing` clear without the flag,
/// which would lose the report for good.
fn tookWriter(rw: *RwLock, got: Acquired) Error!void {
    if (got == .owner_died) {
        if (@atomicLoad(u32, &rw.writing, .seq_cst) != 0) {
            _ = @atomicRmw(u32, &rw.flags, .Or, flag_owner_died, .seq_cst);
            @import("crash.zig").point(.rwlock_recover_flagged);
            if (builtin.is_test) if (took_writer_hook) |hook| hook();
            @atomicStore(u32, &rw.writing, 0, .seq_cst);
        }
        try mutex.consistent(&rw.writer);
    }
}

/// Unit tests only: runs in `tookWriter` between its two stores, where a test ends the thread as a
/// SIGKILL would end a process.
threadlocal var took_writer_hook: if (builtin.is_test) ?*const fn () void else void = if (builtin.is_test) null else {};

/// The caller now holds the writer mutex and every slot.
fn startWriting(rw: *RwLock) Acquired {
    @atomicStore(u32, &rw.writing, 1, .seq_cst);
    @import("crash.zig").point(.rwlock_write_take_writing);
    return state(rw);
}

fn wakeReaders(rw: *RwLock) void {
    if (@atomicLoad(u32, &rw.readers_waiting, .seq_cst) != 0) _ = wait.wake(rw.writer.word(), std.math.maxInt(u32));
}

/// A reader found the writer mutex released by a dead writer: take it, mark the data suspect if the
/// writer was writing, and let everyone go on.
fn recover(rw: *RwLock) Error!void {
    const got = mutex.tryLock(&rw.writer) catch |err| switch (err) {
        error.Busy => return,
        else => return err,
    };
    try tookWriter(rw, got);
    try releaseWrite(rw);
}

fn writerDead(w: u32) bool {
    return w & rm.tid_mask == 0 and w & rm.owner_died_bit != 0;
}

const Attempt = union(enum) {
    acquired: Acquired,
    /// A writer holds or waits for the lock (or one died and is being recovered).
    writer,
    /// Every slot is taken.
    full,
};

fn attemptRead(rw: *RwLock) Error!Attempt {
    if (writerDead(writerWord(rw))) try recover(rw);
    if (writerHeld(rw)) {
        if (mutex.heldByCaller(&rw.writer)) return error.Deadlock;
        return .writer;
    }
    const start = homeSlot();
    for (0..slots_count) |i| {
        const s = &rw.slot[(start + i) % slots_count];
        const got = mutex.tryLock(s) catch |err| switch (err) {
            error.Busy, error.Deadlock => continue,
            else => return err,
        };
        if (got == .owner_died) try mutex.consistent(s);
        @import("crash.zig").point(.rwlock_read_take_slot);
        handshakeFence(s);
        const w = writerWord(rw);
        if (w & rm.tid_mask != 0 or writerDead(w)) {
            // A writer came in meanwhile (it may be waiting for this slot), or died writing and
            // nobody has marked the data suspect yet: back off; the next attempt recovers.
            try releaseSlot(rw, s);
            return .writer;
        }
        return .{ .acquired = state(rw) };
    }
    return .full;
}

pub fn tryRead(rw: *RwLock) Error!?Acquired {
    return switch (try attemptRead(rw)) {
        .acquired => |a| a,
        .writer, .full => null,
    };
}

pub const Wait = struct { word: *const u32, expected: u32 };
pub const Step = union(enum) { acquired: Acquired, wait: Wait };

/// One step of a read lock whose waiting happens elsewhere. `waited`: the word the previous step
/// said to wait on (that step counted the caller as waiting there), or null on the first step.
/// Readers wait on the writer mutex's word while a writer holds or wants the lock, and on
/// `slot_free` while all slots are taken.
pub fn readStep(rw: *RwLock, waited: ?*const u32) Error!Step {
    if (waited) |w| unwait(rw, w);
    switch (try attemptRead(rw)) {
        .acquired => |a| return .{ .acquired = a },
        .writer => {
            _ = @atomicRmw(u32, &rw.readers_waiting, .Add, 1, .seq_cst);
            const v = mutex.waitValue(&rw.writer) orelse mutex.never_value;
            return .{ .wait = .{ .word = rw.writer.word(), .expected = v } };
        },
        .full => {
            // Count as a slot waiter before trying again, so that an unlock either is seen by
            // this attempt or bumps the word this step returns (a Dekker pair with readUnlock).
            const seen = rw.slot_free.register();
            switch (try attemptRead(rw)) {
                .acquired => |a| {
                    rw.slot_free.unregister();
                    return .{ .acquired = a };
                },
                .writer => {
                    rw.slot_free.unregister();
                    _ = @atomicRmw(u32, &rw.readers_waiting, .Add, 1, .seq_cst);
                    return .{ .wait = .{ .word = rw.writer.word(), .expected = mutex.never_value } };
                },
                .full => return .{ .wait = .{ .word = &rw.slot_free.value, .expected = seen } },
            }
        },
    }
}

/// Ends the waiting count a step left for `waited` (the word it returned).
pub fn unwait(rw: *RwLock, waited: *const u32) void {
    if (waited == &rw.slot_free.value) {
        rw.slot_free.unregister();
    } else {
        _ = @atomicRmw(u32, &rw.readers_waiting, .Sub, 1, .seq_cst);
    }
}

const WriterFree = struct {
    rw: *RwLock,
    fn check(f: WriterFree) bool {
        return !writerHeld(f.rw);
    }
};

pub fn readLock(rw: *RwLock, deadline: wait.Deadline) Error!Acquired {
    if (try tryRead(rw)) |a| return a;
    _ = wait.spinUntil(WriterFree{ .rw = rw }, WriterFree.check, wait.budgetFor(rw.writer.word()), deadline);
    var waited: ?*const u32 = null;
    defer if (waited) |w| unwait(rw, w);
    while (true) {
        const previous = waited;
        waited = null;
        switch (try readStep(rw, previous)) {
            .acquired => |a| return a,
            .wait => |w| {
                waited = w.word;
                if (deadline.passed(platform.monotonicNs())) return error.TimedOut;
                _ = try wait.parkLock(w.word, w.expected, deadline, mutex.reapWord);
            },
        }
    }
}

/// Unlocks a reader slot and lets readers waiting for a free slot try again.
fn releaseSlot(rw: *RwLock, s: *mutex.Mutex) Error!void {
    try mutex.unlock(s);
    @import("crash.zig").point(.rwlock_read_release_unlocked);
    handshakeFence(s);
    if (@atomicLoad(u32, &rw.slot_free.waiters, .seq_cst) != 0) {
        _ = @atomicRmw(u32, &rw.slot_free.value, .Add, 1, .seq_cst);
        _ = wait.wake(&rw.slot_free.value, std.math.maxInt(u32));
    }
}

pub fn readUnlock(rw: *RwLock) Error!void {
    if (mutex.heldByCaller(&rw.writer)) return error.NotOwner;
    const tid = rm.currentTid();
    const start = tid % slots_count;
    for (0..slots_count) |i| {
        const s = &rw.slot[(start + i) % slots_count];
        if (mutex.holder(s) == tid) return releaseSlot(rw, s);
    }
    return error.NotOwner;
}

/// Releases the writer mutex (after a write lock, or a write lock given up part way).
fn releaseWrite(rw: *RwLock) Error!void {
    try mutex.unlock(&rw.writer);
    wakeReaders(rw);
}

/// Gives up a write lock being acquired step by step (timeout, cancel).
pub fn abandonWrite(rw: *RwLock) Error!void {
    if (!mutex.heldByCaller(&rw.writer)) return;
    try releaseWrite(rw);
}

/// A write lock may not start while the caller holds the write lock or a read lock: it would wait
/// for itself (no upgrades).
fn checkNotHolding(rw: *RwLock) Error!void {
    if (heldByCaller(rw)) return error.Deadlock;
}

/// Orders the caller's lock-word CAS (done by glibc) before its next load of another lock's word:
/// the reader/writer handshake is a Dekker pair. x86's locked CAS is already a full barrier; on
/// weaker CPUs a seq_cst read-modify-write on the caller's own cache line provides one.
inline fn handshakeFence(m: *mutex.Mutex) void {
    if (comptime builtin.cpu.arch == .x86_64) return;
    _ = @atomicRmw(u32, &m.reserved[0], .Add, 0, .seq_cst);
}

/// The first slot still held by a reader, or null. A slot whose holder died shows no owner.
fn busySlot(rw: *RwLock) ?*mutex.Mutex {
    for (&rw.slot) |*s| {
        if (@atomicLoad(u32, s.word(), .seq_cst) & rm.tid_mask != 0) return s;
    }
    return null;
}

const SlotFree = struct {
    s: *mutex.Mutex,
    fn check(f: SlotFree) bool {
        return mutex.holder(f.s) == 0;
    }
};

pub fn writeLock(rw: *RwLock, deadline: wait.Deadline) Error!Acquired {
    try checkNotHolding(rw);
    try tookWriter(rw, try mutex.lock(&rw.writer, deadline));
    @import("crash.zig").point(.rwlock_write_take_locked);
    handshakeFence(&rw.writer);
    // New readers now back off; wait for the ones inside to leave.
    while (busySlot(rw)) |s| {
        if (wait.spinUntil(SlotFree{ .s = s }, SlotFree.check, wait.budgetFor(s.word()), deadline)) continue;
        const v = mutex.waitValue(s) orelse continue;
        if (deadline.passed(platform.monotonicNs())) {
            abandonWrite(rw) catch {};
            return error.TimedOut;
        }
        _ = wait.parkLock(s.word(), v, deadline, mutex.reapWord) catch |err| {
            abandonWrite(rw) catch {};
            return err;
        };
    }
    return startWriting(rw);
}

pub fn tryWrite(rw: *RwLock) Error!?Acquired {
    try checkNotHolding(rw);
    const got = mutex.tryLock(&rw.writer) catch |err| switch (err) {
        error.Busy => return null,
        else => return err,
    };
    try tookWriter(rw, got);
    handshakeFence(&rw.writer);
    if (busySlot(rw) != null) {
        try releaseWrite(rw);
        return null;
    }
    return startWriting(rw);
}

/// One step of a write lock whose waiting happens elsewhere. `continuing`: a previous step
/// returned a wait (the caller may then hold the writer mutex already).
pub fn writeStep(rw: *RwLock, continuing: bool) Error!Step {
    if (!continuing) try checkNotHolding(rw);
    if (!mutex.heldByCaller(&rw.writer)) {
        switch (try mutex.lockStep(&rw.writer, continuing)) {
            .acquired => |a| try tookWriter(rw, a),
            .wait => |v| return .{ .wait = .{ .word = rw.writer.word(), .expected = v } },
        }
        handshakeFence(&rw.writer);
    }
    while (busySlot(rw)) |s| {
        const v = mutex.waitValue(s) orelse continue;
        return .{ .wait = .{ .word = s.word(), .expected = v } };
    }
    return .{ .acquired = startWriting(rw) };
}

pub fn writeUnlock(rw: *RwLock) Error!void {
    if (!mutex.heldByCaller(&rw.writer)) return error.NotOwner;
    @atomicStore(u32, &rw.writing, 0, .seq_cst);
    @import("crash.zig").point(.rwlock_write_release_cleared);
    return releaseWrite(rw);
}

/// Declares the data repaired after a writer died; the caller must hold the write lock.
pub fn consistent(rw: *RwLock) Error!void {
    if (!mutex.heldByCaller(&rw.writer)) return error.NotOwner;
    if (state(rw) != .owner_died) return error.Invalid;
    _ = @atomicRmw(u32, &rw.flags, .And, ~flag_owner_died, .seq_cst);
}

/// Whether the calling thread holds a read lock or the write lock.
pub fn heldByCaller(rw: *RwLock) bool {
    if (mutex.heldByCaller(&rw.writer)) return true;
    const tid = rm.currentTid();
    for (&rw.slot) |*s| {
        if (mutex.holder(s) == tid) return true;
    }
    return false;
}

/// Read locks held now (a diagnostic: the count can change as soon as it is read).
pub fn readers(rw: *RwLock) u32 {
    var n: u32 = 0;
    for (&rw.slot) |*s| {
        if (mutex.holder(s) != 0) n += 1;
    }
    return n;
}

const testing = std.testing;

test "readers share, a writer excludes, errors for misuse" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    try validateAll(rw);
    try testing.expectEqual(Acquired.locked, (try tryRead(rw)).?);
    try testing.expectEqual(Acquired.locked, (try tryRead(rw)).?);
    try testing.expectEqual(@as(u32, 2), readers(rw));
    try testing.expectError(error.Deadlock, writeLock(rw, .never));
    try testing.expectError(error.Deadlock, tryWrite(rw));
    try testing.expectEqual(@as(u32, 2), readers(rw));
    try readUnlock(rw);
    try readUnlock(rw);
    try testing.expectError(error.NotOwner, readUnlock(rw));
    try testing.expectEqual(Acquired.locked, try writeLock(rw, .never));
    try testing.expectError(error.Deadlock, tryRead(rw));
    try testing.expectError(error.NotOwner, readUnlock(rw));
    try testing.expectError(error.Invalid, consistent(rw));
    try writeUnlock(rw);
    try testing.expectError(error.NotOwner, writeUnlock(rw));
}

test "a writer waits for a reader thread, then new readers wait for the writer" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    const Reader = struct {
        fn run(r: *RwLock, hold: *std.atomic.Value(u32)) void {
            _ = readLock(r, .never) catch unreachable;
            hold.store(1, .seq_cst);
            while (hold.load(.seq_cst) == 1) std.Thread.sleep(std.time.ns_per_ms);
            readUnlock(r) catch unreachable;
        }
    };
    var hold = std.atomic.Value(u32).init(0);
    const t = try std.Thread.spawn(.{}, Reader.run, .{ rw, &hold });
    while (hold.load(.seq_cst) == 0) std.Thread.sleep(std.time.ns_per_ms);
    try testing.expectError(error.TimedOut, writeLock(rw, wait.Deadline.after(2 * std.time.ns_per_ms)));
    try testing.expect(!writerHeld(rw));
    hold.store(2, .seq_cst);
    _ = try writeLock(rw, wait.Deadline.after(5 * std.time.ns_per_s));
    t.join();
    try writeUnlock(rw);
}

test "more readers than slots and two writers, all with deadlines: nobody waits forever" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    const Worker = struct {
        fn read(r: *RwLock, failures: *std.atomic.Value(u32)) void {
            for (0..100) |_| {
                _ = readLock(r, wait.Deadline.after(20 * std.time.ns_per_s)) catch {
                    _ = failures.fetchAdd(1, .seq_cst);
                    return;
                };
                std.Thread.sleep(20 * std.time.ns_per_us);
                readUnlock(r) catch unreachable;
            }
        }
        fn write(r: *RwLock, failures: *std.atomic.Value(u32)) void {
            for (0..30) |_| {
                _ = writeLock(r, wait.Deadline.after(20 * std.time.ns_per_s)) catch {
                    _ = failures.fetchAdd(1, .seq_cst);
                    return;
                };
                writeUnlock(r) catch unreachable;
            }
        }
    };
    var failures = std.atomic.Value(u32).init(0);
    var threads: [42]std.Thread = undefined;
    for (threads[0..40]) |*t| t.* = try std.Thread.spawn(.{}, Worker.read, .{ rw, &failures });
    for (threads[40..]) |*t| t.* = try std.Thread.spawn(.{}, Worker.write, .{ rw, &failures });
    for (threads) |t| t.join();
    try testing.expectEqual(@as(u32, 0), failures.load(.seq_cst));
    try testing.expectEqual(@as(u32, 0), readers(rw));
}

test "a writer that dies while still waiting for a reader leaves no OWNER_DIED behind" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    _ = try readLock(rw, .never);
    const Writer = struct {
        fn run(r: *RwLock) void {
            // Takes the writer mutex and the free slots, then gives up on the reader's slot.
            std.debug.assert(writeLock(r, wait.Deadline.after(std.time.ns_per_ms)) == error.TimedOut);
            // A thread that ends holding only the writer mutex: as if killed while waiting.
            _ = mutex.lock(&r.writer, .never) catch unreachable;
        }
    };
    const t = try std.Thread.spawn(.{}, Writer.run, .{rw});
    t.join();
    try readUnlock(rw);
    try testing.expectEqual(Acquired.locked, try writeLock(rw, wait.Deadline.after(std.time.ns_per_s)));
    try writeUnlock(rw);
}

test "a dead writer's lock comes back OWNER_DIED until consistent" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    const Writer = struct {
        fn run(r: *RwLock) void {
            _ = writeLock(r, .never) catch unreachable;
        }
    };
    const t = try std.Thread.spawn(.{}, Writer.run, .{rw});
    t.join();
    try testing.expectEqual(Acquired.owner_died, try readLock(rw, wait.Deadline.after(std.time.ns_per_s)));
    try readUnlock(rw);
    try testing.expectEqual(Acquired.owner_died, try writeLock(rw, wait.Deadline.after(std.time.ns_per_s)));
    try consistent(rw);
    try writeUnlock(rw);
    try testing.expectEqual(Acquired.locked, try readLock(rw, .never));
    try readUnlock(rw);
}

extern "c" fn pthread_exit(value: ?*anyopaque) noreturn;

test "a taker that dies while recording a dead writer's report leaves the report for the next" {
    const rw = try testing.allocator.create(RwLock);
    defer testing.allocator.destroy(rw);
    try init(rw);
    const Writer = struct {
        fn die() void {
            pthread_exit(null);
        }
        fn write(r: *RwLock) void {
            _ = writeLock(r, .never) catch unreachable;
        }
        fn recoverAndDie(r: *RwLock) void {
            took_writer_hook = die;
            _ = writeLock(r, .never) catch unreachable;
            unreachable;
        }
    };
    // A writer dies writing; the next writer dies (thread exit: the kernel releases its robust
    // mutexes as it would a killed process's) between the two stores of recording it.
    const t = try std.Thread.spawn(.{}, Writer.write, .{rw});
    t.join();
    const t2 = try std.Thread.spawn(.{}, Writer.recoverAndDie, .{rw});
    t2.join();
    try testing.expectEqual(Acquired.owner_died, try readLock(rw, wait.Deadline.after(std.time.ns_per_s)));
    try readUnlock(rw);
    try testing.expectEqual(Acquired.owner_died, try writeLock(rw, wait.Deadline.after(std.time.ns_per_s)));
    try consistent(rw);
    try writeUnlock(rw);
}
