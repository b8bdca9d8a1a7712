/**
 * Processes: `spawn` starts a Bun, Deno or native child and hands it shared objects (segments,
 * locks, channels, heaps); the child gets them back with one call to `shared()`.
 *
 * How objects travel: every distinct segment behind the shared objects is passed once. An anonymous
 * segment (a memfd, which has no name that could leak) goes the OS's way (lib/handoff.ts): on POSIX
 * as an inherited file descriptor in a stdio slot of 3 or more (node:child_process, which does this
 * in Bun, Deno and Node), on Windows as an inherited handle named by its value; a named one goes by
 * its name. The environment variable `LIBIPC_SHARED` describes each object: its class,
 * where its segment is, its offset and, for channels, the codec. The child treats that text as
 * input: `shared()` checks every field and throws EPROTO naming the entry that is wrong.
 *
 * `LIBIPC_SHARED`, version 1, is readable from C with strtok: `1` then one entry per object, each
 * after a `;`: `<Class> <fd:N|handle:N|name:NAME> <offset> <at|own> [codec=NAME] [mutex=INDEX]`. `own`: the
 * object is alone in its segment (`X.fromFd`/`X.open`, C: `ipc_segment_open_fd` then
 * `ipc_<kind>_at(segment, 0)`); `at`: it is placed at `offset` in a segment (`X.at`). Names are
 * percent-encoded for space, `;` and `%`.
 *
 * @module
 */

