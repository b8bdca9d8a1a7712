/**
 * The heap commands of the TypeScript participant (same arguments as tests/c/child_heap.c):
 *   heap share <name> <id> <steps>   allocate, pattern-fill, check, reallocate (growing and shrinking,
 *                                    so blocks move) and free blocks, handing some to the other
 *                                    participants through the "slots" root (64 slots of [handle, size]
 *                                    and a start flag) and taking theirs; exit 0 when every pattern
 *                                    was intact and every free succeeded
 *   heap storm <name> <seed>         print "storming", then malloc, realloc and free forever, keeping
 *                                    every block it holds in the "storm" root (see below) so that the
 *                                    parent can account for each block once the storm is killed
 *   heap arena <name> <seed>         make an arena, allocate from it until it holds 500 blocks, print
 *                                    "arena <id>", then free and allocate in it forever (until killed)
 * The pattern of a shared block is byte i = ((handle % 256) * 31 + i) & 0xff (rewritten after a
 * realloc, once the kept prefix was checked against the old handle's pattern).
 *
 * The "storm" root is `stormWords` u64: [op, steps done, ENOMEM count], then per entry [handle,
 * size, seed]. A storm block's byte i is (seed * 31 + i) & 0xff, so a block keeps its pattern when
 * realloc moves it. The storm records a block as soon as malloc or realloc returns it, marked
 * `stormFresh` (size and seed, then the handle) until its pattern is written, and marks a block it is
 * about to free or reallocate with `stormFlag` before the call. So a storm killed at any point leaves
 * recorded blocks with their pattern intact, at most one fresh block (freed unchecked), at most one
 * flagged block (freed unless that call freed it already: EINVAL), and at most one block it holds
 * but has not recorded: the one a malloc or realloc in flight (`op` says which) claimed inside the
 * heap and had not yet returned. A kill leaks at most that block, and only when `op` is stormMalloc
 * or stormRealloc. Any error but ENOMEM (a full heap, counted) ends the storm with a message on
 * stderr and exit code 3.
 */

import type { IpcModule } from "../harness.ts";
import type * as Ipc from "../../lib/index.ts";

export const heapSlots = 64;
/** A slot is 0 (empty), `slotBusy` (being filled or emptied by whoever set it: the size is written
 * only then) or a handle (never 1: handles carry the heap's tag above bit 40). */
export const slotBusy = 1n;

export const stormEntries: number = 16;
/** u64 words of the "storm" root. */
export const stormWords: number = 3 + 3 * stormEntries;
/** Set on an entry's handle while a free or realloc of that block is under way. */
export const stormFlag: bigint = 1n << 60n;
/** Set on an entry's handle while its pattern is being written (after a malloc or realloc). */
export const stormFresh: bigint = 1n << 61n;
/** The storm's `op` word: what it is doing now. */
export const stormIdle: bigint = 0n;
export const stormMalloc: bigint = 1n;
export const stormFree: bigint = 2n;
export const stormRealloc: bigint = 3n;

