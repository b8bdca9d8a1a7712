/**
 * Chan: a bounded multi-producer, multi-consumer message queue in shared memory, usable from Bun,
 * Deno and C processes at once (C: `ipc_chan_*`). Messages are bytes, or JS values through a codec.
 *
 * A process killed in the middle of a send or a receive never wedges the channel: every operation
 * commits with one atomic store under a robust lock, so a half-sent message was never sent and a
 * half-received one is still there for the next receiver.
 *
 * @module
 */

import {
  CHAN_ALIGN,
  CHAN_BATCH_MAX,
  CHAN_CAPACITY_MAX,
  CHAN_CAPACITY_MIN,
  CHAN_HEADER_SIZE,
  CHAN_SINGLE,
  CHAN_STREAM,
  KIND_CHAN,
  RESULT_CODES,
} from "./abi.ts";
import { checked } from "./call.ts";
import { type Codec, codecOf } from "./codec.ts";
import { checkInteger, type ErrorCode, IpcError, IpcRangeError } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { SharedMemory } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

const { OK, EBUSY, EOF, ERANGE, ETIMEDOUT } = RESULT_CODES;
const readable = 0;
const writable = 1;

/** Options of `Chan.create` and `Chan.init`. */
export interface ChanOptions<T = Uint8Array> {
  /** Bytes of ring: a power of two from 64 to 2^30; default 64 KiB. Messages are at most half of it, minus 8. */
  capacity?: number;
  /** How values become bytes in this process: "bytes" (default: Uint8Array in and out), "json", "msgpack", or a Codec. */
  codec?: "bytes" | "json" | "msgpack" | Codec<T>;
}

/** Options of `Chan.open`, `fromFd` and `at`: how this process encodes values. */
export interface ChanOpenOptions<T = Uint8Array> {
  codec?: ChanOptions<T>["codec"];
}

function capacityOf(op: string, capacity: unknown): number {
  if (capacity === undefined) return 64 * 1024;
  const c = checkInteger(op, "capacity", capacity, CHAN_CAPACITY_MIN, CHAN_CAPACITY_MAX);
  if ((c & (c - 1)) !== 0) throw new IpcRangeError(op, "ERANGE", `capacity must be a power of two, got ${c}`);
  return c;
}

function explain(code: ErrorCode): string | undefined {
  if (code === "EPROTO") return "the memory holds no channel (not initialized, or corrupt)";
  if (code === "EPIPE") return "the channel is closed: nothing more can be sent";
  return undefined;
}

/** The shared parts of Chan, MVar and Pipe: the native handle and scratch space. */
export abstract class ChannelBase extends SharedObject {
  protected readonly s: Symbols;
  protected readonly words: [Pointer, Pointer];
  protected readonly expected: Uint32Array = new Uint32Array(1);
  protected readonly length: BigUint64Array = new BigUint64Array(1);
  /** Bytes of ring. */
  readonly capacity: number;

  protected constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.s = native().symbols;
    this.words = [this.s.ipc_chan_word(pointer, readable)!, this.s.ipc_chan_word(pointer, writable)!];
    this.capacity = this.s.ipc_chan_capacity(pointer);
  }

  /** Bytes sent and not yet received (message records included). */
  get queued(): number {
    const op = `${this.label}.queued`;
    return checked(op, this.s.ipc_chan_pending(this.handle(op)), explain);
  }

  /** Whether the channel was closed (by any process). */
  get ended(): boolean {
    const op = `${this.label}.ended`;
    return checked(op, this.s.ipc_chan_is_closed(this.handle(op))) === 1;
  }

  /** Closes the channel for everyone: sends fail with EPIPE, receivers drain what is left, then see the end. This handle stays usable. */
  end(): void {
    const op = `${this.label}.end`;
    checked(op, this.s.ipc_chan_close(this.handle(op)));
  }

  protected timedOut(op: string, timeout: number, what: string): IpcError {
    return new IpcError(op, "ETIMEDOUT", `${what} within ${timeout} ms`);
  }
}

/** Where a channel is made or found: flags for create, and the checks of `open`. */
export function createChannel(
  op: string,
  options: CreateOptions & { capacity?: number },
  flags: number,
): { memory: SharedMemory; pointer: Pointer } {
  const capacity = capacityOf(op, options.capacity);
  return createStandalone(
    op,
    options,
    (a, seg, out) => native().symbols.ipc_chan_create(a.name, a.mode, a.flags, capacity, flags, seg, out),
    explain,
  );
}

export function openChannel(op: string, memory: SharedMemory, what: string, className: string): Pointer {
  return openStandalone(
    op,
    memory,
    KIND_CHAN,
    className,
    what,
    (seg, cell) => native().symbols.ipc_chan_at(seg, 0n, cell),
  );
}

export function initChannel(
  op: string,
  memory: SharedMemory,
  offset: number,
  capacity: unknown,
  flags: number,
): { at: number; pointer: Pointer } {
  const c = capacityOf(op, capacity);
  return placeObject(
    op,
    memory,
    offset,
    CHAN_HEADER_SIZE + c,
    CHAN_ALIGN,
    (seg, off, cell) => native().symbols.ipc_chan_init_at(seg, off, c, flags, cell),
  );
}

