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
import { CHAN_CAPACITY_MAX } from "./abi.ts";
import { Duplex } from "./duplex.ts";
import { describe, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";
import { msgpackCodec } from "./msgpack.ts";
import { placeOf } from "./handoff.ts";
import { signalOf, TIMER_MAX_MS } from "./options.ts";
import {
  capacityOf,
  howItDied,
  isRemoteError,
  moduleUrl,
  powerOfTwoAtLeast,
  rebuildError,
  type RemoteError,
} from "./remote_call.ts";
import {
  bindingUrl,
  type ChildExit,
  commandFor,
  currentRuntime,
  inheritedEnv,
  isJsRuntime,
  type JsRuntime,
  libUrl,
  startChild,
  started,
} from "./process.ts";

/** Where and how `isolate` runs: the module plus options. */
export interface IsolateTarget {
  /** The module that exports the function: an absolute path or a URL (`new URL("./work.ts", import.meta.url)`). */
  module: string | URL;
  /** Kill the child with SIGKILL and reject with ETIMEDOUT after this many ms. */
  timeout?: number;
  /** Aborting it kills the child with SIGKILL and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** "bun", "deno" or "node"; default: the runtime of this process. */
  runtime?: JsRuntime;
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

const stderrKept = 4096;

/** What the runner sends back. */
type Answer = { ok: true; value: unknown } | { ok: false; error: RemoteError };

function targetOf(op: string, target: unknown): IsolateTarget {
  if (typeof target === "string" || target instanceof URL) return { module: target };
  if (typeof target === "object" && target !== null && "module" in target) return target as IsolateTarget;
  throw new IpcTypeError(
    op,
    `the first argument must be a module path, a URL or { module, ... }, got ${describe(target)}`,
  );
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
  let capacity = capacityOf(op, options.capacity);
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
  if (!isJsRuntime(runtime)) {
    throw new IpcTypeError(op, `runtime must be "bun", "deno" or "node", got ${describe(runtime)}`);
  }
  if (signal?.aborted) throw signal.reason;

  const binding = bindingUrl(runtime);
  const runner = libUrl("isolate_runner");
  const duplex = Duplex.create<unknown>({ capacity, codec: "msgpack" });
  try {
    const argv = [...commandFor(op, runtime, runner, options), binding, String(placeOf(duplex.memory, 0)!.number)];
    duplex.sendSync(job);
    const { child, exited } = startChild(
      op,
      argv,
      ["pipe", "inherit", "pipe"],
      [duplex.memory],
      inheritedEnv(op),
      undefined,
    );
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
    const timer = timeout === undefined || timeout > TIMER_MAX_MS ? undefined : setTimeout(() =>
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
    if (!isRemoteError(error)) {
      throw new IpcError(op, "EPROTO", `${exportName} of ${module}: the child sent a malformed error`);
    }
    throw rebuildError(error, op);
  } finally {
    duplex.close();
  }
}
