/**
 * Functions tests/mp/pool.ts runs in Pool workers. Plain module (no libipc import), as a user's
 * module would be.
 */

import { existsSync, writeFileSync } from "node:fs";
import process from "node:process";

/** The map's function: a few rounds of an integer hash, so the work is not free. */
export function mix(x: number): number {
  let h = x >>> 0;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return h;
}

export function add(a: number, b: number): number {
  return a + b;
}

export function pid(): number {
  return process.pid;
}

/** An async function whose result holds what JSON would lose. */
export async function rich(n: number): Promise<unknown> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return { big: BigInt(n) ** 3n, when: new Date(n), bytes: new Uint8Array([n, n + 1]), nested: [{ n }] };
}

export class ParseFailure extends Error {
  code = "EPARSE";
  constructor(message: string) {
    super(message);
    this.name = "ParseFailure";
  }
}

export function fails(input: string): never {
  throw new ParseFailure(`cannot parse ${JSON.stringify(input)}`);
}

/** Throws for 777, else returns x. */
export function failsOn777(x: number): number {
  if (x === 777) throw new RangeError("777 is not allowed");
  return x;
}

/** Waits `ms`, then returns x (async: the worker's event loop runs meanwhile). */
export async function slow(x: number, ms = 2): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return x;
}

/** Creates `<marker>.<pid>` once per marker and worker: the test sees that this worker runs its task. */
const marked = new Set<string>();
function mark(marker: string | undefined): void {
  if (marker === undefined || marked.has(marker)) return;
  marked.add(marker);
  writeFileSync(`${marker}.${process.pid}`, "");
}

/** `slow` over map items `{ x, ms }`; with `marker`, says that this worker has started one. */
export function slowItem(item: { x: number; ms: number; marker?: string }): Promise<number> {
  mark(item.marker);
  return slow(item.x, item.ms);
}

/** Never returns; with `marker`, first says that it runs (once per worker). */
export function hangs(marker?: string): Promise<never> {
  mark(marker);
  return new Promise(() => setInterval(() => {}, 1 << 30));
}

/**
 * For the item whose `crash` is set, kill this process the first time only: the first attempt
 * creates `marker`, so a retry on another worker finds it and returns.
 */
export function crashOnce(item: { x: number; crash?: boolean; marker?: string }): number {
  if (item.crash === true) {
    if (item.marker === undefined || !existsSync(item.marker)) {
      if (item.marker !== undefined) writeFileSync(item.marker, String(process.pid));
      process.kill(process.pid, "SIGKILL");
    }
  }
  return item.x * 2;
}

/** Returns `n` bytes (to overflow a small channel). */
export function bytes(n: number): Uint8Array {
  return new Uint8Array(n).fill(7);
}

/** Returns its argument. */
export function same(x: unknown): unknown {
  return x;
}