export function channelAt(op: string, memory: SharedMemory, offset: number): { at: number; pointer: Pointer } {
  return placeObject(
    op,
    memory,
    offset,
    CHAN_HEADER_SIZE + CHAN_CAPACITY_MIN,
    CHAN_ALIGN,
    (seg, off, cell) => native().symbols.ipc_chan_at(seg, off, cell),
    explain,
  );
}

export function checkFlags(op: string, pointer: Pointer, want: number, className: string): void {
  const flags = native().symbols.ipc_chan_flags(pointer);
  if ((flags & (CHAN_STREAM | CHAN_SINGLE)) !== want) {
    throw new IpcError(op, "EKIND", `the channel there is not a ${className} (flags ${flags})`);
  }
}

/** A bounded MPMC message queue. `T` is what `send` takes and `recv` returns (Uint8Array by default). */
export class Chan<T = Uint8Array> extends ChannelBase implements AsyncIterable<T> {
  readonly #codec: Codec<T>;
  /** Largest message in bytes (after encoding). */
  readonly messageMax: number;
  #scratch: Uint8Array;
  readonly #lengths = new Uint32Array(CHAN_BATCH_MAX);
  readonly #count = new Uint32Array(1);

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned);
    this.#codec = codec;
    this.messageMax = this.s.ipc_chan_message_max(pointer);
    this.#scratch = new Uint8Array(Math.min(this.messageMax, 4096));
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
    return Chan.#standalone<T>("Chan.open", SharedMemory.open(name), name, options);
  }

  /** Opens the channel behind `fd` (one a parent passed to this process). */
  static fromFd<T = Uint8Array>(fd: number, options: ChanOpenOptions<T> = {}): Chan<T> {
    return Chan.#standalone<T>("Chan.fromFd", SharedMemory.fromFd(fd), `fd ${fd}`, options);
  }

  static #standalone<T>(op: string, memory: SharedMemory, what: string, options: ChanOpenOptions<T>): Chan<T> {
    const codec = codecOf<T>(op, options.codec);
    const pointer = openChannel(op, memory, what, "Chan");
    try {
      checkFlags(op, pointer, 0, "Chan");
    } catch (error) {
      memory.close();
      throw error;
    }
    return new Chan<T>(memory, 0, pointer, true, codec);
  }

  /** Initializes a channel at `offset` (a multiple of 64; 256 + capacity bytes) in `memory`. */
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
    const { at, pointer } = channelAt(op, memory, offset);
    checkFlags(op, pointer, 0, "Chan");
    return new Chan<T>(memory, at, pointer, false, codec);
  }

  #encode(op: string, value: T): Uint8Array {
    const bytes = this.#codec.encode(value, op);
    if (bytes.byteLength > this.messageMax) {
      throw new IpcError(
        op,
        "ERANGE",
        `a message of ${bytes.byteLength} bytes does not fit: this channel carries at most ${this.messageMax} ` +
          `(half its ${this.capacity}-byte ring, minus 8); create it with a larger capacity, or send the data ` +
          "through a SharedHeap block and its handle",
      );
    }
    return bytes;
  }

  #sendFailed(op: string, rc: number, timeout: number): never {
    if (rc === ETIMEDOUT) throw this.timedOut(op, timeout, "no room for the message");
    checked(op, rc, explain);
    throw new IpcError(op, "EIO", `unexpected result ${rc}`);
  }

  /** Sends `value`, blocking while the ring is full. EPIPE once the channel was ended. */
  sendSync(value: T, options?: LockOptions): void {
    const op = "Chan.sendSync";
    const bytes = this.#encode(op, value);
    const timeout = timeoutOf(op, options);
    const rc = this.s.ipc_chan_send(this.handle(op), bytes, bytes.byteLength, timeoutNs(timeout));
    if (rc !== OK) this.#sendFailed(op, rc, timeout);
  }

  /** Sends `value` if there is room now; false when full. */
  trySend(value: T): boolean {
    const op = "Chan.trySend";
    const bytes = this.#encode(op, value);
    const rc = this.s.ipc_chan_try_send(this.handle(op), bytes, bytes.byteLength);
    if (rc === EBUSY) return false;
    if (rc !== OK) this.#sendFailed(op, rc, 0);
    return true;
  }

  /** Sends `value`, waiting for room without blocking the event loop. */
  async send(value: T, options?: AsyncLockOptions): Promise<void> {
    const op = "Chan.send";
    const bytes = this.#encode(op, value);
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    const rc = await waitSteps(
      op,
      {
        step: (again) =>
          this.s.ipc_chan_send_step(this.handle(op), bytes, bytes.byteLength, again ? 1 : 0, this.expected),
        word: () => this.words[writable],
        expected: () => this.expected[0],
        giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), writable),
      },
      timeout,
      signal,
      this.pending,
      () => this.timedOut(op, timeout, "no room for the message"),
    );
    if (rc !== OK) this.#sendFailed(op, rc, timeout);
  }

  /** Sends `values` in as few calls as their sizes allow (all of a call's messages go in at once). */
  sendManySync(values: Iterable<T>, options?: LockOptions): void {
    const op = "Chan.sendManySync";
    const timeout = timeoutNs(timeoutOf(op, options));
    const batch: Uint8Array[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      const data = new Uint8Array(bytes);
      let at = 0;
      batch.forEach((b, i) => {
        data.set(b, at);
        at += b.byteLength;
        this.#lengths[i] = b.byteLength;
      });
      const rc = this.s.ipc_chan_send_many(this.handle(op), data, this.#lengths, batch.length, timeout);
      if (rc !== OK) this.#sendFailed(op, rc, timeoutOf(op, options));
      batch.length = 0;
      bytes = 0;
    };
    // A call's records must fit in half the ring: 8 bytes of header each, padded to 8.
    let records = 0;
    for (const value of values) {
      const b = this.#encode(op, value);
      const record = 8 + Math.ceil(b.byteLength / 8) * 8;
      if (batch.length === CHAN_BATCH_MAX || records + record > this.capacity / 2) {
        flush();
        records = 0;
      }
      batch.push(b);
      bytes += b.byteLength;
      records += record;
    }
    flush();
  }

  #received(op: string, rc: number, timeout: number): T | undefined {
    if (rc === OK) {
      const n = Number(this.length[0]);
      return this.#codec.decode(this.#scratch.subarray(0, n), true, op);
    }
    if (rc === EOF) return undefined;
    if (rc === ETIMEDOUT) throw this.timedOut(op, timeout, "no message");
    checked(op, rc, explain);
    throw new IpcError(op, "EIO", `unexpected result ${rc}`);
  }

  /** Grows the scratch buffer after ERANGE told the size of the next message; true when it did. */
  #grow(rc: number): boolean {
    if (rc !== ERANGE) return false;
    const need = Number(this.length[0]);
    if (need <= this.#scratch.byteLength) return false;
    this.#scratch = new Uint8Array(Math.min(this.messageMax, Math.max(need, this.#scratch.byteLength * 2)));
    return true;
  }

  /** Takes the next message, blocking while there is none; undefined once the channel ended and is drained. */
  recvSync(options?: LockOptions): T | undefined {
    const op = "Chan.recvSync";
    const timeout = timeoutOf(op, options);
    let rc: number;
    do {
      rc = this.s.ipc_chan_recv(
        this.handle(op),
        this.#scratch,
        this.#scratch.byteLength,
        this.length,
        timeoutNs(timeout),
      );
    } while (this.#grow(rc));
    return this.#received(op, rc, timeout);
  }

  /** Takes the next message if there is one now: the value, undefined at the end, or `empty` (default undefined too). */
  tryRecv(): T | undefined {
    const op = "Chan.tryRecv";
    let rc: number;
    do {
      rc = this.s.ipc_chan_try_recv(this.handle(op), this.#scratch, this.#scratch.byteLength, this.length);
    } while (this.#grow(rc));
    if (rc === EBUSY) return undefined;
    return this.#received(op, rc, 0);
  }

  /** Takes the next message without blocking the event loop; undefined once ended and drained. */
  async recv(options?: AsyncLockOptions): Promise<T | undefined> {
    const op = "Chan.recv";
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    while (true) {
      const rc = await waitSteps(
        op,
        {
          step: (again) =>
            this.s.ipc_chan_recv_step(
              this.handle(op),
              this.#scratch,
              this.#scratch.byteLength,
              0,
              again ? 1 : 0,
              this.length,
              this.expected,
            ),
          word: () => this.words[readable],
          expected: () => this.expected[0],
          giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), readable),
        },
        timeout,
        signal,
        this.pending,
        () => this.timedOut(op, timeout, "no message"),
      );
      if (!this.#grow(rc)) return this.#received(op, rc, timeout);
    }
  }

  /** Takes up to `max` messages at once (at least one: blocks while there is none); [] once ended and drained. */
  recvManySync(max: number = CHAN_BATCH_MAX, options?: LockOptions): T[] {
    const op = "Chan.recvManySync";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    if (this.#scratch.byteLength < Math.min(this.capacity, 1 << 20)) {
      this.#scratch = new Uint8Array(Math.min(this.capacity, 1 << 20));
    }
    let rc: number;
    do {
      rc = this.s.ipc_chan_recv_many(
        this.handle(op),
        this.#scratch,
        this.#scratch.byteLength,
        this.#lengths,
        limit,
        this.#count,
        timeoutNs(timeout),
      );
      if (rc === ERANGE) this.length[0] = BigInt(this.#lengths[0]);
    } while (this.#grow(rc));
    if (rc === EOF) return [];
    if (rc !== OK) this.#received(op, rc, timeout);
    const out: T[] = [];
    let at = 0;
    for (let i = 0; i < this.#count[0]; i++) {
      const n = this.#lengths[i];
      out.push(this.#codec.decode(this.#scratch.subarray(at, at + n), true, op));
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
