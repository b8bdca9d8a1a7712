/**
 * isolate: runs one exported function in a fresh process and resolves with what it returns (Rust's
 * fork-map, without fork: the child starts clean and imports the module).
 *
 * The call and its result travel through an anonymous Duplex (a memfd: nothing in /dev/shm) with the
 * msgpack codec, so bigint, Date, Map, typed arrays and nested values survive. The child
 * (lib/isolate_runner.ts) receives `{ module, name, args }`, awaits `module[name](...args)`, sends
 * `{ ok: true, value }` or `{ ok: false, error: { name, message, stack, code } }`, and exits. The
 * parent reads the answer once the child has exited: a child that exits without one crashed, and
 * the rejection names how (the signal, `process.exit(n)`, out of memory when its stderr says so).
 *
 * A child never outlives its caller by much: its stdin is a pipe from the parent, and the runner
 * exits when that pipe closes (the parent died, however it died). `timeout` and `signal` kill it
 * with SIGKILL.
 *
 * @module
 */

import process from "node:process";
import { CHAN_CAPACITY_MAX, CHAN_CAPACITY_MIN } from "./abi.ts";
import { Duplex } from "./duplex.ts";
import { describe, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";
import { msgpackCodec } from "./msgpack.ts";
import { signalOf } from "./options.ts";
import { type ChildExit, type ChildRuntime, commandFor, currentRuntime, startChild, started } from "./process.ts";

/** Where and how `isolate` runs: the module plus options. */
export interface IsolateTarget {
  /** The module that exports the function: an absolute path or a URL (`new URL("./work.ts", import.meta.url)`). */
  module: string | URL;
  /** Kill the child with SIGKILL and reject with ETIMEDOUT after this many ms. */
  timeout?: number;
  /** Aborting it kills the child with SIGKILL and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** "bun" or "deno"; default: the runtime of this process. */
  runtime?: Exclude<ChildRuntime, "native">;
  /** The runtime's executable; see `SpawnOptions.execPath`. */
  execPath?: string;
  /** Flags for the runtime; default none for Bun, `["--allow-all"]` for Deno. */
  runtimeArgs?: string[];
  /**
   * Bytes of each direction's channel, a power of two: the encoded result must fit in half of it
   * minus 8 bytes (else the call rejects with ERANGE). Default 4 MiB; the arguments always fit
   * (the channel grows to them). Untouched pages of the memfd cost no memory.
   */
  capacity?: number;
}

const capacityDefault = 4 << 20;
const stderrKept = 4096;

/** What the runner sends back. */
type Answer =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; message: string; stack?: string; code?: string } };

function targetOf(op: string, target: unknown): IsolateTarget {
  if (typeof target === "string" || target instanceof URL) return { module: target };
  if (typeof target === "object" && target !== null && "module" in target) return target as IsolateTarget;
  throw new IpcTypeError(
    op,
    `the first argument must be a module path, a URL or { module, ... }, got ${describe(target)}`,
  );
}

function moduleUrl(op: string, module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module === "string") {
    if (module.startsWith("/")) return new URL("file://" + module.split("/").map(encodeURIComponent).join("/")).href;
    if (/^[a-z][a-z0-9+.-]*:/i.test(module)) return module;
  }
  throw new IpcTypeError(
    op,
    `module must be an absolute path or a URL (relative paths would resolve against libipc), got ${describe(module)}`,
  );
}

function powerOfTwoAtLeast(n: number): number {
  let p = 64;
  while (p < n) p *= 2;
  return p;
}

/** How a child that sent no answer ended, for the rejection's message. */
function howItDied(exit: ChildExit, stderr: string): string {
  const oom = /out of memory|heap limit|JavaScript heap|allocation failed/i.test(stderr);
  let how: string;
  if (exit.signal !== null) {
    how = `was killed by ${exit.signal}`;
    if (exit.signal === "SIGKILL") how += oom ? " (out of memory)" : " (kill -9, or the kernel's OOM killer)";
    else if (exit.signal === "SIGSEGV" || exit.signal === "SIGBUS") how += " (a crash in native code)";
    else if (exit.signal === "SIGABRT" || exit.signal === "SIGTRAP") how += oom ? " (out of memory)" : " (aborted)";
  } else if (exit.code === 0) how = "exited with code 0 before returning (process.exit(0) or Deno.exit(0)?)";
  else how = `exited with code ${exit.code} before returning${oom ? " (out of memory)" : ""}`;
  // deno-lint-ignore no-control-regex
  const tail = stderr.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n").slice(-3).join(" | ");
  return tail === "" ? how : `${how}; its stderr ended with: ${tail}`;
}

/** The child's error as an Error with its name, message, stack and code. */
function rebuild(error: { name: string; message: string; stack?: string; code?: string }): Error {
  const e = new Error(error.message);
  e.name = error.name;
  if (typeof error.stack === "string") e.stack = error.stack;
  if (typeof error.code === "string") (e as Error & { code: string }).code = error.code;
  return e;
}

