//! The channel: a bounded ring of bytes in shared memory, with a 384-byte header, that many
//! processes send to and receive from at once. It carries whole messages (Chan, MVar, duplex
//! pairs) or a byte stream (Pipe).
//!
//! Positions are 31-bit counters of bytes (wrapping; the capacity, a power of two up to 2^30,
//! divides 2^31): `tail` counts bytes ever written, `head` bytes ever consumed. Each lives in the
//! value of a wait word — `readable` holds the tail, `writable` the head — with bit 31 set once the
//! channel is closed. So one atomic store commits an operation and changes the word its waiters
//! park on: a sender's store of the tail makes its message visible; a receiver's store of the head
//! frees the space; closing sets bit 31 of both. Waking the parked waiters is a second step (a
//! futex wake after the store): a process killed between the two leaves its commit whole but its
//! waiters unwoken, so a waiter parked on a word whose committer died before waking re-checks the
//! word within `wait.recheck_ns` (100 ms) on its own (see wait.zig).
//!
//! Senders take the send lock and receivers the receive lock (robust mutexes; the two-lock queue):
//! a sender reads the head, writes beyond the tail and commits the tail; a receiver reads the tail,
//! reads before it and commits the head, so a sender and a receiver never wait for each other. A
//! process killed holding a lock (mid-copy) committed nothing: what it wrote lies beyond the tail,
//! what it was reading stays before the head. The next holder is told OWNER_DIED. For the send lock
//! marking the mutex consistent is the whole repair. A receive on a message channel makes two
//! stores (`consume`: the receivers' cursor, then the head): a receiver killed between them leaves
//! the message received (nothing redelivers it) but its space not freed, which on a single-message
//! channel would block every send for good. So the next holder of the receive lock moves the head
//! over received records up to the first view still out (`lockReceivers`), as a give-back does,
//! before marking it consistent. Commits are CAS loops that keep bit 31, which `close` sets
//! without a lock. Waiting happens outside the locks, on the words, for the exact value the
//! decision to wait was made on.
//!
//! Wake-ups: a send wakes one parked receiver per message it commits (every one on a
//! single-message channel, whose readers may only peek); a receive that frees space wakes every
//! parked sender. A receiver woken by a wake-up that leaves the message in the channel — a peek, a
//! buffer too small, a stream read of part of the bytes — passes the wake-up on to one more parked
//! receiver (`passOn`), so a pending message never sleeps beside a parked receiver. So peeking is
//! safe on any message channel; on a plain one what it shows may be taken by another receiver
//! before this one receives.
//!
//! Message channels frame each message as a record: an 8-byte header (length, kind) and the bytes,
//! padded to 8. A record that would cross the end of the ring is preceded by a padding record that
//! fills the rest, so a message is always contiguous (a receive can copy it in one piece). Messages
//! are limited to half the capacity minus 8 bytes: then a message always fits in an empty ring,
//! padding included. Stream channels (pipes) hold raw bytes, copied in up to two pieces.
//!
//! What another process wrote is input: positions that disagree (more bytes used than the capacity,
//! a record longer than what is used) are refused with error.Protocol, never followed. The capacity
//! itself is input too: every call indexes the ring with the capacity this process checked against
//! its own mapping when it attached the channel (`Handle`, chan/handles.zig), read from private
//! memory once per call, and refuses a header that says otherwise. The seen positions (`head_seen`,
//! `tail_seen`) are caches, never ahead of the real ones: one that looks inconsistent is looked up
//! again before anything is called damage.
//!
//! This file is the public face: it re-exports what root.zig, the tests and the bindings' steps use.
//! The code lives in zig/chan/, one responsibility a file, each opening with the invariants it
//! keeps: layout.zig (header, constants, init and validation), ring.zig (positions and records),
//! locks.zig (the internal locks and the repair after a receiver's death), send.zig, recv.zig,
//! views.zig (loans and the holder table), mvar.zig (swap and replace), stream.zig (pipes),
//! blocking.zig (closing, wake-ups, blocking forms and steps), handles.zig (the channels this process
//! attached) and tests.zig.

