/** The functions the demo's process section runs with isolate and Pool: a plain module. */

import process from "node:process";

/** fork-map's example. */
export function times10(value: number): number {
  return value * 10;
}

/** Which runtime and process ran this. */
export function whoAmI(): string {
  return `${"Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node"} pid ${process.pid}`;
}

/** A crash: the process kills itself. */
export function crash(): never {
  process.kill(process.pid, "SIGKILL");
  throw new Error("still alive");
}

/** The map's function: the number of Collatz steps from n to 1. */
export function collatz(n: number): number {
  let steps = 0;
  for (let x = n; x !== 1; steps++) x = x % 2 === 0 ? x / 2 : 3 * x + 1;
  return steps;
}
