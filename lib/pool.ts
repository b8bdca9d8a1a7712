/**
 * Pool: a fixed number of worker processes that import one module and run its exported functions —
 * one call at a time (`exec`) or over many items in chunks (`map`, `imap`), like Python's
 * multiprocessing.Pool, without fork.
 *
 * Each worker is a fresh Bun or Deno process (lib/pool_worker.ts) with one anonymous Duplex (a memfd:
 * nothing in /dev/shm) to the parent; calls and results cross it with the msgpack codec. The parent
 * keeps every task it handed to a worker, in order, so when a worker dies it knows exactly which task
 * was running (the first one it has not answered) and which were only queued behind it (they go back
 * to the front of the queue). The running task rejects with EBROKEN naming the worker and how it died,
 * or runs again on another worker when `retries` allow. The dead worker is replaced.
 *
 * A worker holds at most two tasks: the one it runs and the next, so it never waits for the parent
 * between tasks. An idle pool holds no pending wait and does not keep its process alive; workers
 * exit when their stdin (a pipe from the parent) closes, so they never outlive the parent.
 *
 * @module
 */

import type { ChildProcess as NodeChild } from "node:child_process";
import { availableParallelism } from "node:os";
import { referenceChild } from "./child.ts";
import { isDetached } from "./codec.ts";
import { Duplex } from "./duplex.ts";
import { checkInteger, describe, IpcError, IpcTypeError } from "./errors.ts";
import { placeOf } from "./handoff.ts";
import { signalOf, timeoutOf, TIMER_MAX_MS } from "./options.ts";
import {
  ANSWER_FAILED,
  ANSWER_OK,
  ANSWER_READY,
  ANSWER_THREW,
  isChunkPayload,
  packNumbers,
  TASK_CALL,
  TASK_CHUNK,
} from "./pool_protocol.ts";
import {
  bindingUrl,
  type ChildExit,
  commandFor,
  currentRuntime,
  describeShared,
  inheritedEnv,
  isJsRuntime,
  type JsRuntime,
  libUrl,
  refused,
  type Shareable,
  SHARED_ENV,
  type ShareWithCodec,
  startChild,
  startError,
} from "./process.ts";
import type { SharedMemory } from "./segment.ts";
import {
  capacityOf,
  howItDied,
  isRemoteError,
  killedBySystem,
  moduleUrl,
  rebuildError,
  type RemoteError,
} from "./remote_call.ts";

/** Options of `new Pool`. */
export interface PoolOptions {
  /** The module whose exports the workers run: an absolute path or a URL. */
  module: string | URL;
  /** Number of workers, 1 to 1024. Default: the number of CPUs this process may use. */
  size?: number;
  /** "bun", "deno" or "node"; default: the runtime of this process. */
  runtime?: JsRuntime;
  /** The runtime's executable; see `SpawnOptions.execPath`. */
  execPath?: string;
  /** Flags for the runtime; default none for Bun, `["--allow-all"]` for Deno. */
  runtimeArgs?: string[];
  /** Extra environment variables of the workers. */
  env?: Record<string, string>;
  /**
   * Objects every worker gets from `shared()` (as with `spawn`): segments, locks, channels, heaps.
   * The module can call `shared()` at its top level.
   */
  share?: (Shareable | ShareWithCodec)[];
  /** A worker that has run this many tasks (a chunk of a map is one task) is replaced. Default: never. */
  maxTasksPerWorker?: number;
  /** How many times a task whose worker died runs again on another worker (0 to 100). Default 0. */
  retries?: number;
  /**
   * Bytes of each direction of a worker's channel, a power of two: one call's arguments (a chunk's
   * items) and one result (a chunk's results), msgpack-encoded, must fit in half of it minus 8 bytes
   * (else that task rejects with ERANGE). Default 4 MiB; untouched pages cost no memory.
   */
  capacity?: number;
  /** Called when a worker ends other than by retiring or by close()/terminate(). */
  onWorkerExit?: (info: WorkerExit) => void;
}

