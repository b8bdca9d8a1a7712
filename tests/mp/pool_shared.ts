/**
 * A Pool module that uses objects the pool shares (tests/mp/pool.ts): a Mutex and the counter after it
 * in one segment, from `shared()` at the top level. It imports the runtime-neutral lib: the worker has
 * already loaded the binding of its runtime.
 */

import { type Mutex, MUTEX_SIZE, shared, type SharedMemory } from "../../lib/index.ts";

const [seg, mutex] = shared<[SharedMemory, Mutex]>();
const total = seg.view(BigUint64Array, mutex.offset + MUTEX_SIZE, 1);

/** Adds n to the shared counter under the shared mutex; returns n. */
export function addUnderLock(n: number): number {
  mutex.lockSync();
  total[0] += BigInt(n);
  mutex.unlock();
  return n;
}
