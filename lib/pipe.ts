/**
 * Pipe: a one-way byte stream in shared memory (the seed chapter's pipe), from Bun, Deno and C
 * processes at once (C: a channel made with IPC_CHAN_STREAM, `ipc_chan_write`/`ipc_chan_read`).
 * Writes wait for room and put every byte in; reads return what is there (at least one byte), so
 * readers see the stream in pieces of any size, in order; after `end()` readers drain what is left
 * and then see the end (null). `readable` and `writable` are Web Streams over the same pipe.
 *
 * @module
 */

import { CHAN_STREAM, RESULT_CODES } from "./abi.ts";
import { channelAt, ChannelBase, createChannel, initChannel, openChannel, readable, writable } from "./channel.ts";
import { checked } from "./call.ts";
import { checkInteger, describe, IpcError, IpcTypeError, optionsOf } from "./errors.ts";
import type { Pointer } from "./native.ts";
import { type AsyncLockOptions, type LockOptions, signalOf, timeoutNs, timeoutOf } from "./options.ts";
import { type OpenOptions, SharedMemory, unlinkKind } from "./segment.ts";
import type { CreateOptions } from "./shared_object.ts";
import { waitSteps } from "./wait.ts";

const { OK, EOF, ETIMEDOUT } = RESULT_CODES;
const encoder = new TextEncoder();

/** Options of `Pipe.create` and `Pipe.init`. */
export interface PipeOptions {
  /** Bytes of ring: a power of two from 64 to 2^30; default 64 KiB. */
  capacity?: number;
}

/** A process-shared one-way byte stream. */
export class Pipe extends ChannelBase {
  readonly #count = new BigUint64Array(1);
  #buffer: Uint8Array = new Uint8Array(0);
  readonly #writerWord: Pointer;
  /** Whether this handle holds the writer lease (see `#attach`). */
  #writer = false;

  private constructor(memory: SharedMemory, offset: number, pointer: Pointer, owned: boolean) {
    super(memory, offset, pointer, owned);
    this.#writerWord = this.s.ipc_chan_writer_word(pointer)!;
  }

  /**
   * The first write makes this process the pipe's writer, unless a live one already is: when it
   * dies without `end()`, readers see the end after what it wrote.
   */
  #attach(op: string): void {
    if (this.#writer) return;
    const rc = this.s.ipc_chan_writer_attach(this.handle(op));
    if (rc === RESULT_CODES.OK) this.#writer = true;
    else if (rc !== RESULT_CODES.EBUSY) checked(op, rc);
  }

  #detach(): void {
    if (!this.#writer || this.closed) return;
    this.#writer = false;
    this.s.ipc_chan_writer_detach(this.handle("Pipe.end"));
  }

  /** Ends the pipe for everyone: readers drain what is left, then see the end (null). */
  override end(): void {
    super.end();
    this.#detach();
  }

  /** Stops using the pipe in this process; a writer's lease goes (readers are not ended by it). */
  override close(): void {
    this.#detach();
    super.close();
  }

  protected get label(): string {
    return "Pipe";
  }

  /** Creates a pipe in a segment of its own; others open it by name or fd. */
  static create(options: CreateOptions & PipeOptions = {}): Pipe {
    options = optionsOf("Pipe.create", options, "{ capacity: 4096 }");
    const { memory, pointer } = createChannel("Pipe.create", options, CHAN_STREAM);
    return new Pipe(memory, 0, pointer, true);
  }

  /**
   * Removes the name of a standalone pipe (Chan, MVar, Pipe and SharedValue share the kind "chan"), as
   * `SharedMemory.unlink` does: processes that have it open keep using it. EKIND when the name holds another kind of
   * object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("Pipe.unlink", name, "chan");
  }

  /** Opens the pipe called `name`. */
  static open(name: string, options: OpenOptions = {}): Pipe {
    return Pipe.#standalone("Pipe.open", SharedMemory.open(name, options), name);
  }

  /** Opens the pipe behind `fd` (one a parent passed to this process). */
  static fromFd(fd: number, options: OpenOptions = {}): Pipe {
    return Pipe.#standalone("Pipe.fromFd", SharedMemory.fromFd(fd, options), `fd ${fd}`);
  }

