/** Runs the Deno and C parts of the demo as child processes. */

import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const root: string = resolve(import.meta.dirname, "..");

function denoExe(): string {
  const local = `${root}/node_modules/.bin/deno`;
  return existsSync(local) ? local : "deno";
}

async function run(argv: string[]): Promise<string> {
  const proc = Bun.spawn(argv, { stdio: ["ignore", "pipe", "inherit"] });
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited with ${code}`);
  return out;
}

/** Runs the Deno part of section `section` with `args`. */
export function deno(section: string, ...args: string[]): Promise<string> {
  return run([
    denoExe(),
    "run",
    "--allow-ffi",
    "--allow-env",
    "--allow-read",
    `${root}/demo/deno_part.ts`,
    section,
    ...args,
  ]);
}

/** Runs the C part of section `section` with `args`. */
export function c(section: string, ...args: string[]): Promise<string> {
  return run([`${root}/zig-out/bin/ipc-demo`, section, ...args]);
}
