/**
 * Functions tests/mp/process.ts runs with `isolate`, each in a fresh process. Plain module: no
 * libipc import, as a user's module would be.
 */

import process from "node:process";

/** fork-map's example. */
export function times10(value: number | bigint): number | bigint {
  return typeof value === "bigint" ? value * 10n : value * 10;
}

/** An async function whose result holds what JSON would lose. */
export async function rich(n: number): Promise<unknown> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return { big: BigInt(n) ** 3n, when: new Date(n), floats: new Float64Array([n, n / 2]), nested: [{ n }] };
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

export function exits(code: number): never {
  process.exit(code);
}

export function killsItself(): never {
  process.kill(process.pid, "SIGKILL");
  throw new Error("still alive after SIGKILL");
}

export function hangs(): Promise<never> {
  return new Promise(() => setInterval(() => {}, 1 << 30));
}

/** Leaks `mib` MiB on purpose (every page touched, kept reachable) and returns its own RSS growth in bytes. */
const kept: Uint8Array[] = [];
export function leaks(mib: number): number {
  const before = process.memoryUsage().rss;
  for (let i = 0; i < mib; i++) kept.push(new Uint8Array(1 << 20).fill(i + 1));
  return process.memoryUsage().rss - before;
}

/** A result larger than a 64 KiB channel carries. */
export function huge(bytes: number): Uint8Array {
  return new Uint8Array(bytes).fill(7);
}

export const notAFunction = 42;
