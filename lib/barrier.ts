/**
 * Barrier: `parties` waiters pass together (Python's threading.Barrier, across processes). `wait`
 * returns a distinct arrival index in [0, parties). A wait that times out, or `abort()`, breaks the
 * barrier: every wait in progress and every later one throws EBROKEN until `reset()`, which also
 * breaks the waits in progress. A party that dies before arriving never arrives: the others find
 * out through their timeout, which breaks the barrier for everyone.
 *
 * @module
 */

import { BARRIER_ALIGN, BARRIER_PARTIES_MAX, BARRIER_PASSED, BARRIER_SIZE, KIND_BARRIER, RESULT_CODES } from "./abi.ts";
import { checked, strerror } from "./call.ts";
import { checkInteger, codeName, type ErrorCode, IpcError } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, SharedMemory, unlinkKind } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitWord } from "./wait.ts";

/** Options of `Barrier.create` and `Barrier.init`. */
export interface BarrierOptions {
  /** How many waiters pass together: 1 to 65535. */
  parties: number;
}

const { OK, EBUSY, ETIMEDOUT, EBROKEN } = RESULT_CODES;

function partiesOf(op: string, options: unknown): number {
  const parties = (options as BarrierOptions | undefined)?.parties;
  return checkInteger(op, "parties", parties, 1, BARRIER_PARTIES_MAX);
}

function explain(code: ErrorCode): string | undefined {
  switch (code) {
    case "EBROKEN":
      return "the barrier is broken: a party timed out or was aborted, abort() or reset() was called; " +
        "reset() makes it usable again";
    case "EPROTO":
      return "the memory holds no barrier (not initialized, or corrupt)";
    default:
      return undefined;
  }
}

