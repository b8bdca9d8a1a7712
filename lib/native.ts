/**
 * The adapter contract: what a JS runtime must provide for lib/ to work. bun.ts and mod.ts each
 * implement it in a few lines and call `bind` once; everything else in lib/ goes through `native()`.
 * Differences between runtimes are expressed here as data (such as `maxArrayBufferBytes`), never as
 * runtime checks inside lib/.
 *
 * @module
 */

import { ABI_VERSION } from "./abi.ts";
import { IpcError } from "./errors.ts";
import type { Pointer, Symbols } from "./symbols.ts";

export type { Pointer, Symbols } from "./symbols.ts";

/** What a runtime binding provides. */
export interface Native {
  /** The runtime and its version, such as "bun 1.4.5". */
  readonly runtime: string;
  /** The path libipc was loaded from. */
  readonly path: string;
  /** The bound C functions. */
  readonly symbols: Symbols;
  /** The largest ArrayBuffer this runtime can create over external memory. */
  readonly maxArrayBufferBytes: number;
  /** A zero-copy ArrayBuffer over `byteLength` bytes at `pointer + byteOffset`. */
  arrayBuffer(pointer: Pointer, byteOffset: number, byteLength: number): ArrayBuffer;
  /**
   * Detaches an ArrayBuffer made by `arrayBuffer` (`close()` does, so that no view can reach memory
   * once unmapped). Default: `buffer.transfer(0)`, which Node 20 lacks.
   */
  detach?(buffer: ArrayBuffer): void;
  /** The pointer stored in `cell[0]` (written by a C out-parameter), or null. */
  readPointer(cell: BigUint64Array): Pointer | null;
  /** The NUL-terminated string at `pointer`, decoded as UTF-8. */
  cstring(pointer: Pointer): string;
  /**
   * A "u53" argument (an integer below 2^53 for a C uint64_t) in the form this runtime's fast calls
   * take: the number itself in Bun, a BigInt in Deno (a number there is several times slower).
   */
  u53(value: number): number | bigint;
  /** How completions of native waits reach the JS thread (lib/wait.ts). */
  readonly completions: Completions;
  /**
   * Whether `bind` sweeps the generated names of dead processes out of /dev/shm (default true); the
   * bindings set it from `LIBIPC_NO_SWEEP` with `sweepWanted`.
   */
  readonly sweepOnLoad?: boolean;
  /**
   * msgpackr's `Packr` class (from "msgpackr/pack"), imported by the binding: each runtime reaches the
   * npm package its own way (Bun by a bare specifier, Deno by an `npm:` one when it runs from a checkout
   * or JSR), so lib/ imports no package itself and works from wherever it is loaded.
   */
  readonly Packr: PackrClass;
  /**
   * The command-line flag that would have allowed what `error` reports was refused (Deno's permissions:
   * "--allow-run", "--allow-env"), or undefined when `error` is no permission refusal. Absent in
   * runtimes without permissions (Bun).
   */
  deniedFlag?(error: unknown): string | undefined;
  /**
   * How this OS hands an anonymous segment to a child process (lib/handoff.ts): by file descriptor
   * in a stdio slot (POSIX), or by inherited handle named in `LIBIPC_SHARED` (Windows). The bindings
   * set it with `handoffFor(os)`; absent means the POSIX way.
   */
  readonly handoff?: Handoff;
}

/**
 * How an anonymous segment (its `ipc_segment_fd` value: a file descriptor on POSIX, the HANDLE's value
 * on Windows) reaches a child that `spawn`, `isolate` or a `Pool` starts through node:child_process.
 *
 * - "fd": the fd goes in a stdio slot of 3 or more; the runtime dup2s it into the child at that slot
 *   (the parent's copy stays close-on-exec). `LIBIPC_SHARED` says `fd:N` with N the child's slot.
 * - "handle": stdio entries past 2 are C runtime fds in every Windows runtime (libuv's child stdio
 *   buffer), not handles, so nothing goes there. The handle is made inheritable for the duration of the
 *   synchronous spawn call (libuv creates children with bInheritHandles TRUE, so every inheritable
 *   handle of the parent reaches the child under the same value), then not again; `LIBIPC_SHARED`
 *   says `handle:N` with N the handle's value, which the child opens with `ipc_segment_open_fd(N)`.
 */
