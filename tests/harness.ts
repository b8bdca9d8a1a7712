/**
 * The neutral test harness: cases are written once against `Harness` and registered by a runner per
 * runtime (bun.test.ts, deno.test.ts). A case file exports a default function taking the harness.
 */

import type * as Ipc from "../lib/index.ts";

/** The library's public API, as bound by the runtime under test. */
export type IpcModule = typeof Ipc;

/** A program another process runs: a C helper, or a TS child under Bun, Deno or Node. */
export type Program = { kind: "c"; name: string } | { kind: "bun" | "deno" | "node"; script: string };

export interface SpawnOptions {
  /** File descriptors to hand to the child as fd 3, 4, ... */
  fds?: number[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the child with SIGKILL after this many ms (default 60 000). */
  timeoutMs?: number;
}

export interface Exit {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  readonly pid: number;
  /** The next line the child writes to stdout (without the newline). */
  line(): Promise<string>;
  kill(signal?: "SIGKILL" | "SIGTERM"): void;
  /** Resolves when the child has exited, with everything it wrote. */
  readonly exited: Promise<Exit>;
}

export interface Harness {
  readonly runtime: "bun" | "deno" | "node";
  readonly ipc: IpcModule;
  /**
   * Absolute paths: the repository root, the install prefix of the build under test (`LIBIPC_OUT`,
   * default `zig-out`: its bin/ holds the C child, its lib/ the library that `LIBIPC_PATH` should
   * name too), and the Bun, Deno and Node executables to run children with (Node children run
   * TypeScript sources: Node 22.18 or later, `LIBIPC_NODE` or the devDependency's 26).
   */
  readonly paths: { root: string; out: string; bun: string; deno: string; node: string };
  test(name: string, fn: () => void | Promise<void>, options?: { timeoutMs?: number }): void;
  /** Starts `argv` (argv[0] is the executable). */
  spawn(argv: string[], options?: SpawnOptions): Child;
  /** Runs a full garbage collection. */
  gc(): void;
}

/** The argv that runs `program` with `args`. */
export function command(h: Harness, program: Program, args: string[]): string[] {
  switch (program.kind) {
    case "c":
      return [`${h.paths.out}/bin/${program.name}`, ...args];
    case "bun":
      return [h.paths.bun, `${h.paths.root}/${program.script}.bun.ts`, ...args];
    case "deno":
      return [h.paths.deno, "run", "--allow-all", `${h.paths.root}/${program.script}.deno.ts`, ...args];
    case "node":
      return [h.paths.node, `${h.paths.root}/${program.script}.node.ts`, ...args];
  }
}

/** Runs a program to completion and returns its exit. Fails the test if it did not exit with 0. */
export async function run(h: Harness, program: Program, args: string[], options?: SpawnOptions): Promise<string> {
  const child = h.spawn(command(h, program, args), options);
  const exit = await child.exited;
  if (exit.code !== 0) {
    throw new Error(
      `${program.kind} ${args.join(" ")} exited with ${exit.code ?? exit.signal}\n` +
        `stdout: ${exit.stdout}\nstderr: ${exit.stderr}`,
    );
  }
  return exit.stdout;
}

/** A name unique to this test process, for objects a test creates by name. */
export function testName(what: string): string {
  const pid = typeof process !== "undefined" ? process.pid : 0;
  return `ipctest-${what}-${pid}-${Math.floor(Math.random() * 1e6)}`.slice(0, 30);
}