/** A process-shared barrier. */
export class Barrier extends SharedObject {
  readonly #s: Symbols;
  readonly #word: Pointer;
  readonly #cell = new Uint32Array(1);
  /** How many waiters pass together. */
  readonly parties: number;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.#s = native().symbols;
    this.#word = this.#s.ipc_barrier_word(pointer)!;
    this.parties = this.#s.ipc_barrier_parties(pointer);
  }

  protected get label(): string {
    return "Barrier";
  }

  /** Creates a barrier for `parties` waiters in a segment of its own. */
  static create(options: CreateOptions & BarrierOptions): Barrier {
    const op = "Barrier.create";
    const parties = partiesOf(op, options);
    const { memory, pointer } = createStandalone(
      op,
      options,
      (a, seg, out) => native().symbols.ipc_barrier_create(a.name, a.mode, a.flags, parties, seg, out),
    );
    return new Barrier(memory, 0, pointer, true);
  }

  /**
   * Removes the name of a standalone barrier, as `SharedMemory.unlink` does: processes that have it open keep using
   * it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Barrier.unlink", name, "barrier");
  }

  /** Opens the standalone barrier called `name`. */
  static open(name: string, options: OpenOptions = {}): Barrier {
    return Barrier.#standalone("Barrier.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone barrier behind `fd`. */
  static fromFd(fd: number, options: OpenOptions = {}): Barrier {
    return Barrier.#standalone("Barrier.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Barrier {
    const pointer = openStandalone(
      op,
      memory,
      KIND_BARRIER,
      "Barrier",
      what,
      (seg, cell) => native().symbols.ipc_barrier_at(seg, 0n, cell),
    );
    return new Barrier(memory, 0, pointer, true);
  }

  /** Initializes a barrier at `offset` (a multiple of 8; 64 bytes) in `memory`. */
  static init(memory: SharedMemory, offset: number, options: BarrierOptions): Barrier {
    const op = "Barrier.init";
    const parties = partiesOf(op, options);
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      BARRIER_SIZE,
      BARRIER_ALIGN,
      (seg, off, cell) => native().symbols.ipc_barrier_init_at(seg, off, parties, cell),
    );
    return new Barrier(memory, at, pointer, false);
  }

  /** The barrier another process initialized at `offset` in `memory`. */
  static at(memory: SharedMemory, offset: number): Barrier {
    const { at, pointer } = placeObject(
      "Barrier.at",
      memory,
      offset,
      BARRIER_SIZE,
      BARRIER_ALIGN,
      (seg, off, cell) => native().symbols.ipc_barrier_at(seg, off, cell),
      explain,
    );
    return new Barrier(memory, at, pointer, false);
  }

  /** Parties waiting now. */
  get waiting(): number {
    const op = "Barrier.waiting";
    return checked(op, this.#s.ipc_barrier_waiting(this.handle(op)));
  }

  /** Whether the barrier is broken. */
  get broken(): boolean {
    const op = "Barrier.broken";
    return checked(op, this.#s.ipc_barrier_broken(this.handle(op))) === 1;
  }

  #timedOut(op: string, timeout: number): IpcError {
    return new IpcError(
      op,
      "ETIMEDOUT",
      `not all ${this.parties} parties arrived within ${timeout} ms (a party that died never arrives); ` +
        "the barrier is now broken for every party until reset()",
    );
  }

  /** Arrives and blocks until all parties have: returns the arrival index. EBROKEN, ETIMEDOUT. */
  waitSync(options?: LockOptions): number {
    const op = "Barrier.waitSync";
    const timeout = timeoutOf(op, options);
    const rc = this.#s.ipc_barrier_wait(this.handle(op), timeoutNs(timeout));
    if (rc >= 0) return rc;
    if (rc === ETIMEDOUT) throw this.#timedOut(op, timeout);
    checked(op, rc, explain);
    return rc;
  }

  /**
   * Arrives and resolves with the arrival index once all parties have, without blocking the event
   * loop. A timeout or an aborted signal breaks the barrier for everyone, as a timed-out waitSync does.
   */
  async wait(options?: AsyncLockOptions): Promise<number> {
    const op = "Barrier.wait";
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    signal?.throwIfAborted();
    const index = checked(op, this.#s.ipc_barrier_arrive(this.handle(op), this.#cell), explain);
    const ticket = this.#cell[0];
    if (ticket === BARRIER_PASSED) return index;
    const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
    while (true) {
      const rc = this.#s.ipc_barrier_check(this.handle(op), ticket, this.#cell);
      if (rc === OK) return index;
      if (rc !== EBUSY) checked(op, rc, explain);
      const remaining = deadline - performance.now();
      let failure: unknown = signal?.aborted ? signal.reason : remaining <= 0 ? this.#timedOut(op, timeout) : undefined;
      if (failure === undefined) {
        const wait = waitWord(op, this.#word, this.#cell[0], remaining, signal);
        const entry = {
          cancel: (reason: unknown) => {
            this.#s.ipc_barrier_break(this.handle(op), ticket);
            wait.cancel(reason);
          },
        };
        this.pending.add(entry);
        try {
          const result = await wait.promise;
          if (result === ETIMEDOUT) failure = this.#timedOut(op, timeout);
          else if (result !== OK) failure = new IpcError(op, codeName(result), strerror(result));
        } catch (error) {
          failure = error;
        } finally {
          this.pending.delete(entry);
        }
      }
      if (failure !== undefined) {
        // Leaving breaks this generation for everyone, unless it passed meanwhile; if another party
        // broke it first, this one reports EBROKEN like everyone else.
        if (this.closed) throw failure;
        if (this.#s.ipc_barrier_check(this.handle(op), ticket, this.#cell) === EBROKEN) checked(op, EBROKEN, explain);
        if (this.#s.ipc_barrier_break(this.handle(op), ticket) === OK) throw failure;
      }
    }
  }

  /** Breaks the barrier: waits in progress and later ones throw EBROKEN until `reset()`. */
  abort(): void {
    const op = "Barrier.abort";
    checked(op, this.#s.ipc_barrier_abort(this.handle(op)));
  }

  /** Makes the barrier empty and unbroken; waits in progress throw EBROKEN. */
  reset(): void {
    const op = "Barrier.reset";
    checked(op, this.#s.ipc_barrier_reset(this.handle(op)));
  }
}
