/**
 * RwLock: a readers-writer lock in shared memory: many readers or one writer. A waiting writer stops
 * new readers, so a stream of readers cannot starve it. Built from robust mutexes: when a reader or a
 * writer dies holding it, what it held is released at once; after a writer died, every acquisition
 * reports `ownerDied` until a writer repairs the data and calls `consistent()`.
 *
 * Locks belong to the thread that took them (in JS: the main thread or a Worker). A thread holding
 * a read lock cannot take the write lock (EDEADLK: no upgrades).
 *
 * @module
 */

import { KIND_RWLOCK, RESULT_CODES, RWLOCK_ALIGN, RWLOCK_SIZE } from "./abi.ts";
import { checked, pointerOut } from "./call.ts";
import { codeName, type ErrorCode, IpcError, optionsOf } from "./errors.ts";
import type { LockState } from "./mutex.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, SharedMemory, unlinkKind } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

const LOCKED: LockState = Object.freeze({ ownerDied: false });
const OWNER_DIED: LockState = Object.freeze({ ownerDied: true });
const { OK, OWNER_DIED: OWNER_DIED_RC, EBUSY, ETIMEDOUT } = RESULT_CODES;

function explain(code: ErrorCode): string | undefined {
  switch (code) {
    case "EDEADLK":
      return "this thread already holds the lock (a read lock cannot be upgraded to a write lock)";
    case "EPROTO":
      return "the memory holds no rwlock (not initialized, or corrupt)";
    default:
      return undefined;
  }
}

/** A held read or write lock, released by `release()` or at the end of a `using` block. */
export class RwLockGuard implements Disposable {
  /** See `LockState.ownerDied`. */
  readonly ownerDied: boolean;
  #release: (() => void) | null;

  /** @internal */
  constructor(release: () => void, state: LockState) {
    this.#release = release;
    this.ownerDied = state.ownerDied;
  }

  /** Unlocks, once; later calls do nothing. */
  release(): void {
    const release = this.#release;
    if (release === null) return;
    this.#release = null;
    release();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** A robust process-shared readers-writer lock. */
export class RwLock extends SharedObject {
  readonly #s: Symbols;
  readonly #wordCell = pointerOut();
  readonly #expected = new Uint32Array(1);

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.#s = native().symbols;
  }

  protected get label(): string {
    return "RwLock";
  }

  /** Creates an rwlock in a segment of its own. */
  static create(options: CreateOptions = {}): RwLock {
    options = optionsOf("RwLock.create", options, `{ name: "table" }`);
    const { memory, pointer } = createStandalone(
      "RwLock.create",
      options,
      (a, seg, out) => native().symbols.ipc_rwlock_create(a.name, a.mode, a.flags, seg, out),
    );
    return new RwLock(memory, 0, pointer, true);
  }

  /**
   * Removes the name of a standalone rwlock, as `SharedMemory.unlink` does: processes that have it open keep using
   * it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("RwLock.unlink", name, "rwlock");
  }

  /** Opens the standalone rwlock called `name`. */
  static open(name: string, options: OpenOptions = {}): RwLock {
    return RwLock.#standalone("RwLock.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone rwlock behind `fd`. */
  static fromFd(fd: number, options: OpenOptions = {}): RwLock {
    return RwLock.#standalone("RwLock.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): RwLock {
    const pointer = openStandalone(
      op,
      memory,
      KIND_RWLOCK,
      "RwLock",
      what,
      (seg, cell) => native().symbols.ipc_rwlock_at(seg, 0n, cell),
    );
    return new RwLock(memory, 0, pointer, true);
  }

  /** Initializes an rwlock at `offset` (a multiple of 64; 2176 bytes) in `memory`. */
  static init(memory: SharedMemory, offset: number): RwLock {
    const { at, pointer } = placeObject(
      "RwLock.init",
      memory,
      offset,
      RWLOCK_SIZE,
      RWLOCK_ALIGN,
      (seg, off, cell) => native().symbols.ipc_rwlock_init_at(seg, off, cell),
    );
    return new RwLock(memory, at, pointer, false);
  }

  /** The rwlock another process initialized at `offset` in `memory`. */
  static at(memory: SharedMemory, offset: number): RwLock {
    const { at, pointer } = placeObject(
      "RwLock.at",
      memory,
      offset,
      RWLOCK_SIZE,
      RWLOCK_ALIGN,
      (seg, off, cell) => native().symbols.ipc_rwlock_at(seg, off, cell),
      explain,
    );
    return new RwLock(memory, at, pointer, false);
  }

  /** Read locks held now, by any process (a diagnostic). */
  get readers(): number {
    const op = "RwLock.readers";
    return checked(op, this.#s.ipc_rwlock_readers(this.handle(op)));
  }

  #state(op: string, rc: number, timeout: number, what: string): LockState {
    if (rc === OK) return LOCKED;
    if (rc === OWNER_DIED_RC) return OWNER_DIED;
    if (rc === ETIMEDOUT) throw this.#timedOut(op, timeout, what);
    checked(op, rc, explain);
    throw new IpcError(op, codeName(rc), `unexpected result ${rc}`);
  }

  #timedOut(op: string, timeout: number, what: string): IpcError {
    return new IpcError(op, "ETIMEDOUT", `${what} not acquired within ${timeout} ms`);
  }

  #try(op: string, rc: number): LockState | null {
    return rc === EBUSY ? null : this.#state(op, rc, 0, "");
  }

  /** Blocks until this thread holds a read lock. ETIMEDOUT, EDEADLK (it holds the write lock). */
  readLockSync(options?: LockOptions): LockState {
    const op = "RwLock.readLockSync";
    const timeout = timeoutOf(op, options);
    return this.#state(op, this.#s.ipc_rwlock_read_lock(this.handle(op), timeoutNs(timeout)), timeout, "read lock");
  }