export interface Handoff {
  readonly kind: "fd" | "handle";
  /**
   * Makes `fd` inheritable by the child spawned next (`inherit` true), or not again (false), around a
   * synchronous spawn call. "fd": nothing to do. "handle": `SetHandleInformation(h,
   * HANDLE_FLAG_INHERIT, …)`, through the C function `ipc_fd_inherit(fd, inherit)`. Throws an
   * IpcError when it cannot.
   */
  inheritable(fd: number, inherit: boolean): void;
  /**
   * Closes an fd or handle this process inherited, once its segment is open (the open duplicated
   * it): kept, it would reach this process's own children. Best effort: never throws.
   */
  closeInherited(fd: number): void;
}

/** The part of msgpackr's `Packr` that lib/msgpack.ts uses. */
export type PackrClass = new (options: {
  useRecords: boolean;
  variableMapSize: boolean;
  moreTypes: boolean;
  copyBuffers: boolean;
}) => { pack(value: unknown): Uint8Array; unpack(bytes: Uint8Array): unknown };

/**
 * A runtime's channel for wait completions: a C callback that may be called from any thread and runs
 * `handler` on the JS thread without blocking the caller (Bun: a threadsafe JSCallback), or a call
 * that blocks off the JS thread until waits complete (Deno: `ipc_waiter_next` bound `nonblocking`).
 */
export type Completions =
  | { readonly kind: "callback"; callback(handler: (token: number, result: number) => void): Pointer }
  | {
    readonly kind: "poll";
    next(waiter: Pointer, tokens: Uint32Array, results: Int32Array, capacity: number): Promise<number>;
  };

let bound: Native | undefined;

/** Installs the runtime binding. Called once, by bun.ts or mod.ts. */
export function bind(adapter: Native): void {
  const abi = adapter.symbols.ipc_abi_version();
  if (abi !== ABI_VERSION) {
    throw new IpcError(
      "load",
      "EVERSION",
      `libipc at ${adapter.path} has ABI version ${abi}, but this binding expects ${ABI_VERSION}; ` +
        `rebuild it (npm install) or point LIBIPC_PATH at a matching build`,
    );
  }
  bound = adapter;
  // Once per process: names of processes that died without unlinking (SIGKILL, crashes) go away as
  // soon as any libipc process starts. A failure (no /dev/shm, another OS) must not stop the load.
  swept = adapter.sweepOnLoad === false ? null : Math.max(adapter.symbols.ipc_segment_sweep(), 0);
}

let swept: number | null = null;

/** How many dead processes' names the sweep at load removed; null when LIBIPC_NO_SWEEP turned it off. */
export function sweptOnLoad(): number | null {
  return swept;
}

/** Whether the startup sweep should run, given the value of `LIBIPC_NO_SWEEP`: unset, "" or "0" say yes. */
export function sweepWanted(noSweep: string | undefined): boolean {
  return noSweep === undefined || noSweep === "" || noSweep === "0";
}

/**
 * Replaces the bound adapter without the checks of `bind` and returns the previous one: for tests of
 * the contract's data paths (a fake `handoff`, say), which put the previous adapter back after.
 */
export function rebind(adapter: Native): Native {
  const previous = native();
  bound = adapter;
  return previous;
}

/** The bound runtime adapter. */
export function native(): Native {
  if (bound === undefined) {
    throw new Error("libipc is not bound to a runtime: import it from bun.ts (Bun) or mod.ts (Deno)");
  }
  return bound;
}