/** A worker that ended unexpectedly (crashed, was killed, or was killed to cancel its task). */
export interface WorkerExit {
  pid: number;
  exit: ChildExit;
  /** What it was running, as "square(items 512..1023)" or "add(...)"; undefined when idle. */
  task?: string;
  /** True when that task runs again on another worker (`retries`). */
  retry: boolean;
  /** "died" on its own, or killed by the pool to "cancel" its task (timeout or signal). */
  cause: "died" | "cancel";
}

/** Options of one `exec`: the function's name, and a timeout and signal for this call. */
export interface ExecCall {
  name: string;
  /** Reject with ETIMEDOUT after this many ms from the call, killing the worker if it runs the task. */
  timeout?: number;
  /** Aborting it rejects with its reason, killing the worker if it runs the task. */
  signal?: AbortSignal;
}

/** Options of `map` and `imap`. */
export interface MapOptions {
  /** Items per task, 1 to 1 048 576. Default: items / (4 x size) for arrays (at least 1), else 64. */
  chunkSize?: number;
  /** Results in input order (default), or as chunks complete. */
  ordered?: boolean;
  /** Aborting it stops the map: queued chunks are dropped and workers running its chunks are killed. */
  signal?: AbortSignal;
}

const sizeMax = 1024;
const chunkMax = 1 << 20;
const depth = 2;
const stopGraceMs = 5000;
/** Workers killed by a signal before ready, in a row, that make the pool give up starting more. */
const startKillsMax = 3;

/** One task: a call, or a chunk of a map. */
interface Task {
  readonly id: number;
  readonly name: string;
  readonly payload: unknown[];
  readonly chunk: boolean;
  /** Index of the chunk's first item in its map. */
  readonly first: number;
  attempts: number;
  /** Rejected or no longer wanted: its result is dropped. */
  done: boolean;
  worker: Worker | null;
  readonly settle: (error: unknown, value?: unknown) => void;
}

/** One worker process and what it was given. */
interface Worker {
  readonly child: NodeChild;
  readonly pid: number;
  readonly duplex: Duplex<unknown>;
  readonly exited: Promise<ChildExit>;
  /** Resolves once the pool has accounted for the worker's exit (`#lost` returned). */
  settled: Promise<void>;
  /** Exited: gets no task; `#lost` is reading what it wrote before it judges how it ended. */
  lost: boolean;
  /** Tasks sent and not yet answered, in the order sent: the first is running. */
  readonly inflight: Task[];
  ready: boolean;
  ran: number;
  /** Gets no more tasks; exits once its tasks are answered. */
  retiring: boolean;
  /** Killed by the pool to cancel its running task. */
  cancelled: boolean;
  /** Whether the receive loop (`#pump`) runs; `pumped` ends with its last run. */
  pumping: boolean;
  pumped: Promise<void>;
  readonly stop: AbortController;
  failure?: RemoteError;
}

function describeTask(task: Task): string {
  return task.chunk
    ? `${task.name}(items ${task.first}..${task.first + task.payload.length - 1})`
    : `${task.name}(...)`;
}

/**
 * A pool of worker processes running the exports of one module. Create it, call `exec`, `map` or
 * `imap`, and `close()` it (or `await using`); see the module documentation for what happens when
 * a worker dies.
 */
export class Pool implements AsyncDisposable {
  readonly #module: string;
  readonly #argv: string[];
  readonly #env: Record<string, string | undefined>;
  readonly #shared: SharedMemory[];
  readonly #size: number;
  readonly #maxTasks: number;
  readonly #retries: number;
  readonly #capacity: number;
  readonly #onWorkerExit: ((info: WorkerExit) => void) | undefined;
  readonly #workers = new Set<Worker>();
  readonly #queue: Task[] = [];
  #nextId = 1;
  #closing: Promise<void> | null = null;
  #terminated = false;
  /** Set when a worker could not start: no more are started until new work comes. */
  #startFailure: unknown = null;
  #referenced = true;
  /** Maps in progress: close() waits for them too, as they may still submit chunks. */
  #runs = 0;
  /** Workers killed by a signal before they were ready, since one last was. */
  #startKills = 0;

