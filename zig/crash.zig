//! Crash points: named steps inside the operations that change shared memory in more than one
//! store, where a test can have the process killed (TigerBeetle's VOPR idea applied to kills). A
//! call `crash.point(.heap_claim_bit_set)` compiles to nothing unless the library's root module
//! declares `pub const crash_points = true` — only zig/crash_root.zig does, and only the crash
//! test's static library (`zig build crashtest`) is built from it; libipc.so, libipc.a, the npm
//! package and `zig build install` never hold a point (the branch is comptime-false there).
//!
//! In a crash build a process arms at most one point from the environment, read at its first point
//! and again after a fork (the pid changed): `LIBIPC_CRASH_AT=<point>[:<nth hit>]` (nth 1 by
//! default). The nth time the process passes that point it raises SIGKILL: the same as a kill from
//! outside at that instruction — nothing of the library runs after it, the kernel releases robust
//! mutexes. tests/c/crash.c drives every point; DEVELOPERS.md ("Crash points") lists what it checks.
//!
//! Points are named <file>_<operation>_<step>: the step is what the operation has done when it is
//! stopped. The operations and their steps, in order:
//!   heap small claim     claim_bit_set: the block's bit is set, the page's state not re-read (the dead
//!                        process holds a block nobody can name: one leaked block)
//!   heap small free      free_bit_cleared: the bit is clear, the page not yet offered for retirement
//!   heap new small page  page_new_entry: entry written, not linked into its class list;
//!                        page_new_linked: linked, live bit not set (page lock held in both)
//!   heap retire          retire_unlive: live bit cleared, bitmap not checked; retire_unlinked: out
//!                        of its class list, entry still small (page lock held in both)
//!   heap large claim     large_claim_continuation: after each continuation entry (nth hit = how many);
//!                        large_claim_head: head committed, page lock still held (a leaked block)
//!   heap large free      large_free_head: head free, continuations not; large_free_continuation:
//!                        after each continuation freed
//!   heap root            root_named: name written into a free slot, handle not (a leaked block)
//!   heap arena create    arena_create_owner: owner slot written, status not (no arena: a free record)
//!   heap arena hand over arena_hand_over_staged: new owner in the other slot, status not flipped
//!   heap arena reclaim   arena_reclaim_marked: record marked reclaiming, no page freed;
//!                        arena_reclaim_page: after each of the arena's pages freed (nth hit = how many)
//!   heap recover         recover_scanned: a recovering process settled the table, the class lists
//!                        not yet rebuilt (so recovery itself is killed and redone)
//!   barrier arrive       arrive_counted: a non-last arrival is counted (it still counts);
//!                        arrive_opened: the last arrival opened the generation, nobody woken
//!   semaphore post       post_committed: the units are added, nobody woken
//!   event set            set_committed: the flag is set, nobody woken
//!   condition notify     notify_committed: the sequence moved, nobody woken
//!   chan send            send_copied: records written past the tail, not committed;
//!                        send_committed: tail committed, send lock held, nobody woken
//!   chan receive         recv_copied: message copied out, nothing committed
//!   chan consume         consume_cursor: receivers' cursor moved, head not (no views out);
//!                        consume_head: head committed, receive lock held, nobody woken
//!   chan swap (MVar)     swap_consumed: old value taken (head moved), new not written;
//!                        swap_committed: new value committed, both locks held, nobody woken
//!   chan replace (MVar)  replace_consumed: old value dropped, new not written;
//!                        replace_committed: new value committed, both locks held, nobody woken
//!   chan close           close_readable: closed for senders, not yet on the head's word;
//!                        close_committed: both words closed, send lock held, nobody woken
//!   chan loan            loan_marked: records marked with the holder, cursor not moved;
//!                        loan_taken: cursor moved past them (the loan is out), lock held
//!   chan give-back       release_unmarked: the loan's records unmarked, head not moved (lock held);
//!                        release_committed: head moved, lock released, nobody woken
//!   rwlock write take    write_take_locked: writer mutex held, not yet writing (readers not waited
//!                        for); write_take_writing: `writing` set, the whole write lock held
//!   rwlock recovery      recover_flagged: a taker of a dead writer's mutex between setting the
//!                        owner-died flag and clearing `writing`
//!   rwlock write release write_release_cleared: `writing` cleared, writer mutex still held
//!   rwlock read take     read_take_slot: a slot held, the writer not yet checked
//!   rwlock read release  read_release_unlocked: slot released, slot waiters not yet told

