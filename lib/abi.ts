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

/** Segment kind of a plain segment. */
export const KIND_SEGMENT = 1;
/** Segment kind of a standalone mutex. */
export const KIND_MUTEX = 2;
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
} as const;

/** The name of a result code, such as "EINVAL". */
export type ResultCode = keyof typeof RESULT_CODES;
