/** Child processes for the Bun runner, through Bun.spawn: extra fds go in stdio slots 3 and up. */

import type { Child, Exit, SpawnOptions } from "../harness.ts";
import { LineReader } from "./lines.ts";

export function spawnBun(argv: string[], options: SpawnOptions = {}): Child {
  const proc = Bun.spawn(argv, {
    stdio: ["ignore", "pipe", "pipe", ...(options.fds ?? [])],
    env: { ...process.env, ...options.env },
  });
  const out = new LineReader();
  const err = new LineReader();
  const pump = async (stream: ReadableStream<Uint8Array>, reader: LineReader) => {
    for await (const chunk of stream) reader.push(chunk);
    reader.end();
  };
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const exited: Promise<Exit> = (async () => {
    await Promise.all([pump(proc.stdout, out), pump(proc.stderr, err), proc.exited]);
    clearTimeout(timer);
    return {
      code: proc.exitCode,
      signal: proc.signalCode === null ? null : String(proc.signalCode),
      stdout: out.all,
      stderr: err.all,
    };
  })();
  return { pid: proc.pid, line: () => out.next(), kill: (signal = "SIGKILL") => proc.kill(signal), exited };
}
