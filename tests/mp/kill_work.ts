/**
 * Functions tests/mp/kill.ts runs in isolate() children and Pool workers, to kill them mid-call.
 * Plain module (no libipc import), as a user's module would be.
 */

import { renameSync, writeFileSync } from "node:fs";
import process from "node:process";

/**
 * Writes this process's pid to `pidFile` (whole, by a rename), then computes in slices, yielding to
 * the event loop between them, until it is killed.
 */
export async function working(pidFile: string): Promise<never> {
  writeFileSync(`${pidFile}.tmp`, String(process.pid));
  renameSync(`${pidFile}.tmp`, pidFile);
  let x = 1;
  while (true) {
    for (let i = 0; i < 100_000; i++) x = (Math.imul(x, 31) + i) | 0;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Waits `ms`, then returns `x` and the pid of the worker that ran it. */
export async function slowPid(item: { x: number; ms: number }): Promise<[number, number]> {
  await new Promise((resolve) => setTimeout(resolve, item.ms));
  return [item.x, process.pid];
}
