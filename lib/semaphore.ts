/**
 * Semaphore: a counting semaphore in shared memory with an optional maximum, usable from Bun, Deno
 * and C processes at once.
 *
 * Units have no owner (as with POSIX `sem_t` and Python's semaphores): any process may release
 * them, and units held by a process that dies are not given back. Acquire with a timeout where that
 * matters; the timeout error says what the value was.
 *
 * @module
 */

import { KIND_SEMAPHORE, RESULT_CODES, SEM_ALIGN, SEM_SIZE, SEM_VALUE_MAX } from "./abi.ts";
import { checked } from "./call.ts";
import { checkInteger, type ErrorCode, IpcError, optionsOf } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, checkCount, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, SharedMemory, unlinkKind } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

/** Options of `Semaphore.create` and `Semaphore.init`. */
export interface SemaphoreOptions {
  /** Initial units; default 1 (Python's default). */
  value?: number;
  /** Largest value: releasing past it throws ERANGE (Python's BoundedSemaphore). Default 2^31 - 1. */
  max?: number;
}

const { OK, EBUSY } = RESULT_CODES;

function explain(code: ErrorCode): string | undefined {
  return code === "EPROTO" ? "the memory holds no semaphore (not initialized, or corrupt)" : undefined;
}

function initArgs(op: string, options: SemaphoreOptions): [number, number] {
  const max = options.max === undefined ? SEM_VALUE_MAX : checkInteger(op, "max", options.max, 1, SEM_VALUE_MAX);
  const value = options.value === undefined ? Math.min(1, max) : checkInteger(op, "value", options.value, 0, max);
  return [value, max];
}

/** Units held, released by `release()` or at the end of a `using` block. */
export class SemaphoreGuard implements Disposable {
  #semaphore: Semaphore | null;
  readonly #n: number;

  /** @internal */
  constructor(semaphore: Semaphore, n: number) {
    this.#semaphore = semaphore;
    this.#n = n;
  }