/** Byte i of a storm block of `seed`. */
export function stormByte(seed: number, i: number): number {
  return (seed * 31 + i) & 0xff;
}

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
  /** Whether the first `size` bytes of `handle` hold the pattern of block `as`. */
  const intactAs = (handle: number, size: number, as: number) => {
    const v = heap.view(handle, Uint8Array, size);
    for (let i = 0; i < size; i++) if (v[i] !== (((as % 256) * 31 + i) & 0xff)) return false;
    return true;
  };
  const intact = (handle: number, size: number) => intactAs(handle, size, handle);
  if (command === "storm") return storm(ipc, heap, random);
  if (command === "arena") return arenaChurn(heap, random);
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
    if (mine[i] !== 0 && (r >> 28) % 4 === 0) {
      // Grow or shrink in place or by moving: the kept prefix keeps the old handle's pattern.
      if (!intact(mine[i], sizes[i])) bad++;
      const size = 1 + (r >> 8) % ((r >> 20) % 4 === 0 ? 70_000 : 700);
      const moved = heap.realloc(mine[i], size);
      if (!intactAs(moved, Math.min(size, sizes[i]), mine[i])) bad++;
      mine[i] = moved;
      sizes[i] = size;
      fill(moved, size);
    } else if (mine[i] !== 0) {
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

/** The storm (see the top of the file): returns only on an error other than ENOMEM. */
function storm(ipc: IpcModule, heap: Ipc.SharedHeap, random: () => number): number {
  const t = heap.view(heap.root("storm"), BigInt64Array, stormWords);
  const intact = (handle: number, size: number, seed: number): boolean => {
    const v = heap.view(handle, Uint8Array, size);
    for (let i = 0; i < size; i++) if (v[i] !== stormByte(seed, i)) return false;
    return true;
  };
  const fill = (handle: number, from: number, size: number, seed: number): void => {
    const v = heap.view(handle, Uint8Array, size);
    for (let i = from; i < size; i++) v[i] = stormByte(seed, i);
  };
  const sizeOf = (r: number): number => 1 + (r >> 8) % ((r >> 20) % 8 === 0 ? 200_000 : 2000);
  /** The result of `call`, or null for ENOMEM (counted); any other error is rethrown. */
  const full = <T>(call: () => T): T | null => {
    try {
      return call();
    } catch (error) {
      if (!(error instanceof ipc.IpcError && (error as { code: string }).code === "ENOMEM")) throw error;
      Atomics.add(t, 2, 1n);
      return null;
    }
  };
  console.log("storming");
  try {
    for (;;) {
      const r = random();
      const at = 3 + 3 * (r % stormEntries);
      const handle = Number(t[at]);
      if (handle === 0) {
        const size = sizeOf(r);
        const seed = r >> 4;
        Atomics.store(t, 0, stormMalloc);
        const block = full(() => heap.malloc(size));
        if (block !== null) {
          t[at + 1] = BigInt(size);
          t[at + 2] = BigInt(seed);
          Atomics.store(t, at, BigInt(block) | stormFresh);
          fill(block, 0, size, seed);
          Atomics.store(t, at, BigInt(block));
        }
      } else {
        const size = Number(t[at + 1]);
        const seed = Number(t[at + 2]);
        if (!intact(handle, size, seed)) {
          console.error(`storm: block ${handle} (${size} bytes) lost its pattern`);
          return 3;
        }
        if ((r >> 4) % 3 === 0) {
          const grown = sizeOf(random());
          Atomics.store(t, 0, stormRealloc);
          Atomics.store(t, at, BigInt(handle) | stormFlag);
          const moved = full(() => heap.realloc(handle, grown));
          if (moved === null) {
            Atomics.store(t, at, BigInt(handle));
          } else {
            Atomics.store(t, at, BigInt(moved) | stormFresh);
            if (!intact(moved, Math.min(size, grown), seed)) {
              console.error(`storm: realloc of ${handle} (${size} -> ${grown} bytes) lost the pattern`);
              return 3;
            }
            fill(moved, size, grown, seed);
            t[at + 1] = BigInt(grown);
            Atomics.store(t, at, BigInt(moved));
          }
        } else {
          Atomics.store(t, 0, stormFree);
          Atomics.store(t, at, BigInt(handle) | stormFlag);
          heap.free(handle);
          Atomics.store(t, at, 0n);
        }
      }
      Atomics.store(t, 0, stormIdle);
      Atomics.add(t, 1, 1n);
    }
  } catch (error) {
    console.error(`storm: ${error}`);
    return 3;
  }
}

/** The "arena" command: an arena this process owns, churned until the parent kills the process. */
function arenaChurn(heap: Ipc.SharedHeap, random: () => number): number {
  const arena = heap.createArena();
  const held: number[] = [];
  const size = () => 1 + random() % (random() % 16 === 0 ? 100_000 : 3000);
  while (held.length < 500) held.push(arena.malloc(size()));
  console.log(`arena ${arena.id}`);
  for (;;) {
    const i = random() % held.length;
    heap.free(held[i]);
    held[i] = arena.malloc(size());
  }
}
