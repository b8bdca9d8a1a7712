/**
 * The kill command of the TypeScript participant (tests/mp/kill.ts kills it with SIGKILL):
 *   kill middle <dir> <name>   a parent in the middle of a workload. It creates tracked named objects
 *                              (a segment with a generated name, a Chan called <name>, a Pipe with a
 *                              generated name) and writes to the pipe first, so its death ends the
 *                              pipe; starts with `spawn` a C, a Bun and a Deno child that drain the
 *                              pipe (they inherit this stdout: "draining", later "eof <bytes>"); starts
 *                              an `isolate` call whose child writes its pid to <dir>/isolate.pid and
 *                              works until killed; starts a Pool of two workers mapping an endless
 *                              source; prints "ready <tracker pid> <segment> <chan> <pipe> <C, Bun
 *                              and Deno child pids> <pool worker pids>"; then works on all of them
 *                              until killed.
 *                              The other runtime comes from LIBIPC_BUN / LIBIPC_DENO.
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import type { IpcModule } from "../harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function killCommand(ipc: IpcModule, args: string[]): Promise<number> {
  const [command, dir, name] = args;
  if (command !== "middle" || dir === undefined || name === undefined) {
    console.error(`usage: kill middle <dir> <name>, got ${args.join(" ")}`);
    return 64;
  }
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const seg = ipc.SharedMemory.create({ size: 4096, name: true, track: true });
  const jobs = ipc.Chan.create({ name, capacity: 4096, track: true });
  const pipe = ipc.Pipe.create({ name: true, capacity: 4096, track: true });
  await pipe.write("started\n");
  const drain = ["chan", "drain", pipe.memory.name!];
  const children = [
    await ipc.spawn(`${process.env.LIBIPC_OUT || `${root}zig-out`}/bin/ipc-child`, { runtime: "native", args: drain }),
    await ipc.spawn(`${root}tests/mp/child.bun.ts`, { runtime: "bun", args: drain }),
    await ipc.spawn(`${root}tests/mp/child.deno.ts`, { runtime: "deno", args: drain }),
  ];
  // Still running when this process dies: its child must then end by itself.
  void ipc.isolate({ module: `${root}tests/mp/kill_work.ts`, timeout: 60_000 }, "working", `${dir}/isolate.pid`)
    .catch(() => {});
  // A pool mid-map when this process dies: its workers must end by themselves (their stdin closes).
  const pool = new ipc.Pool({ module: `${root}tests/mp/kill_work.ts`, size: 2 });
  const endless = function* () {
    for (let x = 0;; x++) yield { x, ms: 2 };
  };
  void (async () => {
    for await (const _ of pool.imap(endless(), "slowPid", { chunkSize: 4 })) {
      // Only the work matters here.
    }
  })().catch(() => {});
  const pids = [...children.map((child) => child.pid), ...pool.pids].join(" ");
  console.log(`ready ${ipc.Tracker.status().pid} ${seg.name} ${jobs.name} ${pipe.memory.name} ${pids}`);
  const bytes = seg.bytes();
  for (let i = 0;; i++) {
    await pipe.write(`line ${i}\n`);
    bytes[i % bytes.length] = i & 0xff;
    jobs.trySend(bytes.subarray(0, 16));
    jobs.tryRecv();
    await sleep(1);
  }
}
