/**
 * Semaphore, Condition and RwLock benchmarks through the TypeScript API, shared by sync.bun.ts and
 * sync.deno.ts (bench/sync.c measures the same from C, with POSIX and pthread peers). One case per
 * process:
 *   sem-pingpong [rounds]      this process and a child of the same runtime bounce a token through
 *                              two semaphores (release one, acquireSync the other): round trip
 *   cond-pingpong [rounds]     the same through a mutex, a condition and a turn word
 *   rwlock-uncontended         readLockSync+readUnlock and writeLockSync+writeUnlock pairs
 *   child <case> <name> <rounds>   the other side of a ping-pong
 * Round trips: the first 10% of rounds dropped, p50 and p99 of the rest.
 */

import { spawn } from "node:child_process";
import { report, timeNs } from "./report.ts";
import type { IpcModule } from "../tests/harness.ts";
import type { SharedMemory } from "../lib/index.ts";

const pairs = 5_000_000;

function percentiles(us: Float64Array): [number, number] {
  const kept = us.subarray(Math.floor(us.length / 10)).sort();
  return [kept[Math.floor(kept.length / 2)], kept[Math.floor(kept.length * 0.99)]];
}

/** Objects of the ping-pong segment: two semaphores at 0 and 64; a mutex at 128, a condition at 192, the turn at 256. */
function objects(ipc: IpcModule, seg: SharedMemory, init: boolean) {
  const { Semaphore, Mutex, Condition } = ipc;
  const mutex = init ? Mutex.init(seg, 128) : Mutex.at(seg, 128);
  return {
    ping: init ? Semaphore.init(seg, 0, { value: 0 }) : Semaphore.at(seg, 0),
    pong: init ? Semaphore.init(seg, 64, { value: 0 }) : Semaphore.at(seg, 64),
    mutex,
    cond: init ? Condition.init(seg, 192, mutex) : Condition.at(seg, 192, mutex),
    turn: seg.view(Uint32Array, 256, 1),
  };
}

/** One side's rounds; `first` starts each round. Returns per-round microseconds (first side only). */
function play(
  ipc: IpcModule,
  o: ReturnType<typeof objects>,
  kind: string,
  rounds: number,
  first: boolean,
): Float64Array {
  const us = new Float64Array(rounds);
  const mine = first ? 0 : 1;
  for (let r = 0; r < rounds; r++) {
    const start = first ? ipc.now() : 0n;
    if (kind === "sem-pingpong") {
      if (first) {
        o.ping.release();
        o.pong.acquireSync();
      } else {
        o.ping.acquireSync();
        o.pong.release();
      }
    } else {
      // Pass the turn to the other side and wait until it comes back.
      o.mutex.lockSync();
      if (first) {
        o.turn[0] = 1;
        o.cond.notify();
      }
      while (o.turn[0] !== mine) o.cond.waitSync();
      if (!first) {
        o.turn[0] = 0;
        o.cond.notify();
      }
      o.mutex.unlock();
    }
    if (first) us[r] = Number(ipc.now() - start) / 1000;
  }
  return us;
}

export async function syncBench(ipc: IpcModule, runtime: string, argv: string[], args: string[]): Promise<void> {
  const { SharedMemory, RwLock } = ipc;
  const [kind] = args;
  switch (kind) {
    case "sem-pingpong":
    case "cond-pingpong": {
      const rounds = Number(args[1] ?? 50_000);
      using seg = SharedMemory.create({ size: 4096, name: true });
      const o = objects(ipc, seg, true);
      o.turn[0] = 0;
      const child = spawn(argv[0], [...argv.slice(1), "child", kind, seg.name!, String(rounds)], { stdio: "inherit" });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const us = play(ipc, o, kind, rounds, true);
      if (await exited !== 0) throw new Error("the ping-pong child failed");
      seg.unlink();
      const [p50, p99] = percentiles(us);
      const what = kind === "sem-pingpong" ? "semaphore ping-pong round trip" : "condition signal/wait round trip";
      const tool = `${runtime} libipc ${kind === "sem-pingpong" ? "Semaphore" : "Mutex+Condition"}`;
      report({ case: `${what}, p50`, tool, unit: "us", value: p50 });
      report({ case: `${what}, p99`, tool, unit: "us", value: p99 });
      for (const object of Object.values(o)) if ("close" in object) object.close();
      return;
    }
    case "child": {
      const [, which, name, rounds] = args;
      using seg = SharedMemory.open(name);
      play(ipc, objects(ipc, seg, false), which, Number(rounds), false);
      return;
    }
    case "rwlock-uncontended": {
      using seg = SharedMemory.create({ size: 4096 });
      const rw = RwLock.init(seg, 0);
      const tool = `${runtime} libipc RwLock`;
      const read = timeNs(pairs, () => {
        rw.readLockSync();
        rw.readUnlock();
      });
      report({ case: "rwlock read lock+unlock, uncontended", tool, unit: "ns/pair", value: read });
      const write = timeNs(pairs / 10, () => {
        rw.writeLockSync();
        rw.writeUnlock();
      });
      report({ case: "rwlock write lock+unlock, uncontended", tool, unit: "ns/pair", value: write });
      rw.close();
      return;
    }
    default:
      throw new Error(`unknown case ${args.join(" ")}`);
  }
}
