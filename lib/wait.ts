/**
 * Async waits on 32-bit words in shared memory: what every primitive's Promise-returning form awaits.
 * The waiting itself happens in native code (zig/waiter.zig), in one multiplexed kernel wait per 127
 * waits, so the event loop never blocks and JS never polls. Completions reach JS through the
 * runtime's channel (`Native.completions`): a threadsafe callback in Bun, a nonblocking `next` call
 * in Deno.
 *
 * While any wait is pending a ref'd timer keeps the process alive (without one, Bun spins at 100% CPU
 * on a top-level await, PROBE.md Q1); when none is, nothing native keeps the process alive.
 *
 * @module
 */

import { RESULT_CODES, WAITER_SLOTS } from "./abi.ts";
import { strerror } from "./call.ts";
import { codeName, IpcError } from "./errors.ts";
import { native, type Pointer } from "./native.ts";

/** One native waiter and how many of its slots are in use. */
interface WaiterState {
  readonly handle: Pointer;
  used: number;
  pumping: boolean;
  readonly tokens: Uint32Array;
  readonly results: Int32Array;
}

interface Entry {
  readonly waiter: WaiterState;
  readonly word: Pointer;
  settled: boolean;
  resolve(result: number): void;
  cleanup(): void;
}

/** A pending wait: its promise resolves with the native result (OK or ETIMEDOUT). */
export interface Wait {
  readonly promise: Promise<number>;
  /** Rejects the promise with `reason` and cancels the native wait. */
  cancel(reason: unknown): void;
}

const entries = new Map<number, Entry>();
const waiters: WaiterState[] = [];
let callback: Pointer | null | undefined;
let nextToken = 1;
let keepAlive: ReturnType<typeof setInterval> | undefined;
const keepAliveMs = 2 ** 30;

