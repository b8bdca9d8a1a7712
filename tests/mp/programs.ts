/** The participants a multi-process test can run: the C helper, and the TS child under each runtime. */
import type { Program } from "../harness.ts";

export const c: Program = { kind: "c", name: "ipc-child" };
export const bun: Program = { kind: "bun", script: "tests/mp/child" };
export const deno: Program = { kind: "deno", script: "tests/mp/child" };
export const all: { label: string; program: Program }[] = [
  { label: "C", program: c },
  { label: "Bun", program: bun },
  { label: "Deno", program: deno },
];

/** The participant of the other runtime than `runtime`. */
export function other(runtime: "bun" | "deno"): Program {
  return runtime === "bun" ? deno : bun;
}
