/**
 * SharedHeap in one process: malloc/calloc/realloc/free/usableSize with zero-copy views, a random
 * sequence checked against a model (each block filled with a pattern tied to its handle), named
 * roots, a full heap, and clear errors for misuse and bad input (double free, foreign handle, size 0,
 * sizes beyond the heap, negative and NaN sizes).
 */

import assert from "node:assert/strict";
import process from "node:process";
import type { Harness } from "../harness.ts";

export default function heapCase(h: Harness): void {
  const { SharedHeap, SharedMemory } = h.ipc;

  h.test("heap: roundUp is the usable size a request gets; malloc zero-fills on request", () => {
    using heap = SharedHeap.create({ size: 8 << 20 });
    for (const size of [1, 16, 17, 129, 1000, 16384, 16385, 20000, 65536, 70000, 200_000, 300_000]) {
      const block = heap.malloc(size);
      assert.equal(heap.roundUp(size), heap.usableSize(block), `size ${size}`);
      assert.ok(heap.usableSize(block) >= size);
      heap.free(block);
    }
    assert.equal(heap.roundUp(0), heap.roundUp(1));
    assert.throws(() => heap.roundUp(-1), RangeError);
    const dirty = heap.malloc(3000);
    heap.view(dirty).fill(0xab);
    heap.free(dirty);
    const zeroed = heap.malloc(3000, { zero: true });
    assert.ok(heap.view(zeroed).subarray(0, 3000).every((x) => x === 0));
    heap.free(zeroed);
    assert.equal(heap.check().allocations, 0);
  });

  h.test("heap: arenas allocate for their owner only, go back at once, and are handed over", () => {
    using heap = SharedHeap.create({ size: 16 << 20 });
    const whole = heap.check().free;
    const arena = heap.createArena();
    assert.ok(arena.id > 0);
    assert.equal(arena.owner, process.pid);
    const blocks = Array.from({ length: 300 }, (_, i) => arena.malloc(1 + (i * 397) % 20000));
    const big = arena.malloc(300_000);
    heap.view(big).fill(7);
    heap.free(blocks[0]);
    assert.equal(heap.check().allocations, 300);
    arena.reset();
    assert.equal(heap.check().allocations, 0);
    assert.throws(() => heap.free(big), (e: Error & { code?: string }) => e.code === "EINVAL");
    arena.malloc(100);
    // Unowned: nobody allocates, nobody's death gives it back; reopened by id and adopted.
    arena.handOver(0);
    assert.equal(arena.owner, 0);
    assert.throws(
      () => arena.malloc(8),
      (e: Error & { code?: string }) => e.code === "EPERM" && /does not own/.test(e.message),
    );
    assert.equal(heap.reapArenas(), 0);
    assert.equal(heap.check().allocations, 1);
    const again = heap.openArena(arena.id);
    arena.close();
    again.handOver(process.pid);
    again.malloc(8);
    again.destroy();
    assert.ok(again.closed);
    assert.throws(() => heap.openArena(arena.id), (e: Error & { code?: string }) => e.code === "ENOENT");
    assert.throws(() => heap.openArena(0), RangeError);
    const stats = heap.check();
    assert.equal(stats.allocations, 0);
    heap.free(heap.malloc(whole));
  });

  h.test("heap: malloc, views, realloc, free, roots, and the heap checks clean", () => {
    using heap = SharedHeap.create({ size: 8 << 20 });
    const a = heap.malloc(24);
    assert.ok(Number.isSafeInteger(a) && a > 0);
    assert.equal(heap.usableSize(a), 32);
    const bytes = heap.view(a);
    assert.equal(bytes.length, 32);
    bytes.set([1, 2, 3]);
    const words = heap.view(a, Uint32Array, 2);
    words[1] = 0xdeadbeef;
    assert.equal(heap.view(a, Uint32Array)[1], 0xdeadbeef);
    const b = heap.realloc(a, 5000);
    assert.deepEqual([...heap.view(b).subarray(0, 3)], [1, 2, 3]);
    const z = heap.calloc(100, 10);
    assert.ok(heap.view(z).every((x) => x === 0));
    const big = heap.malloc(300_000);
    assert.ok(heap.usableSize(big) >= 300_000);
    let stats = heap.check();
    assert.equal(stats.allocations, 3);
    heap.free(b);
    heap.free(z);
    heap.free(big);
    stats = heap.check();
    assert.equal(stats.allocations, 0);
    assert.equal(stats.inUse, 0);

    const config = heap.root("config", 64);
    heap.view(config, Float64Array)[0] = 2.5;
    assert.equal(heap.root("config"), config);
    assert.equal(heap.view(heap.root("config", 8), Float64Array)[0], 2.5);
    assert.throws(() => heap.root("missing"), { code: "ENOENT" });
    heap.removeRoot("config");
    assert.throws(() => heap.root("config"), { code: "ENOENT" });
    heap.free(config);
  });

  h.test("heap: random malloc/realloc/free against a model, every pattern intact", () => {
    using heap = SharedHeap.create({ size: 64 << 20 });
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const live = new Map<number, number>(); // handle -> size
    const fill = (handle: number, size: number) => {
      const v = heap.view(handle, Uint8Array, size);
      for (let i = 0; i < size; i++) v[i] = ((handle % 256) * 31 + i) & 0xff;
    };
    const intact = (handle: number, size: number, pattern = handle) => {
      const v = heap.view(handle, Uint8Array, size);
      for (let i = 0; i < size; i++) if (v[i] !== (((pattern % 256) * 31 + i) & 0xff)) return false;
      return true;
    };
    for (let step = 0; step < 6000; step++) {
      const choice = random(10);
      if (choice < 5 || live.size === 0) {
        const size = 1 + (random(20) === 0 ? random(200_000) : random(2048));
        const handle = heap.malloc(size);
        assert.ok(!live.has(handle), "a live handle was handed out twice");
        fill(handle, size);
        live.set(handle, size);
      } else {
        const handles = [...live.keys()];
        const handle = handles[random(handles.length)];
        const size = live.get(handle)!;
        assert.ok(intact(handle, size), `block ${handle} was overwritten`);
        live.delete(handle);
        if (choice < 8) heap.free(handle);
        else {
          const next = 1 + random(4096);
          const moved = heap.realloc(handle, next);
          assert.ok(intact(moved, Math.min(size, next), handle));
          fill(moved, next);
          live.set(moved, next);
        }
      }
    }
    assert.equal(heap.check().allocations, live.size);
    for (const [handle, size] of live) assert.ok(intact(handle, size));
  });

  h.test("heap: misuse and bad input are clear errors", () => {
    using heap = SharedHeap.create({ size: 1 << 20 });
    using other = SharedHeap.create({ size: 1 << 20 });
    const a = heap.malloc(10);
    heap.free(a);
    assert.throws(
      () => heap.free(a),
      (e: Error & { code?: string }) => e.code === "EINVAL" && /freed already/.test(e.message),
    );
    assert.throws(() => heap.free(other.malloc(10)), { code: "EKIND" });
    assert.throws(() => heap.malloc(0), { code: "EINVAL" });
    assert.throws(() => heap.malloc(-1), { name: "IpcRangeError" });
    assert.throws(() => heap.malloc(Number.NaN), { name: "IpcRangeError" });
    assert.throws(() => heap.malloc(1.5), { name: "IpcRangeError" });
    assert.throws(() => heap.malloc("8" as unknown as number), { name: "IpcTypeError" });
    assert.throws(
      () => heap.malloc(2 << 20),
      (e: Error & { code?: string }) => e.code === "ENOMEM" && /full/.test(e.message),
    );
    assert.throws(() => heap.free(0), { name: "IpcRangeError" });
    assert.throws(() => heap.malloc(8, { alignment: 3 }), { code: "EINVAL" });
    assert.throws(() => heap.malloc(8, { alignment: 8192 }), { code: "ERANGE" });
    const aligned = heap.malloc(100, { alignment: 64 });
    assert.equal(heap.view(aligned).byteOffset % 64, (3968 + 128) % 64, "64-aligned in the mapping");
    heap.free(aligned);
    assert.throws(() => SharedHeap.create({ size: 1000 }), { code: "ERANGE" });
    assert.throws(() => heap.root("x".repeat(48), 8), { code: "EINVAL" });
    assert.throws(() => heap.view(heap.malloc(8), Uint8Array, 100), { code: "ERANGE" });
    using plain = SharedMemory.create({ size: 4096 });
    assert.throws(() => SharedHeap.attach(plain), { code: "EKIND" });
    // Filling the heap says ENOMEM, never crashes, and freeing makes room again.
    const blocks: number[] = [];
    while (true) {
      try {
        blocks.push(heap.malloc(3000));
      } catch (error) {
        assert.equal((error as { code?: string }).code, "ENOMEM");
        break;
      }
    }
    assert.ok(blocks.length > 100);
    for (const b of blocks) heap.free(b);
    heap.free(heap.malloc(3000));
    heap.close();
    assert.throws(() => heap.malloc(8), { code: "ECLOSED" });
  });
}
