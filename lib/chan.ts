/**
 * Chan: a bounded multi-producer, multi-consumer message queue in shared memory, usable from Bun,
 * Deno and C processes at once (C: `ipc_chan_*`). Messages are bytes, or JS values through a codec.
 * A process killed mid-send or mid-receive never wedges it (see channel.ts).
 *
 * @module
 */

import { CHAN_BATCH_MAX, RESULT_CODES } from "./abi.ts";
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
import { checkInteger } from "./errors.ts";
import type { Pointer } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, timeoutNs, timeoutOf } from "./options.ts";
import { SharedMemory } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";

const { OK, EOF, ERANGE } = RESULT_CODES;

/** Options of `Chan.create` and `Chan.init`. */
export type ChanOptions<T = Uint8Array> = MessageOptions<T>;
/** Options of `Chan.open`, `fromFd` and `at`. */
export type ChanOpenOptions<T = Uint8Array> = MessageOpenOptions<T>;

/** A bounded MPMC message queue. `T` is what `send` takes and `recv` returns (Uint8Array by default). */
export class Chan<T = Uint8Array> extends MessageChannel<T> implements AsyncIterable<T> {
  readonly #lengths = new Uint32Array(CHAN_BATCH_MAX);
  readonly #count = new Uint32Array(1);

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned, codec);
  }

  protected get label(): string {
    return "Chan";
  }

  /** Creates a channel in a segment of its own; others open it by name or fd. */
  static create<T = Uint8Array>(options: CreateOptions & ChanOptions<T> = {}): Chan<T> {
    const op = "Chan.create";
    const codec = codecOf<T>(op, options.codec);
    const { memory, pointer } = createChannel(op, options, 0);
    return new Chan<T>(memory, 0, pointer, true, codec);
  }

  /** Opens the channel called `name`. */
  static open<T = Uint8Array>(name: string, options: ChanOpenOptions<T> = {}): Chan<T> {
    const codec = codecOf<T>("Chan.open", options.codec);
    return Chan.#standalone<T>("Chan.open", SharedMemory.open(name), name, codec);
  }

  /** Opens the channel behind `fd` (one a parent passed to this process). */
  static fromFd<T = Uint8Array>(fd: number, options: ChanOpenOptions<T> = {}): Chan<T> {
    const codec = codecOf<T>("Chan.fromFd", options.codec);
    return Chan.#standalone<T>("Chan.fromFd", SharedMemory.fromFd(fd), `fd ${fd}`, codec);
  }

  static #standalone<T>(op: string, memory: SharedMemory, what: string, codec: Codec<T>): Chan<T> {
    const pointer = openChannel(op, memory, what, "Chan", 0);
    return new Chan<T>(memory, 0, pointer, true, codec);
  }

  /** Initializes a channel at `offset` (a multiple of 64; 384 + capacity bytes) in `memory`. */
  static init<T = Uint8Array>(memory: SharedMemory, offset: number, options: ChanOptions<T> = {}): Chan<T> {
    const op = "Chan.init";
    const codec = codecOf<T>(op, options.codec);
    const { at, pointer } = initChannel(op, memory, offset, options.capacity, 0);
    return new Chan<T>(memory, at, pointer, false, codec);
  }

  /** The channel another process initialized at `offset` in `memory`. */
  static at<T = Uint8Array>(memory: SharedMemory, offset: number, options: ChanOpenOptions<T> = {}): Chan<T> {
    const op = "Chan.at";
    const codec = codecOf<T>(op, options.codec);
    const { at, pointer } = channelAt(op, memory, offset, 0, "Chan");
    return new Chan<T>(memory, at, pointer, false, codec);
  }

  /** Sends `value`, blocking while the ring is full. EPIPE once the channel was ended. */
  sendSync(value: T, options?: LockOptions): void {
    const op = "Chan.sendSync";
    this.sendSyncBytes(op, this.encode(op, value), timeoutOf(op, options));
  }

  /** Sends `value` if there is room now; false when full. */
  trySend(value: T): boolean {
    const op = "Chan.trySend";
    return this.trySendBytes(op, this.encode(op, value));
  }

  /** Sends `value`, waiting for room without blocking the event loop. */
  send(value: T, options?: AsyncLockOptions): Promise<void> {
    const op = "Chan.send";
    return this.sendBytes(op, this.encode(op, value), options);
  }

  /** Sends `values` in as few calls as their sizes allow (all of a call's messages go in at once). */
  sendManySync(values: Iterable<T>, options?: LockOptions): void {
    const op = "Chan.sendManySync";
    const timeout = timeoutOf(op, options);
    const batch: Uint8Array[] = [];
    let bytes = 0;
    let records = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      const data = new Uint8Array(bytes);
      let at = 0;
      batch.forEach((b, i) => {
        data.set(b, at);
        at += b.byteLength;
        this.#lengths[i] = b.byteLength;
      });
      const rc = this.s.ipc_chan_send_many(this.handle(op), data, this.#lengths, batch.length, timeoutNs(timeout));
      if (rc !== OK) this.sendFailed(op, rc, timeout);
      batch.length = 0;
      bytes = 0;
      records = 0;
    };
    for (const value of values) {
      const b = this.encode(op, value);
      // A call's records (8 bytes of header each, padded to 8) must fit in half the ring.
      const record = 8 + Math.ceil(b.byteLength / 8) * 8;
      if (batch.length === CHAN_BATCH_MAX || records + record > this.capacity / 2) flush();
      batch.push(b);
      bytes += b.byteLength;
      records += record;
    }
    flush();
  }

  /** Takes the next message, blocking while there is none; undefined once the channel ended and is drained. */
  recvSync(options?: LockOptions): T | undefined {
    const op = "Chan.recvSync";
    const bytes = this.recvSyncBytes(op, false, timeoutOf(op, options));
    return bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes the next message if there is one now; undefined when there is none (see `ended`). */
  tryRecv(): T | undefined {
    const op = "Chan.tryRecv";
    const bytes = this.tryRecvBytes(op, false);
    return bytes === null || bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes the next message without blocking the event loop; undefined once ended and drained. */
  async recv(options?: AsyncLockOptions): Promise<T | undefined> {
    const op = "Chan.recv";
    const bytes = await this.recvBytes(op, false, options);
    return bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes up to `max` messages at once (at least one: blocks while there is none); [] once ended and drained. */
  recvManySync(max: number = CHAN_BATCH_MAX, options?: LockOptions): T[] {
    const op = "Chan.recvManySync";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    let scratch = this.scratch(Math.min(this.capacity / 2, 1 << 20));
    let rc: number;
    while (true) {
      rc = this.s.ipc_chan_recv_many(
        this.handle(op),
        scratch,
        scratch.byteLength,
        this.#lengths,
        limit,
        this.#count,
        timeoutNs(timeout),
      );
      if (rc !== ERANGE || this.#lengths[0] <= scratch.byteLength) break;
      scratch = this.scratch(this.#lengths[0]);
    }
    if (rc === EOF) return [];
    if (rc !== OK) this.recvFailed(op, rc, timeout);
    // One copy of the whole batch; each message is a view of it (or decoded from it).
    const count = this.#count[0];
    let end = 0;
    for (let i = 0; i < count; i++) end = Math.ceil(end / 8) * 8 + this.#lengths[i];
    const batch = scratch.slice(0, end);
    const out = new Array<T>(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const n = this.#lengths[i];
      out[i] = this.decodeKept(op, batch.subarray(at, at + n));
      at = Math.ceil((at + n) / 8) * 8;
    }
    return out;
  }

  /** Receives until the channel ends: `for await (const msg of chan)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    while (true) {
      const value = await this.recv();
      if (value === undefined) return;
      yield value;
    }
  }

  /** Receives synchronously until the channel ends. */
  *[Symbol.iterator](): Generator<T, void, undefined> {
    while (true) {
      const value = this.recvSync();
      if (value === undefined) return;
      yield value;
    }
  }
}
