/** The participants a multi-process test can run: the C helper, and the TS child under each runtime. */
import type { Program } from "../harness.ts";

export const c: Program = { kind: "c", name: "ipc-child" };
export const bun: Program = { kind: "bun", script: "tests/mp/child" };
export const deno: Program = { kind: "deno", script: "tests/mp/child" };
export const node: Program = { kind: "node", script: "tests/mp/child" };
export const all: { label: string; program: Program }[] = [
  { label: "C", program: c },
  { label: "Bun", program: bun },
  { label: "Deno", program: deno },
];

/** The participant of the other runtime than `runtime`: Deno for Bun, Bun for Deno and Node. */
export function other(runtime: "bun" | "deno" | "node"): Program {
  return runtime === "bun" ? deno : bun;
}

/** The participant of `runtime` itself. */
export function self(runtime: "bun" | "deno" | "node"): Program {
  return runtime === "bun" ? bun : runtime === "deno" ? deno : node;
}

/** The other runtime's name, as `other` chooses it. */
export function otherRuntime(runtime: "bun" | "deno" | "node"): "bun" | "deno" {
  return runtime === "bun" ? "deno" : "bun";
}

/** How a program is named in test titles. */
export function label(p: Program): string {
  return p.kind === "c" ? "C" : p.kind === "bun" ? "Bun" : p.kind === "deno" ? "Deno" : "Node";
}
