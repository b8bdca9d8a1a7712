/**
 * How anonymous segments reach the children that `spawn`, `isolate` and `Pool` start, written once
 * for every OS: the OS's way is data, `Native.handoff` ("fd" on POSIX, "handle" on Windows; see
 * lib/native.ts), never a platform check here. A named segment always goes by its name.
 *
 * Invariants: with "fd", anonymous segment `i` of a spawn's list sits at stdio slot 3 + i (named ones
 * hold their slot with "ignore") and the child opens that slot; with "handle", stdio holds only the
 * three standard entries (extra entries are C runtime fds on Windows, not handles), the handle is
 * inheritable only during the synchronous spawn call, and the child opens the handle's own value.
 *
 * @module
 */

import { closeSync } from "node:fs";
import { checked } from "./call.ts";
import { type Handoff, native } from "./native.ts";
import type { SharedMemory } from "./segment.ts";

/** The stdio slot of the first passed segment with the "fd" handoff. */
export const FIRST_FD = 3;

/** POSIX: fds in stdio slots, which the runtime dup2s into the child; nothing to mark. */
export const fdHandoff: Handoff = {
  kind: "fd",
  inheritable(): void {},
  closeInherited(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // Already closed, or (Deno) an fd node:fs did not open itself, which it cannot close: it stays.
    }
  },
};

/**
 * Windows: the segment's HANDLE value is made inheritable with `ipc_fd_inherit` (SetHandleInformation,
 * HANDLE_FLAG_INHERIT) for the synchronous spawn call, and the child closes what it inherited with
 * `ipc_fd_close` (CloseHandle): node:fs cannot, its fds are the C runtime's, not handles.
 */
export const handleHandoff: Handoff = {
  kind: "handle",
  inheritable(fd: number, inherit: boolean): void {
    checked(
      "spawn",
      native().symbols.ipc_fd_inherit(fd, inherit ? 1 : 0),
      (code) =>
        code === "EINVAL"
          ? `cannot make handle ${fd} ${inherit ? "" : "not "}inheritable: it names no open handle of this process`
          : undefined,
    );
  },
  closeInherited(fd: number): void {
    // Best effort: a handle already closed (EINVAL) is what closing wanted.
    native().symbols.ipc_fd_close(fd);
  },
};

/** The handoff for `os` in Node's or Deno's words ("win32" or "windows" mean handles); for the bindings. */
export function handoffFor(os: string): Handoff {
  return os === "win32" || os === "windows" ? handleHandoff : fdHandoff;
}

/** This process's handoff: the binding's, else the POSIX one. */
export function handoff(): Handoff {
  return native().handoff ?? fdHandoff;
}

/**
 * Where a child finds segment `index` of a spawn's list, as `LIBIPC_SHARED` says it: `name:` for a
 * named one (the caller encodes the name), else `fd:<slot>` or `handle:<value>`.
 */
export function placeOf(memory: SharedMemory, index: number): { kind: "fd" | "handle"; number: number } | null {
  if (memory.name !== null) return null;
  const kind = handoff().kind;
  return { kind, number: kind === "fd" ? FIRST_FD + index : memory.fd };
}

/** The stdio entries after the standard three that carry `segments` (none with handles). */
export function stdioTail(segments: readonly SharedMemory[]): (number | "ignore")[] {
  if (handoff().kind !== "fd") return [];
  return segments.map((memory) => (memory.name === null ? memory.fd : "ignore"));
}

/**
 * Runs `start`, a synchronous spawn, with the anonymous `segments` inheritable, and makes them not
 * inheritable again after, however it ended. A process another thread starts meanwhile inherits
 * them too (Windows offers no per-spawn list through node:child_process).
 */
export function withInheritable<T>(segments: readonly SharedMemory[], start: () => T): T {
  const h = handoff();
  const marked: number[] = [];
  try {
    for (const memory of segments) {
      if (memory.name !== null) continue;
      h.inheritable(memory.fd, true);
      marked.push(memory.fd);
    }
    return start();
  } finally {
    for (const fd of marked) {
      try {
        h.inheritable(fd, false);
      } catch {
        // The child has started: a handle left inheritable only reaches later children.
      }
    }
  }
}