  /** Takes a read lock if no writer holds or waits for the lock; else null. */
  tryReadLock(): LockState | null {
    const op = "RwLock.tryReadLock";
    return this.#try(op, this.#s.ipc_rwlock_try_read_lock(this.handle(op)));
  }

  /** Resolves once this thread holds a read lock, without blocking the event loop. */
  async readLock(options?: AsyncLockOptions): Promise<LockState> {
    const op = "RwLock.readLock";
    const timeout = timeoutOf(op, options);
    // The word the last step said to wait on: that step counted this call as waiting there.
    let waited: Pointer | null = null;
    const rc = await waitSteps(
      op,
      {
        step: (again) => {
          const rc = this.#s.ipc_rwlock_read_step(
            this.handle(op),
            again ? waited : null,
            this.#wordCell,
            this.#expected,
          );
          waited = rc === EBUSY ? native().readPointer(this.#wordCell) : null;
          return rc;
        },
        word: () => waited!,
        expected: () => this.#expected[0],
        giveUp: () => void this.#s.ipc_rwlock_unwait(this.handle(op), waited),
      },
      timeout,
      signalOf(op, options),
      this.pending,
      () => this.#timedOut(op, timeout, "read lock"),
    );
    return this.#state(op, rc, timeout, "read lock");
  }

  /** Releases a read lock this thread holds (EPERM otherwise). */
  readUnlock(): void {
    const op = "RwLock.readUnlock";
    checked(
      op,
      this.#s.ipc_rwlock_read_unlock(this.handle(op)),
      (code) => code === "EPERM" ? "this thread holds no read lock" : explain(code),
    );
  }

  /** Blocks until this thread holds the write lock. ETIMEDOUT, EDEADLK (it holds a lock already). */
  writeLockSync(options?: LockOptions): LockState {
    const op = "RwLock.writeLockSync";
    const timeout = timeoutOf(op, options);
    return this.#state(op, this.#s.ipc_rwlock_write_lock(this.handle(op), timeoutNs(timeout)), timeout, "write lock");
  }

  /** Takes the write lock if nobody holds the lock; else null. */
  tryWriteLock(): LockState | null {
    const op = "RwLock.tryWriteLock";
    return this.#try(op, this.#s.ipc_rwlock_try_write_lock(this.handle(op)));
  }

  /** Resolves once this thread holds the write lock, without blocking the event loop. */
  async writeLock(options?: AsyncLockOptions): Promise<LockState> {
    const op = "RwLock.writeLock";
    const timeout = timeoutOf(op, options);
    const rc = await waitSteps(
      op,
      {
        step: (again) => this.#s.ipc_rwlock_write_step(this.handle(op), again ? 1 : 0, this.#wordCell, this.#expected),
        word: () => native().readPointer(this.#wordCell)!,
        expected: () => this.#expected[0],
        giveUp: () => void this.#s.ipc_rwlock_write_abandon(this.handle(op)),
      },
      timeout,
      signalOf(op, options),
      this.pending,
      () => this.#timedOut(op, timeout, "write lock"),
    );
    return this.#state(op, rc, timeout, "write lock");
  }

  /** Releases the write lock this thread holds (EPERM otherwise). */
  writeUnlock(): void {
    const op = "RwLock.writeUnlock";
    checked(
      op,
      this.#s.ipc_rwlock_write_unlock(this.handle(op)),
      (code) => code === "EPERM" ? "this thread does not hold the write lock" : explain(code),
    );
  }

  /** `readLock()` returning a guard: `using guard = await rw.read()`. */
  async read(options?: AsyncLockOptions): Promise<RwLockGuard> {
    return new RwLockGuard(() => this.readUnlock(), await this.readLock(options));
  }

  /** `readLockSync()` returning a guard. */
  readSync(options?: LockOptions): RwLockGuard {
    return new RwLockGuard(() => this.readUnlock(), this.readLockSync(options));
  }

  /** `writeLock()` returning a guard. */
  async write(options?: AsyncLockOptions): Promise<RwLockGuard> {
    return new RwLockGuard(() => this.writeUnlock(), await this.writeLock(options));
  }

  /** `writeLockSync()` returning a guard. */
  writeSync(options?: LockOptions): RwLockGuard {
    return new RwLockGuard(() => this.writeUnlock(), this.writeLockSync(options));
  }

  /**
   * Declares the data repaired after a writer died holding the lock; this thread must hold the
   * write lock (EPERM). EINVAL when no writer died.
   */
  consistent(): void {
    const op = "RwLock.consistent";
    checked(
      op,
      this.#s.ipc_rwlock_consistent(this.handle(op)),
      (code) =>
        code === "EINVAL"
          ? "no writer died holding the lock"
          : code === "EPERM"
          ? "this thread does not hold the write lock"
          : explain(code),
    );
  }

  /**
   * Stops using the rwlock in this process: pending `readLock()`/`writeLock()` calls reject with
   * ECLOSED (a pending write lock first gives back what it had taken). Throws EBUSY while this
   * thread holds a read or the write lock.
   */
  override close(): void {
    if (this.closed) return;
    this.cancelPending(new IpcError("RwLock.close", "ECLOSED", "the rwlock was closed while waiting"));
    super.close();
  }

  /** Throws EBUSY while this thread holds a read or the write lock: its memory must stay mapped. */
  override closeCheck(): void {
    if (this.closed || this.#s.ipc_rwlock_held(this.handle("RwLock.close")) !== 1) return;
    throw new IpcError(
      "RwLock.close",
      "EBUSY",
      "this thread holds the lock: unlock it first (its memory must stay mapped while it is held, so that " +
        "the kernel can release it if this process dies)",
    );
  }
}