  /** Releases the units, once; later calls do nothing. */
  release(): void {
    const semaphore = this.#semaphore;
    if (semaphore === null) return;
    this.#semaphore = null;
    semaphore.release(this.#n);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** A counting process-shared semaphore. */
export class Semaphore extends SharedObject {
  readonly #s: Symbols;
  readonly #word: Pointer;
  readonly #expected = new Uint32Array(1);
  readonly #max: number;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.#s = native().symbols;
    this.#word = this.#s.ipc_sem_word(pointer)!;
    this.#max = this.#s.ipc_sem_max(pointer);
  }

  protected get label(): string {
    return "Semaphore";
  }

  /** Creates a semaphore in a segment of its own; others open it by name or fd. */
  static create(options: CreateOptions & SemaphoreOptions = {}): Semaphore {
    options = optionsOf("Semaphore.create", options, "{ value: 1 }");
    const op = "Semaphore.create";
    const { memory, pointer } = createStandalone(op, options, (a, seg, out) => {
      const [value, max] = initArgs(op, options);
      return native().symbols.ipc_sem_create(a.name, a.mode, a.flags, value, max, seg, out);
    }, explain);
    return new Semaphore(memory, 0, pointer, true);
  }

  /**
   * Removes the name of a standalone semaphore, as `SharedMemory.unlink` does: processes that have it open keep
   * using it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Semaphore.unlink", name, "semaphore");
  }

  /** Opens the standalone semaphore called `name`. */
  static open(name: string, options: OpenOptions = {}): Semaphore {
    return Semaphore.#standalone("Semaphore.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone semaphore behind `fd` (one a parent passed to this process). */
  static fromFd(fd: number, options: OpenOptions = {}): Semaphore {
    return Semaphore.#standalone("Semaphore.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Semaphore {
    const pointer = openStandalone(
      op,
      memory,
      KIND_SEMAPHORE,
      "Semaphore",
      what,
      (seg, cell) => native().symbols.ipc_sem_at(seg, 0n, cell),
    );
    return new Semaphore(memory, 0, pointer, true);
  }

  /** Initializes a semaphore at `offset` (a multiple of 8; 64 bytes) in `memory`. */
  static init(memory: SharedMemory, offset: number, options: SemaphoreOptions = {}): Semaphore {
    options = optionsOf("Semaphore.init", options, "{ value: 1 }");
    const op = "Semaphore.init";
    const [value, max] = initArgs(op, options);
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      SEM_SIZE,
      SEM_ALIGN,
      (seg, off, cell) => native().symbols.ipc_sem_init_at(seg, off, value, max, cell),
    );
    return new Semaphore(memory, at, pointer, false);
  }

  /** The semaphore another process initialized at `offset` in `memory`. */
  static at(memory: SharedMemory, offset: number): Semaphore {
    const op = "Semaphore.at";
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      SEM_SIZE,
      SEM_ALIGN,
      (seg, off, cell) => native().symbols.ipc_sem_at(seg, off, cell),
      explain,
    );
    return new Semaphore(memory, at, pointer, false);
  }

  /** The current value. */
  get value(): number {
    const op = "Semaphore.value";
    return checked(op, this.#s.ipc_sem_value(this.handle(op)), explain);
  }

  /** The largest value. */
  get max(): number {
    return this.#max;
  }

  #count(op: string, n: unknown): number {
    return checkCount(op, "n", n, this.#max);
  }

  #timedOut(op: string, n: number, timeout: number): IpcError {
    const value = this.closed ? "" : ` (value now ${this.#s.ipc_sem_value(this.handle(op))})`;
    return new IpcError(
      op,
      "ETIMEDOUT",
      `${n} unit(s) not available within ${timeout} ms${value}; units held by a process that died are ` +
        "not given back: semaphores have no owner",
    );
  }

  /** Blocks until `n` units (default 1) are taken. Throws ETIMEDOUT after `timeout` ms. */
  acquireSync(n?: number, options?: LockOptions): void {
    const op = "Semaphore.acquireSync";
    const count = this.#count(op, n);
    const timeout = timeoutOf(op, options);
    const rc = this.#s.ipc_sem_acquire(this.handle(op), count, timeoutNs(timeout));
    if (rc === RESULT_CODES.ETIMEDOUT) throw this.#timedOut(op, count, timeout);
    checked(op, rc, explain);
  }

  /** Takes `n` units if available now; never blocks. */
  tryAcquire(n?: number): boolean {
    const op = "Semaphore.tryAcquire";
    const rc = this.#s.ipc_sem_try_acquire(this.handle(op), this.#count(op, n));
    if (rc === EBUSY) return false;
    checked(op, rc, explain);
    return true;
  }

  /** Resolves once `n` units are taken, without blocking the event loop. */
  async acquire(n?: number, options?: AsyncLockOptions): Promise<void> {
    const op = "Semaphore.acquire";
    const count = this.#count(op, n);
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    const rc = await waitSteps(
      op,
      {
        step: (again) => this.#s.ipc_sem_acquire_step(this.handle(op), count, again ? 1 : 0, this.#expected),
        word: () => this.#word,
        expected: () => this.#expected[0],
        giveUp: () => void this.#s.ipc_sem_unwait(this.handle(op), count),
      },
      timeout,
      signal,
      this.pending,
      () => this.#timedOut(op, count, timeout),
    );
    if (rc !== OK) checked(op, rc, explain);
  }

  /** `acquire(n)`, returning a guard that releases the units when disposed. */
  async guard(n?: number, options?: AsyncLockOptions): Promise<SemaphoreGuard> {
    const count = this.#count("Semaphore.guard", n);
    await this.acquire(count, options);
    return new SemaphoreGuard(this, count);
  }

  /** `acquireSync(n)`, returning a guard that releases the units when disposed. */
  guardSync(n?: number, options?: LockOptions): SemaphoreGuard {
    const count = this.#count("Semaphore.guardSync", n);
    this.acquireSync(count, options);
    return new SemaphoreGuard(this, count);
  }

  /** Returns `n` units (default 1). Throws ERANGE, releasing nothing, past the maximum. */
  release(n?: number): void {
    const op = "Semaphore.release";
    const count = this.#count(op, n);
    const rc = this.#s.ipc_sem_release(this.handle(op), count);
    if (rc === OK) return;
    checked(
      op,
      rc,
      (code) =>
        code === "ERANGE"
          ? `releasing ${count} would exceed the maximum of ${this.#max} (value ${this.value})`
          : explain(code),
    );
  }
}
