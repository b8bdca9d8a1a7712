//! Waiting on several 32-bit words at once where the kernel waits on one word at a time: Linux
//! kernels without futex_waitv (linux_futex.zig) and macOS, whose os_sync_wait_on_address and
//! __ulock_wait2 take a single address (macos_wait.zig). OS-neutral: `Pool(Os)` is built over the
//! system's one-word wait and wake, so both systems run the same code and Linux tests it.
//!
//! The caller parks on a private word of its own (`Call.bell`) and each watched word gets a proxy
//! thread parked on it with the caller's expected value. A proxy that returns (woken, or the word
//! differs) while its call is pending "fires": it records its index, sets the bell and wakes the
//! caller. Invariants, all under `lock`:
//! - A proxy belongs to at most one call (`Proxy.call`), and the caller unbinds every proxy of its
//!   call before it returns, so a `Call` on the caller's stack is never touched after that; a proxy
//!   sets and wakes the bell only while bound, under the lock.
//! - No wake is lost: a proxy that took a wake (its wait said `woken`) after its call ended passes
//!   one wake on to the word (the rule waiter.zig applies to a wait canceled with its word changed),
//!   so the waiter the waker meant still gets one. A wake taken while the call is pending is the
//!   call's, as futex_waitv would have taken it.
//! - An unbound proxy stays parked until its slice ends (`proxy_slice_ns`), and a new call that
//!   watches the same word for the same value adopts it instead of starting another: a caller that
//!   waits again on the same words (the async waiter's loop, a channel receiver) reuses its proxies,
//!   so the number of threads follows the number of words watched, not the number of waits. Nothing
//!   ever kicks a parked proxy out of the kernel: a kick could not be told from a real wake and
//!   would be passed on as one, which two callers on the same words would bounce forever.
//! - Proxies never read a watched word themselves (only the kernel does, which reports a fault for
//!   unmapped memory). Memory is unmapped only through `unmapping` (platform.unmap calls it): it
//!   wakes every waiter on each word in the range that a proxy still watches, and those proxies
//!   pass nothing on (the wake-all leaves no waiter asleep that a wake they took was meant for), so
//!   a proxy never passes a wake on to an address that may by then name another mapping. Left: a
//!   proxy between its lock release and its kernel wait when the range is unmapped and mapped anew
//!   at the same address may sleep there one slice; a wake it takes then is not passed on, and its
//!   waiter sees the change at its own recheck slice.
//! - Bounded: at most `proxies_max` proxy threads per process; one that cannot be started leaves its
//!   word to the caller's recheck slice (wait.zig: 100 ms). Idle proxies exit after
//!   `proxy_linger_ns`. Proxies block every signal, so signals reach the threads that asked to wait.
//! - A forked child has none of its parent's proxy threads: the pool is reset in the child
//!   (pthread_atfork), with its lock taken across the fork.
//!
//! Cost for a wait on n words: n proxies (started once, then reused), one extra context switch per
//! wake-up (proxy, then caller), and a lock round per wait.

const std = @import("std");
const abi = @import("../abi.zig");
const Error = abi.Error;

/// One word to wait on: `private` words live in memory of this process only (cheaper to hash in the
/// kernel); shared ones may be in shared memory.
pub const WaitWord = struct { word: *const u32, expected: u32, private: bool };

pub const WaitResult = union(enum) {
    /// The word at this index was woken, or did not hold its expected value.
    woken: usize,
    timed_out,
    /// A signal interrupted the wait; the caller re-checks and waits again.
    interrupted,
};

/// The most words one wait takes (futex_waitv's limit, kept on every system).
pub const words_max = 128;

/// What a one-word kernel wait said.
pub const Outcome = enum {
    /// A waker woke this waiter.
    woken,
    /// The word did not hold the expected value, or could not be read (unmapped): the caller
    /// re-reads it and sees why.
    changed,
    timed_out,
    interrupted,
};

/// How long a proxy stays parked on its word per kernel wait; also how long an unbound proxy waits
/// to be adopted before it goes idle. The same bound as wait.zig's recheck slice.
pub const proxy_slice_ns: u64 = 100 * std.time.ns_per_ms;
/// How long an idle proxy thread waits for a job before it exits.
pub const proxy_linger_ns: u64 = 1 * std.time.ns_per_s;
pub const proxies_max = 512;
const proxy_stack_bytes = 64 * 1024;