/**
 * Runs `exportName(...args)` of `target` (a module path or URL, or `{ module, timeout, signal, ... }`)
 * in a fresh process and resolves with its (awaited) return value. A thrown error rejects with an
 * Error of the same name, message, stack (and `code`); a child that dies without answering rejects
 * with an IpcError EBROKEN naming the signal or exit code; `timeout` rejects with ETIMEDOUT, `signal`
 * with its reason, after the child was killed. Values cross through the msgpack codec.
 */
export async function isolate<R = unknown>(
  target: string | URL | IsolateTarget,
  exportName: string,
  ...args: unknown[]
): Promise<R> {
  const op = "isolate";
  const options = targetOf(op, target);
  const module = moduleUrl(op, options.module);
  if (typeof exportName !== "string" || exportName === "") {
    throw new IpcTypeError(op, `exportName must be a non-empty string, got ${describe(exportName)}`);
  }
  const timeout = options.timeout;
  if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
    throw new IpcTypeError(op, `timeout must be a number of ms of at least 0, got ${describe(timeout)}`);
  }
  const signal = signalOf(op, options);
  let capacity = capacityDefault;
  if (options.capacity !== undefined) {
    const c = options.capacity;
    if (
      typeof c !== "number" || !Number.isInteger(c) || c < CHAN_CAPACITY_MIN || c > CHAN_CAPACITY_MAX ||
      (c & (c - 1)) !== 0
    ) {
      throw new IpcRangeError(
        op,
        "ERANGE",
        `capacity must be a power of two from ${CHAN_CAPACITY_MIN} to ${CHAN_CAPACITY_MAX}, got ${describe(c)}`,
      );
    }
    capacity = c;
  }
  const job = { module, name: exportName, args };
  const encoded = msgpackCodec.encode(job, op).byteLength;
  capacity = Math.max(capacity, powerOfTwoAtLeast(2 * (encoded + 8)));
  if (capacity > CHAN_CAPACITY_MAX) {
    throw new IpcRangeError(
      op,
      "ERANGE",
      `the arguments take ${encoded} bytes; the limit is ${CHAN_CAPACITY_MAX / 2 - 8}`,
    );
  }
  const runtime = options.runtime ?? currentRuntime();
  if (runtime !== "bun" && runtime !== "deno") {
    throw new IpcTypeError(op, `runtime must be "bun" or "deno", got ${describe(runtime)}`);
  }
  if (signal?.aborted) throw signal.reason;

  const binding = new URL(runtime === "bun" ? "../bun.ts" : "../mod.ts", import.meta.url).href;
  const runner = new URL("./isolate_runner.ts", import.meta.url);
  const argv = [...commandFor(op, runtime, runner, options), binding];
  const duplex = Duplex.create<unknown>({ capacity, codec: "msgpack" });
  try {
    duplex.sendSync(job);
    const { child, exited } = startChild(op, argv, ["pipe", "inherit", "pipe", duplex.memory.fd], {
      ...process.env,
    }, undefined);
    await started(op, argv, child);
    let stderr = "";
    child.stderr!.on("data", (chunk: Uint8Array) => {
      process.stderr.write(chunk);
      stderr = (stderr + new TextDecoder().decode(chunk)).slice(-stderrKept);
    });
    let stopped: unknown;
    const stop = (reason: unknown) => {
      if (stopped !== undefined) return;
      stopped = reason;
      child.kill("SIGKILL");
    };
    const timer = timeout === undefined ? undefined : setTimeout(() =>
      stop(
        new IpcError(
          op,
          "ETIMEDOUT",
          `${exportName} of ${module} did not return within ${timeout} ms; the child (pid ${child.pid}) was killed`,
        ),
      ), timeout);
    const onAbort = () => stop(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let exit: ChildExit;
    try {
      exit = await exited;
      // stderr may still hold the last lines of a dying child.
      if (child.stderr !== null && !child.stderr.readableEnded) {
        await new Promise((resolve) => {
          child.stderr!.once("close", resolve);
          child.stderr!.once("end", resolve);
          setTimeout(resolve, 200);
        });
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      child.stdin?.destroy();
    }
    if (stopped !== undefined) throw stopped;
    const answer = duplex.tryRecv() as Answer | undefined;
    if (answer === undefined || typeof answer !== "object" || answer === null || typeof answer.ok !== "boolean") {
      throw new IpcError(
        op,
        "EBROKEN",
        `${exportName} of ${module}: the child (pid ${child.pid}) ${howItDied(exit, stderr)}`,
      );
    }
    if (answer.ok) return answer.value as R;
    const error = answer.error;
    if (typeof error !== "object" || error === null || typeof error.message !== "string") {
      throw new IpcError(op, "EPROTO", `${exportName} of ${module}: the child sent a malformed error`);
    }
    throw rebuild(error);
  } finally {
    duplex.close();
  }
}