pub const magic = @import("chan/layout.zig").magic;
pub const version = @import("chan/layout.zig").version;
pub const header_size = @import("chan/layout.zig").header_size;
pub const alignment = @import("chan/layout.zig").alignment;
pub const capacity_min = @import("chan/layout.zig").capacity_min;
pub const capacity_max = @import("chan/layout.zig").capacity_max;
pub const flag_stream = @import("chan/layout.zig").flag_stream;
pub const flag_single = @import("chan/layout.zig").flag_single;
pub const flags_all = @import("chan/layout.zig").flags_all;
pub const Holder = @import("chan/layout.zig").Holder;
pub const holders_max = @import("chan/layout.zig").holders_max;
pub const Chan = @import("chan/layout.zig").Chan;
pub const Handle = @import("chan/layout.zig").Handle;
pub const sizeFor = @import("chan/layout.zig").sizeFor;
pub const messageMax = @import("chan/layout.zig").messageMax;
pub const init = @import("chan/layout.zig").init;
pub const validate = @import("chan/layout.zig").validate;
pub const isStream = @import("chan/layout.zig").isStream;
pub const isClosed = @import("chan/layout.zig").isClosed;

pub const at_once = @import("chan/locks.zig").at_once;
pub const Blocked = @import("chan/locks.zig").Blocked;
pub const lock_busy = @import("chan/locks.zig").lock_busy;

pub const SendResult = @import("chan/send.zig").SendResult;
pub const trySendMany = @import("chan/send.zig").trySendMany;
pub const trySend = @import("chan/send.zig").trySend;

pub const RecvResult = @import("chan/recv.zig").RecvResult;
pub const tryRecv = @import("chan/recv.zig").tryRecv;
pub const tryRecvMany = @import("chan/recv.zig").tryRecvMany;

pub const Loan = @import("chan/views.zig").Loan;
pub const tryRecvLoan = @import("chan/views.zig").tryRecvLoan;
pub const release = @import("chan/views.zig").release;
pub const viewsOut = @import("chan/views.zig").viewsOut;
pub const reap = @import("chan/views.zig").reap;

pub const trySwap = @import("chan/mvar.zig").trySwap;
pub const replace = @import("chan/mvar.zig").replace;

pub const WriteResult = @import("chan/stream.zig").WriteResult;
pub const tryWrite = @import("chan/stream.zig").tryWrite;
pub const ReadResult = @import("chan/stream.zig").ReadResult;
pub const attachWriter = @import("chan/stream.zig").attachWriter;
pub const detachWriter = @import("chan/stream.zig").detachWriter;
pub const tryRead = @import("chan/stream.zig").tryRead;

pub const close = @import("chan/blocking.zig").close;
pub const wakeAfter = @import("chan/blocking.zig").wakeAfter;
pub const pending = @import("chan/blocking.zig").pending;
pub const send = @import("chan/blocking.zig").send;
pub const sendMany = @import("chan/blocking.zig").sendMany;
pub const recv = @import("chan/blocking.zig").recv;
pub const swap = @import("chan/blocking.zig").swap;
pub const recvMany = @import("chan/blocking.zig").recvMany;
pub const recvLoan = @import("chan/blocking.zig").recvLoan;
pub const write = @import("chan/blocking.zig").write;
pub const read = @import("chan/blocking.zig").read;
pub const Side = @import("chan/blocking.zig").Side;
pub const sideWord = @import("chan/blocking.zig").sideWord;
pub const sendStep = @import("chan/blocking.zig").sendStep;
pub const recvStep = @import("chan/blocking.zig").recvStep;
pub const recvManyStep = @import("chan/blocking.zig").recvManyStep;
pub const recvLoanStep = @import("chan/blocking.zig").recvLoanStep;
pub const writeStep = @import("chan/blocking.zig").writeStep;
pub const readStep = @import("chan/blocking.zig").readStep;
pub const swapStep = @import("chan/blocking.zig").swapStep;
pub const unwait = @import("chan/blocking.zig").unwait;

pub const attach = @import("chan/handles.zig").attach;
pub const forgetRange = @import("chan/handles.zig").forgetRange;
pub const handleOf = @import("chan/handles.zig").handleOf;

test {
    _ = @import("chan/layout.zig");
    _ = @import("chan/ring.zig");
    _ = @import("chan/locks.zig");
    _ = @import("chan/send.zig");
    _ = @import("chan/recv.zig");
    _ = @import("chan/views.zig");
    _ = @import("chan/mvar.zig");
    _ = @import("chan/stream.zig");
    _ = @import("chan/blocking.zig");
    _ = @import("chan/handles.zig");
    _ = @import("chan/tests.zig");
}
