/**
 * Child processes through node:child_process, which Deno and Bun both provide; the Deno runner uses
 * it because Deno.Command cannot hand extra fds to a child. Extra fds go in stdio slots 3 and up.
 */

import { spawn } from "node:child_process";
import process from "node:process";
import type { Child, Exit, SpawnOptions } from "../harness.ts";
import { LineReader } from "./lines.ts";

export function spawnNode(argv: string[], options: SpawnOptions = {}): Child {
  const proc = spawn(argv[0], argv.slice(1), {
    stdio: ["ignore", "pipe", "pipe", ...(options.fds ?? [])],
    env: { ...process.env, ...options.env },
  });
  const out = new LineReader();
  const err = new LineReader();
  proc.stdout!.on("data", (chunk: Uint8Array) => out.push(chunk));
  proc.stderr!.on("data", (chunk: Uint8Array) => err.push(chunk));
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const exited = new Promise<Exit>((resolve, reject) => {
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      out.end();
      err.end();
      resolve({ code, signal, stdout: out.all, stderr: err.all });
    });
  });
  return { pid: proc.pid!, line: () => out.next(), kill: (signal = "SIGKILL") => proc.kill(signal), exited };
}
