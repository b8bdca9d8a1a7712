/**
 * Referencing a child process (whether it keeps this process alive), safe at any point of the
 * child's life. Node makes `ref()`/`unref()` of a child that has ended a no-op; Deno throws
 * BadResource once it has reaped the process but before the `exit` event has reached JS — a window
 * a SIGKILL opens (measured: 1 kill in 50 followed at once by `unref()`). A Pool that kills a worker
 * for a cancelled task and then goes idle hits exactly that window, and the throw escaped from a
 * timer as an uncaught error. A child whose process is gone has nothing left to reference, so the
 * only thing to do there is nothing.
 */

import type { ChildProcess } from "node:child_process";

/** `child.ref()`/`unref()` and the same on its stdin pipe; a child whose process has ended is left alone. */
export function referenceChild(child: ChildProcess, on: boolean): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const stdin = child.stdin as unknown as { ref?(): void; unref?(): void } | null;
  try {
    if (on) {
      child.ref();
      stdin?.ref?.();
    } else {
      child.unref();
      stdin?.unref?.();
    }
  } catch (error) {
    // Deno's BadResource: the process was reaped, its `exit` event is on its way.
    if ((error as { name?: unknown } | null)?.name === "BadResource") return;
    throw error;
  }
}
