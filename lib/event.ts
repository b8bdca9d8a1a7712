/**
 * Event: set or clear, in shared memory. A manual-reset event stays set, releasing every waiter,
 * until `clear()`; an auto-reset event releases one waiter per `set()` and clears as it does.
 *
 * @module
 */

import { EVENT_ALIGN, EVENT_AUTO_RESET, EVENT_SIZE, KIND_EVENT, RESULT_CODES } from "./abi.ts";
import { checked } from "./call.ts";
import { describe, IpcError, IpcTypeError, optionsOf } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, SharedMemory, unlinkKind } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

/** Options of `Event.create` and `Event.init`. */
export interface EventOptions {
  /** Release one waiter per `set()` and clear again (default false: manual reset). */
  autoReset?: boolean;
}

const { OK, EBUSY, ETIMEDOUT } = RESULT_CODES;

function flagsOf(op: string, options: EventOptions): number {
  const auto = options.autoReset;
  if (auto !== undefined && typeof auto !== "boolean") {
    throw new IpcTypeError(op, `autoReset must be a boolean, got ${describe(auto)}`);
  }
  return auto === true ? EVENT_AUTO_RESET : 0;
}

/** A process-shared event. */
export class Event extends SharedObject {
  readonly #s: Symbols;
  readonly #word: Pointer;
  /** Whether this is an auto-reset event. */
  readonly autoReset: boolean;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.#s = native().symbols;
    this.#word = this.#s.ipc_event_word(pointer)!;
    this.autoReset = (this.#s.ipc_event_flags(pointer) & EVENT_AUTO_RESET) !== 0;
  }

  protected get label(): string {
    return "Event";
  }

  /** Creates a clear event in a segment of its own. */
  static create(options: CreateOptions & EventOptions = {}): Event {
    options = optionsOf("Event.create", options, "{ autoReset: true }");
    const op = "Event.create";
    const { memory, pointer } = createStandalone(
      op,
      options,
      (a, seg, out) => native().symbols.ipc_event_create(a.name, a.mode, a.flags, flagsOf(op, options), seg, out),
    );
    return new Event(memory, 0, pointer, true);
  }

  /**
   * Removes the name of a standalone event, as `SharedMemory.unlink` does: processes that have it open keep using
   * it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Event.unlink", name, "event");
  }

  /** Opens the standalone event called `name`. */
  static open(name: string, options: OpenOptions = {}): Event {
    return Event.#standalone("Event.open", SharedMemory.open(name, options), name);
  }

  /** Opens the standalone event behind `fd`. */
  static fromFd(fd: number, options: OpenOptions = {}): Event {
    return Event.#standalone("Event.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Event {
    const pointer = openStandalone(
      op,
      memory,
      KIND_EVENT,
      "Event",
      what,
      (seg, cell) => native().symbols.ipc_event_at(seg, 0n, cell),
    );
    return new Event(memory, 0, pointer, true);
  }

  /** Initializes a clear event at `offset` (a multiple of 8; 64 bytes) in `memory`. */
  static init(memory: SharedMemory, offset: number, options: EventOptions = {}): Event {
    options = optionsOf("Event.init", options, "{ autoReset: true }");
    const op = "Event.init";
    const flags = flagsOf(op, options);
    const { at, pointer } = placeObject(
      op,
      memory,
      offset,
      EVENT_SIZE,
      EVENT_ALIGN,
      (seg, off, cell) => native().symbols.ipc_event_init_at(seg, off, flags, cell),
    );
    return new Event(memory, at, pointer, false);
  }

  /** The event another process initialized at `offset` in `memory`. */
  static at(memory: SharedMemory, offset: number): Event {
    const { at, pointer } = placeObject(
      "Event.at",
      memory,
      offset,
      EVENT_SIZE,
      EVENT_ALIGN,
      (seg, off, cell) => native().symbols.ipc_event_at(seg, off, cell),
    );
    return new Event(memory, at, pointer, false);
  }

  /** Sets the event, releasing every waiter (manual reset) or one (auto reset). */
  set(): void {
    const op = "Event.set";
    checked(op, this.#s.ipc_event_set(this.handle(op)));
  }

  /** Clears the event. */
  clear(): void {
    const op = "Event.clear";
    checked(op, this.#s.ipc_event_clear(this.handle(op)));
  }

  /** Whether the event is set now (never clears it). */
  isSet(): boolean {
    const op = "Event.isSet";
    return checked(op, this.#s.ipc_event_is_set(this.handle(op))) === 1;
  }

  /** Returns true if set (clearing an auto-reset event), false if not; never blocks. */
  tryWait(): boolean {
    const op = "Event.tryWait";
    const rc = this.#s.ipc_event_try_wait(this.handle(op));
    if (rc === EBUSY) return false;
    checked(op, rc);
    return true;
  }

  /**
   * Blocks until the event is set: true, or false when `timeout` ms passed first (Python's
   * Event.wait). A manual-reset event set and cleared again meanwhile still releases the wait.
   */
  waitSync(options?: LockOptions): boolean {
    const op = "Event.waitSync";
    const timeout = timeoutOf(op, options);
    const rc = this.#s.ipc_event_wait(this.handle(op), timeoutNs(timeout));
    if (rc === ETIMEDOUT) return false;
    checked(op, rc);
    return true;
  }

  /** Resolves true once the event is set, or false when `timeout` ms passed first. */
  async wait(options?: AsyncLockOptions): Promise<boolean> {
    const op = "Event.wait";
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    const timedOut = new IpcError(op, "ETIMEDOUT", `not set within ${timeout} ms`);
    // Per call: a step compares the word with what the previous step saw (a set and clear between
    // two steps still releases this wait).
    const seen = new Uint32Array(1);
    try {
      const rc = await waitSteps(
        op,
        {
          step: (again) => this.#s.ipc_event_wait_step(this.handle(op), again ? 1 : 0, seen),
          word: () => this.#word,
          expected: () => seen[0],
          giveUp: () => void this.#s.ipc_event_unwait(this.handle(op)),
        },
        timeout,
        signal,
        this.pending,
        () => timedOut,
      );
      if (rc !== OK) checked(op, rc);
      return true;
    } catch (error) {
      if (error === timedOut) return false;
      throw error;
    }
  }
}
