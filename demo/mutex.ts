/**
 * The mutex section: Bun, Deno and C processes add to one counter under one mutex at the same time
 * (Bun with the async lock(), so its event loop keeps running), then a C process is killed with
 * SIGKILL while holding the mutex and Bun, waiting in lock(), gets it with ownerDied.
 */

import { Mutex, now, SharedMemory } from "../bun.ts";
import { c, deno, root } from "./run.ts";

const perProcess = 20_000;

export async function mutexSection(): Promise<void> {
  const seg = SharedMemory.create({ size: 4096, name: true });
  const m = Mutex.init(seg, 0);
  const counter = seg.view(BigUint64Array, 64, 1);
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const bun = (async () => {
      for (let i = 0; i < perProcess; i++) {
        using _ = await m.acquire();
        counter[0] += 1n;
      }
    })();
    await Promise.all([
      bun,
      deno("mutex", seg.name!, String(perProcess)),
      c("mutex", "count", seg.name!, String(perProcess)),
    ]);
    clearInterval(timer);
    console.log(
      `Bun (async lock), Deno (lockSync) and C (ipc_mutex_lock) each added ${perProcess}: counter = ${counter[0]} ` +
        `(expected ${3 * perProcess}); Bun's event loop ticked ${ticks} times meanwhile`,
    );

    const holder = Bun.spawn([`${root}/zig-out/bin/ipc-demo`, "mutex", "hold", seg.name!], { stdout: "pipe" });
    const reader = holder.stdout.getReader();
    await reader.read(); // "locked"
    console.log(`C (pid ${holder.pid}) holds the mutex; Bun waits in lock(); the C process gets SIGKILL`);
    const waiting = m.lock({ timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killedAt = now();
    holder.kill("SIGKILL");
    const state = await waiting;
    const us = Number(now() - killedAt) / 1000;
    console.log(`Bun got the mutex ${us.toFixed(0)} µs after the kill, ownerDied = ${state.ownerDied}; repaired it`);
    m.consistent();
    m.unlock();
    await holder.exited;
  } finally {
    m.close();
    seg.unlink();
    seg.close();
  }
}
