/**
 * Condition: a condition variable in shared memory, used with a libipc Mutex (Python's
 * multiprocessing.Condition). `wait` unlocks the mutex, waits for a notify, and locks it again;
 * `waitFor(predicate)` loops until the predicate holds, so spurious wake-ups never reach its caller.
 *
 * @module
 */

import { COND_ALIGN, COND_SIZE, KIND_CONDITION, MUTEX_SIZE, RESULT_CODES } from "./abi.ts";
import { checked, pointerOut, takePointer } from "./call.ts";
import { checkFunction, checkInteger, describe, type ErrorCode, IpcError, IpcTypeError, optionsOf } from "./errors.ts";
import { Mutex, mutexInternals } from "./mutex.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, segmentInternals, SharedMemory, unlinkKind } from "./segment.ts";
import { type CreateOptions, createStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitWord } from "./wait.ts";

const { OK, OWNER_DIED, ETIMEDOUT } = RESULT_CODES;

function explain(code: ErrorCode): string | undefined {
  switch (code) {
    case "EPERM":
      return "this thread does not hold the condition's mutex: lock it first";
    case "EPROTO":
      return "the memory holds no condition (not initialized, or corrupt)";
    default:
      return undefined;
  }
}

function checkMutex(op: string, mutex: unknown): Mutex {
  if (!(mutex instanceof Mutex)) throw new IpcTypeError(op, `mutex must be a Mutex, got ${describe(mutex)}`);
  return mutex;
}

