/**
 * Constants of the C ABI that the TypeScript layer needs without a native call. Each repeats a
 * `#define` of zig/ipc.h under the same name without the `IPC_` prefix; tests/cases/abi.ts fails when
 * one drifts from the header.
 *
 * @module
 */

/** The ABI version this binding speaks; the loaded library must report the same. */
export const ABI_VERSION = 1;
/** Longest name in bytes, counting the leading "/". */
export const NAME_MAX = 31;
/** Bytes of libipc header before the user data of every segment. */
export const SEGMENT_HEADER_SIZE = 128;
/** Largest user size of a segment in bytes (2^47). */
export const SEGMENT_SIZE_MAX = 140737488355328;
/** Segment creation flag: generate a unique name. */
export const SEGMENT_UNIQUE_NAME = 0x1;
/** Segment creation flag: allocate all backing memory now. */
export const SEGMENT_RESERVE = 0x2;
/** Segment creation flag: register the name with this process's tracker. */
export const SEGMENT_TRACK = 0x4;
/** Segment open flag: accept a segment owned by another user. */
export const SEGMENT_ANY_OWNER = 0x8;
/** Tracker flag: track every named object this process creates. */
export const TRACKER_ALL = 0x1;
/** Most names one process's tracker holds. */
export const TRACKER_NAMES_MAX = 65536;
/** `ipc_segment_info`: the creator has died. */
export const CREATOR_DEAD = 0;
/** `ipc_segment_info`: the creator is alive. */
export const CREATOR_ALIVE = 1;
/** `ipc_segment_info`: the creator ran in another pid namespace. */
export const CREATOR_UNKNOWN = 2;

/** Segment kind of a plain segment. */
export const KIND_SEGMENT = 1;
/** Segment kind of a standalone mutex. */
export const KIND_MUTEX = 2;
/** Segment kind of a standalone semaphore. */
export const KIND_SEMAPHORE = 3;
/** Segment kind of a standalone event. */
export const KIND_EVENT = 4;
/** Segment kind of a standalone condition (with its mutex). */
export const KIND_CONDITION = 5;
/** Segment kind of a standalone barrier. */
export const KIND_BARRIER = 6;
/** Segment kind of a standalone readers-writer lock. */
export const KIND_RWLOCK = 7;
/** Segment kind of a shared heap. */
export const KIND_HEAP = 8;
/** Segment kind of a channel (Chan, MVar, Pipe). */
export const KIND_CHAN = 9;
/** Bytes of a channel's header, before its ring. */
export const CHAN_HEADER_SIZE = 384;
/** Alignment of a channel's offset in a segment. */
export const CHAN_ALIGN = 64;
/** Smallest ring of a channel, in bytes. */
export const CHAN_CAPACITY_MIN = 64;
/** Largest ring of a channel, in bytes. */
export const CHAN_CAPACITY_MAX = 1073741824;
/** Channel flag: a byte stream (Pipe). */
export const CHAN_STREAM = 0x1;
/** Channel flag: at most one message (MVar). */
export const CHAN_SINGLE = 0x2;
/** Messages per batch call. */
export const CHAN_BATCH_MAX = 1024;
/** Named roots one heap holds. */
export const HEAP_ROOTS_MAX = 32;
/** Longest root name in bytes. */
export const HEAP_ROOT_NAME_MAX = 47;
/** What a misuse of the heap's C callbacks does: counted only. */
export const HEAP_MISUSE_COUNT = 0;
/** What a misuse of the heap's C callbacks does: counted, then the process aborts. */
export const HEAP_MISUSE_ABORT = 1;
/** IPC_HEAP_ARENAS_MAX: arenas a heap holds at once. */
export const HEAP_ARENAS_MAX = 64;
/** Smallest heap `ipc_heap_create` accepts, in bytes (one 64 KiB page of blocks). */
export const HEAP_SIZE_MIN = 151568;
/** Largest heap `ipc_heap_create` accepts, in bytes (1 TiB less 4097 bytes). */
export const HEAP_SIZE_MAX = 1099511623679;
/** Largest alignment of a heap block. */
export const HEAP_ALIGNMENT_MAX = 4096;
/** Where a heap's memory starts in its segment's data. */
export const HEAP_OFFSET = 3968;
/** The offset bits of a heap block handle. */
export const HEAP_BLOCK_OFFSET_MASK = 0xffffffffff;
/** Bytes of shared memory one semaphore takes. */
export const SEM_SIZE = 64;
/** Alignment of a semaphore's offset in a segment. */
export const SEM_ALIGN = 8;
/** Largest semaphore value and maximum. */
export const SEM_VALUE_MAX = 2147483647;
/** Bytes of shared memory one event takes. */
export const EVENT_SIZE = 64;
/** Alignment of an event's offset in a segment. */
export const EVENT_ALIGN = 8;
/** Event flag: release one waiter per set and clear. */
export const EVENT_AUTO_RESET = 0x1;
/** Bytes of shared memory one condition takes. */
export const COND_SIZE = 64;
/** Alignment of a condition's offset in a segment. */
export const COND_ALIGN = 8;
/** Bytes of shared memory one barrier takes. */
export const BARRIER_SIZE = 64;
/** Alignment of a barrier's offset in a segment. */
export const BARRIER_ALIGN = 8;
/** Most parties of a barrier. */
export const BARRIER_PARTIES_MAX = 65535;
/** The ticket of the arrival that opened a barrier. */
export const BARRIER_PASSED = 0xffffffff;
/** Bytes of shared memory one readers-writer lock takes. */
export const RWLOCK_SIZE = 2176;
/** Alignment of a readers-writer lock's offset in a segment. */
export const RWLOCK_ALIGN = 64;
/** Read locks a readers-writer lock holds at once. */
export const RWLOCK_SLOTS = 32;
/** Bytes of shared memory one mutex takes. */
export const MUTEX_SIZE = 64;
/** Alignment of a mutex's offset in a segment. */
export const MUTEX_ALIGN = 8;
/** Waits one native waiter multiplexes. */
export const WAITER_SLOTS = 127;
/** Default spin before a wait parks, in nanoseconds. */
export const SPIN_NS_DEFAULT = 20000;
/** Largest spin before a wait parks, in nanoseconds. */
export const SPIN_NS_MAX = 10000000;

/** Result codes by name: 0 and positive outcomes, and the negative error codes. */
export const RESULT_CODES = {
  OK: 0,
  OWNER_DIED: 1,
  EINVAL: -1,
  ENOMEM: -2,
  ENOSPC: -3,
  EEXIST: -4,
  ENOENT: -5,
  EACCES: -6,
  ENAMETOOLONG: -7,
  EPROTO: -8,
  EVERSION: -9,
  ERANGE: -10,
  EALIGN: -11,
  ENOTSUP: -12,
  EMFILE: -13,
  ECLOSED: -14,
  ETIMEDOUT: -15,
  ECANCELED: -16,
  EBUSY: -17,
  EPERM: -18,
  EDEADLK: -19,
  ENOTRECOVERABLE: -20,
  EBROKEN: -21,
  EIO: -22,
  EKIND: -23,
  EPIPE: -24,
  EOF: -25,
  EOWNER: -26,
  EINTR: -27,
  ENOHELPER: -28,
} as const;

/** The name of a result code, such as "EINVAL". */
export type ResultCode = keyof typeof RESULT_CODES;
