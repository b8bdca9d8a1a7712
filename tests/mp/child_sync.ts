/**
 * The synchronization commands of the TypeScript participant (same arguments as
 * tests/c/child_sync.c). Every command opens the named test segment, whose layout (`layout` below,
 * repeated in child_sync.c) the parent initialized. <mode> is "sync" (blocking forms) or "async"
 * (Promise forms).
 *   sync ruby-wait <seg> <mode>              lock, print "waiting", wait on notEmpty until the flag is
 *                                            set, print "got <a> <b>"
 *   sync ruby-signal <seg> <a> <b>           lock, store a and b, set the flag, notify, unlock
 *   sync produce <seg> <id> <count> <mode>   put items id*count .. id*count+count-1 into the ring
 *   sync consume <seg> <total> <mode>        take items until <total> were taken by all consumers;
 *                                            count each in seen[]; print "consumed <n>"
 *   sync barrier <seg> <index> <rounds> <mode>  per round: slot[index] = round, wait, check every
 *                                            slot of the parties is round or round+1; print "done"
 *   sync barrier-once <seg> <timeout_ms> <mode> print "waiting", wait once, print "passed <i>"
 *   sync read-together <seg> <mode>          read lock, wait at the barrier (every party holds a read
 *                                            lock at once), print "ok <readers seen>", unlock
 *   sync read-loop <seg> <mode>              read lock/unlock until the stop flag; print "reading"
 *                                            after the first, "reads <n>" at the end
 *   sync write-once <seg> <mode>             write lock (10 s timeout), set the stop flag, unlock,
 *                                            print "wrote"
 *   sync read-hold <seg> | write-hold <seg>  take the lock, print "held", wait to be killed
 *   sync sem-hold <seg>                      take one semaphore unit, print "held", wait to be killed
 *   sync sem-work <seg> <iterations> <mode>  acquire, count the holders inside, release; print
 *                                            "max <most holders seen inside>"
 *   sync event-wait <seg> <mode>             print "waiting", wait for the event, print "set"
 * Errors print "error <CODE>" and return 2.
 */

import type { IpcModule } from "../harness.ts";

/** Byte offsets in the test segment. */
export const layout: Readonly<Record<string, number>> = {
  mutex: 0,
  notEmpty: 64,
  notFull: 128,
  barrier: 192,
  semaphore: 256,
  event: 320,
  head: 384,
  tail: 388,
  count: 392,
  taken: 396,
  a: 400,
  b: 404,
  flag: 408,
  stop: 412,
  inside: 416,
  insideMax: 420,
  rwlock: 448,
  ring: 2688,
  ringCapacity: 1024,
  slots: 6784,
  seen: 8192,
  size: 8192 + 100_000,
};

const hold = () => new Promise<never>(() => setInterval(() => {}, 1 << 30));

