/**
 * The shared heap across processes and runtimes: a C, a Bun and a Deno process allocate and free
 * concurrently in one heap, reallocating them and handing them to one another, every byte pattern
 * checked; malloc/realloc/free storms in each runtime killed with SIGKILL mid-storm, after each of
 * which the heap checks clean, every block the storm recorded is intact, and every block is accounted
 * for (tests/c/test_heap.c kills C storms 240 times more).
 */

import assert from "node:assert/strict";
import { type Child, command, type Harness } from "../harness.ts";
import {
  heapSlots,
  slotBusy,
  stormByte,
  stormEntries,
  stormFlag,
  stormFresh,
  stormMalloc,
  stormRealloc,
  stormWords,
} from "./child_heap.ts";
import * as programs from "./programs.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** One turn of the event loop, while polling a word a child advances. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

export default function heap(h: Harness): void {
  const { SharedHeap } = h.ipc;

  h.test("mp heap: an arena's owner killed with SIGKILL: its blocks all go back once the death is noticed", async () => {
    using heap = SharedHeap.create({ size: 64 << 20, name: true });
    const name = heap.memory.name!;
    try {
      const whole = heap.check().free;
      for (let round = 0; round < 3; round++) {
        const child: Child = h.spawn(command(h, programs.self(h.runtime), ["heap", "arena", name, String(round)]));
        const line = await child.line();
        const id = Number(/^arena (\d+)$/.exec(line)?.[1]);
        assert.ok(id > 0, `the child said ${line}`);
        await sleep(20 * round);
        const arena = heap.openArena(id);
        assert.equal(arena.owner, child.pid, "the child owns its arena");
        assert.throws(() => arena.reset(), (e: Error & { code?: string }) => e.code === "EPERM");
        child.kill("SIGKILL");
        const exit = await child.exited;
        assert.equal(exit.signal, "SIGKILL", exit.stderr);
        // The check notices the death and gives the arena back: the heap is at its baseline.
        const stats = heap.check();
        assert.equal(stats.allocations, 0);
        assert.throws(() => arena.malloc(8), (e: Error & { code?: string }) => e.code === "ENOENT");
        arena.close();
        heap.free(heap.malloc(whole));
      }
    } finally {
      heap.memory.unlink();
    }
  });

  h.test(
    "mp heap: C, Bun and Deno allocate, free and hand blocks to one another; patterns intact, check clean",
    async () => {
      using heap = SharedHeap.create({ size: 256 << 20, name: true });
      const name = heap.memory.name!;
      try {
        const slots = heap.view(heap.root("slots", (heapSlots * 2 + 1) * 8), BigInt64Array, heapSlots * 2 + 1);
        const children = programs.all.map(({ program }, i) =>
          h.spawn(command(h, program, ["heap", "share", name, String(i + 1), "20000"]), { timeoutMs: 120_000 })
        );
        await sleep(0);
        Atomics.store(slots, heapSlots * 2, 1n);
        for (const [i, child] of children.entries()) {
          const exit = await child.exited;
          assert.equal(exit.code, 0, `${programs.all[i].label}: ${exit.stdout} ${exit.stderr}`);
          assert.equal(exit.stdout, "ok 0\n");
        }
        // Blocks handed over but never taken are still intact; then the heap holds only the slots root.
        for (let s = 0; s < heapSlots; s++) {
          const block = Number(slots[2 * s]);
          if (block === 0) continue;
          assert.notEqual(BigInt(block), slotBusy, "every hand-over finished before its process exited");
          const size = Number(slots[2 * s + 1]);
          const v = heap.view(block, Uint8Array, size);
          for (let i = 0; i < size; i++) assert.equal(v[i], ((block % 256) * 31 + i) & 0xff);
          heap.free(block);
        }
        assert.equal(heap.check().allocations, 1);
      } finally {
        heap.memory.unlink();
      }
    },
    { timeoutMs: 150_000 },
  );

  h.test(
    "mp heap: storms in C, Bun and Deno killed with SIGKILL 30 times mid-storm; every block accounted for",
    async () => {
      // Each storm keeps the blocks it holds in the "storm" root (child_heap.ts): after each kill the
      // heap checks clean, every recorded block keeps its pattern and is freed here, and the heap
      // holds exactly the roots plus the blocks kills leaked — at most one per kill, and only for a
      // kill inside a malloc or realloc (the block claimed in the heap, not yet returned).
      using heap = SharedHeap.create({ size: 512 << 20, name: true });
      const name = heap.memory.name!;
      try {
        const table = heap.view(heap.root("storm", stormWords * 8), BigInt64Array, stormWords);
        const empty = heap.check();
        let leaked = 0;
        let kills = 0;
        const leaks: string[] = [];
        const ops = [0, 0, 0, 0];
        for (let round = 0; round < 30; round++) {
          const { program, label } = programs.all[round % 3];
          const what = `round ${round} (${label})`;
          table.fill(0n);
          const storm: Child = h.spawn(command(h, program, ["heap", "storm", name, String(round)]));
          assert.equal(await storm.line(), "storming", what);
          // Killed mid-storm: once it has done a number of steps that varies by round.
          const steps = 20n + BigInt((round * 97) % 400);
          let exited = false;
          void storm.exited.then(() => exited = true);
          const deadline = Date.now() + 60_000;
          while (Atomics.load(table, 1) < steps && !exited && Date.now() < deadline) await tick();
          storm.kill("SIGKILL");
          const exit = await storm.exited;
          assert.equal(exit.signal, "SIGKILL", `${what}: killed mid-storm, not ${exit.code}: ${exit.stderr}`);
          assert.ok(Atomics.load(table, 1) >= steps, `${what}: ${table[1]} steps before the kill`);
          kills++;
          const stats = heap.check();
          const op = Number(table[0]);
          ops[op]++;
          let flagged = 0;
          let fresh = 0;
          for (let e = 0; e < stormEntries; e++) {
            const at = 3 + 3 * e;
            const word = table[at];
            if (word === 0n) continue;
            const handle = Number(word & (stormFlag - 1n));
            if ((word & stormFresh) !== 0n) {
              // Returned by malloc or realloc, its pattern being written: freed unchecked.
              fresh++;
              heap.free(handle);
              continue;
            }
            if ((word & stormFlag) !== 0n) {
              // A free or realloc was under way: the block is freed here unless that call freed it.
              flagged++;
              try {
                heap.free(handle);
              } catch (error) {
                assert.equal((error as { code: string }).code, "EINVAL", `${what}: ${error}`);
              }
              continue;
            }
            const size = Number(table[at + 1]);
            const seed = Number(table[at + 2]);
            const v = heap.view(handle, Uint8Array, size);
            for (let i = 0; i < size; i++) {
              if (v[i] !== stormByte(seed, i)) assert.fail(`${what}: block ${handle} byte ${i} of ${size} changed`);
            }
            heap.free(handle);
          }
          assert.ok(flagged + fresh <= 1, `${what}: one call at a time`);
          const after = heap.check();
          const leak = after.allocations - empty.allocations - leaked;
          const mayLeak = op === Number(stormMalloc) || op === Number(stormRealloc) ? 1 : 0;
          assert.ok(leak >= 0 && leak <= mayLeak, `${what}: ${leak} blocks unaccounted for (op ${op})`);
          leaked += leak;
          if (leak > 0) leaks.push(`${round}:${label}:${["idle", "malloc", "free", "realloc"][op]}`);
          assert.equal(table[2], 0n, `${what}: a 512 MiB heap is never full`);
          assert.ok(stats.allocations >= after.allocations);
          const small = heap.malloc(100);
          const large = heap.malloc(200_000);
          heap.free(small);
          heap.free(large);
          // Nothing leaked so far: the heap is back to its baseline, the whole of it allocatable as one
          // block (empty small-block pages retire when the page pool runs dry).
          if (leaked === 0) heap.free(heap.malloc(empty.largestFree));
        }
        const end = heap.check();
        assert.equal(end.allocations, empty.allocations + leaked);
        assert.ok(leaked <= kills, "at most one block leaked per kill");
        console.log(
          `mp heap storm: ${kills} kills (idle/malloc/free/realloc: ${
            ops.join("/")
          }), ${leaked} leaked (round:runtime:op ${leaks.join(" ")})`,
        );
      } finally {
        heap.memory.unlink();
      }
    },
    { timeoutMs: 150_000 },
  );
}
