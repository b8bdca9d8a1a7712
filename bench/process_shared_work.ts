/**
 * The process benchmark's "Pool, items in shared memory" contender (bench/process.ts): the pool
 * shares one segment holding the 64 KiB items back to back; a task is the index of an item, and the
 * worker reads the item where it lies. Imports the runtime-neutral lib: the Pool worker has already
 * loaded its runtime's binding.
 */

import { shared, type SharedMemory } from "../lib/index.ts";
import { byteSum } from "./process_work.ts";

export const itemBytes: number = 64 * 1024;
const [seg] = shared<[SharedMemory]>();
/** One view of the whole segment, made once: a view per item would cost an FFI call each. */
const all: Uint8Array = seg.view(Uint8Array);

/** The sum of the bytes of item `index`, mod 2^32 (byteSum of that item, read in place). */
export function byteSumAt(index: number): number {
  return byteSum(all.subarray(index * itemBytes, (index + 1) * itemBytes));
}