  constructor(options: PoolOptions) {
    const op = "Pool";
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { module, size }, got ${describe(options)}`);
    }
    this.#module = moduleUrl(op, options.module);
    this.#size = options.size === undefined
      ? Math.max(1, availableParallelism())
      : checkInteger(op, "size", options.size, 1, sizeMax);
    this.#maxTasks = options.maxTasksPerWorker === undefined || options.maxTasksPerWorker === Infinity
      ? Infinity
      : checkInteger(op, "maxTasksPerWorker", options.maxTasksPerWorker, 1, Number.MAX_SAFE_INTEGER);
    this.#retries = options.retries === undefined ? 0 : checkInteger(op, "retries", options.retries, 0, 100);
    this.#capacity = capacityOf(op, options.capacity);
    if (options.onWorkerExit !== undefined && typeof options.onWorkerExit !== "function") {
      throw new IpcTypeError(op, `onWorkerExit must be a function, got ${describe(options.onWorkerExit)}`);
    }
    this.#onWorkerExit = options.onWorkerExit;
    if (options.env !== undefined && (typeof options.env !== "object" || options.env === null)) {
      throw new IpcTypeError(op, `env must be an object of strings, got ${describe(options.env)}`);
    }
    const { segments, text } = describeShared(op, options.share ?? []);
    this.#shared = segments;
    this.#env = { ...inheritedEnv(op), ...options.env, [SHARED_ENV]: text };
    const runtime = options.runtime ?? currentRuntime();
    if (!isJsRuntime(runtime)) {
      throw new IpcTypeError(op, `runtime must be "bun", "deno" or "node", got ${describe(runtime)}`);
    }
    const binding = bindingUrl(runtime);
    const runner = libUrl("pool_worker");
    // Each worker's channel number (its fd or handle) is appended by #start.
    this.#argv = [...commandFor(op, runtime, runner, options), binding, this.#module];
    this.#fill();
  }

  /** The number of workers the pool keeps. */
  get size(): number {
    return this.#size;
  }

  /** The pids of the workers running now. */
  get pids(): number[] {
    return [...this.#workers].map((w) => w.pid);
  }

  /** Tasks waiting for a worker (a map's chunks count one each). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Whether close() or terminate() was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Runs `name(...args)` of the module in a worker and resolves with its (awaited) return value.
   * `call` is the function's name, or `{ name, timeout, signal }`. A thrown error rejects with an
   * Error of the same name, message, stack and code; a worker that dies running it rejects with
   * EBROKEN (after `retries` more attempts); ETIMEDOUT or the signal's reason after a timeout or
   * abort (the worker running it is killed and replaced).
   */
  exec<R = unknown>(call: string | ExecCall, ...args: unknown[]): Promise<R> {
    const op = "Pool.exec";
    let name: unknown = call;
    let timeout = Infinity;
    let signal: AbortSignal | undefined;
    try {
      if (typeof call === "object" && call !== null) {
        name = call.name;
        timeout = timeoutOf(op, call);
        signal = signalOf(op, call);
      }
      this.#checkName(op, name);
      this.#checkOpen(op);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#cancel(task, signal!.reason);
      const task = this.#task(name as string, args, false, 0, (error, value) => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(value as R);
        else reject(error);
      });
      if (timeout <= TIMER_MAX_MS) {
        timer = setTimeout(() =>
          this.#cancel(
            task,
            new IpcError(op, "ETIMEDOUT", `${name as string}(...) did not return within ${timeout} ms`),
          ), timeout);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#submit([task]);
    });
  }

  /**
   * Runs `name(item)` for every item in chunks of `chunkSize` items and resolves with the results: in
   * input order, or in the order chunks complete with `ordered: false`. The first item that throws
   * rejects the map (the error's message names the item's index) and drops its queued chunks.
   */
  async map<R = unknown>(
    items: Iterable<unknown> | AsyncIterable<unknown>,
    name: string,
    options: MapOptions = {},
  ): Promise<R[]> {
    const op = "Pool.map";
    const ordered = this.#checkMap(op, items, name, options);
    // Chunks complete in any order: keep them, then lay them out once (writing far past the end of
    // an array would turn it into a slow sparse one).
    const chunks: { first: number; values: ArrayLike<unknown> }[] = [];
    for await (const chunk of this.#chunks(op, items, name, options, false)) chunks.push(chunk);
    if (ordered) chunks.sort((a, b) => a.first - b.first);
    const out: R[] = [];
    for (const { values } of chunks) for (let i = 0; i < values.length; i++) out.push(values[i] as R);
    return out;
  }

  /**
   * `map` as an async iterator: results come as soon as they are ready (in input order, or as chunks
   * complete with `ordered: false`), and items are read only as fast as workers take them, so
   * `items` may be endless. Leaving the loop early drops the chunks not yet run.
   */
  async *imap<R = unknown>(
    items: Iterable<unknown> | AsyncIterable<unknown>,
    name: string,
    options: MapOptions = {},
  ): AsyncGenerator<R, void, undefined> {
    const op = "Pool.imap";
    const ordered = this.#checkMap(op, items, name, options);
    for await (const { values } of this.#chunks(op, items, name, options, ordered)) {
      for (const value of values) yield value as R;
    }
  }

  /**
   * Takes no new work, lets every queued and running task finish, then lets the workers exit and
   * resolves once they have. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = (async () => {
        this.#startFailure = null;
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
          this.#settleIfDrained();
        });
        await this.#stopAll(false);
      })();
    }
    return this.#closing;
  }

  /** Kills every worker now; queued and running tasks reject with ECLOSED. Resolves once all have exited. */
  terminate(): Promise<void> {
    if (this.#terminated) return this.#closing!;
    this.#terminated = true;
    const reason = new IpcError("Pool.terminate", "ECLOSED", "the pool was terminated");
    for (const task of this.#queue.splice(0)) this.#finish(task, reason);
    for (const w of this.#workers) for (const task of w.inflight) this.#finish(task, reason);
    const stopping = this.#stopAll(true);
    this.#closing = stopping;
    this.#drained?.();
    return stopping;
  }

  /** `close()`: lets queued work finish. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Submitting work.

  #drained: (() => void) | null = null;

  #checkName(op: string, name: unknown): void {
    if (typeof name !== "string" || name === "") {
      throw new IpcTypeError(op, `the function's name must be a non-empty string, got ${describe(name)}`);
    }
  }

  #checkOpen(op: string): void {
    if (this.#closing !== null) {
      throw new IpcError(op, "ECLOSED", this.#terminated ? "the pool was terminated" : "the pool is closing");
    }
  }

  /** Checks a map's arguments; returns `ordered`. */
  #checkMap(op: string, items: unknown, name: unknown, options: unknown): boolean {
    if (
      typeof (items as Iterable<unknown> | null)?.[Symbol.iterator] !== "function" &&
      typeof (items as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] !== "function"
    ) {
      throw new IpcTypeError(op, `items must be iterable or async iterable, got ${describe(items)}`);
    }
    if (ArrayBuffer.isView(items) && isDetached(items.buffer)) {
      throw new IpcTypeError(op, "items is a view of a detached ArrayBuffer");
    }
    this.#checkName(op, name);
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { chunkSize: 512 }, got ${describe(options)}`);
    }
    const o = options as MapOptions;
    if (o.chunkSize !== undefined) checkInteger(op, "chunkSize", o.chunkSize, 1, chunkMax);
    if (o.ordered !== undefined && typeof o.ordered !== "boolean") {
      throw new IpcTypeError(op, `ordered must be a boolean, got ${describe(o.ordered)}`);
    }
    signalOf(op, o);
    this.#checkOpen(op);
    return o.ordered ?? true;
  }

  #task(
    name: string,
    payload: unknown[],
    chunk: boolean,
    first: number,
    settle: (error: unknown, value?: unknown) => void,
  ): Task {
    return { id: this.#nextId++, name, payload, chunk, first, attempts: 0, done: false, worker: null, settle };
  }

  #submit(tasks: Task[]): void {
    if (this.#startFailure !== null) {
      this.#startFailure = null;
      this.#fill();
    }
    this.#queue.push(...tasks);
    this.#reference(true);
    this.#dispatch();
  }

  /** Settles a task once; later answers for it are dropped. */
  #finish(task: Task, error: unknown, value?: unknown): void {
    if (task.done) return;
    task.done = true;
    task.settle(error, value);
  }

  /** Rejects `task` with `reason`; kills its worker when the task is running there. */
  #cancel(task: Task, reason: unknown): void {
    if (task.done) return;
    const at = this.#queue.indexOf(task);
    if (at >= 0) this.#queue.splice(at, 1);
    this.#finish(task, reason);
    const w = task.worker;
    if (w !== null && w.inflight[0] === task && !w.cancelled) {
      w.cancelled = true;
      w.child.kill("SIGKILL");
    }
    this.#settleIfDrained();
  }

  /**
   * The chunks of a map as they complete (`ordered`: in input order), at most 4 x size outstanding:
   * items are read only as chunks go out.
   */
  async *#chunks(
    op: string,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    name: string,
    options: MapOptions,
    ordered: boolean,
  ): AsyncGenerator<{ first: number; values: ArrayLike<unknown> & Iterable<unknown> }, void, undefined> {
    const signal = options.signal;
    if (signal?.aborted) throw signal.reason;
    let chunkSize = options.chunkSize;
    const array = Array.isArray(items) ? items : null;
    if (chunkSize === undefined) {
      chunkSize = array === null ? 64 : Math.min(chunkMax, Math.max(1, Math.ceil(array.length / (4 * this.#size))));
    }
    let source: Iterator<unknown> | AsyncIterator<unknown> | null = null;
    if (array === null) {
      if (typeof (items as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === "function") {
        source = (items as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      } else if (typeof (items as Iterable<unknown>)?.[Symbol.iterator] === "function") {
        source = (items as Iterable<unknown>)[Symbol.iterator]();
      } else throw new IpcTypeError(op, `items must be an array or an (async) iterable, got ${describe(items)}`);
    }
    const window = 4 * this.#size;
    this.#runs++;
    const outstanding = new Set<Task>();
    const ready = new Map<number, unknown[] | Float64Array>(); // by first item index
    let failure = null as { error: unknown } | null;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    let pulled = 0;
    let exhausted = false;
    let nextFirst = 0; // ordered: the first item index to yield next
    const onAbort = () => {
      failure ??= { error: signal!.reason };
      notify();
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    const pull = async (): Promise<unknown[]> => {
      if (array !== null) {
        const part = array.slice(pulled, pulled + chunkSize);
        if (part.length < chunkSize) exhausted = true;
        return part;
      }
      const part: unknown[] = [];
      while (part.length < chunkSize) {
        const r = await source!.next();
        if (r.done) {
          exhausted = true;
          break;
        }
        part.push(r.value);
      }
      return part;
    };

    try {
      while (true) {
        while (!exhausted && failure === null && outstanding.size + ready.size < window) {
          const part = await pull();
          if (part.length === 0) break;
          const first = pulled;
          pulled += part.length;
          const task: Task = this.#task(name, part, true, first, (error, values) => {
            outstanding.delete(task);
            if (error !== undefined) failure ??= { error };
            else ready.set(first, values as unknown[] | Float64Array);
            notify();
          });
          outstanding.add(task);
          if (this.#terminated) throw new IpcError(op, "ECLOSED", "the pool was terminated");
          this.#submit([task]);
        }
        if (failure !== null) throw failure.error;
        if (ordered) {
          let values: unknown[] | Float64Array | undefined;
          while ((values = ready.get(nextFirst)) !== undefined) {
            ready.delete(nextFirst);
            const first = nextFirst;
            nextFirst += values.length;
            yield { first, values };
          }
        } else {
          for (const [first, values] of ready) {
            ready.delete(first);
            yield { first, values };
          }
        }
        if (exhausted && outstanding.size === 0 && ready.size === 0) return;
        if (!exhausted && outstanding.size + ready.size < window) continue;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.#runs--;
      signal?.removeEventListener("abort", onAbort);
      const aborted = signal?.aborted === true;
      for (const task of outstanding) {
        if (aborted) this.#cancel(task, signal!.reason);
        else {
          const at = this.#queue.indexOf(task);
          if (at >= 0) this.#queue.splice(at, 1);
          task.done = true;
        }
      }
      this.#settleIfDrained();
      if (source !== null && !exhausted) await source.return?.();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Workers.

  /** Starts workers until there are `size` that are not retiring. */
  #fill(): void {
    if (this.#terminated || this.#startFailure !== null) return;
    let live = 0;
    for (const w of this.#workers) if (!w.retiring) live++;
    for (; live < this.#size; live++) this.#start();
  }

  #start(): void {
    const op = "Pool";
    const duplex = Duplex.create<unknown>({ capacity: this.#capacity, codec: "msgpack" });
    let started: { child: NodeChild; exited: Promise<ChildExit> };
    try {
      // The shared segments come first (fds 3, 4, ... as `shared()` expects), the worker's channel after them.
      const channel = String(placeOf(duplex.memory, this.#shared.length)!.number);
      const segments = [...this.#shared, duplex.memory];
      started = startChild(
        op,
        [...this.#argv, channel],
        ["pipe", "inherit", "inherit"],
        segments,
        this.#env,
        undefined,
      );
    } catch (error) {
      duplex.close();
      this.#failStart(error);
      return;
    }
    const { child, exited } = started;
    const w: Worker = {
      child,
      pid: child.pid ?? 0,
      duplex,
      exited,
      settled: Promise.resolve(),
      lost: false,
      inflight: [],
      ready: false,
      ran: 0,
      retiring: false,
      cancelled: false,
      pumping: false,
      pumped: Promise.resolve(),
      stop: new AbortController(),
    };
    this.#workers.add(w);
    child.stdin?.on("error", () => {}); // EPIPE once the worker is gone: its exit says more
    if (!this.#referenced) this.#unrefWorker(w);
    this.#pump(w);
    w.settled = exited.then((exit) => this.#lost(w, exit));
  }

  /** Starts the receive loop unless it runs. */
  #pump(w: Worker): void {
    if (w.pumping) return;
    w.pumping = true;
    w.pumped = this.#receive(w);
  }

  /**
   * Receives the worker's answers while it owes any (or has not said it is ready). An answer its
   * receive took before `stop` aborted it is still handled: `#lost` waits for this loop to end.
   */
  async #receive(w: Worker): Promise<void> {
    try {
      while (!w.stop.signal.aborted && (!w.ready || w.inflight.length > 0)) {
        let answer = w.duplex.tryRecv();
        if (answer === undefined) answer = await w.duplex.recv({ signal: w.stop.signal });
        if (answer === undefined) break; // the worker ended its side: it is exiting
        this.#answer(w, answer);
      }
    } catch (error) {
      if (!w.stop.signal.aborted) {
        // A malformed answer: the worker is not to be trusted with more work.
        w.failure ??= { name: "IpcError", message: (error as Error).message };
        w.child.kill("SIGKILL");
      }
    } finally {
      // At once, not a microtask later: a task sent right after the loop ended needs a new loop.
      w.pumping = false;
    }
  }

  #answer(w: Worker, answer: unknown): void {
    const op = "Pool";
    if (!Array.isArray(answer) || answer.length < 3 || typeof answer[0] !== "number") {
      throw new IpcError(op, "EPROTO", `worker ${w.pid} sent a malformed answer: ${describe(answer)}`);
    }
    const [id, kind, value, index] = answer;
    if (kind === ANSWER_READY) {
      w.ready = true;
      this.#startKills = 0;
      this.#dispatch();
      return;
    }
    if (kind === ANSWER_FAILED) {
      w.failure = isRemoteError(value) ? value : { name: "Error", message: describe(value) };
      return; // it exits now; #lost reports it
    }
    const task = w.inflight[0];
    if (task === undefined || task.id !== id || (kind !== ANSWER_OK && kind !== ANSWER_THREW)) {
      throw new IpcError(
        op,
        "EPROTO",
        `worker ${w.pid} answered task ${describe(id)} (kind ${describe(kind)}) out of turn`,
      );
    }
    w.inflight.shift();
    w.ran++;
    task.worker = null;
    if (kind === ANSWER_OK) {
      if (task.chunk && (!isChunkPayload(value) || value.length !== task.payload.length)) {
        this.#finish(
          task,
          new IpcError(op, "EPROTO", `worker ${w.pid} sent a malformed result for ${describeTask(task)}`),
        );
      } else this.#finish(task, undefined, value);
    } else {
      const error = isRemoteError(value) ? rebuildError(value, "Pool") : new Error(`a worker threw ${describe(value)}`);
      if (task.chunk && typeof index === "number") {
        error.message += ` (item ${task.first + index} of ${task.name} in Pool.map)`;
      }
      this.#finish(task, error);
    }
    if (w.ran + w.inflight.length >= this.#maxTasks) this.#retire(w);
    this.#dispatch();
    this.#settleIfDrained();
  }

  /** Hands queued tasks to ready workers: first to idle ones, then one more to each busy one. */
  #dispatch(): void {
    for (let held = 0; held < depth && this.#queue.length > 0; held++) {
      for (const w of this.#workers) {
        if (this.#queue.length === 0) break;
        if (!w.ready || w.retiring || w.cancelled || w.lost || w.inflight.length !== held) continue;
        if (w.ran + w.inflight.length >= this.#maxTasks) continue;
        const task = this.#queue.shift()!;
        this.#send(w, task);
      }
    }
  }

  #send(w: Worker, task: Task): void {
    const payload = task.chunk ? packNumbers(task.payload) : task.payload;
    const message = [task.id, task.name, payload, task.chunk ? TASK_CHUNK : TASK_CALL];
    let sent: boolean;
    try {
      sent = w.duplex.trySend(message);
    } catch (error) {
      // Too large for the channel, or not encodable: this task fails, the worker is fine.
      if ((error as { code?: unknown }).code === "ERANGE") {
        (error as Error).message += `; pass a larger capacity to new Pool({ capacity })${
          task.chunk ? " or a smaller chunkSize" : ""
        }`;
      }
      this.#finish(task, error);
      return;
    }
    if (!sent) {
      // Cannot happen while a worker holds at most `depth` tasks; checked, not assumed.
      this.#queue.unshift(task);
      return;
    }
    task.worker = w;
    w.inflight.push(task);
    this.#pump(w);
  }

  /** The worker gets no more tasks and exits once it has answered the ones it holds; a new one starts. */
  #retire(w: Worker): void {
    if (w.retiring) return;
    w.retiring = true;
    this.#fill();
    this.#endIfIdle(w);
  }

  #endIfIdle(w: Worker): void {
    if (w.retiring && w.inflight.length === 0) {
      try {
        w.duplex.end();
      } catch {
        // Closed already: it has exited.
      }
    }
  }

  /**
   * A worker ended: account for its tasks, report, replace it. Everything it wrote before it exited
   * is read first: the receive loop may hold an answer it took just before the exit was seen (its
   * wake-up and the exit event race, more so on a busy machine), so the loop is stopped and awaited,
   * then the channel is drained to its end. Only then is its exit judged (a worker that said why its
   * module does not load must not be taken for one that died).
   */
  async #lost(w: Worker, exit: ChildExit): Promise<void> {
    w.lost = true;
    w.stop.abort();
    do await w.pumped; while (w.pumping);
    // Answers it sent before it died still count.
    try {
      let answer: unknown;
      while ((!w.ready || w.inflight.length > 0) && (answer = w.duplex.tryRecv()) !== undefined) {
        this.#answer(w, answer);
      }
    } catch {
      // A malformed last answer: its task fails below like the others.
    }
    this.#workers.delete(w);
    // The worker takes a task only after it answered the one before: a lone task still in the channel
    // never started (it died idle), and goes back to the queue blameless.
    let unread = 0;
    try {
      unread = w.duplex.sendQueued;
    } catch {
      // Unreadable: count the task as started.
    }
    w.duplex.close();
    const running = w.inflight.length === 1 && unread > 0 ? undefined : w.inflight.shift();
    const queued = w.inflight.splice(0);
    for (const task of queued) task.worker = null;
    this.#queue.unshift(...queued.filter((t) => !t.done));
    const expected = (w.retiring && running === undefined) || this.#closing !== null && !w.cancelled;
    let retry = false;
    if (running !== undefined) {
      running.worker = null;
      if (!running.done && !w.cancelled && running.attempts < this.#retries) {
        running.attempts++;
        retry = true;
        this.#queue.unshift(running);
      } else {
        this.#finish(
          running,
          new IpcError(
            "Pool",
            "EBROKEN",
            `worker ${w.pid} running ${describeTask(running)} of ${this.#module} ${howItDied(exit)}${
              running.attempts > 0 ? ` (attempt ${running.attempts + 1})` : ""
            }`,
          ),
        );
      }
    }
    if (!expected && !this.#terminated) {
      this.#onWorkerExit?.({
        pid: w.pid,
        exit,
        task: running === undefined ? undefined : describeTask(running),
        retry,
        cause: w.cancelled ? "cancel" : "died",
      });
    }
    // A worker that never became ready and said why, or exited on its own: its module does not load
    // (or the runtime does not start), and the next worker would fail alike, so the queued work fails
    // with the reason. One killed by a signal before it was ready (kill -9 from outside, the OOM
    // killer; on Windows a crash's NTSTATUS code) is only replaced, unless that keeps happening.
    const startFailed = !w.ready && !this.#terminated && !w.cancelled &&
      (w.failure !== undefined || !killedBySystem(exit) || ++this.#startKills >= startKillsMax);
    if (startFailed) {
      if (w.pid === 0) {
        const cause = startError(w.child);
        this.#failStart(
          refused("Pool", cause, `start ${describe(this.#argv[0])}`) ?? new IpcError(
            "Pool",
            "ENOENT",
            `could not start ${describe(this.#argv[0])}; set execPath (or LIBIPC_BUN / LIBIPC_DENO / LIBIPC_NODE)`,
          ),
        );
      } else {
        const why = w.failure !== undefined
          ? `${w.failure.name}: ${w.failure.message}`
          : `the worker (pid ${w.pid}) ${howItDied(exit)}`;
        this.#failStart(new IpcError("Pool", "EBROKEN", `a worker could not load ${this.#module}: ${why}`));
      }
    }
    if (this.#closing === null) this.#fill();
    else if (!this.#terminated && this.#queue.length > 0) this.#fill();
    this.#dispatch();
    this.#settleIfDrained();
  }

  /** No worker can start: fail the queued work and start none until new work comes. */
  #failStart(error: unknown): void {
    this.#startFailure = error;
    for (const task of this.#queue.splice(0)) this.#finish(task, error);
  }

  /** When nothing is queued or running: unref the workers; resolve close()'s wait. */
  #settleIfDrained(): void {
    let busy = this.#queue.length > 0;
    for (const w of this.#workers) {
      if (w.inflight.some((t) => !t.done)) busy = true;
      this.#endIfIdle(w);
    }
    if (busy) return;
    this.#reference(false);
    if (this.#drained !== null && this.#runs === 0) {
      const drained = this.#drained;
      this.#drained = null;
      drained();
    }
  }

  /** An idle pool does not keep this process alive; a busy one does. */
  #reference(on: boolean): void {
    if (this.#referenced === on) return;
    this.#referenced = on;
    for (const w of this.#workers) {
      if (w.pid === 0) continue; // never started: nothing to reference (Deno's ref() would throw)
      if (on) referenceChild(w.child, true);
      else this.#unrefWorker(w);
    }
  }

  #unrefWorker(w: Worker): void {
    // A child that never started (no pid: Deno refused --allow-run, say) has no process to unref, and
    // Deno's ChildProcess.unref() then throws a TypeError (reading 'unref' of its missing process).
    if (w.pid === 0) return;
    referenceChild(w.child, false);
  }

  /** Ends every worker (EOF on its channel, then SIGKILL after a grace period, or at once) and waits. */
  async #stopAll(kill: boolean): Promise<void> {
    const workers = [...this.#workers];
    for (const w of workers) {
      w.retiring = true;
      if (kill) w.child.kill("SIGKILL");
      else this.#endIfIdle(w);
    }
    for (const w of workers) {
      if (w.pid !== 0) referenceChild(w.child, true); // the caller awaits this: keep the process alive until they have exited
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        w.exited,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            w.child.kill("SIGKILL");
            resolve();
          }, stopGraceMs);
        }),
      ]);
      clearTimeout(timer);
      await w.settled;
    }
  }
}
