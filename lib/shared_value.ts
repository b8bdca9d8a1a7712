/**
 * SharedValue: one JS value stored in shared memory through a codec (the Ruby seed's
 * write_object/read_object), from Bun, Deno and C processes at once (C: a channel made with
 * IPC_CHAN_SINGLE, `ipc_chan_replace` and `ipc_chan_peek`). `store` replaces the value and `load`
 * reads it; neither waits. A value whose encoding does not fit throws ERANGE naming both sizes.
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
import { checked } from "./call.ts";
import { type Codec, codecOf } from "./codec.ts";
import type { Pointer } from "./native.ts";
import { SharedMemory, unlinkKind } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";
import { optionsOf } from "./errors.ts";

/** Options of `SharedValue.create` and `SharedValue.init`. */
export interface SharedValueOptions<T = unknown> extends MessageOptions<T> {
  /** A first value. */
  value?: T;
}

/** One value of type T (JSON by default) in shared memory. */
export class SharedValue<T = unknown> extends MessageChannel<T> {
  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned, codec);
  }

  protected get label(): string {
    return "SharedValue";
  }

  /** Creates a shared value (capacity default 4096 bytes: values up to 2040 bytes encoded) in a segment of its own. */
  static create<T = unknown>(options: CreateOptions & SharedValueOptions<T> = {}): SharedValue<T> {
    options = optionsOf("SharedValue.create", options, `{ codec: "json" }`);
    const op = "SharedValue.create";
    const codec = codecOf<T>(op, options.codec ?? "json");
    const { memory, pointer } = createChannel(op, { capacity: 4096, ...options }, CHAN_SINGLE);
    const v = new SharedValue<T>(memory, 0, pointer, true, codec);
    if (options.value !== undefined) v.#first(options.value);
    return v;
  }

  /**
   * Removes the name of a standalone shared value (Chan, MVar, Pipe and SharedValue share the kind "chan"), as
   * `SharedMemory.unlink` does: processes that have it open keep using it. EKIND when the name holds another kind of
   * object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("SharedValue.unlink", name, "chan");
  }

  /** Opens the shared value called `name`. */
  static open<T = unknown>(name: string, options: MessageOpenOptions<T> = {}): SharedValue<T> {
    options = optionsOf("SharedValue.open", options, `{ codec: "json" }`);
    const codec = codecOf<T>("SharedValue.open", options.codec ?? "json");
    return SharedValue.#standalone<T>("SharedValue.open", SharedMemory.open(name, options), name, codec);
  }

  /** Opens the shared value behind `fd` (one a parent passed to this process). */
  static fromFd<T = unknown>(fd: number, options: MessageOpenOptions<T> = {}): SharedValue<T> {
    options = optionsOf("SharedValue.fromFd", options, `{ codec: "json" }`);
    const codec = codecOf<T>("SharedValue.fromFd", options.codec ?? "json");
    return SharedValue.#standalone<T>("SharedValue.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`, codec);
  }

  static #standalone<T>(op: string, memory: SharedMemory, what: string, codec: Codec<T>): SharedValue<T> {
    const pointer = openChannel(op, memory, what, "SharedValue", CHAN_SINGLE);
    return new SharedValue<T>(memory, 0, pointer, true, codec);
  }

  /** Initializes a shared value at `offset` (a multiple of 64; 384 + capacity bytes, capacity default 4096). */
  static init<T = unknown>(memory: SharedMemory, offset: number, options: SharedValueOptions<T> = {}): SharedValue<T> {
    options = optionsOf("SharedValue.init", options, `{ codec: "json" }`);
    const op = "SharedValue.init";
    const codec = codecOf<T>(op, options.codec ?? "json");
    const { at, pointer } = initChannel(op, memory, offset, options.capacity ?? 4096, CHAN_SINGLE);
    const v = new SharedValue<T>(memory, at, pointer, false, codec);
    if (options.value !== undefined) v.#first(options.value);
    return v;
  }

  /** The shared value another process initialized at `offset` in `memory`. */
  static at<T = unknown>(memory: SharedMemory, offset: number, options: MessageOpenOptions<T> = {}): SharedValue<T> {
    options = optionsOf("SharedValue.at", options, `{ codec: "json" }`);
    const op = "SharedValue.at";
    const codec = codecOf<T>(op, options.codec ?? "json");
    const { at, pointer } = channelAt(op, memory, offset, CHAN_SINGLE, "SharedValue");
    return new SharedValue<T>(memory, at, pointer, false, codec);
  }

  #first(value: T): void {
    try {
      this.store(value);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Replaces the value. Throws ERANGE, storing nothing, when its encoding does not fit. */
  store(value: T): void {
    const op = "SharedValue.store";
    const bytes = this.encode(op, value);
    checked(op, this.s.ipc_chan_replace(this.handle(op), bytes, bytes.byteLength));
  }

  /** The value, or undefined when none was stored. */
  load(): T | undefined {
    const op = "SharedValue.load";
    const bytes = this.tryRecvBytes(op, true);
    return bytes === null || bytes === undefined ? undefined : this.decode(op, bytes);
  }
}
