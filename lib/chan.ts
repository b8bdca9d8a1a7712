/**
 * Chan: a bounded multi-producer, multi-consumer message queue in shared memory, usable from Bun,
 * Deno and C processes at once (C: `ipc_chan_*`). Messages are bytes, or JS values through a codec.
 * A process killed mid-send or mid-receive never wedges it (see channel.ts).
 *
 * @module
 */

import { CHAN_BATCH_MAX, CHAN_HEADER_SIZE, RESULT_CODES } from "./abi.ts";
import {
  channelAt,
  createChannel,
  initChannel,
  MessageChannel,
  type MessageOpenOptions,
  type MessageOptions,
  openChannel,
  readable,
} from "./channel.ts";
import { checkBytes, type Codec, codecOf } from "./codec.ts";
import { checkInteger, describe, IpcRangeError, IpcTypeError, optionsOf } from "./errors.ts";
import type { Pointer } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { SharedMemory, unlinkKind } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";
import { checked } from "./call.ts";

const { OK, EBUSY, EOF, ERANGE } = RESULT_CODES;

/** Options of `Chan.create` and `Chan.init`. */
export type ChanOptions<T = Uint8Array> = MessageOptions<T>;
/** Options of `Chan.open`, `fromFd` and `at`. */
export type ChanOpenOptions<T = Uint8Array> = MessageOpenOptions<T>;

/** Ring bytes a message of `length` bytes takes: an 8-byte record header, then the bytes padded to 8. */
function recordBytes(length: number): number {
  return 8 + Math.ceil(length / 8) * 8;
}

/** Messages a zero-copy receive took (`Chan.recvBatchSync`): message i is `bytes.subarray(offsets[i], offsets[i] + lengths[i])`. */
export class ViewBatch {
  /** How many messages (0: the channel ended and is drained). */
  count = 0;
  /** The channel's memory (header and ring): messages are read in place. */
  readonly bytes: Uint8Array;
  /** Where each message starts in `bytes` (the first `count` entries are this batch's). */
  readonly offsets: Uint32Array;
  /** Each message's length in bytes. */
  readonly lengths: Uint32Array;

  constructor(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array) {
    this.bytes = bytes;
    this.offsets = offsets;
    this.lengths = lengths;
  }

  /** Message `i` as a view. */
  at(i: number): Uint8Array {
    i = checkInteger("ViewBatch.at", "index", i, 0, Number.MAX_SAFE_INTEGER);
    if (i >= this.count) {
      throw new IpcRangeError("ViewBatch.at", "ERANGE", `index ${i} is not below ${this.count}`);
    }
    const at = this.offsets[i];
    return this.bytes.subarray(at, at + this.lengths[i]);
  }

  *[Symbol.iterator](): Generator<Uint8Array, void, undefined> {
    for (let i = 0; i < this.count; i++) yield this.at(i);
  }
}