import { type ChildProcess as NodeChild, spawn as nodeSpawn } from "node:child_process";
import process from "node:process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { KIND_SEGMENT } from "./abi.ts";
import { Barrier } from "./barrier.ts";
import { Chan } from "./chan.ts";
import { Condition } from "./condition.ts";
import { Duplex } from "./duplex.ts";
import { checkInteger, describe, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";
import { Event } from "./event.ts";
import { FIRST_FD, handoff, placeOf, stdioTail, withInheritable } from "./handoff.ts";
import { SharedHeap } from "./heap.ts";
import { Mutex } from "./mutex.ts";
import { MVar } from "./mvar.ts";
import { ownModule } from "./locate.ts";
import { native } from "./native.ts";
import { signalOf } from "./options.ts";
import { Pipe } from "./pipe.ts";
import { RwLock } from "./rwlock.ts";
import { segmentInternals, SharedMemory } from "./segment.ts";
import { Semaphore } from "./semaphore.ts";
import { SharedValue } from "./shared_value.ts";

/** The environment variable that describes the shared objects to a child. */
export const SHARED_ENV = "LIBIPC_SHARED";
/** The most objects one `spawn` can share. */
export const SHARE_MAX = 64;
const firstFd = FIRST_FD;
/** The largest handle value `handle:N` may name (handles are 32-bit significant on Windows). */
const handleMax = 0x7fffffff;
const describedMax = 65536;

/** An object `spawn` can share. */
export type Shareable =
  | SharedMemory
  | Mutex
  | Semaphore
  | Event
  | Condition
  | Barrier
  | RwLock
  | SharedHeap
  | Chan<unknown>
  | MVar<unknown>
  | SharedValue<unknown>
  | Pipe
  | Duplex<unknown>;

/**
 * A shared object with the codec the child should use for it: a channel's codec lives in this
 * process only, so name it ("bytes", "json" or "msgpack") when it is not the class's default.
 */
export interface ShareWithCodec {
  object: Chan<unknown> | MVar<unknown> | SharedValue<unknown> | Duplex<unknown>;
  codec: "bytes" | "json" | "msgpack";
}

/** The runtime a child runs in: "bun", "deno", "node", or "native" (the module is an executable). */
export type ChildRuntime = JsRuntime | "native";

/** The runtimes that run a JavaScript or TypeScript module. */
export type JsRuntime = "bun" | "deno" | "node";

const jsRuntimes: readonly unknown[] = ["bun", "deno", "node"];

/** Whether `runtime` is one of the JS runtimes. */
export function isJsRuntime(runtime: unknown): runtime is JsRuntime {
  return jsRuntimes.includes(runtime);
}

/**
 * The URL of the module that binds libipc in `runtime`, beside lib/: the source, or the compiled
 * module when this one is compiled (dist/; `ownModule`).
 */
export function bindingUrl(runtime: JsRuntime): string {
  const file = runtime === "bun" ? "bun" : runtime === "deno" ? "mod" : "node";
  return ownModule(`../${file}.ts`, import.meta.url).href;
}

/** The URL of lib/'s module `name` (a child's runner), in this module's form. */
export function libUrl(name: string): URL {
  return ownModule(`./${name}.ts`, import.meta.url);
}

const execEnv: Record<JsRuntime, string> = { bun: "LIBIPC_BUN", deno: "LIBIPC_DENO", node: "LIBIPC_NODE" };

/** Options of `spawn`. */
export interface SpawnOptions {
  /** Arguments after the module (the child's `process.argv.slice(2)`, `Deno.args`, or argv[1..]). */
  args?: string[];
  /** Objects to hand to the child, which gets them back in this order from `shared()`. */
  share?: (Shareable | ShareWithCodec)[];
  /** Default: the runtime of this process. */
  runtime?: ChildRuntime;
  /**
   * The executable of the runtime. Default: this process's own for the same runtime, else
   * `LIBIPC_BUN` / `LIBIPC_DENO` / `LIBIPC_NODE`, else "bun" / "deno" / "node" on PATH.
   */
  execPath?: string;
  /** Flags for the runtime before the module. Default: none for Bun, `["--allow-all"]` for Deno. */
  runtimeArgs?: string[];
  /** Extra environment variables (the child inherits this process's environment). */
  env?: Record<string, string>;
  /** The child's working directory. */
  cwd?: string;
  /** What the child's stdin, stdout and stderr are; default "inherit" each. */
  stdio?: ["inherit" | "pipe" | "ignore", "inherit" | "pipe" | "ignore", "inherit" | "pipe" | "ignore"];
  /** Aborting it kills the child with SIGKILL. */
  signal?: AbortSignal;
}

/** How a child ended: an exit code, or the signal that killed it. */
export interface ChildExit {
  code: number | null;
  signal: string | null;
}

/** A running child; see `spawn`. */
export class ChildProcess implements AsyncDisposable {
  readonly #child: NodeChild;
  readonly #exited: Promise<ChildExit>;
  #exit: ChildExit | null = null;

  /** @internal */
  constructor(child: NodeChild, exited: Promise<ChildExit>) {
    this.#child = child;
    this.#exited = exited.then((exit) => (this.#exit = exit));
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid!;
  }

  /** Resolves once the child has ended (never rejects). */
  get exited(): Promise<ChildExit> {
    return this.#exited;
  }

  /** The exit, once the child has ended; null while it runs. */
  get exitStatus(): ChildExit | null {
    return this.#exit;
  }

  /** The child's stdin, stdout and stderr when `stdio` made them pipes, else null. */
  get stdin(): NodeJS.WritableStream | null {
    return this.#child.stdin;
  }

  get stdout(): Readable | null {
    return this.#child.stdout;
  }

  get stderr(): Readable | null {
    return this.#child.stderr;
  }

  /**
   * Sends `signal` (default SIGTERM) unless the child has already ended. Returns whether it was sent.
   * On Windows SIGTERM, SIGKILL and SIGINT end the child at once (TerminateProcess: no handler runs)
   * and the others are refused with ENOTSUP.
   */
  kill(signal: "SIGTERM" | "SIGKILL" | "SIGINT" | "SIGHUP" | "SIGUSR1" | "SIGUSR2" | number = "SIGTERM"): boolean {
    if (typeof signal === "number") signal = checkInteger("ChildProcess.kill", "signal", signal, 0, 64);
    else if (!signalNames.has(signal)) {
      throw new IpcTypeError(
        "ChildProcess.kill",
        `signal must be one of ${[...signalNames].join(", ")} or a number from 0 to 64, got ${describe(signal)}`,
      );
    }
    if (this.#exit !== null) return false;
    try {
      return this.#child.kill(signal);
    } catch (error) {
      // node:child_process throws ENOSYS (or EINVAL) for a signal this OS cannot deliver: Windows has
      // only TerminateProcess, which libuv offers for SIGTERM, SIGKILL, SIGINT and SIGQUIT.
      const code = (error as { code?: unknown }).code;
      if (code !== "ENOSYS" && code !== "EINVAL") throw error;
      throw new IpcError("ChildProcess.kill", "ENOTSUP", `this OS cannot send ${describe(signal)} to a process`, {
        cause: error,
      });
    }
  }

  /** Kills the child with SIGKILL if it still runs, and waits until it has ended. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.#exited;
  }
}

const signalNames = new Set<unknown>(["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"]);

/** One described object. */
interface Described {
  cls: string;
  segment: number;
  offset: number;
  own: boolean;
  codec?: string;
  mutex?: number;
}

// deno-lint-ignore ban-types
const classes: [string, Function][] = [
  ["SharedMemory", SharedMemory],
  ["Mutex", Mutex],
  ["Semaphore", Semaphore],
  ["Event", Event],
  ["Condition", Condition],
  ["Barrier", Barrier],
  ["RwLock", RwLock],
  ["SharedHeap", SharedHeap],
  ["Chan", Chan],
  ["MVar", MVar],
  ["SharedValue", SharedValue],
  ["Pipe", Pipe],
  ["Duplex", Duplex],
];
const classNames = new Set(classes.map(([name]) => name));
const codecClasses = new Set(["Chan", "MVar", "SharedValue", "Duplex"]);
const codecNames = new Set(["bytes", "json", "msgpack"]);

function encodeName(name: string): string {
  return name.replace(/[%; ]/g, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

/**
 * The segments to pass and the description of every object: segments are deduplicated, so objects
 * placed in one segment share one fd.
 */
export function describeShared(op: string, share: unknown): { segments: SharedMemory[]; text: string } {
  if (!Array.isArray(share)) {
    throw new IpcTypeError(op, `share must be an array of shared objects, got ${describe(share)}`);
  }
  if (share.length > SHARE_MAX) {
    throw new IpcRangeError(op, "ERANGE", `share holds ${share.length} objects; the limit is ${SHARE_MAX}`);
  }
  const segments: SharedMemory[] = [];
  const entries: string[] = [];
  const described: Described[] = [];
  const segmentOf = (memory: SharedMemory): number => {
    let i = segments.indexOf(memory);
    if (i < 0) i = segments.push(memory) - 1;
    return i;
  };
  for (const [index, item] of share.entries()) {
    let object: unknown = item;
    let codec: string | undefined;
    if (typeof item === "object" && item !== null && "object" in item && "codec" in item) {
      object = (item as ShareWithCodec).object;
      codec = (item as ShareWithCodec).codec;
    }
    const cls = classes.find(([, c]) => object instanceof c)?.[0];
    if (cls === undefined) {
      throw new IpcTypeError(
        op,
        `share[${index}] must be a SharedMemory, lock, channel, heap or Duplex (or { object, codec }), got ${
          describe(object)
        }`,
      );
    }
    if (codec !== undefined && (!codecClasses.has(cls) || !codecNames.has(codec))) {
      throw new IpcTypeError(
        op,
        `share[${index}].codec must be "bytes", "json" or "msgpack" for a Chan, MVar, SharedValue or Duplex, got ${
          describe(codec)
        } for a ${cls}`,
      );
    }
    const o = object as { closed?: boolean; memory: SharedMemory; offset?: number };
    const memory = cls === "SharedMemory" ? object as SharedMemory : o.memory;
    if (memory.closed || o.closed === true) {
      throw new IpcError(op, "ECLOSED", `share[${index}] (a ${cls}) is closed`);
    }
    const offset = cls === "SharedMemory" || cls === "SharedHeap" || cls === "Duplex" ? 0 : o.offset ?? 0;
    const own = cls === "SharedHeap" || cls === "Duplex" ||
      (cls !== "SharedMemory" && segmentInternals.kind(memory) !== KIND_SEGMENT);
    const entry: Described = { cls, segment: segmentOf(memory), offset, own, codec };
    if (cls === "Condition" && !own) {
      const mutex = (object as Condition).mutex;
      const at = described.findIndex((d, i) =>
        d.cls === "Mutex" && (share[i] === mutex || (share[i] as { object?: unknown }).object === mutex)
      );
      if (at < 0) {
        throw new IpcTypeError(op, `share[${index}] is a Condition: share its mutex too, before it`);
      }
      entry.mutex = at;
    }
    described.push(entry);
  }
  for (const d of described) {
    const memory = segments[d.segment];
    const place = placeOf(memory, d.segment);
    const where = place === null ? `name:${encodeName(memory.name!)}` : `${place.kind}:${place.number}`;
    let text = `${d.cls} ${where} ${d.offset} ${d.own ? "own" : "at"}`;
    if (d.codec !== undefined) text += ` codec=${d.codec}`;
    if (d.mutex !== undefined) text += ` mutex=${d.mutex}`;
    entries.push(text);
  }
  return { segments, text: ["1", ...entries].join(";") };
}

/** The runtime of this process: the first word of the binding's `runtime` ("node 20.20.2"). */
export function currentRuntime(): JsRuntime {
  return native().runtime.split(" ")[0] as JsRuntime;
}

/** The argv that runs `module` in `runtime`. */
export function commandFor(
  op: string,
  runtime: unknown,
  module: unknown,
  options: { execPath?: unknown; runtimeArgs?: unknown },
): string[] {
  if (!isJsRuntime(runtime) && runtime !== "native") {
    throw new IpcTypeError(op, `runtime must be "bun", "deno", "node" or "native", got ${describe(runtime)}`);
  }
  let target: string;
  if (module instanceof URL) target = module.protocol === "file:" ? fileURLToPath(module) : module.href;
  else if (typeof module === "string" && module !== "") {
    target = module.startsWith("file:") ? fileURLToPath(module) : module;
  } else throw new IpcTypeError(op, `module must be a path or a URL, got ${describe(module)}`);
  if (runtime === "native") {
    if (options.runtimeArgs !== undefined || options.execPath !== undefined) {
      throw new IpcTypeError(op, "a native child is its own executable: runtimeArgs and execPath do not apply");
    }
    return [target];
  }
  const flags = options.runtimeArgs ?? (runtime === "deno" ? ["--allow-all"] : []);
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === "string")) {
    throw new IpcTypeError(op, `runtimeArgs must be an array of strings, got ${describe(flags)}`);
  }
  let exec = options.execPath;
  if (exec !== undefined && (typeof exec !== "string" || exec === "")) {
    throw new IpcTypeError(op, `execPath must be a path, got ${describe(exec)}`);
  }
  if (exec === undefined) {
    if (runtime === currentRuntime()) exec = process.execPath;
    else exec = process.env[execEnv[runtime]] || runtime;
  }
  return runtime === "deno" ? [exec as string, "run", ...flags, target] : [exec as string, ...flags, target];
}

/**
 * An IpcError (EACCES) naming the flag the runtime wants when `error` is a permission refusal (a Deno
 * run without --allow-run or --allow-env), else undefined. `doing` says what was refused.
 */
export function refused(op: string, error: unknown, doing: string): IpcError | undefined {
  const flag = error === undefined ? undefined : native().deniedFlag?.(error);
  if (flag === undefined) return undefined;
  return new IpcError(op, "EACCES", `Deno may not ${doing}: run it with ${flag}`, { cause: error });
}

/** A copy of this process's environment for a child: EACCES naming --allow-env when it may not be read. */
export function inheritedEnv(op: string): Record<string, string | undefined> {
  try {
    return { ...process.env };
  } catch (error) {
    throw refused(op, error, "read the environment a child inherits") ?? error;
  }
}

const startErrors = new WeakMap<NodeChild, Error>();

/** Why `child` could not be started (the runtime's "error" event before it had a pid), if it could not. */
export function startError(child: NodeChild): Error | undefined {
  return startErrors.get(child);
}

/**
 * Starts the child with `std` as its stdin, stdout and stderr and hands it `segments` the OS's way
 * (lib/handoff.ts: appended to stdio as fds, or made inheritable handles during the spawn), and tracks
 * its exit.
 */
export function startChild(
  op: string,
  argv: string[],
  std: ("inherit" | "pipe" | "ignore")[],
  segments: readonly SharedMemory[],
  env: Record<string, string | undefined>,
  cwd: string | undefined,
): { child: NodeChild; exited: Promise<ChildExit> } {
  const stdio = [...std, ...stdioTail(segments)];
  const child = withInheritable(segments, () => {
    try {
      return nodeSpawn(argv[0], argv.slice(1), { stdio, env, cwd });
    } catch (error) {
      throw refused(op, error, `start ${describe(argv[0])}`) ??
        new IpcError(op, "EIO", `could not start ${describe(argv[0])}: ${(error as Error).message}`, {
          cause: error,
        });
    }
  });
  const exited = new Promise<ChildExit>((resolve) => {
    let failed: Error | undefined;
    child.once("error", (error) => {
      failed = error;
      if (child.pid === undefined) startErrors.set(child, error);
      // A spawn failure (ENOENT) emits "error" and never "exit" in some runtimes.
      if (child.pid === undefined) resolve({ code: 127, signal: null });
    });
    child.once("exit", (code, signal) => {
      if (failed !== undefined && child.pid === undefined) return;
      resolve({ code, signal });
    });
  });
  return { child, exited };
}

/** Waits until the child has started (it has a pid) or failed to start. */
export function started(op: string, argv: string[], child: NodeChild): Promise<void> {
  if (child.pid !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (error) =>
      reject(
        refused(op, error, `start ${describe(argv[0])}`) ?? new IpcError(
          op,
          "ENOENT",
          `could not start ${
            describe(argv[0])
          }: ${error.message}; set execPath (or LIBIPC_BUN / LIBIPC_DENO / LIBIPC_NODE)`,
          { cause: error },
        ),
      ));
  });
}

/**
 * Starts `module` as a child process (Bun or Deno running the module, or a native executable) and
 * hands it `options.share`; the child calls `shared()` to get them. Resolves once the child runs;
 * rejects with ENOENT when the runtime or executable cannot be started.
 */
export async function spawn(module: string | URL, options: SpawnOptions = {}): Promise<ChildProcess> {
  const op = "spawn";
  if (typeof options !== "object" || options === null) {
    throw new IpcTypeError(op, `options must be an object such as { share: [segment] }, got ${describe(options)}`);
  }
  const args = options.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw new IpcTypeError(op, `args must be an array of strings, got ${describe(args)}`);
  }
  const argv = [...commandFor(op, options.runtime ?? currentRuntime(), module, options), ...args];
  const { segments, text } = describeShared(op, options.share ?? []);
  const std = options.stdio ?? ["inherit", "inherit", "inherit"];
  if (!Array.isArray(std) || std.length !== 3 || !std.every((s) => s === "inherit" || s === "pipe" || s === "ignore")) {
    throw new IpcTypeError(op, `stdio must be three of "inherit", "pipe", "ignore", got ${describe(std)}`);
  }
  if (options.env !== undefined && (typeof options.env !== "object" || options.env === null)) {
    throw new IpcTypeError(op, `env must be an object of strings, got ${describe(options.env)}`);
  }
  if (options.cwd !== undefined && typeof options.cwd !== "string") {
    throw new IpcTypeError(op, `cwd must be a path, got ${describe(options.cwd)}`);
  }
  const signal = signalOf(op, options);
  if (signal?.aborted) throw signal.reason;
  const env = { ...inheritedEnv(op), ...options.env, [SHARED_ENV]: text };
  const { child, exited } = startChild(op, argv, std, segments, env, options.cwd);
  await started(op, argv, child);
  const handle = new ChildProcess(child, exited);
  if (signal !== undefined) {
    const onAbort = () => handle.kill("SIGKILL");
    signal.addEventListener("abort", onAbort, { once: true });
    void exited.then(() => signal.removeEventListener("abort", onAbort));
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------
// The child's side.

let received: unknown[] | undefined;

function bad(index: number, entry: string, why: string): IpcError {
  return new IpcError("shared", "EPROTO", `${SHARED_ENV} entry ${index} (${describe(entry)}): ${why}`);
}

/** Where a child finds a segment: a stdio slot's fd, an inherited handle's value, or a name. */
type Place = { fd: number } | { handle: number } | { name: string };

/** Parses `LIBIPC_SHARED` text into entries, checking every field. */
export function parseShared(text: string): (Described & { where: Place })[] {
  if (text.length > describedMax) {
    throw new IpcError("shared", "EPROTO", `${SHARED_ENV} is ${text.length} characters; the limit is ${describedMax}`);
  }
  const parts = text.split(";");
  if (parts[0] !== "1") {
    throw new IpcError(
      "shared",
      "EPROTO",
      `${SHARED_ENV} starts with ${describe(parts[0])}, not version 1: the parent runs another libipc`,
    );
  }
  const entries = parts.slice(1);
  if (entries.length > SHARE_MAX) {
    throw new IpcError("shared", "EPROTO", `${SHARED_ENV} has ${entries.length} entries; the limit is ${SHARE_MAX}`);
  }
  const out: (Described & { where: Place })[] = [];
  for (const [index, entry] of entries.entries()) {
    const fields = entry.split(" ");
    if (fields.length < 4 || fields.length > 6) throw bad(index, entry, "expected 4 to 6 fields");
    const [cls, where, offsetText, mode, ...extra] = fields;
    if (!classNames.has(cls)) throw bad(index, entry, `unknown class ${describe(cls)}`);
    let place: Place;
    if (where.startsWith("fd:") && /^\d{1,5}$/.test(where.slice(3))) {
      const fd = Number(where.slice(3));
      if (fd < firstFd || fd >= firstFd + SHARE_MAX) {
        throw bad(index, entry, `fd ${fd} is outside ${firstFd}..${firstFd + SHARE_MAX - 1}`);
      }
      place = { fd };
    } else if (where.startsWith("handle:") && /^\d{1,10}$/.test(where.slice(7))) {
      const handle = Number(where.slice(7));
      if (handle === 0 || handle > handleMax) throw bad(index, entry, `handle ${handle} is outside 1..${handleMax}`);
      place = { handle };
    } else if (where.startsWith("name:") && where.length > 5) {
      let name: string;
      try {
        name = decodeURIComponent(where.slice(5));
      } catch {
        throw bad(index, entry, "the name is not percent-encoded text");
      }
      place = { name };
    } else throw bad(index, entry, `the segment must be fd:N, handle:N or name:NAME, got ${describe(where)}`);
    if (!/^\d{1,15}$/.test(offsetText)) throw bad(index, entry, `offset must be a decimal integer`);
    if (mode !== "at" && mode !== "own") throw bad(index, entry, `mode must be "at" or "own", got ${describe(mode)}`);
    const d: Described & { where: typeof place } = {
      cls,
      segment: 0,
      offset: Number(offsetText),
      own: mode === "own",
      where: place,
    };
    for (const field of extra) {
      if (field.startsWith("codec=") && codecClasses.has(cls) && codecNames.has(field.slice(6))) {
        d.codec = field.slice(6);
      } else if (field.startsWith("mutex=") && cls === "Condition" && /^\d{1,3}$/.test(field.slice(6))) {
        const m = Number(field.slice(6));
        if (m >= index || out[m].cls !== "Mutex") throw bad(index, entry, `mutex=${m} is not an earlier Mutex entry`);
        d.mutex = m;
      } else throw bad(index, entry, `unknown field ${describe(field)}`);
    }
    if (cls === "Condition" && !d.own && d.mutex === undefined) {
      throw bad(index, entry, "a placed Condition needs mutex=");
    }
    if ((cls === "SharedHeap" || cls === "Duplex") && !d.own) throw bad(index, entry, `a ${cls} is always "own"`);
    if (cls === "SharedMemory" && d.own) throw bad(index, entry, `a SharedMemory is always "at"`);
    out.push(d);
  }
  return out;
}

/**
 * The objects the parent passed to `spawn(..., { share })`, in the same order, opened in this
 * process (memoized: later calls return the same objects). An empty array when the parent shared
 * nothing or this process was not started by `spawn`. Throws EPROTO for a malformed description and
 * the open's error (EINVAL for an fd that is not open, ENOENT for a name that is gone).
 *
 * The passed fds (or handles) are closed once their segments are open, and `LIBIPC_SHARED` is removed from the
 * environment, so that this process's own children inherit neither.
 */
export function shared<T extends unknown[] = unknown[]>(): T {
  if (received !== undefined) return received as T;
  const text = process.env[SHARED_ENV];
  if (text === undefined || text === "") return (received = []) as unknown as T;
  const parsed = parseShared(text);
  // An inherited fd or handle is opened by its number (ipc_segment_open_fd takes either, by the OS).
  const kind = handoff().kind;
  const entries = parsed.map((d, index) => {
    const passed = "fd" in d.where
      ? { kind: "fd", fd: d.where.fd }
      : "handle" in d.where
      ? { kind: "handle", fd: d.where.handle }
      : undefined;
    if (passed !== undefined && passed.kind !== kind) {
      const entry = text.split(";")[index + 1];
      throw bad(index, entry, `a segment passed by ${passed.kind}, but this process receives them by ${kind}`);
    }
    return { ...d, where: passed === undefined ? d.where as { name: string } : { fd: passed.fd } };
  });
  const segments = new Map<string, SharedMemory>();
  const fds = new Set<number>();
  const opened: { close(): void }[] = [];
  const attach = (where: { fd: number } | { name: string }): SharedMemory => {
    const key = "fd" in where ? `fd:${where.fd}` : `name:${where.name}`;
    let memory = segments.get(key);
    if (memory === undefined) {
      memory = "fd" in where ? SharedMemory.fromFd(where.fd) : SharedMemory.open(where.name);
      segments.set(key, memory);
    }
    return memory;
  };
  const out: unknown[] = [];
  try {
    for (const d of entries) {
      const where = d.where;
      if ("fd" in where) fds.add(where.fd);
      const codec = d.codec === undefined ? undefined : { codec: d.codec as "bytes" };
      let object: { close(): void };
      if (d.own) {
        const open = <X>(fromFd: (fd: number) => X, byName: (name: string) => X): X =>
          "fd" in where ? fromFd(where.fd) : byName(where.name);
        switch (d.cls) {
          case "Mutex":
            object = open(Mutex.fromFd, Mutex.open);
            break;
          case "Semaphore":
            object = open(Semaphore.fromFd, Semaphore.open);
            break;
          case "Event":
            object = open(Event.fromFd, Event.open);
            break;
          case "Condition":
            object = open(Condition.fromFd, Condition.open);
            break;
          case "Barrier":
            object = open(Barrier.fromFd, Barrier.open);
            break;
          case "RwLock":
            object = open(RwLock.fromFd, RwLock.open);
            break;
          case "SharedHeap":
            object = open(SharedHeap.fromFd, SharedHeap.open);
            break;
          case "Pipe":
            object = open(Pipe.fromFd, Pipe.open);
            break;
          case "Chan":
            object = open((fd) => Chan.fromFd(fd, codec), (name) => Chan.open(name, codec));
            break;
          case "MVar":
            object = open((fd) => MVar.fromFd(fd, codec), (name) => MVar.open(name, codec));
            break;
          case "SharedValue":
            object = open((fd) => SharedValue.fromFd(fd, codec), (name) => SharedValue.open(name, codec));
            break;
          default: // Duplex
            object = open((fd) => Duplex.fromFd(fd, codec), (name) => Duplex.open(name, codec));
        }
      } else {
        const memory = attach(where);
        switch (d.cls) {
          case "SharedMemory":
            object = memory;
            break;
          case "Mutex":
            object = Mutex.at(memory, d.offset);
            break;
          case "Semaphore":
            object = Semaphore.at(memory, d.offset);
            break;
          case "Event":
            object = Event.at(memory, d.offset);
            break;
          case "Condition":
            object = Condition.at(memory, d.offset, out[d.mutex!] as Mutex);
            break;
          case "Barrier":
            object = Barrier.at(memory, d.offset);
            break;
          case "RwLock":
            object = RwLock.at(memory, d.offset);
            break;
          case "Pipe":
            object = Pipe.at(memory, d.offset);
            break;
          case "Chan":
            object = Chan.at(memory, d.offset, codec);
            break;
          case "MVar":
            object = MVar.at(memory, d.offset, codec);
            break;
          case "SharedValue":
            object = SharedValue.at(memory, d.offset, codec);
            break;
          default:
            throw new IpcError("shared", "EPROTO", `a ${d.cls} cannot be placed in a segment`);
        }
      }
      opened.push(object);
      out.push(object);
    }
  } catch (error) {
    for (const object of opened.reverse()) object.close();
    for (const memory of segments.values()) memory.close();
    throw error;
  }
  // Every segment is open (duplicated fds): the inherited ones would only leak into grandchildren.
  for (const fd of fds) handoff().closeInherited(fd);
  delete process.env[SHARED_ENV];
  received = out;
  return out as T;
}