/// The pool over the system's one-word primitives. `Os` provides:
/// - `fn waitOne(word: *const u32, expected: u32, private: bool, deadline_ns: ?u64) Outcome`, the
///   deadline an absolute `monotonicNs` time;
/// - `fn wake(word: *const u32, count: u32, private: bool) u32`;
/// - `fn monotonicNs() u64`.
pub fn Pool(comptime Os: type) type {
    return struct {
        const Call = struct {
            /// The caller parks on it (private); set to 1 by the proxy that fires.
            bell: u32 = 0,
            fired: ?usize = null,
            bound: [words_max]?*Proxy = [_]?*Proxy{null} ** words_max,
        };

        pub const Proxy = struct {
            /// Linked list of every live proxy (`pool`).
            next: ?*Proxy = null,
            /// Idle: waits on `job` (a private word) for its next word; watching: parked on `word`.
            watching: bool = false,
            job: u32 = 0,
            word: *const u32 = undefined,
            expected: u32 = 0,
            private: bool = false,
            /// The call it reports to, and its index there; null once that call ended (unbound).
            call: ?*Call = null,
            /// Its word is being unmapped (`unmapping`): never adopted, passes nothing on.
            orphaned: bool = false,
            index: usize = 0,
        };

        pub var lock: std.Thread.Mutex = .{};
        pub var pool: ?*Proxy = null;
        pub var pool_count: u32 = 0;
        var fork_handlers = false;

        fn forkPrepare() callconv(.c) void {
            lock.lock();
        }

        fn forkParent() callconv(.c) void {
            lock.unlock();
        }

        /// The child has no proxy threads: forget them (their memory is leaked, a few hundred bytes
        /// each).
        fn forkChild() callconv(.c) void {
            pool = null;
            pool_count = 0;
            lock = .{};
        }

        /// Under `lock`: a proxy watching `w` for `call`, or null when none can be had.
        fn bind(call: *Call, w: WaitWord, index: usize) ?*Proxy {
            var idle: ?*Proxy = null;
            var it = pool;
            while (it) |p| : (it = p.next) {
                if (p.watching and p.call == null and !p.orphaned and p.word == w.word and p.expected == w.expected and p.private == w.private) {
                    p.call = call;
                    p.index = index;
                    return p;
                }
                if (!p.watching and idle == null) idle = p;
            }
            const p = idle orelse spawn() orelse return null;
            p.* = .{ .next = p.next, .watching = true, .job = p.job +% 1, .word = w.word, .expected = w.expected, .private = w.private, .call = call, .index = index };
            _ = Os.wake(&p.job, 1, true);
            return p;
        }

        /// Under `lock`: a new idle proxy thread, or null at `proxies_max` or when no thread starts.
        fn spawn() ?*Proxy {
            if (pool_count >= proxies_max) return null;
            if (!fork_handlers) {
                if (std.c.pthread_atfork(forkPrepare, forkParent, forkChild) != 0) return null;
                fork_handlers = true;
            }
            const p = std.heap.c_allocator.create(Proxy) catch return null;
            p.* = .{ .next = pool };
            // Signals go to the threads that asked to wait (their waits may end on one), never to a
            // proxy: it starts with every signal blocked, inherited from this thread's mask for the
            // moment.
            var all: std.c.sigset_t = undefined;
            _ = std.c.sigfillset(&all);
            var old: std.c.sigset_t = undefined;
            _ = std.c.pthread_sigmask(std.posix.SIG.SETMASK, &all, &old);
            defer _ = std.c.pthread_sigmask(std.posix.SIG.SETMASK, &old, &all);
            const thread = std.Thread.spawn(.{ .stack_size = proxy_stack_bytes }, proxyMain, .{p}) catch {
                std.heap.c_allocator.destroy(p);
                return null;
            };
            thread.setName("ipc-futex") catch {};
            thread.detach();
            pool = p;
            @atomicStore(u32, &pool_count, pool_count + 1, .release);
            return p;
        }

        /// Under `lock`: removes `p` from the pool.
        fn unlink(p: *Proxy) void {
            var link: *?*Proxy = &pool;
            while (link.*) |q| : (link = &q.next) {
                if (q == p) {
                    link.* = p.next;
                    @atomicStore(u32, &pool_count, pool_count - 1, .release);
                    return;
                }
            }
        }

        fn proxyMain(p: *Proxy) void {
            lock.lock();
            while (true) {
                if (!p.watching) {
                    const job = p.job;
                    lock.unlock();
                    const outcome = Os.waitOne(&p.job, job, true, Os.monotonicNs() + proxy_linger_ns);
                    lock.lock();
                    if (!p.watching and p.job == job and outcome == .timed_out) break;
                    continue;
                }
                const w: WaitWord = .{ .word = p.word, .expected = p.expected, .private = p.private };
                lock.unlock();
                const outcome = Os.waitOne(w.word, w.expected, w.private, Os.monotonicNs() + proxy_slice_ns);
                lock.lock();
                switch (outcome) {
                    .timed_out, .interrupted => {
                        // Still bound: watch on. Unbound and not adopted within a slice: go idle.
                        if (p.call == null) p.watching = false;
                    },
                    .woken, .changed => {
                        if (p.call) |call| {
                            // Woken, or the word differs, or it cannot be read: the call's wait is
                            // over.
                            call.fired = p.index;
                            @atomicStore(u32, &call.bell, 1, .release);
                            _ = Os.wake(&call.bell, 1, true);
                            unbindAll(call);
                        } else if (outcome == .woken and !p.orphaned) {
                            // A wake taken for a call that had already ended: pass it on.
                            _ = Os.wake(w.word, 1, w.private);
                        }
                        p.watching = false;
                    },
                }
            }
            unlink(p);
            lock.unlock();
            std.heap.c_allocator.destroy(p);
        }

        /// Called before [start, start + len) is unmapped: every proxy parked on a word there is
        /// orphaned and woken, with every other waiter on that word (see the file comment). Nothing
        /// to do, and no lock taken, in a process that never started a proxy.
        pub fn unmapping(start: usize, len: usize) void {
            if (@atomicLoad(u32, &pool_count, .acquire) == 0) return;
            lock.lock();
            defer lock.unlock();
            var it = pool;
            while (it) |p| : (it = p.next) {
                const at = @intFromPtr(p.word);
                if (!p.watching or at < start or at - start >= len) continue;
                p.orphaned = true;
                _ = Os.wake(p.word, std.math.maxInt(u32), p.private);
            }
        }

        /// Under `lock`: every proxy of `call` becomes unbound (and adoptable while it stays parked).
        fn unbindAll(call: *Call) void {
            for (&call.bound) |*slot| {
                if (slot.*) |p| {
                    if (p.call == call) p.call = null;
                    slot.* = null;
                }
            }
        }

        /// Waits until one of `words` (at most `words_max`) is woken or does not hold its expected
        /// value, or until the absolute `monotonicNs` time `deadline_ns` (null: no deadline).
        pub fn wait(words: []const WaitWord, deadline_ns: ?u64) WaitResult {
            std.debug.assert(words.len > 0 and words.len <= words_max);
            // A word that already differs ends the wait at once, as futex_waitv's EAGAIN does.
            for (words, 0..) |w, i| {
                if (@atomicLoad(u32, w.word, .acquire) != w.expected) return .{ .woken = i };
            }
            var call: Call = .{};
            {
                lock.lock();
                defer lock.unlock();
                for (words, 0..) |w, i| call.bound[i] = bind(&call, w, i);
            }
            var result: WaitResult = .timed_out;
            while (@atomicLoad(u32, &call.bell, .acquire) == 0) {
                switch (Os.waitOne(&call.bell, 0, true, deadline_ns)) {
                    .timed_out => break,
                    .interrupted => {
                        result = .interrupted;
                        break;
                    },
                    else => {},
                }
            }
            lock.lock();
            defer lock.unlock();
            unbindAll(&call);
            if (call.fired) |index| return .{ .woken = index };
            return result;
        }

        /// Tests only: how many proxies watch `word` now.
        pub fn watchingCount(word: *const u32) u32 {
            lock.lock();
            defer lock.unlock();
            var n: u32 = 0;
            var it = pool;
            while (it) |p| : (it = p.next) {
                if (p.watching and p.word == word) n += 1;
            }
            return n;
        }
    };
}