function updateKeepAlive(): void {
  if (entries.size > 0 && keepAlive === undefined) keepAlive = setInterval(() => {}, keepAliveMs);
  else if (entries.size === 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

function complete(token: number, result: number): void {
  const entry = entries.get(token);
  if (entry === undefined) return;
  entries.delete(token);
  entry.waiter.used -= 1;
  updateKeepAlive();
  if (entry.settled) {
    // Nobody awaits this wait any more, but its word changed: the wake it consumed may have been the
    // only one, so it goes on to the next waiter.
    if (result === RESULT_CODES.OK) native().symbols.ipc_wake(entry.word, 1);
    return;
  }
  entry.settled = true;
  entry.cleanup();
  entry.resolve(result);
}

function createWaiter(): WaiterState {
  const n = native();
  if (callback === undefined) {
    callback = n.completions.kind === "callback" ? n.completions.callback(complete) : null;
  }
  const cell = new BigUint64Array(1);
  const rc = n.symbols.ipc_waiter_create(callback, cell);
  if (rc !== 0) throw new IpcError("wait", codeName(rc), `cannot create a native waiter: ${strerror(rc)}`);
  const state: WaiterState = {
    handle: n.readPointer(cell)!,
    used: 0,
    pumping: false,
    tokens: new Uint32Array(WAITER_SLOTS),
    results: new Int32Array(WAITER_SLOTS),
  };
  waiters.push(state);
  return state;
}

function freeWaiter(): WaiterState {
  for (const w of waiters) if (w.used < WAITER_SLOTS) return w;
  return createWaiter();
}

/** Deno: runs the waiter's loop on a runtime pool thread while it has waits. */
async function pump(w: WaiterState): Promise<void> {
  const completions = native().completions;
  if (completions.kind !== "poll" || w.pumping) return;
  w.pumping = true;
  try {
    while (w.used > 0) {
      const n = await completions.next(w.handle, w.tokens, w.results, WAITER_SLOTS);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) complete(w.tokens[i], w.results[i]);
    }
  } finally {
    w.pumping = false;
  }
}

/**
 * Waits, without blocking the event loop, while the word at `word` holds `expected`, for at most
 * `timeoutMs` (Infinity: no limit). The promise resolves with RESULT_CODES.OK (changed or woken;
 * re-check) or ETIMEDOUT, and rejects with the signal's reason when `signal` aborts.
 */
export function waitWord(op: string, word: Pointer, expected: number, timeoutMs: number, signal?: AbortSignal): Wait {
  const w = freeWaiter();
  const token = nextToken;
  nextToken = nextToken >= 0xffff_fffe ? 1 : nextToken + 1;
  const timeoutNs = timeoutMs === Infinity ? -1n : BigInt(Math.ceil(timeoutMs * 1e6));
  const rc = native().symbols.ipc_waiter_submit(w.handle, word, expected >>> 0, timeoutNs, token);
  if (rc !== 0) {
    const error = new IpcError(op, codeName(rc), `cannot start waiting: ${strerror(rc)}`);
    return { promise: Promise.reject(error), cancel: () => {} };
  }
  w.used += 1;
  let resolve!: (result: number) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const entry: Entry = { waiter: w, word, settled: false, resolve, cleanup: () => {} };
  entries.set(token, entry);
  const cancel = (reason: unknown): void => {
    if (entry.settled) return;
    entry.settled = true;
    entry.cleanup();
    native().symbols.ipc_waiter_cancel(w.handle, token);
    reject(reason);
  };
  if (signal !== undefined) {
    const onAbort = (): void => cancel(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    entry.cleanup = () => signal.removeEventListener("abort", onAbort);
  }
  updateKeepAlive();
  void pump(w);
  return { promise, cancel };
}

/**
 * Drops every wait on a word in [base, base + byteLength) from the native waiters, returning once
 * none of them will read that memory again. Called before a segment is unmapped; the waits must
 * have been cancelled already (their objects closed).
 */
export function forgetWaits(base: Pointer, byteLength: number): void {
  if (entries.size === 0) return;
  for (const w of waiters) {
    if (w.used > 0) native().symbols.ipc_waiter_forget(w.handle, base, BigInt(byteLength));
  }
}

/** The `expected` of a step that found an internal lock held: see `waitSteps`. */
const LOCK_BUSY = 0xffff_ffff;
/** How long a step waits before looking again at an internal lock it found held. */
const lockBusyPauseMs = 2;

/** A wait that ends (RESULT_CODES.OK) after `ms`, or rejects when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Wait {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reject!: (reason: unknown) => void;
  const onAbort = (): void => cancel(signal!.reason);
  const promise = new Promise<number>((res, rej) => {
    reject = rej;
    timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      res(RESULT_CODES.OK);
    }, ms);
  });
  const cancel = (reason: unknown): void => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    signal?.removeEventListener("abort", onAbort);
    reject(reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  return { promise, cancel };
}

/** Something pending that `close()` must end: a wait, with whatever it owes the native object. */
export interface Cancelable {
  cancel(reason: unknown): void;
}

/**
 * A primitive's async acquisition, done in steps on the JS thread (so that what is acquired belongs
 * to it) with waits in between.
 */
export interface Stepper {
  /** Does what it can without waiting; RESULT_CODES.EBUSY means: wait on `word()` for `expected()`. */
  step(again: boolean): number;
  word(): Pointer;
  expected(): number;
  /** Undoes what a step that returned EBUSY left behind (its parked count, a half-taken lock). */
  giveUp(): void;
  /** A second word to wait on at the same time (a pipe's writer, whose death ends it), or null. */
  also?(): { word: Pointer; expected: number } | null;
  /**
   * The longest one wait may last (ms) before the next step looks again, for a change no word
   * announces (views of a channel held by a process that died): Infinity when there is none.
   */
  slice?(): number;
}

/**
 * Runs `stepper` to completion without blocking the event loop: returns the last step's result
 * (anything but EBUSY). Throws `timedOut()` after `timeout` ms, the signal's reason when it aborts,
 * and whatever `pending`'s cancel is given when the object closes meanwhile.
 */
export async function waitSteps(
  op: string,
  stepper: Stepper,
  timeout: number,
  signal: AbortSignal | undefined,
  pending: Set<Cancelable>,
  timedOut: () => Error,
): Promise<number> {
  const { OK, EBUSY, ETIMEDOUT } = RESULT_CODES;
  signal?.throwIfAborted();
  let rc = stepper.step(false);
  if (rc !== EBUSY) return rc;
  const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
  let owed = true;
  const giveUp = (): void => {
    if (!owed) return;
    owed = false;
    stepper.giveUp();
  };
  try {
    while (true) {
      signal?.throwIfAborted();
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw timedOut();
      const slice = stepper.slice?.() ?? Infinity;
      const expected = stepper.expected();
      // A step that found an internal lock held (or a word that kept changing) asks for this value,
      // which no word holds: no word announces the lock's release, so it looks again after a pause.
      const wait = expected === LOCK_BUSY
        ? pause(Math.min(remaining, slice, lockBusyPauseMs), signal)
        : waitWord(op, stepper.word(), expected, Math.min(remaining, slice), signal);
      const second = stepper.also?.() ?? null;
      const other = second === null ? null : waitWord(op, second.word, second.expected, remaining, signal);
      const entry: Cancelable = {
        cancel(reason: unknown): void {
          giveUp();
          wait.cancel(reason);
          other?.cancel(reason);
        },
      };
      pending.add(entry);
      let result: number;
      try {
        if (other === null) result = await wait.promise;
        else {
          // Whichever ends first; the other is cancelled (its rejection is expected, not an error).
          const done = new Error("the other wait ended first");
          wait.promise.catch(() => {});
          other.promise.catch(() => {});
          result = await Promise.race([wait.promise, other.promise]);
          wait.cancel(done);
          other.cancel(done);
        }
      } finally {
        pending.delete(entry);
      }
      if (result === ETIMEDOUT && performance.now() >= deadline) throw timedOut();
      if (result !== OK && result !== ETIMEDOUT) throw new IpcError(op, codeName(result), strerror(result));
      owed = false;
      rc = stepper.step(true);
      if (rc !== EBUSY) return rc;
      owed = true;
    }
  } catch (error) {
    giveUp();
    throw error;
  }
}