const std = @import("std");
const builtin = @import("builtin");
const root = @import("root");

/// Whether this build holds crash points: only a library built from zig/crash_root.zig does.
pub const enabled = @hasDecl(root, "crash_points") and root.crash_points;

pub const Point = enum(u32) {
    heap_claim_bit_set,
    heap_free_bit_cleared,
    heap_page_new_entry,
    heap_page_new_linked,
    heap_retire_unlive,
    heap_retire_unlinked,
    heap_large_claim_continuation,
    heap_large_claim_head,
    heap_large_free_head,
    heap_large_free_continuation,
    heap_root_named,
    heap_recover_scanned,
    heap_arena_create_owner,
    heap_arena_hand_over_staged,
    heap_arena_reclaim_marked,
    heap_arena_reclaim_page,
    barrier_arrive_counted,
    barrier_arrive_opened,
    semaphore_post_committed,
    event_set_committed,
    condition_notify_committed,
    chan_send_copied,
    chan_send_committed,
    chan_recv_copied,
    chan_consume_cursor,
    chan_consume_head,
    chan_swap_consumed,
    chan_swap_committed,
    chan_replace_consumed,
    chan_replace_committed,
    chan_close_readable,
    chan_close_committed,
    chan_loan_marked,
    chan_loan_taken,
    chan_release_unmarked,
    chan_release_committed,
    rwlock_write_take_locked,
    rwlock_write_take_writing,
    rwlock_recover_flagged,
    rwlock_write_release_cleared,
    rwlock_read_take_slot,
    rwlock_read_release_unlocked,
};

pub const env_name = "LIBIPC_CRASH_AT";

/// Stops the process here if this point is the armed one and this is its nth hit.
pub inline fn point(comptime p: Point) void {
    if (comptime !enabled) return;
    hit(p);
}

const Armed = struct {
    /// The process that read the environment (0: never read).
    pid: i32 = 0,
    /// The armed point's index + 1 (0: none).
    point: u32 = 0,
    nth: u32 = 1,
};

var armed: Armed = .{};
var armed_lock: std.Thread.Mutex = .{};
var hits: std.atomic.Value(u32) = .init(0);

fn hit(p: Point) void {
    const a = current();
    if (a.point != @intFromEnum(p) + 1) return;
    if (hits.fetchAdd(1, .seq_cst) + 1 != a.nth) return;
    // SIGKILL cannot be caught or ignored: the process ends here, as if killed from outside.
    _ = std.c.kill(std.c.getpid(), std.c.SIG.KILL);
    while (true) std.atomic.spinLoopHint();
}

/// The armed point of this process, reading the environment the first time and after a fork.
fn current() Armed {
    armed_lock.lock();
    defer armed_lock.unlock();
    const pid = std.c.getpid();
    if (armed.pid == pid) return armed;
    armed = .{ .pid = pid };
    hits.store(0, .seq_cst);
    const value = std.mem.sliceTo(std.c.getenv(env_name) orelse return armed, 0);
    armed = parse(value) orelse {
        std.debug.print("libipc: {s}={s} names no crash point\n", .{ env_name, value });
        return armed;
    };
    armed.pid = pid;
    return armed;
}

fn parse(value: []const u8) ?Armed {
    const colon = std.mem.indexOfScalar(u8, value, ':');
    const name = value[0 .. colon orelse value.len];
    const p = std.meta.stringToEnum(Point, name) orelse return null;
    var a: Armed = .{ .point = @intFromEnum(p) + 1 };
    if (colon) |c| {
        a.nth = std.fmt.parseInt(u32, value[c + 1 ..], 10) catch return null;
        if (a.nth == 0) return null;
    }
    return a;
}

test "points parse by name and hit count; no point is armed in this build" {
    try std.testing.expect(!enabled);
    const a = parse("heap_claim_bit_set:3").?;
    try std.testing.expectEqual(@intFromEnum(Point.heap_claim_bit_set) + 1, a.point);
    try std.testing.expectEqual(@as(u32, 3), a.nth);
    try std.testing.expectEqual(@as(u32, 1), parse("event_set_committed").?.nth);
    try std.testing.expect(parse("nonsense") == null);
    try std.testing.expect(parse("event_set_committed:0") == null);
    point(.heap_claim_bit_set); // compiles to nothing here
}
