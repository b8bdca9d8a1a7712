/**
 * Mutex: a robust lock in shared memory, usable from Bun, Deno and C processes at once.
 *
 * A mutex is owned by the thread that locked it (in JS: the main thread or the Worker that called
 * lock), and only that thread may unlock it. When a holder dies, however it dies, the next locker
 * gets the lock with `ownerDied: true`; it repairs what the mutex protects and calls `consistent()`
 * before unlocking, or every later locker gets ENOTRECOVERABLE.
 *
 * @module
 */

import { KIND_MUTEX, MUTEX_ALIGN, MUTEX_SIZE, RESULT_CODES, SEGMENT_TRACK, SEGMENT_UNIQUE_NAME } from "./abi.ts";
import { checked, cString, pointerOut, takePointer } from "./call.ts";
import { checkInteger, codeName, describe, type ErrorCode, IpcError, IpcTypeError } from "./errors.ts";
import { type AsyncLockOptions, checkOffset, type LockOptions, signalOf, timeoutOf } from "./options.ts";
import { explainName } from "./names.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type Dependent, type OpenOptions, segmentInternals, SharedMemory, unlinkKind } from "./segment.ts";
import { explainTracker } from "./tracker.ts";
import { type Cancelable, waitSteps } from "./wait.ts";

/** How a lock was acquired. */
export interface LockState {
  /**
   * True when the previous holder died holding the lock: the state it protects may be half-updated.
   * Repair it and call `consistent()` before `unlock()`.
   */
  readonly ownerDied: boolean;
}

/** Options of `Mutex.create`. */
export interface MutexOptions {
  /** A name other processes open it by; `true` for a generated one; absent for an anonymous mutex. */
  name?: string | boolean;
  /** Permission bits of a named mutex; default 0o600. */
  mode?: number;
  /** Register the name with this process's tracker (see `Tracker`). Ignored for anonymous ones. */
  track?: boolean;
}

/** A snapshot of a mutex's lock word, for diagnostics and tests. */
export interface MutexState {
  /** Kernel thread id of the holder (in its pid namespace), or 0 when free. */
  readonly holder: number;
  /** Whether some thread is parked waiting for it (spinning waiters do not show). */
  readonly waiters: boolean;
}

const LOCKED: LockState = Object.freeze({ ownerDied: false });
const OWNER_DIED: LockState = Object.freeze({ ownerDied: true });
const { OK, OWNER_DIED: OWNER_DIED_RC, EBUSY, ETIMEDOUT } = RESULT_CODES;
/** The lock word (robust-futex protocol) is 16 bytes into the object (zig/mutex.zig). */
const wordOffset = 16;
const waitersBit = 0x8000_0000;
// Where ipc_mutex_lock_step stores the word value to wait for; read in the same turn, so one cell
// serves every lock() in flight.
const expectedCell = new Uint32Array(1);
const tidMask = 0x3fff_ffff;

function explainLock(code: ErrorCode): string | undefined {
  switch (code) {
    case "EDEADLK":
      return "this thread already holds the mutex";
    case "ENOTRECOVERABLE":
      return "a holder died and the next one unlocked without calling consistent(): the state it " +
        "protects cannot be trusted";
    case "EPROTO":
      return "the memory holds no mutex (not initialized, or destroyed)";
    case "ENOTSUP":
      return "the mutex was made with the other lock protocol: libipc built for glibc uses the kernel's " +
        "robust list, built for musl (Alpine), macOS or Windows (or with -Dmutex=owner) the owner-recording " +
        'lock, and the two refuse each other\'s mutexes (README "Platforms")';
    default:
      return undefined;
  }
}

/** A held lock, released by `release()` or at the end of a `using` block. */
export class MutexGuard implements Disposable {
  /** See `LockState.ownerDied`. */
  readonly ownerDied: boolean;
  #mutex: Mutex | null;

  /** @internal */
  constructor(mutex: Mutex, state: LockState) {
    this.#mutex = mutex;
    this.ownerDied = state.ownerDied;
  }

