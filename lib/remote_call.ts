/**
 * What `isolate` and `Pool` share: the module a child imports, the size of the channels a call
 * travels through, errors carried across processes, and the words that say how a child died.
 *
 * Plain TypeScript without the binding: the child runners import it before they load libipc.
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { CHAN_CAPACITY_MAX, CHAN_CAPACITY_MIN, RESULT_CODES, type ResultCode } from "./abi.ts";
import { describe, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";

/** An error as it crosses processes: plain fields the codec carries. */
export interface RemoteError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** The default bytes of each direction's channel: untouched pages of a memfd cost no memory. */
export const callCapacityDefault: number = 4 << 20;

/**
 * `module` as a URL a child can import: an absolute path or any URL, never a relative path. Paths are
 * this OS's (node:path): on Windows `C:\\app\\job.ts` is a path, not a URL with the scheme "c:".
 */
export function moduleUrl(op: string, module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module === "string") {
    if (isAbsolute(module)) return pathToFileURL(module).href;
    if (/^[a-z][a-z0-9+.-]*:/i.test(module)) return module;
  }
  throw new IpcTypeError(
    op,
    `module must be an absolute path or a URL (relative paths would resolve against libipc), got ${describe(module)}`,
  );
}

/** `capacity`, checked: a power of two the channels accept; the default when undefined. */
export function capacityOf(op: string, capacity: unknown): number {
  if (capacity === undefined) return callCapacityDefault;
  if (
    typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < CHAN_CAPACITY_MIN ||
    capacity > CHAN_CAPACITY_MAX || (capacity & (capacity - 1)) !== 0
  ) {
    throw new IpcRangeError(
      op,
      "ERANGE",
      `capacity must be a power of two from ${CHAN_CAPACITY_MIN} to ${CHAN_CAPACITY_MAX}, got ${describe(capacity)}`,
    );
  }
  return capacity;
}

/** The smallest power of two of at least 64 that is at least `n`. */
export function powerOfTwoAtLeast(n: number): number {
  let p = 64;
  while (p < n) p *= 2;
  return p;
}

/** How a child that sent no answer ended, for a rejection's message; `stderr` is its last output, if kept. */
export function howItDied(exit: { code: number | null; signal: string | null }, stderr = ""): string {
  const oom = /out of memory|heap limit|JavaScript heap|allocation failed/i.test(stderr);
  let how: string;
  if (exit.signal !== null) {
    how = `was killed by ${exit.signal}`;
    if (exit.signal === "SIGKILL") how += oom ? " (out of memory)" : " (kill -9, or the kernel's OOM killer)";
    else if (exit.signal === "SIGSEGV" || exit.signal === "SIGBUS") how += " (a crash in native code)";
    else if (exit.signal === "SIGABRT" || exit.signal === "SIGTRAP") how += oom ? " (out of memory)" : " (aborted)";
  } else if (exit.code === 0) how = "exited with code 0 before returning (process.exit(0) or Deno.exit(0)?)";
  else if (exit.code !== null && ntStatus(exit.code) !== undefined) {
    const status = exit.code >>> 0;
    how = `exited with code 0x${status.toString(16).toUpperCase()} before returning (${ntStatus(status)})`;
  } else how = `exited with code ${exit.code} before returning${oom ? " (out of memory)" : ""}`;
  // deno-lint-ignore no-control-regex
  const tail = stderr.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n").slice(-3).join(" | ");
  return tail === "" ? how : `${how}; its stderr ended with: ${tail}`;
}

/**
 * Whether the system ended the process rather than the process itself: a signal on POSIX, an NTSTATUS
 * exit code on Windows (a crash; TerminateProcess from outside leaves the killer's code, usually 1,
 * which cannot be told from exit(1)).
 */
export function killedBySystem(exit: { code: number | null; signal: string | null }): boolean {
  return exit.signal !== null || (exit.code !== null && ntStatus(exit.code) !== undefined);
}

/**
 * What an exit code that is an NTSTATUS error (0xC0000000 and up, unsigned or as a negative int32)
 * says: Windows ends a crashed process with one, where POSIX reports a signal; POSIX exit codes are
 * 0..255, so the range alone tells them apart.
 */
function ntStatus(code: number): string | undefined {
  if (!Number.isInteger(code) || code < -0x80000000 || code > 0xffffffff) return undefined;
  const status = code >>> 0;
  // Error severity with a small facility: what the system raises, not a program's exit(-1).
  if (status < 0xc0000000 || status >= 0xd0000000) return undefined;
  switch (status) {
    case 0xc0000005:
      return "an access violation: a crash in native code";
    case 0xc000001d:
      return "an illegal instruction: a crash in native code";
    case 0xc00000fd:
      return "a stack overflow";
    case 0xc0000017:
      return "out of memory";
    case 0xc0000409:
      return "a fail-fast abort";
    default:
      return "an NTSTATUS error: the process crashed";
  }
}

/** A thrown value as plain fields (the child's side). */
export function remoteError(error: unknown): RemoteError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  return { name: "NonError", message: `threw a non-Error value: ${String(error)}` };
}

/** Whether what a child sent is a RemoteError (input: it is checked, not trusted). */
export function isRemoteError(value: unknown): value is RemoteError {
  return typeof value === "object" && value !== null && typeof (value as RemoteError).message === "string" &&
    typeof (value as RemoteError).name === "string";
}

/**
 * The child's error as an Error with its name, message, stack and code (the parent's side). An
 * IpcError the runner raised itself (a missing export) comes back as an IpcError of `op`.
 */
export function rebuildError(error: RemoteError, op: string): Error {
  if (error.name === "IpcError" && typeof error.code === "string" && Object.hasOwn(RESULT_CODES, error.code)) {
    return new IpcError(op, error.code as ResultCode, error.message);
  }
  const e = new Error(error.message);
  e.name = error.name;
  if (typeof error.stack === "string") e.stack = error.stack;
  if (typeof error.code === "string") (e as Error & { code: string }).code = error.code;
  return e;
}
