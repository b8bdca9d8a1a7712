/**
 * Mutex benchmarks through the TypeScript API, shared by mutex.bun.ts and mutex.deno.ts (bench/mutex.c
 * measures the same from C and drives the handoff cases). One case per process, so that the JIT sees
 * one call target:
 *   uncontended            lockSync()+unlock() pairs on an uncontended mutex
 *   peer                   glibc's pthread_mutex_lock+unlock on a robust pshared errorcheck
 *                          pthread mutex in a segment, through this runtime's raw FFI (`raw` is
 *                          given by the runtime's entry file)
 *   wait <how> <segment> <rounds>
 *                          the waiter of a handoff driven by `ipc-bench-mutex handoff`: how =
 *                          sync (lockSync, spins then parks), sync-park (spin 0), async (lock())
 */

import { report, timeNs } from "./report.ts";
import type { IpcModule } from "../tests/harness.ts";

const pairs = 20_000_000;

/** The raw glibc peer: makes `view` (64 bytes of a segment) a robust, process-shared, error-checking
 * pthread mutex and returns a function that locks and unlocks it. */
export type RawPair = (view: Uint8Array) => () => void;

export async function mutexBench(ipc: IpcModule, runtime: string, args: string[], raw: RawPair): Promise<void> {
  const { Mutex, SharedMemory } = ipc;
  switch (args[0]) {
    case "uncontended": {
      using seg = SharedMemory.create({ size: 4096 });
      const m = Mutex.init(seg, 0);
      report({
        case: "mutex lock+unlock, uncontended",
        tool: `${runtime} libipc lockSync+unlock`,
        unit: "ns/pair",
        value: timeNs(pairs, () => {
          m.lockSync();
          m.unlock();
        }),
      });
      m.close();
      return;
    }
    case "peer": {
      using seg = SharedMemory.create({ size: 4096 });
      const pair = raw(seg.bytes(128, 64));
      report({
        case: "mutex lock+unlock, uncontended",
        tool: `${runtime} raw FFI glibc pthread robust pshared`,
        unit: "ns/pair",
        value: timeNs(pairs, pair),
        peer: true,
      });
      return;
    }
    case "wait":
      return await waiter(ipc, runtime, args[1], args[2], Number(args[3]));
    default:
      throw new Error(`unknown case ${args.join(" ")}`);
  }
}

async function waiter(ipc: IpcModule, runtime: string, how: string, name: string, rounds: number): Promise<void> {
  const seg = ipc.SharedMemory.open(name);
  const m = ipc.Mutex.at(seg, 0);
  const unlockedAt = seg.view(BigUint64Array, 64, 1);
  // [0] acknowledged round, [1] round about to lock for, [2] round the driver holds the lock for
  const words = seg.view(Uint32Array, 72, 3);
  if (how === "sync-park") ipc.setSpin(0);
  const us = new Float64Array(rounds);
  for (let r = 1; r <= rounds; r++) {
    // Benchmark harness only: wait (busy) until the driver holds the lock for this round.
    while (Atomics.load(words, 2) !== r);
    Atomics.store(words, 1, r);
    if (how === "async") await m.lock();
    else m.lockSync();
    const at = ipc.now();
    us[r - 1] = Number(at - Atomics.load(unlockedAt, 0)) / 1000;
    Atomics.store(words, 0, r);
    m.unlock();
  }
  const kept = us.subarray(Math.floor(rounds / 10)).sort();
  const caseName = process.env.HANDOFF_CASE ?? "handoff";
  const tool = `${runtime} libipc ${how === "async" ? "lock()" : "lockSync()"}`;
  report({ case: `${caseName}, p50`, tool, unit: "us", value: kept[Math.floor(kept.length / 2)] });
  report({ case: `${caseName}, p99`, tool, unit: "us", value: kept[Math.floor(kept.length * 0.99)] });
  m.close();
  seg.close();
}
