/**
 * What every synchronization object placed in shared memory has in common: where it lives (a
 * segment and an offset, or a segment of its own), its native handle, the async waits pending on
 * it, and `close()`. Semaphore, Event, Condition, Barrier and RwLock extend `SharedObject`.
 *
 * @module
 */

import { SEGMENT_TRACK, SEGMENT_UNIQUE_NAME } from "./abi.ts";
import { checked, cString, pointerOut, takePointer } from "./call.ts";
import { checkInteger, describe, type ErrorCode, IpcError, IpcTypeError } from "./errors.ts";
import { explainName } from "./names.ts";
import type { Pointer } from "./native.ts";
import { checkOffset } from "./options.ts";
import { type Dependent, segmentInternals, type SharedMemory } from "./segment.ts";
import { explainTracker } from "./tracker.ts";
import type { Cancelable } from "./wait.ts";

/** Options of every `create`. */
export interface CreateOptions {
  /** A name other processes open it by; `true` for a generated one; absent for an anonymous object. */
  name?: string | boolean;
  /** Permission bits of a named object; default 0o600. */
  mode?: number;
  /**
   * Register the name with this process's tracker (see `Tracker`), which removes it once this
   * process has ended, however it ended. Ignored for anonymous objects.
   */
  track?: boolean;
}

/** The arguments of a native `*_create` call. */
export interface CreateArgs {
  readonly name: Uint8Array | null;
  readonly mode: number;
  readonly flags: number;
}

/** Checks `options.name` and `options.mode` as every `create` takes them. */
export function createArgs(op: string, options: unknown): CreateArgs {
  if (typeof options !== "object" || options === null) {
    throw new IpcTypeError(op, `options must be an object such as { name: "jobs" }, got ${describe(options)}`);
  }
  const { name, mode, track } = options as CreateOptions;
  const checkedMode = mode === undefined ? 0 : checkInteger(op, "mode", mode, 0, 0o777);
  if (track !== undefined && typeof track !== "boolean") {
    throw new IpcTypeError(op, `track must be a boolean, got ${describe(track)}`);
  }
  const trackFlag = track ? SEGMENT_TRACK : 0;
  if (name === true) return { name: null, mode: checkedMode, flags: SEGMENT_UNIQUE_NAME | trackFlag };
  if (name === undefined || name === false) return { name: null, mode: checkedMode, flags: trackFlag };
  if (typeof name === "string") return { name: cString(op, "name", name), mode: checkedMode, flags: trackFlag };
  throw new IpcTypeError(op, `name must be a string or a boolean, got ${describe(name)}`);
}

/** Runs a native `*_create` and adopts the segment it made. */
export function createStandalone(
  op: string,
  options: unknown,
  call: (args: CreateArgs, segmentCell: BigUint64Array, objectCell: BigUint64Array) => number,
  explain?: (code: ErrorCode) => string | undefined,
): { memory: SharedMemory; pointer: Pointer } {
  const args = createArgs(op, options);
  const { name, track } = options as CreateOptions;
  const segmentCell = pointerOut();
  const objectCell = pointerOut();
  checked(
    op,
    call(args, segmentCell, objectCell),
    (code) =>
      code === "EEXIST"
        ? `an object named ${describe(name)} already exists`
        : (track && name !== undefined && name !== false && explainTracker(code, undefined)) ||
          (explain?.(code) ?? explainName(code, name)),
  );
  const memory = segmentInternals.adopt(takePointer(op, segmentCell));
  return { memory, pointer: takePointer(op, objectCell) };
}

/**
 * Finds the object at the start of a standalone segment another process created: checks its kind,
 * then runs the native `*_at`. Closes `memory` on failure.
 */
export function openStandalone(
  op: string,
  memory: SharedMemory,
  kind: number,
  className: string,
  what: string,
  at: (segment: Pointer, cell: BigUint64Array) => number,
): Pointer {
  try {
    if (segmentInternals.kind(memory) !== kind) {
      throw new IpcError(
        op,
        "EKIND",
        `${describe(what)} holds no ${className} (its kind is ${
          segmentInternals.kind(memory)
        }): use ${className}.at(memory, offset) for one placed in a segment`,
      );
    }
    const cell = pointerOut();
    checked(op, at(segmentInternals.handle(memory, op), cell));
    return takePointer(op, cell);
  } catch (error) {
    memory.close();
    throw error;
  }
}

/** Places an object at `offset` in `memory` (native `*_init_at` or `*_at`); returns the checked offset and handle. */
export function placeObject(
  op: string,
  memory: SharedMemory,
  offset: unknown,
  size: number,
  align: number,
  call: (segment: Pointer, offset: bigint, cell: BigUint64Array) => number,
  explain?: (code: ErrorCode) => string | undefined,
): { at: number; pointer: Pointer } {
  const at = checkOffset(op, memory, offset, size, align);
  const cell = pointerOut();
  checked(op, call(segmentInternals.handle(memory, op), BigInt(at), cell), explain);
  return { at, pointer: takePointer(op, cell) };
}

/** The base of the synchronization objects. */
export abstract class SharedObject implements Disposable, Dependent {
  #pointer: Pointer | null;
  readonly #memory: SharedMemory;
  readonly #offset: number;
  readonly #owned: boolean;
  /** Async waits in flight; `close()` cancels them with ECLOSED. */
  protected readonly pending: Set<Cancelable> = new Set();

  protected constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    this.#memory = memory;
    this.#offset = offset;
    this.#pointer = pointer;
    this.#owned = owned;
    segmentInternals.depend(memory, this);
  }

  /** The class name used in messages. */
  protected abstract get label(): string;

  /** The segment the object lives in. */
  get memory(): SharedMemory {
    return this.#memory;
  }

  /** Its offset in `memory`'s user data. */
  get offset(): number {
    return this.#offset;
  }

  /** The name of a standalone named object, else null. */
  get name(): string | null {
    return this.#owned ? this.#memory.name : null;
  }

  /** Whether this object owns its segment (a standalone object). */
  protected get owned(): boolean {
    return this.#owned;
  }

  /** Whether `close()` was called (or its segment was closed). */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /** The native handle, or ECLOSED. */
  protected handle(op: string): Pointer {
    if (this.#pointer === null) throw new IpcError(op, "ECLOSED", `the ${this.label.toLowerCase()} is closed`);
    return this.#pointer;
  }

  /** Rejects every pending async call with `reason`, undoing what each had left in shared memory. */
  protected cancelPending(reason: unknown): void {
    for (const wait of [...this.pending]) wait.cancel(reason);
    this.pending.clear();
  }

  /** Throws when closing now would break something (a lock this thread holds). */
  closeCheck(): void {}

  /**
   * Stops using the object in this process: pending async calls reject with ECLOSED. A standalone
   * object closes its segment; a named one keeps its name until `SharedMemory.unlink(name)`.
   * Idempotent. Until closed, an object keeps its segment mapped.
   */
  close(): void {
    if (this.#pointer === null) return;
    this.closeCheck();
    const reason = new IpcError(
      `${this.label}.close`,
      "ECLOSED",
      `the ${this.label.toLowerCase()} was closed while waiting`,
    );
    for (const wait of [...this.pending]) wait.cancel(reason);
    this.pending.clear();
    this.#pointer = null;
    segmentInternals.undepend(this.#memory, this);
    if (this.#owned) this.#memory.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
