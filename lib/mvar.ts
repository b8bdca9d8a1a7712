/**
 * MVar: one slot in shared memory, empty or full (Haskell's MVar; the seed's StoredMVar), from Bun,
 * Deno and C processes at once (C: a channel made with IPC_CHAN_SINGLE). `take` empties it, waiting
 * while it is empty; `put` fills it, waiting while it is full; `read` copies the value without
 * taking it; `swap` takes and puts in one step; `modify` takes, applies a function, and puts the
 * result (or the old value back when the function throws).
 *
 * @module
 */

import { CHAN_SINGLE } from "./abi.ts";
import {
  channelAt,
  createChannel,
  initChannel,
  MessageChannel,
  type MessageOpenOptions,
  type MessageOptions,
  openChannel,
} from "./channel.ts";
import { type Codec, codecOf } from "./codec.ts";
import { checkFunction, IpcError, optionsOf } from "./errors.ts";
import type { Pointer } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, timeoutOf } from "./options.ts";
import { SharedMemory, unlinkKind } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";

/** Options of `MVar.create` and `MVar.init`. */
export interface MVarOptions<T = Uint8Array> extends MessageOptions<T> {
  /** A first value: the MVar starts full. */
  value?: T;
}

function ended(op: string): IpcError {
  return new IpcError(op, "EOF", "the MVar was ended and is empty");
}

