/**
 * The processes section: `spawn` starts Bun, Deno, Node and C workers that add to one counter under
 * one Mutex (the D post's scenario); `isolate` computes value * 10 in a Bun, a Deno and a Node child and
 * reports a crash; a Pool of workers of each runtime maps over 200 000 items, one of them killed with
 * SIGKILL mid-map and its chunk retried. Node children run the TypeScript sources, which Node strips
 * from 22.18 on: LIBIPC_NODE, else Node 26 from the devDependency `node`.
 */

import { type IpcError, isolate, Mutex, Pool, SharedMemory, spawn } from "../bun.ts";
import { collatz } from "./process_work.ts";
import { root } from "./run.ts";

const work = `${root}/demo/process_work.ts`;
const deno = `${root}/node_modules/.bin/deno`;
const node = process.env.LIBIPC_NODE || `${root}/node_modules/node/bin/node`;
const execPaths = { bun: undefined, deno, node };

export async function processSection(): Promise<void> {
  // spawn: two workers of each runtime; the segment is named, so the C workers open it by name too.
  using seg = SharedMemory.create({ size: 4096, name: true });
  try {
    const mutex = Mutex.init(seg, 0);
    const n = 20_000;
    const started = performance.now();
    const children = await Promise.all([
      ...(["bun", "bun", "deno", "deno", "node", "node"] as const).map((runtime) =>
        spawn(`${root}/demo/process_worker.ts`, {
          runtime,
          execPath: execPaths[runtime],
          args: [String(n)],
          share: [seg, mutex],
        })
      ),
      ...[1, 2].map(() =>
        spawn(`${root}/zig-out/bin/ipc-demo`, { runtime: "native", args: ["mutex", "count", seg.name!, String(n)] })
      ),
    ]);
    const exits = await Promise.all(children.map((child) => child.exited));
    const ms = performance.now() - started;
    console.log(
      `spawn: 2 Bun, 2 Deno, 2 Node and 2 C workers added ${n} each under one Mutex: counter ${
        seg.view(BigUint64Array, 64, 1)[0]
      } (expected ${8 * n}), exit codes ${exits.map((e) => e.code).join(",")}, ${ms.toFixed(0)} ms`,
    );
    mutex.close();
  } finally {
    seg.unlink();
  }

  // isolate: one call, one fresh process.
  const inBun = await isolate(work, "times10", 7);
  const inDeno = await isolate({ module: work, runtime: "deno", execPath: deno }, "times10", 8);
  const inNode = await isolate({ module: work, runtime: "node", execPath: node }, "times10", 9);
  console.log(
    `isolate: times10(7) = ${inBun} in a Bun child, times10(8) = ${inDeno} in a Deno child, ` +
      `times10(9) = ${inNode} in a Node child`,
  );
  try {
    await isolate(work, "crash");
  } catch (error) {
    console.log(`isolate: a child that crashes rejects: ${(error as IpcError).code}: ${(error as Error).message}`);
  }

  // Pool: 200 000 items in chunks of 512, once on Bun workers and once on Deno workers.
  const items = Array.from({ length: 200_000 }, (_, i) => i + 1);
  const serial = items.map(collatz);
  for (const runtime of ["bun", "deno", "node"] as const) {
    const reports: string[] = [];
    await using pool = new Pool({
      module: work,
      size: 2,
      runtime,
      execPath: execPaths[runtime],
      retries: 1,
      onWorkerExit: (e) => reports.push(`worker ${e.pid} ${e.exit.signal ?? e.exit.code} running ${e.task}`),
    });
    const who = await pool.exec("whoAmI");
    const started = performance.now();
    const mapping = pool.map(items, "collatz", { chunkSize: 512 });
    setTimeout(() => process.kill(pool.pids[0], "SIGKILL"), 20); // a worker dies mid-map
    const out = await mapping;
    const ms = performance.now() - started;
    const same = out.length === serial.length && out.every((v, i) => v === serial[i]);
    console.log(
      `Pool of 2 ${runtime} workers (${who}, ...): map over ${items.length} items in ${ms.toFixed(0)} ms, ` +
        `${same ? "equal to the serial result, in order" : "WRONG"}; killed: ${reports.join("; ") || "none"} ` +
        `(retried on a new worker)`,
    );
    if (!same) throw new Error("the Pool's map differs from the serial result");
  }
}