export async function syncCommand(ipc: IpcModule, args: string[]): Promise<number> {
  const [command, name] = args;
  const mode = args[args.length - 1];
  const async = mode === "async";
  using seg = ipc.SharedMemory.open(name);
  const words = seg.view(Uint32Array, 0, layout.slots / 4 + 16);
  const word = (offset: number) => offset / 4;
  const mutex = ipc.Mutex.at(seg, layout.mutex);
  const notEmpty = ipc.Condition.at(seg, layout.notEmpty, mutex);
  const notFull = ipc.Condition.at(seg, layout.notFull, mutex);
  const barrier = ipc.Barrier.at(seg, layout.barrier);
  const rw = ipc.RwLock.at(seg, layout.rwlock);
  const lock = async () => (async ? await mutex.lock() : mutex.lockSync());
  const waitFor = async (c: typeof notEmpty, predicate: () => boolean) =>
    async ? await c.waitFor(predicate, { timeout: 60_000 }) : c.waitForSync(predicate, { timeout: 60_000 });
  const barrierWait = async (timeout: number) =>
    async ? await barrier.wait({ timeout }) : barrier.waitSync({ timeout });

  switch (command) {
    case "ruby-wait": {
      await lock();
      console.log("waiting");
      const ok = await waitFor(notEmpty, () => Atomics.load(words, word(layout.flag)) === 1);
      console.log(ok ? `got ${words[word(layout.a)]} ${words[word(layout.b)]}` : "timeout");
      mutex.unlock();
      return 0;
    }
    case "ruby-signal": {
      await lock();
      words[word(layout.a)] = Number(args[2]);
      words[word(layout.b)] = Number(args[3]);
      Atomics.store(words, word(layout.flag), 1);
      notEmpty.notify();
      mutex.unlock();
      return 0;
    }
    case "produce": {
      const id = Number(args[2]);
      const count = Number(args[3]);
      const ring = seg.view(Uint32Array, layout.ring, layout.ringCapacity);
      for (let i = 0; i < count; i++) {
        await lock();
        if (!await waitFor(notFull, () => words[word(layout.count)] < layout.ringCapacity)) return 3;
        const tail = words[word(layout.tail)];
        ring[tail] = id * count + i;
        words[word(layout.tail)] = (tail + 1) % layout.ringCapacity;
        words[word(layout.count)] += 1;
        notEmpty.notify();
        mutex.unlock();
      }
      console.log("done");
      return 0;
    }
    case "consume": {
      const total = Number(args[2]);
      const ring = seg.view(Uint32Array, layout.ring, layout.ringCapacity);
      const seen = seg.bytes(layout.seen, 100_000);
      let mine = 0;
      while (true) {
        await lock();
        const more = () => words[word(layout.count)] > 0 || words[word(layout.taken)] >= total;
        if (!await waitFor(notEmpty, more)) return 3;
        if (words[word(layout.taken)] >= total) {
          mutex.unlock();
          break;
        }
        const head = words[word(layout.head)];
        const item = ring[head];
        words[word(layout.head)] = (head + 1) % layout.ringCapacity;
        words[word(layout.count)] -= 1;
        words[word(layout.taken)] += 1;
        seen[item] += 1;
        mine += 1;
        if (words[word(layout.taken)] >= total) notEmpty.notifyAll();
        notFull.notify();
        mutex.unlock();
      }
      console.log(`consumed ${mine}`);
      return 0;
    }
    case "barrier": {
      const index = Number(args[2]);
      const rounds = Number(args[3]);
      const slots = seg.view(Uint32Array, layout.slots, barrier.parties);
      for (let round = 1; round <= rounds; round++) {
        Atomics.store(slots, index, round);
        await barrierWait(30_000);
        for (let p = 0; p < barrier.parties; p++) {
          const r = Atomics.load(slots, p);
          if (r !== round && r !== round + 1) {
            console.log(`early ${round} party ${p} at ${r}`);
            return 1;
          }
        }
      }
      console.log("done");
      return 0;
    }
    case "barrier-once": {
      console.log("waiting");
      console.log(`passed ${await barrierWait(Number(args[2]))}`);
      return 0;
    }
    case "read-together": {
      if (async) await rw.readLock();
      else rw.readLockSync();
      await barrierWait(20_000);
      const readers = rw.readers;
      await barrierWait(20_000);
      rw.readUnlock();
      console.log(`ok ${readers}`);
      return 0;
    }
    case "read-loop": {
      let reads = 0;
      while (Atomics.load(words, word(layout.stop)) === 0) {
        if (async) await rw.readLock();
        else rw.readLockSync();
        const until = performance.now() + 0.05;
        while (performance.now() < until) { /* hold the read lock a little */ }
        rw.readUnlock();
        if (reads++ === 0) console.log("reading");
      }
      console.log(`reads ${reads}`);
      return 0;
    }
    case "write-once": {
      if (async) await rw.writeLock({ timeout: 10_000 });
      else rw.writeLockSync({ timeout: 10_000 });
      Atomics.store(words, word(layout.stop), 1);
      rw.writeUnlock();
      console.log("wrote");
      return 0;
    }
    case "read-hold":
      rw.readLockSync();
      console.log("held");
      return await hold();
    case "write-hold":
      rw.writeLockSync();
      console.log("held");
      return await hold();
    case "sem-hold":
      ipc.Semaphore.at(seg, layout.semaphore).acquireSync();
      console.log("held");
      return await hold();
    case "sem-work": {
      const semaphore = ipc.Semaphore.at(seg, layout.semaphore);
      const iterations = Number(args[2]);
      for (let i = 0; i < iterations; i++) {
        if (async) await semaphore.acquire(1, { timeout: 30_000 });
        else semaphore.acquireSync(1, { timeout: 30_000 });
        const inside = Atomics.add(words, word(layout.inside), 1) + 1;
        let max = Atomics.load(words, word(layout.insideMax));
        while (inside > max) {
          const was = Atomics.compareExchange(words, word(layout.insideMax), max, inside);
          if (was === max) break;
          max = was;
        }
        Atomics.sub(words, word(layout.inside), 1);
        semaphore.release();
      }
      console.log(`max ${Atomics.load(words, word(layout.insideMax))}`);
      return 0;
    }
    case "event-wait": {
      const event = ipc.Event.at(seg, layout.event);
      console.log("waiting");
      const set = async ? await event.wait({ timeout: 30_000 }) : event.waitSync({ timeout: 30_000 });
      console.log(set ? "set" : "timeout");
      return 0;
    }
    default:
      console.error(`unknown command sync ${args.join(" ")}`);
      return 64;
  }
}
