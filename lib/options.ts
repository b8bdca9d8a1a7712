/**
 * Checks of the options every blocking primitive takes: `{ timeout }` for the Sync forms,
 * `{ timeout, signal }` for the Promise forms, counts, and offsets of objects placed in a segment.
 *
 * @module
 */

import { checkInteger, describe, IpcRangeError, IpcTypeError } from "./errors.ts";
import { SharedMemory } from "./segment.ts";

/** Options of a blocking (Sync) call. */
export interface LockOptions {
  /** Give up after this many milliseconds. Default: wait forever. */
  timeout?: number;
}

/** Options of a Promise-returning call. */
export interface AsyncLockOptions extends LockOptions {
  /** Aborting it rejects the pending call with the signal's reason. */
  signal?: AbortSignal;
}

/** `options.timeout` in ms (Infinity when absent), checked. */
/**
 * The longest delay a JS timer takes (2^31 - 1 ms, about 24.8 days); runtimes turn a longer one into
 * 1 ms. A timeout above it never fires within a process's life: treat it as no timeout.
 */
export const TIMER_MAX_MS = 0x7fffffff;

export function timeoutOf(op: string, options: unknown): number {
  if (options === undefined) return Infinity;
  if (typeof options !== "object" || options === null) {
    throw new IpcTypeError(op, `options must be an object such as { timeout: 100 }, got ${describe(options)}`);
  }
  const timeout = (options as LockOptions).timeout;
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number") {
    throw new IpcTypeError(op, `timeout must be a number of ms, got ${describe(timeout)}`);
  }
  if (!(timeout >= 0)) throw new IpcRangeError(op, "EINVAL", `timeout must be at least 0 ms, got ${timeout}`);
  return timeout;
}

/** `options.signal`, checked. */
export function signalOf(op: string, options: unknown): AbortSignal | undefined {
  const signal = (options as AsyncLockOptions | undefined)?.signal;
  if (signal === undefined) return undefined;
  if (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function") {
    throw new IpcTypeError(op, `signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/** A timeout in ms as the native calls take it: nanoseconds, -1 for none. */
export function timeoutNs(timeout: number): bigint {
  return timeout === Infinity ? -1n : BigInt(Math.ceil(timeout * 1e6));
}

/** `offset` as the place of an object of `size` bytes aligned to `align` in `memory`. */
export function checkOffset(op: string, memory: unknown, offset: unknown, size: number, align: number): number {
  if (!(memory instanceof SharedMemory)) {
    throw new IpcTypeError(op, `memory must be a SharedMemory, got ${describe(memory)}`);
  }
  const at = checkInteger(op, "offset", offset, 0, Number.MAX_SAFE_INTEGER);
  if (at % align !== 0) {
    throw new IpcRangeError(op, "EALIGN", `offset ${at} is not a multiple of ${align}`);
  }
  if (at + size > memory.size) {
    throw new IpcRangeError(
      op,
      "ERANGE",
      `an object of ${size} bytes at offset ${at} ends at byte ${at + size}, past the segment's ${memory.size} bytes`,
    );
  }
  return at;
}

/** A count of units: an integer from 1 to `max`. */
export function checkCount(op: string, what: string, value: unknown, max: number): number {
  if (value === undefined) return 1;
  return checkInteger(op, what, value, 1, max);
}