/** A bounded MPMC message queue. `T` is what `send` takes and `recv` returns (Uint8Array by default). */
export class Chan<T = Uint8Array> extends MessageChannel<T> implements AsyncIterable<T> {
  readonly #lengths = new Uint32Array(CHAN_BATCH_MAX);
  readonly #count = new Uint32Array(1);
  readonly #offsets = new Uint32Array(CHAN_BATCH_MAX);
  #batch = new Uint8Array(4096);
  #viewBatch: ViewBatch | undefined;
  /** The views this handle holds: a range of ring positions, empty when from == to. */
  readonly #loan = new Uint32Array(2);
  #ring: Uint8Array | undefined;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned, codec);
  }

  protected get label(): string {
    return "Chan";
  }

  /** Creates a channel in a segment of its own; others open it by name or fd. */
  static create<T = Uint8Array>(options: CreateOptions & ChanOptions<T> = {}): Chan<T> {
    options = optionsOf("Chan.create", options, `{ capacity: 4096, codec: "json" }`);
    const op = "Chan.create";
    const codec = codecOf<T>(op, options.codec);
    const { memory, pointer } = createChannel(op, options, 0);
    return new Chan<T>(memory, 0, pointer, true, codec);
  }

  /**
   * Removes the name of a standalone channel (Chan, MVar, Pipe and SharedValue share the kind "chan"), as
   * `SharedMemory.unlink` does: processes that have it open keep using it. EKIND when the name holds another kind of
   * object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Chan.unlink", name, "chan");
  }

  /** Opens the channel called `name`. */
  static open<T = Uint8Array>(name: string, options: ChanOpenOptions<T> = {}): Chan<T> {
    options = optionsOf("Chan.open", options, `{ codec: "json" }`);
    const codec = codecOf<T>("Chan.open", options.codec);
    return Chan.#standalone<T>("Chan.open", SharedMemory.open(name, options), name, codec);
  }

  /** Opens the channel behind `fd` (one a parent passed to this process). */
  static fromFd<T = Uint8Array>(fd: number, options: ChanOpenOptions<T> = {}): Chan<T> {
    options = optionsOf("Chan.fromFd", options, `{ codec: "json" }`);
    const codec = codecOf<T>("Chan.fromFd", options.codec);
    return Chan.#standalone<T>("Chan.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`, codec);
  }

  static #standalone<T>(op: string, memory: SharedMemory, what: string, codec: Codec<T>): Chan<T> {
    const pointer = openChannel(op, memory, what, "Chan", 0);
    return new Chan<T>(memory, 0, pointer, true, codec);
  }

  /** Initializes a channel at `offset` (a multiple of 64; 384 + capacity bytes) in `memory`. */
  static init<T = Uint8Array>(memory: SharedMemory, offset: number, options: ChanOptions<T> = {}): Chan<T> {
    options = optionsOf("Chan.init", options, `{ capacity: 4096, codec: "json" }`);
    const op = "Chan.init";
    const codec = codecOf<T>(op, options.codec);
    const { at, pointer } = initChannel(op, memory, offset, options.capacity, 0);
    return new Chan<T>(memory, at, pointer, false, codec);
  }

  /** The channel another process initialized at `offset` in `memory`. */
  static at<T = Uint8Array>(memory: SharedMemory, offset: number, options: ChanOpenOptions<T> = {}): Chan<T> {
    options = optionsOf("Chan.at", options, `{ codec: "json" }`);
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
    this.handle(op);
    if (typeof (values as Iterable<T> | null)?.[Symbol.iterator] !== "function") {
      throw new IpcTypeError(op, `values must be iterable (such as an array), got ${describe(values)}`);
    }
    const timeout = timeoutOf(op, options);
    const half = this.capacity / 2;
    let batch = this.#batch;
    let count = 0;
    let bytes = 0;
    let records = 0;
    for (const value of values) {
      const b = this.encode(op, value);
      // A call's records must fit in half the ring.
      const record = recordBytes(b.byteLength);
      if (count === CHAN_BATCH_MAX || records + record > half) {
        this.#sendPacked(op, batch, count, timeout);
        count = bytes = records = 0;
      }
      if (bytes + b.byteLength > batch.byteLength) {
        const grown = new Uint8Array(Math.max(batch.byteLength * 2, bytes + b.byteLength));
        grown.set(batch.subarray(0, bytes));
        batch = this.#batch = grown;
      }
      batch.set(b, bytes);
      this.#lengths[count++] = b.byteLength;
      bytes += b.byteLength;
      records += record;
    }
    if (count > 0) this.#sendPacked(op, batch, count, timeout);
  }

  /**
   * Sends `lengths.length` messages that lie back to back in `data` (the first `lengths[0]` bytes,
   * then the next `lengths[1]`, ...) in one call: all go in at once, or none. The fastest way to send
   * many small messages: no per-message objects. Their records (8 bytes of header each, padded to 8)
   * must fit in half the ring, and at most 1024 per call.
   */
  sendPackedSync(data: Uint8Array, lengths: ArrayLike<number>, options?: LockOptions): void {
    const op = "Chan.sendPackedSync";
    checkBytes(op, "data", data);
    const count = checkInteger(op, "lengths.length", lengths?.length, 1, CHAN_BATCH_MAX);
    let bytes = 0;
    let records = 0;
    for (let i = 0; i < count; i++) {
      const n = checkInteger(op, `lengths[${i}]`, lengths[i], 0, this.messageMax);
      this.#lengths[i] = n;
      bytes += n;
      records += recordBytes(n);
    }
    if (bytes > data.byteLength) {
      throw new IpcRangeError(op, "ERANGE", `the lengths add up to ${bytes} bytes, but data has ${data.byteLength}`);
    }
    if (records > this.capacity / 2 && count > 1) {
      throw new IpcRangeError(
        op,
        "ERANGE",
        `${count} messages take ${records} bytes of ring; one call carries at most ${
          this.capacity / 2
        } (half the ring)`,
      );
    }
    this.#sendPacked(op, data, count, timeoutOf(op, options));
  }

  #sendPacked(op: string, data: Uint8Array, count: number, timeout: number): void {
    const rc = this.s.ipc_chan_send_many(this.handle(op), data, this.#lengths, count, timeoutNs(timeout));
    if (rc !== OK) this.sendFailed(op, rc, timeout);
  }

  /** Takes the next message, blocking while there is none; undefined once the channel ended and is drained. */
  recvSync(options?: LockOptions): T | undefined {
    const op = "Chan.recvSync";
    this.#giveBack(op);
    const bytes = this.recvSyncBytes(op, false, timeoutOf(op, options));
    return bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes the next message if there is one now; undefined when there is none (see `ended`). */
  tryRecv(): T | undefined {
    const op = "Chan.tryRecv";
    this.#giveBack(op);
    const bytes = this.tryRecvBytes(op, false);
    return bytes === null || bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes the next message without blocking the event loop; undefined once ended and drained. */
  async recv(options?: AsyncLockOptions): Promise<T | undefined> {
    const op = "Chan.recv";
    this.#giveBack(op);
    const bytes = await this.recvBytes(op, false, options);
    return bytes === undefined ? undefined : this.decode(op, bytes);
  }

  /** Takes up to `max` messages at once (at least one: blocks while there is none); [] once ended and drained. */
  recvManySync(max: number = CHAN_BATCH_MAX, options?: LockOptions): T[] {
    const op = "Chan.recvManySync";
    this.#giveBack(op);
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    if (!this.plainBytes) {
      // Values are decoded straight from the ring (views), then the views go back: no copies.
      const rc = this.#takeViews(op, limit, timeout);
      if (rc !== EBUSY) {
        try {
          return this.#views(op, rc, timeout).map((view) => this.decode(op, view));
        } finally {
          this.#giveBack(op);
        }
      }
      // EBUSY: every holder entry of the channel names a live process holding views (at most 6 hold
      // views at once); copy the batch out instead.
    }
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
    // One copy of the whole batch; each message is a view of it.
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

  /**
   * Zero-copy receive: takes up to `max` messages (at least one: blocks while there is none) as views
   * of the ring itself — their bytes as sent, whatever the codec. The views stay valid until the next
   * receive on this handle, `release()` or `close()`; until then senders cannot reuse their space.
   * [] once the channel ended and is drained.
   */
  recvViewsSync(max: number = CHAN_BATCH_MAX, options?: LockOptions): Uint8Array[] {
    const op = "Chan.recvViewsSync";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    const rc = this.#takeViews(op, limit, timeout);
    return this.#views(op, rc, timeout);
  }

  /**
   * `recvViewsSync` without an object per message: the batch (the same object every call) tells where
   * each message lies in `bytes`, the channel's memory. `count` is 0 once the channel ended and is
   * drained. Valid until the next receive on this handle, `release()` or `close()`.
   */
  recvBatchSync(max: number = CHAN_BATCH_MAX, options?: LockOptions): ViewBatch {
    const op = "Chan.recvBatchSync";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    const rc = this.#takeViews(op, limit, timeout);
    const batch = this.#viewBatch ??= new ViewBatch(this.#bytes(), this.#offsets, this.#lengths);
    if (rc === EOF) batch.count = 0;
    else if (rc !== OK) this.recvFailed(op, rc, timeout);
    else batch.count = this.#count[0];
    return batch;
  }

  /** One message as a view of the ring (see `recvViewsSync`); undefined once ended and drained. */
  recvViewSync(options?: LockOptions): Uint8Array | undefined {
    return this.recvViewsSync(1, options)[0];
  }

  /** The messages there are now, up to `max`, as views (see `recvViewsSync`); [] when there are none (see `ended`). */
  tryRecvViews(max: number = CHAN_BATCH_MAX): Uint8Array[] {
    const op = "Chan.tryRecvViews";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const rc = this.#viewsStep(op, limit, false);
    if (rc === EBUSY) {
      this.s.ipc_chan_unwait(this.handle(op), readable);
      return [];
    }
    return this.#views(op, rc, 0);
  }

  /** `recvViewsSync` without blocking the event loop. */
  async recvViews(max: number = CHAN_BATCH_MAX, options?: AsyncLockOptions): Promise<Uint8Array[]> {
    const op = "Chan.recvViews";
    const limit = checkInteger(op, "max", max, 1, CHAN_BATCH_MAX);
    const timeout = timeoutOf(op, options);
    // The views are made in the step itself: another async receive may take the next loan before
    // this one's code after the wait runs (which gives these back: one loan per handle at a time).
    let got: Uint8Array[] = [];
    const rc = await waitSteps(
      op,
      {
        step: (again) => {
          const rc = this.#viewsStep(op, limit, again);
          if (rc === OK) got = this.#views(op, rc, timeout);
          return rc;
        },
        word: () => this.words[readable],
        expected: () => this.expected[0],
        giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), readable),
      },
      timeout,
      signalOf(op, options),
      this.pending,
      () => this.timedOut(op, timeout, "no message"),
    );
    return rc === OK ? got : this.#views(op, rc, timeout);
  }

  /** Gives back the views this handle holds (their space returns to senders). Idempotent. */
  release(): void {
    this.#giveBack("Chan.release");
  }

  /** Whether views (of any process) hold ring space now. */
  get viewsOut(): boolean {
    const op = "Chan.viewsOut";
    return checked(op, this.s.ipc_chan_views_out(this.handle(op))) === 1;
  }

  /** Takes up to `limit` messages as views (giving back the loan this handle holds): the native result. */
  #takeViews(op: string, limit: number, timeout: number): number {
    return this.s.ipc_chan_recv_views(
      this.handle(op),
      this.#offsets,
      this.#lengths,
      limit,
      this.#count,
      this.#loan,
      timeoutNs(timeout),
    );
  }

  #viewsStep(op: string, limit: number, again: boolean): number {
    return this.s.ipc_chan_recv_views_step(
      this.handle(op),
      this.#offsets,
      this.#lengths,
      limit,
      this.#count,
      this.#loan,
      again ? 1 : 0,
      this.expected,
    );
  }

  #views(op: string, rc: number, timeout: number): Uint8Array[] {
    if (rc === EOF) return [];
    if (rc !== OK) this.recvFailed(op, rc, timeout);
    const bytes = this.#bytes();
    const count = this.#count[0];
    const out = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) {
      const at = this.#offsets[i];
      out[i] = bytes.subarray(at, at + this.#lengths[i]);
    }
    return out;
  }

  /** The channel's memory, header and ring (made once): views are its subarrays. */
  #bytes(): Uint8Array {
    return this.#ring ??= this.memory.bytes(this.offset, CHAN_HEADER_SIZE + this.capacity);
  }

  #giveBack(op: string): void {
    if (this.#loan[0] === this.#loan[1]) return;
    checked(op, this.s.ipc_chan_release(this.handle(op), this.#loan));
  }

  /** Gives back the views this handle holds, then closes (see SharedObject.close). */
  override close(): void {
    if (!this.closed && this.#loan[0] !== this.#loan[1]) {
      // A channel whose memory is corrupt cannot take them back; closing goes on regardless.
      this.s.ipc_chan_release(this.handle("Chan.close"), this.#loan);
    }
    super.close();
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