/** A process-shared condition variable bound, in this process, to a Mutex. */
export class Condition extends SharedObject {
  readonly #s: Symbols;
  readonly #word: Pointer;
  readonly #expected = new Uint32Array(1);
  /** The mutex waits unlock and relock. */
  readonly mutex: Mutex;
  #sequence: Uint32Array | undefined;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, mutex: Mutex) {
    super(memory, offset, pointer, owned);
    this.#s = native().symbols;
    this.#word = this.#s.ipc_cond_word(pointer)!;
    this.mutex = mutex;
  }

  protected get label(): string {
    return "Condition";
  }

  /**
   * Creates a condition and its mutex in a segment of their own (`condition.mutex`); others open
   * both by name or fd.
   */
  static create(options: CreateOptions = {}): Condition {
    options = optionsOf("Condition.create", options, `{ name: "ready" }`);
    const op = "Condition.create";
    const mutexCell = pointerOut();
    const { memory, pointer } = createStandalone(
      op,
      options,
      (a, seg, out) => native().symbols.ipc_cond_create(a.name, a.mode, a.flags, seg, out, mutexCell),
    );
    return new Condition(memory, MUTEX_SIZE, pointer, true, Mutex.at(memory, 0));
  }

  /**
   * Removes the name of a standalone condition (with its mutex), as `SharedMemory.unlink` does: processes that have
   * it open keep using it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Condition.unlink", name, "condition");
  }

  /** Opens the standalone condition (and its mutex) called `name`. */
  static open(name: string, options: OpenOptions = {}): Condition {
    return Condition.#standalone("Condition.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone condition (and its mutex) behind `fd`. */
  static fromFd(fd: number, options: OpenOptions = {}): Condition {
    return Condition.#standalone("Condition.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Condition {
    try {
      if (segmentInternals.kind(memory) !== KIND_CONDITION) {
        throw new IpcError(
          op,
          "EKIND",
          `${describe(what)} holds no Condition: use Condition.at(memory, offset, mutex)`,
        );
      }
      const cell = pointerOut();
      checked(op, native().symbols.ipc_cond_at(segmentInternals.handle(memory, op), BigInt(MUTEX_SIZE), cell), explain);
      const mutex = Mutex.at(memory, 0);
      return new Condition(memory, MUTEX_SIZE, takePointer(op, cell), true, mutex);
    } catch (error) {
      memory.close();
      throw error;
    }
  }

  /** Initializes a condition at `offset` (a multiple of 8; 64 bytes) in `memory`, used with `mutex`. */
  static init(memory: SharedMemory, offset: number, mutex: Mutex): Condition {
    const op = "Condition.init";
    const m = checkMutex(op, mutex);
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      COND_SIZE,
      COND_ALIGN,
      (seg, off, cell) => native().symbols.ipc_cond_init_at(seg, off, cell),
    );
    return new Condition(memory, at, pointer, false, m);
  }

  /** The condition another process initialized at `offset` in `memory`, used with `mutex`. */
  static at(memory: SharedMemory, offset: number, mutex: Mutex): Condition {
    const op = "Condition.at";
    const m = checkMutex(op, mutex);
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      COND_SIZE,
      COND_ALIGN,
      (seg, off, cell) => native().symbols.ipc_cond_at(seg, off, cell),
      explain,
    );
    return new Condition(memory, at, pointer, false, m);
  }

  #relocked(op: string, rc: number): void {
    if (rc === OWNER_DIED) {
      throw new IpcError(
        op,
        "OWNER_DIED",
        "the mutex is held again, but its previous holder died holding it: repair the state it protects " +
          "and call mutex.consistent() before unlocking",
      );
    }
  }

  /**
   * Unlocks the mutex (this thread must hold it: EPERM), blocks until notified, and locks it again.
   * Returns false when `timeout` ms passed without a notify. May return true spuriously: re-check.
   */
  waitSync(options?: LockOptions): boolean {
    const op = "Condition.waitSync";
    const timeout = timeoutOf(op, options);
    const rc = this.#s.ipc_cond_wait(this.handle(op), mutexInternals.handle(this.mutex, op), timeoutNs(timeout));
    if (rc === ETIMEDOUT) return false;
    this.#relocked(op, rc);
    checked(op, rc, explain);
    return true;
  }

  /**
   * `waitSync` without blocking the event loop: unlocks the mutex, waits, and resolves once it holds
   * the mutex again (even when the wait timed out or the signal aborted: then it rejects).
   */
  async wait(options?: AsyncLockOptions): Promise<boolean> {
    const op = "Condition.wait";
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    signal?.throwIfAborted();
    const pointer = this.handle(op);
    checked(op, this.#s.ipc_cond_prepare(pointer, mutexInternals.handle(this.mutex, op), this.#expected), explain);
    const seen = this.#expected[0];
    let wait: ReturnType<typeof waitWord>;
    try {
      wait = waitWord(op, this.#word, seen, timeout, signal);
    } catch (error) {
      this.#s.ipc_cond_unwait(pointer);
      await this.mutex.lock();
      throw error;
    }
    let unwaited = false;
    const unwait = (): void => {
      if (unwaited) return;
      unwaited = true;
      this.#s.ipc_cond_unwait(this.handle(op));
    };
    const entry = {
      cancel: (reason: unknown) => {
        unwait();
        wait.cancel(reason);
      },
    };
    this.pending.add(entry);
    let result: number;
    let failure: { error: unknown } | undefined;
    try {
      result = await wait.promise;
    } catch (error) {
      result = ETIMEDOUT;
      failure = { error };
    } finally {
      this.pending.delete(entry);
    }
    const notified = failure === undefined &&
      (result === OK || (!this.closed && Atomics.load(this.#sequenceView(), 0) !== seen));
    if (!this.closed) unwait();
    const state = await this.mutex.lock();
    if (state.ownerDied) this.#relocked(op, OWNER_DIED);
    if (failure !== undefined) throw failure.error;
    return notified;
  }

  #sequenceView(): Uint32Array {
    this.#sequence ??= this.memory.view(Uint32Array, this.offset + 16, 1);
    return this.#sequence;
  }

  /** Waits until `predicate()` returns a truthy value, which it returns; or its last value at the timeout. */
  waitForSync<T>(predicate: () => T, options?: LockOptions): T {
    const op = "Condition.waitForSync";
    this.handle(op);
    checkFunction(op, "predicate", predicate);
    const timeout = timeoutOf(op, options);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    let value = predicate();
    while (!value) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      this.waitSync(remaining === Infinity ? undefined : { timeout: remaining });
      value = predicate();
    }
    return value;
  }

  /** `waitForSync` without blocking the event loop. */
  async waitFor<T>(predicate: () => T, options?: AsyncLockOptions): Promise<T> {
    const op = "Condition.waitFor";
    this.handle(op);
    checkFunction(op, "predicate", predicate);
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    let value = predicate();
    while (!value) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      await this.wait({ timeout: remaining, signal });
      value = predicate();
    }
    return value;
  }

  /** Wakes up to `n` waiters (default 1). Holding the mutex is not required, but usual. */
  notify(n?: number): void {
    const op = "Condition.notify";
    const count = n === undefined ? 1 : checkInteger(op, "n", n, 0, 0xffff_ffff);
    checked(op, this.#s.ipc_cond_notify(this.handle(op), count));
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    const op = "Condition.notifyAll";
    checked(op, this.#s.ipc_cond_notify_all(this.handle(op)));
  }

  /** A standalone condition also closes its mutex (EBUSY while this thread holds it). */
  override close(): void {
    if (!this.closed && this.owned) this.mutex.closeCheck();
    super.close();
  }
}
