/**
 * What Chan, MVar and Pipe share: a channel in shared memory (zig/chan.zig, `ipc_chan_*` in C),
 * where it lives, and the native calls with their waits. `MessageChannel` adds messages through a
 * codec.
 *
 * A process killed in the middle of a send or a receive never wedges a channel: every operation
 * commits under a robust lock, so a half-sent message was never sent and one half copied out is
 * still there for the next receiver; a message a receive has taken is gone even if the receiver
 * dies before using it (see zig/chan.zig).
 *
 * @module
 */

import {
  CHAN_ALIGN,
  CHAN_CAPACITY_MAX,
  CHAN_CAPACITY_MIN,
  CHAN_HEADER_SIZE,
  CHAN_SINGLE,
  CHAN_STREAM,
  KIND_CHAN,
  RESULT_CODES,
} from "./abi.ts";
import { checked } from "./call.ts";
import { bytesCodec, type Codec } from "./codec.ts";
import { checkInteger, type ErrorCode, IpcError, IpcRangeError } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import { type AsyncLockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import type { OpenOptions, SharedMemory } from "./segment.ts";
import { type CreateOptions, createStandalone, openStandalone, placeObject, SharedObject } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

const { OK, EBUSY, EOF, EPIPE, ERANGE, ETIMEDOUT } = RESULT_CODES;
/** The word receivers wait on (ipc_chan_word side 0), and the one senders wait on. */
export const readable = 0;
export const writable = 1;

/** `capacity`, checked: a power of two from CHAN_CAPACITY_MIN to CHAN_CAPACITY_MAX; 64 KiB when undefined. */
export function capacityOf(op: string, capacity: unknown): number {
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

/** The channel at the start of a standalone segment, which must have exactly `flags`; closes `memory` on failure. */
export function openChannel(op: string, memory: SharedMemory, what: string, className: string, flags: number): Pointer {
  const pointer = openStandalone(
    op,
    memory,
    KIND_CHAN,
    className,
    what,
    (seg, cell) => native().symbols.ipc_chan_at(seg, 0n, cell),
  );
  try {
    checkFlags(op, pointer, flags, className);
  } catch (error) {
    memory.close();
    throw error;
  }
  return pointer;
}

/** Initializes a channel at `offset` in `memory`. */
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

/** The channel another process initialized at `offset` in `memory`, which must have exactly `flags`. */
export function channelAt(
  op: string,
  memory: SharedMemory,
  offset: number,
  flags: number,
  className: string,
): { at: number; pointer: Pointer } {
  const placed = placeObject(
    op,
    memory,
    offset,
    CHAN_HEADER_SIZE + CHAN_CAPACITY_MIN,
    CHAN_ALIGN,
    (seg, off, cell) => native().symbols.ipc_chan_at(seg, off, cell),
    explain,
  );
  checkFlags(op, placed.pointer, flags, className);
  return placed;
}

/** Throws EKIND unless the channel at `pointer` has exactly the flags `want`. */
export function checkFlags(op: string, pointer: Pointer, want: number, className: string): void {
  const flags = native().symbols.ipc_chan_flags(pointer);
  if ((flags & (CHAN_STREAM | CHAN_SINGLE)) !== want) {
    throw new IpcError(op, "EKIND", `the channel there is not a ${className} (flags ${flags})`);
  }
}

/** Options of `*.create` and `*.init` of the message channels. */
export interface MessageOptions<T = Uint8Array> {
  /** Bytes of ring: a power of two from 64 to 2^30; default 64 KiB. Messages are at most half of it, minus 8. */
  capacity?: number;
  /** How values become bytes in this process: "bytes" (default: Uint8Array in and out), "json", "msgpack", or a Codec. */
  codec?: "bytes" | "json" | "msgpack" | Codec<T>;
}

/** Options of `open`, `fromFd` and `at`: how this process encodes values. */
export interface MessageOpenOptions<T = Uint8Array> extends OpenOptions {
  codec?: MessageOptions<T>["codec"];
}

/** A channel of whole messages (Chan, MVar): encoding, size checks, and the native send and receive calls. */
export abstract class MessageChannel<T> extends ChannelBase {
  readonly #codec: Codec<T>;
  /** Largest message in bytes (after encoding). */
  readonly messageMax: number;
  #scratch: Uint8Array;

  protected constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean, codec: Codec<T>) {
    super(memory, offset, pointer, owned);
    this.#codec = codec;
    this.messageMax = this.s.ipc_chan_message_max(pointer);
    this.#scratch = new Uint8Array(Math.min(this.messageMax, 4096));
  }

  protected encode(op: string, value: T): Uint8Array {
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

  /** Whether messages are bytes as they are (no codec to decode them into values). */
  protected get plainBytes(): boolean {
    return (this.#codec as unknown) === bytesCodec;
  }

  protected decode(op: string, bytes: Uint8Array): T {
    return this.#codec.decode(bytes, true, op);
  }

  /** Decodes messages from bytes that stay valid (a batch copied once), without copying each. */
  protected decodeKept(op: string, bytes: Uint8Array): T {
    return this.#codec.decode(bytes, false, op);
  }

  /** Throws for a failed send: ETIMEDOUT with what was waited for, or the result's error. */
  protected sendFailed(op: string, rc: number, timeout: number): never {
    if (rc === ETIMEDOUT) throw this.timedOut(op, timeout, "no room for the message");
    checked(op, rc, explain);
    throw new IpcError(op, "EIO", `unexpected result ${rc}`);
  }

  protected sendSyncBytes(op: string, bytes: Uint8Array, timeout: number): void {
    const rc = this.s.ipc_chan_send(this.handle(op), bytes, bytes.byteLength, timeoutNs(timeout));
    if (rc !== OK) this.sendFailed(op, rc, timeout);
  }

  protected trySendBytes(op: string, bytes: Uint8Array): boolean {
    const rc = this.s.ipc_chan_try_send(this.handle(op), bytes, bytes.byteLength);
    if (rc === EBUSY) return false;
    if (rc !== OK) this.sendFailed(op, rc, 0);
    return true;
  }

  protected async sendBytes(op: string, encoded: Uint8Array, options: AsyncLockOptions | undefined): Promise<void> {
    const timeout = timeoutOf(op, options);
    let bytes = encoded;
    const rc = await waitSteps(
      op,
      {
        step: (again) => {
          const rc = this.s.ipc_chan_send_step(this.handle(op), bytes, bytes.byteLength, again ? 1 : 0, this.expected);
          // The first step runs before any await; a send that must wait keeps a copy, since a codec may
          // reuse its output buffer on its next call, which can come before this send is done.
          if (rc === EBUSY && bytes === encoded && !this.plainBytes) bytes = encoded.slice();
          return rc;
        },
        word: () => this.words[writable],
        expected: () => this.expected[0],
        giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), writable),
        // While views hold the space, look for holders that died every 20 ms (as native sends do).
        slice: () => this.s.ipc_chan_views_out(this.handle(op)) === 1 ? 20 : Infinity,
      },
      timeout,
      signalOf(op, options),
      this.pending,
      () => this.timedOut(op, timeout, "no room for the message"),
    );
    if (rc !== OK) this.sendFailed(op, rc, timeout);
  }

  /** The received message (a view of scratch space, valid until the next receive), undefined at the end. */
  #received(op: string, rc: number, timeout: number): Uint8Array | undefined {
    if (rc === OK) return this.#scratch.subarray(0, Number(this.length[0]));
    if (rc === EOF) return undefined;
    this.recvFailed(op, rc, timeout);
  }

  /** Throws for a failed receive: ETIMEDOUT with what was waited for, or the result's error. */
  protected recvFailed(op: string, rc: number, timeout: number): never {
    if (rc === ETIMEDOUT) throw this.timedOut(op, timeout, "no message");
    checked(op, rc, explain);
    throw new IpcError(op, "EIO", `unexpected result ${rc}`);
  }

  /** Grows the scratch space after ERANGE told the size of the next message; true when it did. */
  #grow(rc: number, need: number): boolean {
    if (rc !== ERANGE || need <= this.#scratch.byteLength) return false;
    this.#scratch = new Uint8Array(Math.min(this.messageMax, Math.max(need, this.#scratch.byteLength * 2)));
    return true;
  }

  /** Scratch space of at least `bytes` (batch receives). */
  protected scratch(bytes: number): Uint8Array {
    if (this.#scratch.byteLength < bytes) this.#scratch = new Uint8Array(bytes);
    return this.#scratch;
  }

  protected recvSyncBytes(op: string, peek: boolean, timeout: number): Uint8Array | undefined {
    let rc: number;
    do {
      const h = this.handle(op);
      rc = peek
        ? this.s.ipc_chan_peek(h, this.#scratch, this.#scratch.byteLength, this.length, timeoutNs(timeout))
        : this.s.ipc_chan_recv(h, this.#scratch, this.#scratch.byteLength, this.length, timeoutNs(timeout));
    } while (this.#grow(rc, Number(this.length[0])));
    return this.#received(op, rc, timeout);
  }

  /** The next message if there is one now; null when there is none yet, undefined at the end. */
  protected tryRecvBytes(op: string, peek: boolean): Uint8Array | null | undefined {
    let rc: number;
    do {
      rc = this.s.ipc_chan_recv_step(
        this.handle(op),
        this.#scratch,
        this.#scratch.byteLength,
        peek ? 1 : 0,
        0,
        this.length,
        this.expected,
      );
      if (rc === EBUSY) {
        this.s.ipc_chan_unwait(this.handle(op), readable);
        return null;
      }
    } while (this.#grow(rc, Number(this.length[0])));
    return this.#received(op, rc, 0);
  }

  /**
   * An async receive (or swap) done in `call`'s steps. Other async calls on this handle may run
   * between a step and the code after its wait, so a step keeps what it received (a copy) at once.
   */
  async #receive(
    op: string,
    options: AsyncLockOptions | undefined,
    call: (again: boolean, length: BigUint64Array) => number,
  ): Promise<Uint8Array | undefined> {
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    const length = new BigUint64Array(1);
    let got: Uint8Array | undefined;
    while (true) {
      const rc = await waitSteps(
        op,
        {
          step: (again) => {
            const rc = call(again, length);
            if (rc === OK) got = this.#scratch.slice(0, Number(length[0]));
            return rc;
          },
          word: () => this.words[readable],
          expected: () => this.expected[0],
          giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), readable),
        },
        timeout,
        signal,
        this.pending,
        () => this.timedOut(op, timeout, "no message"),
      );
      if (rc === EPIPE) this.sendFailed(op, rc, timeout);
      if (rc === OK) return got;
      if (rc === EOF) return undefined;
      if (!this.#grow(rc, Number(length[0]))) this.recvFailed(op, rc, timeout);
    }
  }

  protected recvBytes(
    op: string,
    peek: boolean,
    options: AsyncLockOptions | undefined,
  ): Promise<Uint8Array | undefined> {
    return this.#receive(op, options, (again, length) =>
      this.s.ipc_chan_recv_step(
        this.handle(op),
        this.#scratch,
        this.#scratch.byteLength,
        peek ? 1 : 0,
        again ? 1 : 0,
        length,
        this.expected,
      ));
  }

  /** MVar's swap: the old message's bytes (a view of scratch space). */
  protected swapSyncBytes(op: string, bytes: Uint8Array, timeout: number): Uint8Array | undefined {
    let rc: number;
    do {
      rc = this.s.ipc_chan_swap(
        this.handle(op),
        bytes,
        bytes.byteLength,
        this.#scratch,
        this.#scratch.byteLength,
        this.length,
        timeoutNs(timeout),
      );
    } while (this.#grow(rc, Number(this.length[0])));
    if (rc === EPIPE) this.sendFailed(op, rc, timeout);
    return this.#received(op, rc, timeout);
  }

  protected swapBytes(
    op: string,
    encoded: Uint8Array,
    options: AsyncLockOptions | undefined,
  ): Promise<Uint8Array | undefined> {
    const bytes = this.plainBytes ? encoded : encoded.slice(); // see sendBytes
    return this.#receive(op, options, (again, length) =>
      this.s.ipc_chan_swap_step(
        this.handle(op),
        bytes,
        bytes.byteLength,
        this.#scratch,
        this.#scratch.byteLength,
        again ? 1 : 0,
        length,
        this.expected,
      ));
  }
}
