/**
 * The heap commands of the TypeScript participant (same arguments as tests/c/child_heap.c):
 *   heap share <name> <id> <steps>   allocate, pattern-fill, check and free blocks, handing some to
 *                                    the other participants through the "slots" root (64 slots of
 *                                    [handle, size] and a start flag) and taking theirs; exit 0
 *                                    when every pattern was intact and every free succeeded
 *   heap storm <name> <seed>         print "storming", then allocate and free forever
 * The pattern of a block is byte i = ((handle % 256) * 31 + i) & 0xff.
 */

import type { IpcModule } from "../harness.ts";

export const heapSlots = 64;
/** A slot is 0 (empty), `slotBusy` (being filled or emptied by whoever set it: the size is written
 * only then) or a handle (never 1: handles carry the heap's tag above bit 40). */
export const slotBusy = 1n;

export function heapCommand(ipc: IpcModule, args: string[]): number | Promise<number> {
  const [command, name, arg1, arg2] = args;
  const heap = ipc.SharedHeap.open(name);
  let state = BigInt(Number(arg1) * 7919 + 3);
  const random = (): number => {
    state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn;
    return Number(state >> 33n);
  };
  const fill = (handle: number, size: number) => {
    const v = heap.view(handle, Uint8Array, size);
    for (let i = 0; i < size; i++) v[i] = ((handle % 256) * 31 + i) & 0xff;
  };
  const intact = (handle: number, size: number) => {
    const v = heap.view(handle, Uint8Array, size);
    for (let i = 0; i < size; i++) if (v[i] !== (((handle % 256) * 31 + i) & 0xff)) return false;
    return true;
  };
  if (command === "storm") {
    console.log("storming");
    const held = new Array<number>(16).fill(0);
    for (;;) {
      const r = random();
      const i = r % 16;
      if (held[i] !== 0) {
        heap.free(held[i]);
        held[i] = 0;
      } else {
        try {
          held[i] = heap.malloc(1 + (r >> 8) % ((r >> 20) % 8 === 0 ? 200_000 : 2000));
        } catch {
          held[i] = 0;
        }
      }
    }
  }
  if (command !== "share") return 64;
  const steps = Number(arg2);
  const slots = heap.view(heap.root("slots"), BigInt64Array, heapSlots * 2 + 1);
  let bad = 0;
  const mine = new Array<number>(128).fill(0);
  const sizes = new Array<number>(128).fill(0);
  while (Atomics.load(slots, heapSlots * 2) === 0n) { /* the parent starts everyone at once */ }
  for (let step = 0; step < steps; step++) {
    const r = random();
    const i = r % 128;
    if (mine[i] !== 0) {
      if (!intact(mine[i], sizes[i])) bad++;
      const s = (r >> 8) % heapSlots;
      if ((r >> 16) % 2 === 0 && Atomics.compareExchange(slots, 2 * s, 0n, slotBusy) === 0n) {
        slots[2 * s + 1] = BigInt(sizes[i]);
        Atomics.store(slots, 2 * s, BigInt(mine[i]));
      } else {
        heap.free(mine[i]);
      }
      mine[i] = 0;
    } else {
      sizes[i] = 1 + (r >> 8) % ((r >> 20) % 16 === 0 ? 70_000 : 700);
      mine[i] = heap.malloc(sizes[i]);
      fill(mine[i], sizes[i]);
    }
    const s = (r >> 24) % heapSlots;
    const taken = Atomics.load(slots, 2 * s);
    if (taken > slotBusy && Atomics.compareExchange(slots, 2 * s, taken, slotBusy) === taken) {
      const size = slots[2 * s + 1];
      Atomics.store(slots, 2 * s, 0n);
      if (!intact(Number(taken), Number(size))) bad++;
      heap.free(Number(taken));
    }
  }
  for (let i = 0; i < 128; i++) {
    if (mine[i] === 0) continue;
    if (!intact(mine[i], sizes[i])) bad++;
    heap.free(mine[i]);
  }
  console.log(`ok ${bad}`);
  heap.close();
  return bad === 0 ? 0 : 3;
}
