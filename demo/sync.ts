/**
 * The synchronization section: one segment holds a mutex with two conditions, a barrier, a
 * semaphore, an event and an rwlock. Bun (async forms), Deno (blocking forms) and C wait for the
 * event, pass the barrier three times together, move 10 000 items from C through a bounded buffer
 * to Bun and Deno, and share a semaphore of two units; then a C writer is killed with SIGKILL while
 * holding the rwlock and Bun's read lock reports ownerDied.
 */

import { Barrier, Condition, Event, Mutex, RwLock, Semaphore, SharedMemory } from "../bun.ts";
import { c, deno, root } from "./run.ts";
import { syncLayout } from "./sync_layout.ts";

const L = syncLayout;

export async function syncSection(): Promise<void> {
  const seg = SharedMemory.create({ size: 4096, name: true });
  const name = seg.name!;
  const mutex = Mutex.init(seg, L.mutex);
  const notEmpty = Condition.init(seg, L.notEmpty, mutex);
  Condition.init(seg, L.notFull, mutex);
  const barrier = Barrier.init(seg, L.barrier, { parties: 3 });
  const semaphore = Semaphore.init(seg, L.semaphore, { value: 2, max: 2 });
  const event = Event.init(seg, L.event);
  const rw = RwLock.init(seg, L.rwlock);
  const words = seg.view(Uint32Array, 0, 256);
  try {
    const others = Promise.all([c("sync", "work", name), deno("sync", name)]);
    event.set();
    const indexes: number[] = [];
    for (let round = 0; round < 3; round++) indexes.push(await barrier.wait({ timeout: 30_000 }));
    const notFull = Condition.at(seg, L.notFull, mutex);
    const ring = seg.view(Uint32Array, L.ring, L.ringSlots);
    const sum = seg.view(BigUint64Array, L.sum, 1);
    let mine = 0;
    while (true) {
      using _ = await mutex.acquire();
      await notEmpty.waitFor(() => words[L.count / 4] > 0 || words[L.taken / 4] === L.items);
      if (words[L.taken / 4] === L.items) break;
      sum[0] += BigInt(ring[words[L.head / 4]++ % L.ringSlots]);
      words[L.count / 4]--;
      if (++words[L.taken / 4] === L.items) notEmpty.notifyAll();
      notFull.notify();
      mine++;
    }
    for (let i = 0; i < 1000; i++) {
      using _ = await semaphore.guard();
      const inside = Atomics.add(words, L.inside / 4, 1) + 1;
      if (inside > Atomics.load(words, L.insideMax / 4)) Atomics.store(words, L.insideMax / 4, inside);
      for (const until = performance.now() + 0.02; performance.now() < until;) { /* a short turn inside */ }
      Atomics.sub(words, L.inside / 4, 1);
    }
    const [cOut, denoOut] = await others;
    process.stdout.write(cOut + denoOut);
    console.log(
      `Bun: released by the event, passed the barrier 3 times (arrival ${indexes.join(", ")}), consumed ${mine} ` +
        `items; sum of all consumed = ${sum[0]} (expected ${(L.items * (L.items + 1)) / 2}); at most ` +
        `${words[L.insideMax / 4]} processes were inside the semaphore of 2 at once`,
    );

    const holder = Bun.spawn([`${root}/zig-out/bin/ipc-demo`, "sync", "write-hold", name], { stdout: "pipe" });
    await holder.stdout.getReader().read(); // "locked"
    const reading = rw.readLock({ timeout: 10_000 });
    holder.kill("SIGKILL");
    const state = await reading;
    console.log(
      `C (pid ${holder.pid}) held the rwlock's write lock and got SIGKILL: Bun's read lock ownerDied = ${state.ownerDied}`,
    );
    rw.readUnlock();
    using _w = rw.writeSync();
    rw.consistent();
    await holder.exited;
  } finally {
    seg.unlink();
    seg.close();
  }
}
