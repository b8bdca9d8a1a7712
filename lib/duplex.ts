/**
 * Duplex: two ends that each send and receive whole messages (the seed chapter's socketpair), made
 * of two channels in one segment: what end A sends, end B receives, and the other way round.
 *
 * @module
 */

import { CHAN_HEADER_SIZE } from "./abi.ts";
import { Chan } from "./chan.ts";
import { capacityOf, type MessageOpenOptions, type MessageOptions } from "./channel.ts";
import { describe, IpcError, optionsOf } from "./errors.ts";
import type { AsyncLockOptions, LockOptions } from "./options.ts";
import { SharedMemory, unlinkKind } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";

const tag = 0x5850_4449; // "IDPX": the first word of the segment, before the two channels
const first = 64;

/** One end of a duplex pair. */
export class Duplex<T = Uint8Array> implements Disposable, AsyncIterable<T> {
  readonly #memory: SharedMemory;
  readonly #out: Chan<T>;
  readonly #in: Chan<T>;

  private constructor(memory: SharedMemory, out: Chan<T>, inbound: Chan<T>) {
    this.#memory = memory;
    this.#out = out;
    this.#in = inbound;
  }

  /** Creates a pair in a segment of its own and returns end A; `Duplex.open(name)` (or `fromFd`) gives end B. */
  static create<T = Uint8Array>(options: CreateOptions & MessageOptions<T> = {}): Duplex<T> {
    const op = "Duplex.create";
    options = optionsOf(op, options, `{ codec: "json" }`);
    const capacity = capacityOf(op, options.capacity);
    const second = first + CHAN_HEADER_SIZE + capacity;
    const memory = SharedMemory.create({
      size: second + CHAN_HEADER_SIZE + capacity,
      name: options.name,
      mode: options.mode,
      track: options.track,
    });
    try {
      const a = Chan.init<T>(memory, first, options);
      const b = Chan.init<T>(memory, second, options);
      memory.view(Uint32Array, 0, 1)[0] = tag;
      return new Duplex<T>(memory, a, b);
    } catch (error) {
      memory.close();
      throw error;
    }
  }

  /**
   * Removes the name of a pair made by `create({ name })`, as `SharedMemory.unlink` does: both ends keep
   * working where they are open. EKIND when the name holds something else, ENOENT when there is none.
   */
  static unlink(name: string): void {
    const op = "Duplex.unlink";
    // A pair lives in a plain segment: its first word tells it from other segments.
    const memory = SharedMemory.open(name);
    try {
      if (memory.size < 1024 || memory.view(Uint32Array, 0, 1)[0] !== tag) {
        throw new IpcError(op, "EKIND", `${describe(name)} holds no duplex pair: remove it through its own class`);
      }
    } finally {
      memory.close();
    }
    unlinkKind(op, name, "segment");
  }

  /** End B of the pair called `name`. */
  static open<T = Uint8Array>(name: string, options: MessageOpenOptions<T> = {}): Duplex<T> {
    options = optionsOf("Duplex.open", options, `{ codec: "json" }`);
    return Duplex.#endB<T>("Duplex.open", SharedMemory.open(name, options), options);
  }

  /** End B of the pair behind `fd` (one a parent passed to this process). */
  static fromFd<T = Uint8Array>(fd: number, options: MessageOpenOptions<T> = {}): Duplex<T> {
    options = optionsOf("Duplex.fromFd", options, `{ codec: "json" }`);
    return Duplex.#endB<T>("Duplex.fromFd", SharedMemory.fromFd(fd, options), options);
  }

  static #endB<T>(op: string, memory: SharedMemory, options: MessageOpenOptions<T>): Duplex<T> {
    try {
      if (memory.size < 1024 || memory.view(Uint32Array, 0, 1)[0] !== tag) {
        throw new IpcError(op, "EKIND", "the segment holds no duplex pair");
      }
      const a = Chan.at<T>(memory, first, options);
      const b = Chan.at<T>(memory, first + CHAN_HEADER_SIZE + a.capacity, options);
      return new Duplex<T>(memory, b, a);
    } catch (error) {
      memory.close();
      throw error;
    }
  }

  /** Bytes this end sent that the other end has not taken yet (message records included). */
  get sendQueued(): number {
    return this.#out.queued;
  }

  /** The segment both ends live in. */
  get memory(): SharedMemory {
    return this.#memory;
  }

  sendSync(value: T, options?: LockOptions): void {
    this.#out.sendSync(value, options);
  }

  trySend(value: T): boolean {
    return this.#out.trySend(value);
  }

  send(value: T, options?: AsyncLockOptions): Promise<void> {
    return this.#out.send(value, options);
  }

  /** The other end's next message; undefined once it ended its side and everything was read. */
  recvSync(options?: LockOptions): T | undefined {
    return this.#in.recvSync(options);
  }

  tryRecv(): T | undefined {
    return this.#in.tryRecv();
  }

  recv(options?: AsyncLockOptions): Promise<T | undefined> {
    return this.#in.recv(options);
  }

  /** Ends this end's sending side: the other end reads what is left, then sees the end. */
  end(): void {
    this.#out.end();
  }

  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.#in[Symbol.asyncIterator]();
  }

  /** Stops using this end in this process (pending receives reject with ECLOSED). */
  close(): void {
    this.#out.close();
    this.#in.close();
    this.#memory.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
