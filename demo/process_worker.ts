/**
 * A worker of the demo's process section, started by `spawn` under Bun, Deno or Node: it gets the segment
 * and its Mutex from `shared()` and adds one to the counter at 64, n times, under the lock.
 */

import process from "node:process";
import type * as Ipc from "../lib/index.ts";

const binding = "Deno" in globalThis ? "../mod.ts" : "Bun" in globalThis ? "../bun.ts" : "../node.ts";
const ipc: typeof Ipc = await import(binding);
const [seg, mutex] = ipc.shared<[Ipc.SharedMemory, Ipc.Mutex]>();
const counter: BigUint64Array = seg.view(BigUint64Array, 64, 1);
const n = Number(process.argv[2]);
for (let i = 0; i < n; i++) {
  mutex.lockSync();
  counter[0] += 1n;
  mutex.unlock();
}
