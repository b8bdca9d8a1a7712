/**
 * libipc: shared memory and process-shared synchronization for Bun, Deno and C.
 *
 * Import it from `libipc` (npm: the "bun" and "deno" conditions pick the binding) or from
 * `jsr:@libipc/libipc` in Deno.
 *
 * @module
 */

import { native, sweptOnLoad } from "./native.ts";

export {
  ABI_VERSION,
  BARRIER_PARTIES_MAX,
  MUTEX_ALIGN,
  MUTEX_SIZE,
  NAME_MAX,
  RESULT_CODES,
  type ResultCode,
  RWLOCK_ALIGN,
  RWLOCK_SIZE,
  SEGMENT_HEADER_SIZE,
  SEGMENT_SIZE_MAX,
  SEM_VALUE_MAX,
  SPIN_NS_DEFAULT,
  SPIN_NS_MAX,
} from "./abi.ts";
export { type ErrorCode, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";
export { type AsyncLockOptions, type LockOptions } from "./options.ts";
export { type LockState, Mutex, MutexGuard, type MutexOptions, type MutexState } from "./mutex.ts";
export { uniqueName } from "./names.ts";
export { Semaphore, SemaphoreGuard, type SemaphoreOptions } from "./semaphore.ts";
export { Event, type EventOptions } from "./event.ts";
export { Condition } from "./condition.ts";
export { Barrier, type BarrierOptions } from "./barrier.ts";
export { RwLock, RwLockGuard } from "./rwlock.ts";
export { type CreateOptions } from "./shared_object.ts";
export { HeapArena, type HeapStats, SharedHeap, type SharedHeapOptions } from "./heap.ts";
export { Chan, type ChanOpenOptions, type ChanOptions, ViewBatch } from "./chan.ts";
export { type MessageOpenOptions, type MessageOptions } from "./channel.ts";
export { MVar, type MVarOptions } from "./mvar.ts";
export { Pipe, type PipeOptions } from "./pipe.ts";
export { Duplex } from "./duplex.ts";
export { SharedValue, type SharedValueOptions } from "./shared_value.ts";
export { bytesCodec, type Codec, jsonCodec } from "./codec.ts";
export { msgpackCodec } from "./msgpack.ts";
export { now, setSpin, spin } from "./spin.ts";
export {
  type OpenOptions,
  type SegmentCreator,
  type SegmentInfo,
  SharedMemory,
  type SharedMemoryOptions,
  type TypedArrayConstructor,
} from "./segment.ts";
export { Tracker, type TrackerOptions, type TrackerStatus } from "./tracker.ts";
export {
  type ChildExit,
  ChildProcess,
  type ChildRuntime,
  type JsRuntime,
  SHARE_MAX,
  type Shareable,
  shared,
  SHARED_ENV,
  type ShareWithCodec,
  spawn,
  type SpawnOptions,
} from "./process.ts";
export { isolate, type IsolateTarget } from "./isolate.ts";
export { type ExecCall, type MapOptions, Pool, type PoolOptions, type WorkerExit } from "./pool.ts";

/** What is loaded: the library's version and ABI version, its path, and the runtime. */
export interface LibraryInfo {
  version: string;
  abiVersion: number;
  path: string;
  runtime: string;
  /** The largest ArrayBuffer this runtime can make over shared memory (`SharedMemory.buffer`). */
  maxArrayBufferBytes: number;
  /**
   * How many generated names of dead processes the sweep at load removed from /dev/shm; null when
   * `LIBIPC_NO_SWEEP` turned that sweep off.
   */
  sweptOnLoad: number | null;
}

/** Describes the loaded native library. */
export function libraryInfo(): LibraryInfo {
  const n = native();
  return {
    version: n.cstring(n.symbols.ipc_version_string()!),
    abiVersion: n.symbols.ipc_abi_version(),
    path: n.path,
    runtime: n.runtime,
    maxArrayBufferBytes: n.maxArrayBufferBytes,
    sweptOnLoad: sweptOnLoad(),
  };
}