  static #standalone(op: string, memory: SharedMemory, what: string): Pipe {
    const pointer = openChannel(op, memory, what, "Pipe", CHAN_STREAM);
    return new Pipe(memory, 0, pointer, true);
  }

  /** Initializes a pipe at `offset` (a multiple of 64; 384 + capacity bytes) in `memory`. */
  static init(memory: SharedMemory, offset: number, options: PipeOptions = {}): Pipe {
    options = optionsOf("Pipe.init", options, "{ capacity: 4096 }");
    const { at, pointer } = initChannel("Pipe.init", memory, offset, options.capacity, CHAN_STREAM);
    return new Pipe(memory, at, pointer, false);
  }

  /** The pipe another process initialized at `offset` in `memory`. */
  static at(memory: SharedMemory, offset: number): Pipe {
    const op = "Pipe.at";
    const { at, pointer } = channelAt(op, memory, offset, CHAN_STREAM, "Pipe");
    return new Pipe(memory, at, pointer, false);
  }

  #bytes(op: string, data: unknown): Uint8Array {
    if (typeof data === "string") return encoder.encode(data);
    if (data instanceof Uint8Array) return data;
    throw new IpcTypeError(op, `data must be a Uint8Array or a string, got ${describe(data)}`);
  }

  #failed(op: string, rc: number, timeout: number, what: string): never {
    if (rc === ETIMEDOUT) throw this.timedOut(op, timeout, what);
    checked(op, rc, (code) => code === "EPIPE" ? "the pipe was ended: nothing more can be written" : undefined);
    throw new IpcError(op, "EIO", `unexpected result ${rc}`);
  }

  /** Writes every byte of `data` (a string is written as UTF-8), blocking while the pipe is full. */
  writeSync(data: Uint8Array | string, options?: LockOptions): void {
    const op = "Pipe.writeSync";
    const bytes = this.#bytes(op, data);
    this.#attach(op);
    const timeout = timeoutOf(op, options);
    const rc = this.s.ipc_chan_write(this.handle(op), bytes, bytes.byteLength, timeoutNs(timeout));
    if (rc !== OK) this.#failed(op, rc, timeout, "no room for the rest of the data");
  }

  /** Writes every byte of `data` without blocking the event loop. */
  async write(data: Uint8Array | string, options?: AsyncLockOptions): Promise<void> {
    const op = "Pipe.write";
    let rest = this.#bytes(op, data);
    this.#attach(op);
    const timeout = timeoutOf(op, options);
    const signal = signalOf(op, options);
    // Other async calls on this handle may run between a step and the code after its wait, so each
    // call has its own out-cell and keeps what a step did before returning.
    const count = new BigUint64Array(1);
    let wrote = 0;
    while (rest.byteLength > 0) {
      const rc = await waitSteps(
        op,
        {
          step: (again) => {
            const h = this.handle(op);
            const rc = this.s.ipc_chan_write_step(h, rest, rest.byteLength, again ? 1 : 0, count, this.expected);
            wrote = Number(count[0]);
            return rc;
          },
          word: () => this.words[writable],
          expected: () => this.expected[0],
          giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), writable),
        },
        timeout,
        signal,
        this.pending,
        () => this.timedOut(op, timeout, "no room for the rest of the data"),
      );
      if (rc !== OK) this.#failed(op, rc, timeout, "no room for the rest of the data");
      rest = rest.subarray(wrote);
    }
  }

  /** Room for a read of at most `max` bytes (default 64 KiB, at most the capacity), shared by the calls of this handle. */
  #space(op: string, max: unknown): Uint8Array {
    const n = max === undefined ? Math.min(64 * 1024, this.capacity) : checkInteger(op, "max", max, 1, this.capacity);
    if (this.#buffer.byteLength < n) this.#buffer = new Uint8Array(n);
    return this.#buffer.subarray(0, n);
  }

  #read(op: string, rc: number, timeout: number): Uint8Array | null {
    if (rc === OK) return this.#buffer.slice(0, Number(this.#count[0]));
    if (rc === EOF) return null;
    this.#failed(op, rc, timeout, "no data");
  }

  /** Reads what is there (1 to `max` bytes, default up to 64 KiB), blocking while empty; null at the end. */
  readSync(max?: number, options?: LockOptions): Uint8Array | null {
    const op = "Pipe.readSync";
    const space = this.#space(op, max);
    const timeout = timeoutOf(op, options);
    const rc = this.s.ipc_chan_read(this.handle(op), space, space.byteLength, this.#count, timeoutNs(timeout));
    return this.#read(op, rc, timeout);
  }

  /** Reads what is there without blocking the event loop; null at the end. */
  async read(max?: number, options?: AsyncLockOptions): Promise<Uint8Array | null> {
    const op = "Pipe.read";
    const space = this.#space(op, max);
    const timeout = timeoutOf(op, options);
    // Other async calls on this handle may run between a step and the code after its wait: the
    // step copies what it read out of the shared buffer at once, into the call's own result.
    const count = new BigUint64Array(1);
    const writer = new Uint32Array(1);
    let got: Uint8Array | null = null;
    const rc = await waitSteps(
      op,
      {
        step: (again) => {
          const rc = this.s.ipc_chan_read_step(
            this.handle(op),
            space,
            space.byteLength,
            again ? 1 : 0,
            count,
            this.expected,
            writer,
          );
          if (rc === OK) got = space.slice(0, Number(count[0]));
          return rc;
        },
        word: () => this.words[readable],
        expected: () => this.expected[0],
        giveUp: () => void this.s.ipc_chan_unwait(this.handle(op), readable),
        // The writer's death ends the pipe: wait on its lock word too.
        also: () => writer[0] === 0 ? null : { word: this.#writerWord, expected: writer[0] },
      },
      timeout,
      signalOf(op, options),
      this.pending,
      () => this.timedOut(op, timeout, "no data"),
    );
    if (rc === OK) return got;
    if (rc === EOF) return null;
    this.#failed(op, rc, timeout, "no data");
  }

  /** A ReadableStream of the pipe's bytes; it closes at the end of the pipe. */
  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    });
  }

  /** A WritableStream into the pipe; closing it ends the pipe. */
  get writable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.end(),
    });
  }
}
