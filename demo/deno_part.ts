/** The demo's Deno parts: `deno run demo/deno_part.ts <section> ...`. */

import { Barrier, Chan, Condition, Duplex, Event, Mutex, Pipe, Semaphore, SharedHeap, SharedMemory } from "../mod.ts";
import { syncLayout as L } from "./sync_layout.ts";

const [section, ...args] = Deno.args;

switch (section) {
  case "segment": {
    const [name, slot] = args;
    using seg = SharedMemory.open(name);
    const text = `Deno (pid ${Deno.pid}) attached by name and wrote this\0`;
    new TextEncoder().encodeInto(text, seg.bytes(Number(slot) * 128, 128));
    break;
  }
  case "mutex": {
    const [name, n] = args;
    using seg = SharedMemory.open(name);
    const m = Mutex.at(seg, 0);
    const counter = seg.view(BigUint64Array, 64, 1);
    for (let i = 0; i < Number(n); i++) {
      m.lockSync();
      counter[0] += 1n;
      m.unlock();
    }
    m.close();
    break;
  }
  case "sync": {
    using seg = SharedMemory.open(args[0]);
    const mutex = Mutex.at(seg, L.mutex);
    const notEmpty = Condition.at(seg, L.notEmpty, mutex);
    const notFull = Condition.at(seg, L.notFull, mutex);
    const barrier = Barrier.at(seg, L.barrier);
    const semaphore = Semaphore.at(seg, L.semaphore);
    const words = seg.view(Uint32Array, 0, 256);
    const ring = seg.view(Uint32Array, L.ring, L.ringSlots);
    const sum = seg.view(BigUint64Array, L.sum, 1);
    Event.at(seg, L.event).waitSync({ timeout: 30_000 });
    const indexes: number[] = [];
    for (let round = 0; round < 3; round++) indexes.push(barrier.waitSync({ timeout: 30_000 }));
    let mine = 0;
    while (true) {
      using _ = mutex.acquireSync();
      notEmpty.waitForSync(() => words[L.count / 4] > 0 || words[L.taken / 4] === L.items);
      if (words[L.taken / 4] === L.items) break;
      sum[0] += BigInt(ring[words[L.head / 4]++ % L.ringSlots]);
      words[L.count / 4]--;
      if (++words[L.taken / 4] === L.items) notEmpty.notifyAll();
      notFull.notify();
      mine++;
    }
    for (let i = 0; i < 1000; i++) {
      using _ = semaphore.guardSync();
      const inside = Atomics.add(words, L.inside / 4, 1) + 1;
      if (inside > Atomics.load(words, L.insideMax / 4)) Atomics.store(words, L.insideMax / 4, inside);
      for (const until = performance.now() + 0.02; performance.now() < until;) { /* a short turn inside */ }
      Atomics.sub(words, L.inside / 4, 1);
    }
    console.log(
      `Deno: released by the event, passed the barrier 3 times (arrival ${
        indexes.join(", ")
      }), consumed ${mine} items, took 1000 semaphore turns`,
    );
    break;
  }
  case "chan": {
    using chan = Chan.open(args[1]);
    let received = 0;
    for (let batch = chan.recvManySync(); batch.length > 0; batch = chan.recvManySync()) received += batch.length;
    console.log(`received ${received}`);
    break;
  }
  case "duplex": {
    using end = Duplex.open(args[0]);
    for (let i = 0; i < Number(args[1]); i++) end.sendSync(end.recvSync()!);
    break;
  }
  case "pipe": {
    using pipe = Pipe.open(args[0]);
    let text = "";
    const decoder = new TextDecoder();
    for (let piece = pipe.readSync(); piece !== null; piece = pipe.readSync()) text += decoder.decode(piece);
    const lines = text.trimEnd().split("\n");
    console.log(`Deno read ${lines.length} lines from C through a 64-byte pipe, then EOF: "${lines[0]}" ...`);
    break;
  }
  case "heap": {
    using heap = SharedHeap.open(args[0]);
    const fromC = Number(heap.view(heap.root("from-c"), BigUint64Array)[0]);
    const bytes = heap.view(fromC);
    const text = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
    console.log(`Deno found root "from-c" by name and read: "${text}"`);
    const line = new TextEncoder().encode(`Deno (pid ${Deno.pid}) wrote this with SharedHeap.malloc\0`);
    const block = heap.malloc(line.length);
    heap.view(block).set(line);
    heap.view(heap.root("from-deno", 8), BigUint64Array)[0] = BigInt(block);
    break;
  }
  default:
    console.error(`unknown demo section ${section}`);
    Deno.exit(64);
}