/** A process-shared slot holding one value of type T (Uint8Array by default) or nothing. */
export class MVar<T = Uint8Array> extends MessageChannel<T> {
  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned, codec);
  }

  protected get label(): string {
    return "MVar";
  }

  /** Creates an MVar (empty, or holding `value`) in a segment of its own. */
  static create<T = Uint8Array>(options: CreateOptions & MVarOptions<T> = {}): MVar<T> {
    options = optionsOf("MVar.create", options, `{ codec: "json" }`);
    const op = "MVar.create";
    const codec = codecOf<T>(op, options.codec);
    const { memory, pointer } = createChannel(op, { capacity: 4096, ...options }, CHAN_SINGLE);
    const m = new MVar<T>(memory, 0, pointer, true, codec);
    if (options.value !== undefined) m.#first(op, options.value);
    return m;
  }

  /**
   * Removes the name of a standalone MVar (Chan, MVar, Pipe and SharedValue share the kind "chan"), as
   * `SharedMemory.unlink` does: processes that have it open keep using it. EKIND when the name holds another kind of
   * object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("MVar.unlink", name, "chan");
  }

  /** Opens the MVar called `name`. */
  static open<T = Uint8Array>(name: string, options: MessageOpenOptions<T> = {}): MVar<T> {
    options = optionsOf("MVar.open", options, `{ codec: "json" }`);
    const codec = codecOf<T>("MVar.open", options.codec);
    return MVar.#standalone<T>("MVar.open", SharedMemory.open(name, options), name, codec);
  }

  /** Opens the MVar behind `fd` (one a parent passed to this process). */
  static fromFd<T = Uint8Array>(fd: number, options: MessageOpenOptions<T> = {}): MVar<T> {
    options = optionsOf("MVar.fromFd", options, `{ codec: "json" }`);
    const codec = codecOf<T>("MVar.fromFd", options.codec);
    return MVar.#standalone<T>("MVar.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`, codec);
  }

  static #standalone<T>(op: string, memory: SharedMemory, what: string, codec: Codec<T>): MVar<T> {
    const pointer = openChannel(op, memory, what, "MVar", CHAN_SINGLE);
    return new MVar<T>(memory, 0, pointer, true, codec);
  }

  /** Initializes an MVar at `offset` (a multiple of 64; 384 + capacity bytes, capacity default 4096). */
  static init<T = Uint8Array>(memory: SharedMemory, offset: number, options: MVarOptions<T> = {}): MVar<T> {
    options = optionsOf("MVar.init", options, `{ codec: "json" }`);
    const op = "MVar.init";
    const codec = codecOf<T>(op, options.codec);
    const { at, pointer } = initChannel(op, memory, offset, options.capacity ?? 4096, CHAN_SINGLE);
    const m = new MVar<T>(memory, at, pointer, false, codec);
    if (options.value !== undefined) m.#first(op, options.value);
    return m;
  }

  /** The MVar another process initialized at `offset` in `memory`. */
  static at<T = Uint8Array>(memory: SharedMemory, offset: number, options: MessageOpenOptions<T> = {}): MVar<T> {
    options = optionsOf("MVar.at", options, `{ codec: "json" }`);
    const op = "MVar.at";
    const codec = codecOf<T>(op, options.codec);
    const { at, pointer } = channelAt(op, memory, offset, CHAN_SINGLE, "MVar");
    return new MVar<T>(memory, at, pointer, false, codec);
  }

  #first(op: string, value: T): void {
    try {
      if (!this.trySendBytes(op, this.encode(op, value))) throw new IpcError(op, "EBUSY", "the MVar is already full");
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Whether it holds a value now. */
  get full(): boolean {
    return this.queued > 0;
  }

  #value(op: string, bytes: Uint8Array | undefined): T {
    if (bytes === undefined) throw ended(op);
    return this.decode(op, bytes);
  }

  /** Takes the value, blocking while empty. */
  takeSync(options?: LockOptions): T {
    const op = "MVar.takeSync";
    return this.#value(op, this.recvSyncBytes(op, false, timeoutOf(op, options)));
  }

  /** Takes the value if there is one now; undefined when empty. */
  tryTake(): T | undefined {
    const op = "MVar.tryTake";
    const bytes = this.tryRecvBytes(op, false);
    return bytes === null ? undefined : this.#value(op, bytes);
  }

  /** Takes the value without blocking the event loop. */
  async take(options?: AsyncLockOptions): Promise<T> {
    const op = "MVar.take";
    return this.#value(op, await this.recvBytes(op, false, options));
  }

  /** Copies the value without taking it, blocking while empty. */
  readSync(options?: LockOptions): T {
    const op = "MVar.readSync";
    return this.#value(op, this.recvSyncBytes(op, true, timeoutOf(op, options)));
  }

  /** The value if there is one now (not taken); undefined when empty. */
  tryRead(): T | undefined {
    const op = "MVar.tryRead";
    const bytes = this.tryRecvBytes(op, true);
    return bytes === null ? undefined : this.#value(op, bytes);
  }

  /** Copies the value without taking it, without blocking the event loop. */
  async read(options?: AsyncLockOptions): Promise<T> {
    const op = "MVar.read";
    return this.#value(op, await this.recvBytes(op, true, options));
  }

  /** Fills it, blocking while full. */
  putSync(value: T, options?: LockOptions): void {
    const op = "MVar.putSync";
    this.sendSyncBytes(op, this.encode(op, value), timeoutOf(op, options));
  }

  /** Fills it if empty now; false when full. */
  tryPut(value: T): boolean {
    const op = "MVar.tryPut";
    return this.trySendBytes(op, this.encode(op, value));
  }

  /** Fills it without blocking the event loop. */
  put(value: T, options?: AsyncLockOptions): Promise<void> {
    const op = "MVar.put";
    return this.sendBytes(op, this.encode(op, value), options);
  }

  /** Takes the value and puts `value` in its place in one step (blocking while empty); returns the old one. */
  swapSync(value: T, options?: LockOptions): T {
    const op = "MVar.swapSync";
    return this.#value(op, this.swapSyncBytes(op, this.encode(op, value), timeoutOf(op, options)));
  }

  /** `swapSync` without blocking the event loop. */
  async swap(value: T, options?: AsyncLockOptions): Promise<T> {
    const op = "MVar.swap";
    return this.#value(op, await this.swapBytes(op, this.encode(op, value), options));
  }

  /**
   * Takes the value, puts `fn(value)` back and returns it; when `fn` throws, puts the old value back
   * and rethrows. Others wait meanwhile (the MVar is empty). A process killed inside `fn` leaves the
   * MVar empty, as Haskell's modifyMVar does for a thread killed there.
   */
  modifySync(fn: (value: T) => T, options?: LockOptions): T {
    checkFunction("MVar.modifySync", "fn", fn);
    const old = this.takeSync(options);
    let next: T;
    try {
      next = fn(old);
    } catch (error) {
      this.putSync(old);
      throw error;
    }
    this.putSync(next);
    return next;
  }

  /** `modifySync` without blocking the event loop; `fn` may be async. */
  async modify(fn: (value: T) => T | Promise<T>, options?: AsyncLockOptions): Promise<T> {
    checkFunction("MVar.modify", "fn", fn);
    const old = await this.take(options);
    let next: T;
    try {
      next = await fn(old);
    } catch (error) {
      await this.put(old);
      throw error;
    }
    await this.put(next);
    return next;
  }
}