  /** Unlocks, once; later calls do nothing. */
  release(): void {
    const mutex = this.#mutex;
    if (mutex === null) return;
    this.#mutex = null;
    mutex.unlock();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** What other classes of lib/ need of a Mutex (a Condition passes its handle to native code). */
export interface MutexInternals {
  handle(mutex: Mutex, op: string): Pointer;
}

/** Set by Mutex's static initializer. */
export let mutexInternals: MutexInternals;

/** A robust process-shared mutex. */
export class Mutex implements Disposable, Dependent {
  #pointer: Pointer | null;
  readonly #word: Pointer;
  readonly #memory: SharedMemory;
  readonly #offset: number;
  readonly #owned: boolean;
  readonly #s: Symbols;
  // The calls of the uncontended path, looked up once: the symbols object has a property per C
  // function, too many for V8's fast property layout (Deno keeps it as a dictionary), and a lookup
  // per call cost as much as the lock (DEVELOPERS.md "Mutex").
  readonly #lock: Symbols["ipc_mutex_lock"];
  readonly #tryLock: Symbols["ipc_mutex_try_lock"];
  readonly #unlock: Symbols["ipc_mutex_unlock"];
  readonly #waits = new Set<Cancelable>();
  #lockWord: Uint32Array | undefined;

  static {
    mutexInternals = { handle: (mutex, op) => mutex.#pointer ?? mutex.#live(op) };
  }

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    const s = native().symbols;
    this.#s = s;
    this.#lock = s.ipc_mutex_lock;
    this.#tryLock = s.ipc_mutex_try_lock;
    this.#unlock = s.ipc_mutex_unlock;
    this.#memory = memory;
    this.#offset = offset;
    this.#pointer = pointer;
    this.#owned = owned;
    this.#word = this.#s.ipc_mutex_word(pointer)!;
    segmentInternals.depend(memory, this);
  }

  /**
   * Creates a mutex in a small segment of its own. Other processes open it by name (`Mutex.open`) or
   * by fd (`Mutex.fromFd`, for an anonymous one handed to a child).
   */
  static create(options: MutexOptions = {}): Mutex {
    const op = "Mutex.create";
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { name: "lock" }, got ${describe(options)}`);
    }
    const mode = options.mode === undefined ? 0 : checkInteger(op, "mode", options.mode, 0, 0o777);
    const name = options.name;
    if (options.track !== undefined && typeof options.track !== "boolean") {
      throw new IpcTypeError(op, `track must be a boolean, got ${describe(options.track)}`);
    }
    let flags = options.track ? SEGMENT_TRACK : 0;
    let nameBuf: Uint8Array | null = null;
    if (name === true) flags |= SEGMENT_UNIQUE_NAME;
    else if (typeof name === "string") nameBuf = cString(op, "name", name);
    else if (name !== undefined && name !== false) {
      throw new IpcTypeError(op, `name must be a string or a boolean, got ${describe(name)}`);
    }
    const segment = pointerOut();
    const mutex = pointerOut();
    const rc = native().symbols.ipc_mutex_create(nameBuf, mode, flags, segment, mutex);
    checked(
      op,
      rc,
      (code) =>
        code === "EEXIST"
          ? `an object named ${describe(name)} already exists`
          : (options.track && name !== undefined && name !== false && explainTracker(code, undefined)) ||
            explainName(code, name),
    );
    const memory = segmentInternals.adopt(takePointer(op, segment));
    return new Mutex(memory, 0, takePointer(op, mutex), true);
  }

  /**
   * Removes the name of a standalone mutex (`create({ name })`), as `SharedMemory.unlink` does: processes that have
   * it open keep using it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Mutex.unlink", name, "mutex");
  }

  /** Opens the standalone mutex called `name`, created by any process. */
  static open(name: string, options: OpenOptions = {}): Mutex {
    return Mutex.#standalone("Mutex.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone mutex behind `fd` (one a parent passed to this process). */
  static fromFd(fd: number, options: OpenOptions = {}): Mutex {
    return Mutex.#standalone("Mutex.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Mutex {
    try {
      if (segmentInternals.kind(memory) !== KIND_MUTEX) {
        throw new IpcError(op, "EKIND", `${describe(what)} is a segment, not a mutex: use Mutex.at(memory, offset)`);
      }
      const cell = pointerOut();
      checked(op, native().symbols.ipc_mutex_at(segmentInternals.handle(memory, op), 0n, cell), explainLock);
      return new Mutex(memory, 0, takePointer(op, cell), true);
    } catch (error) {
      memory.close();
      throw error;
    }
  }

  /**
   * Initializes a new mutex at `offset` (a multiple of 8; 64 bytes) in `memory`. Exactly one process
   * initializes it, before any other uses it with `Mutex.at`.
   */
  static init(memory: SharedMemory, offset: number): Mutex {
    const op = "Mutex.init";
    const at = checkOffset(op, memory, offset, MUTEX_SIZE, MUTEX_ALIGN);
    const cell = pointerOut();
    checked(op, native().symbols.ipc_mutex_init_at(segmentInternals.handle(memory, op), BigInt(at), cell));
    return new Mutex(memory, at, takePointer(op, cell), false);
  }

  /** The mutex another process initialized at `offset` in `memory`. It stays usable until either closes. */
  static at(memory: SharedMemory, offset: number): Mutex {
    const op = "Mutex.at";
    const at = checkOffset(op, memory, offset, MUTEX_SIZE, MUTEX_ALIGN);
    const cell = pointerOut();
    const rc = native().symbols.ipc_mutex_at(segmentInternals.handle(memory, op), BigInt(at), cell);
    checked(
      op,
      rc,
      (code) =>
        code === "EPROTO" ? `no mutex at offset ${at}: not initialized (Mutex.init), or destroyed` : explainLock(code),
    );
    return new Mutex(memory, at, takePointer(op, cell), false);
  }

  /** The segment the mutex lives in. */
  get memory(): SharedMemory {
    return this.#memory;
  }

  /** Its offset in `memory`'s user data. */
  get offset(): number {
    return this.#offset;
  }

  /** The name of a standalone named mutex, else null. */
  get name(): string | null {
    return this.#owned ? this.#memory.name : null;
  }

  /** Whether `close()` was called (or its segment was closed). */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /** The lock word, read now. */
  get state(): MutexState {
    if (this.#pointer === null) this.#live("Mutex.state");
    this.#lockWord ??= this.#memory.view(Uint32Array, this.#offset + wordOffset, 1);
    const word = Atomics.load(this.#lockWord, 0);
    return { holder: word & tidMask, waiters: (word & waitersBit) !== 0 };
  }

  /**
   * Blocks the thread (and its event loop) until it holds the mutex; spins briefly before parking.
   * Throws ETIMEDOUT after `timeout` ms, EDEADLK if this thread holds it already.
   */
  lockSync(options?: LockOptions): LockState {
    const pointer = this.#pointer ?? this.#live("Mutex.lockSync");
    if (options !== undefined) return this.#lockWith(pointer, options);
    const rc = this.#lock(pointer);
    // 0 is OK, written as a literal here and in unlock: Bun's JIT reloads a module-level constant on
    // every call, which cost ~4 ns per lockSync+unlock (8 alternating runs, CPU time).
    return rc === 0 ? LOCKED : this.#acquired("Mutex.lockSync", rc, Infinity);
  }

  /** `lockSync` with options: kept out of it, so that the engines inline the usual call. */
  #lockWith(pointer: Pointer, options: LockOptions): LockState {
    const timeout = timeoutOf("Mutex.lockSync", options);
    const rc = timeout === Infinity
      ? this.#lock(pointer)
      : this.#s.ipc_mutex_timed_lock(pointer, BigInt(Math.ceil(timeout * 1e6)));
    if (rc === OK) return LOCKED;
    return this.#acquired("Mutex.lockSync", rc, timeout);
  }

  /** Takes the mutex if it is free; returns null when another thread holds it. Never blocks. */
  tryLock(): LockState | null {
    const pointer = this.#pointer ?? this.#live("Mutex.tryLock");
    const rc = this.#tryLock(pointer);
    if (rc === OK) return LOCKED;
    if (rc === EBUSY) return null;
    return this.#acquired("Mutex.tryLock", rc, 0);
  }

  /**
   * Resolves once this thread holds the mutex, without blocking the event loop. Rejects with
   * ETIMEDOUT after `timeout` ms, with the signal's reason when `signal` aborts, with ECLOSED when
   * the mutex is closed meanwhile.
   */
  async lock(options?: AsyncLockOptions): Promise<LockState> {
    const op = "Mutex.lock";
    const timeout = timeoutOf(op, options);
    const rc = await waitSteps(
      op,
      {
        // A step after a wait marks the lock as contended, so that our unlock wakes the next waiter.
        step: (again) => this.#s.ipc_mutex_lock_step(this.#pointer ?? this.#live(op), again ? 1 : 0, expectedCell),
        word: () => this.#word,
        expected: () => expectedCell[0],
        giveUp: () => {}, // a waiter of a mutex leaves nothing behind but the waiters bit, which is harmless
      },
      timeout,
      signalOf(op, options),
      this.#waits,
      () => this.#timedOut(op, timeout),
    );
    return this.#acquired(op, rc, timeout);
  }

  /** `lock()`, returning a guard that unlocks when disposed: `using guard = await mutex.acquire()`. */
  async acquire(options?: AsyncLockOptions): Promise<MutexGuard> {
    return new MutexGuard(this, await this.lock(options));
  }

  /** `lockSync()`, returning a guard that unlocks when disposed. */
  acquireSync(options?: LockOptions): MutexGuard {
    return new MutexGuard(this, this.lockSync(options));
  }

  /** Releases the mutex. Throws EPERM when this thread does not hold it. */
  unlock(): void {
    const pointer = this.#pointer ?? this.#live("Mutex.unlock");
    const rc = this.#unlock(pointer);
    if (rc !== 0) this.#unlockFailed(rc);
  }

  #unlockFailed(rc: number): void {
    checked(
      "Mutex.unlock",
      rc,
      (code) =>
        code === "EPERM"
          ? "this thread does not hold the mutex (never locked, already unlocked, or held by another thread)"
          : explainLock(code),
    );
  }

  /**
   * Declares the state protected by a mutex acquired with `ownerDied` repaired, so that `unlock()`
   * hands it on normally. Throws EPERM unless this thread holds it, EINVAL if it is not in that state.
   */
  consistent(): void {
    const op = "Mutex.consistent";
    checked(
      op,
      this.#s.ipc_mutex_consistent(this.#pointer ?? this.#live(op)),
      (code) =>
        code === "EINVAL"
          ? "the mutex was not acquired with ownerDied"
          : code === "EPERM"
          ? "this thread does not hold the mutex"
          : explainLock(code),
    );
  }

  /** Throws EBUSY while this thread holds the mutex: its memory must stay mapped until unlocked. */
  closeCheck(): void {
    if (this.#pointer !== null && this.#s.ipc_mutex_held(this.#pointer) === 1) {
      throw new IpcError(
        "Mutex.close",
        "EBUSY",
        "this thread holds the mutex: unlock it first (its memory must stay mapped while it is held, " +
          "so that the kernel can release it if this process dies)",
      );
    }
  }

  /**
   * Stops using the mutex in this process: pending `lock()` calls reject with ECLOSED. Throws EBUSY
   * while this thread holds it. A standalone mutex closes its segment; a named one keeps its name
   * until `SharedMemory.unlink(name)`. Idempotent. Until closed, a mutex keeps its segment mapped.
   */
  close(): void {
    if (this.#pointer === null) return;
    this.closeCheck();
    this.#pointer = null;
    for (const wait of this.#waits) {
      wait.cancel(new IpcError("Mutex.lock", "ECLOSED", "the mutex was closed while waiting for it"));
    }
    this.#waits.clear();
    this.#lockWord = undefined;
    segmentInternals.undepend(this.#memory, this);
    if (this.#owned) this.#memory.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(op: string): never {
    throw new IpcError(op, "ECLOSED", "the mutex is closed");
  }

  #timedOut(op: string, timeout: number): IpcError {
    return new IpcError(op, "ETIMEDOUT", `not acquired within ${timeout} ms`);
  }

  #acquired(op: string, rc: number, timeout: number): LockState {
    if (rc === OK) return LOCKED;
    if (rc === OWNER_DIED_RC) return OWNER_DIED;
    if (rc === ETIMEDOUT) throw this.#timedOut(op, timeout);
    checked(op, rc, explainLock);
    throw new IpcError(op, codeName(rc), `unexpected result ${rc}`);
  }
}
