/**
 * The shared heap across processes and runtimes: a C, a Bun and a Deno process allocate and free
 * concurrently in one heap, handing blocks to one another, every byte pattern checked; allocation
 * storms in each runtime killed with SIGKILL at random moments, after each of which the heap checks
 * clean and stays usable (tests/c/test_heap.c kills C storms 240 times more).
 */

import assert from "node:assert/strict";
import { type Child, command, type Harness } from "../harness.ts";
import { heapSlots, slotBusy } from "./child_heap.ts";
import * as programs from "./programs.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default function heap(h: Harness): void {
  const { SharedHeap } = h.ipc;

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
    "mp heap: storms in C, Bun and Deno killed with SIGKILL 30 times; the heap checks clean after each",
    async () => {
      using heap = SharedHeap.create({ size: 512 << 20, name: true });
      const name = heap.memory.name!;
      try {
        for (let round = 0; round < 30; round++) {
          const { program, label } = programs.all[round % 3];
          const storm: Child = h.spawn(command(h, program, ["heap", "storm", name, String(round)]));
          assert.equal(await storm.line(), "storming", label);
          await sleep(round % 5);
          storm.kill("SIGKILL");
          await storm.exited;
          const stats = heap.check();
          const small = heap.malloc(100);
          const large = heap.malloc(200_000);
          heap.free(small);
          heap.free(large);
          assert.ok(stats.allocations <= (round + 1) * 16, "a killed storm leaks at most what it held");
        }
      } finally {
        heap.memory.unlink();
      }
    },
    { timeoutMs: 120_000 },
  );
}
