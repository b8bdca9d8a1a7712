/**
 * A worker started by `spawn` in tests/mp/process.ts (the D post's scenario), run under Bun
 * (worker.bun.ts) or Deno (worker.deno.ts): it gets a segment and a Mutex from `shared()`, then 99
 * times locks, adds i*j - i + i^4 (j = 1..99) to the 64-bit counter at offset `MUTEX_SIZE` of the
 * mutex's segment, and unlocks. Argument: i. Exit code 0 when it added everything; 3 when
 * `shared()` did not give a SharedMemory and a Mutex.
 */

import type { Mutex, SharedMemory } from "../../lib/index.ts";
import type { IpcModule } from "../harness.ts";

export async function work(ipc: IpcModule, args: string[]): Promise<number> {
  const [seg, mutex] = ipc.shared<[SharedMemory, Mutex]>();
  if (!(seg instanceof ipc.SharedMemory) || !(mutex instanceof ipc.Mutex)) return 3;
  if (ipc.shared()[1] !== mutex) return 4; // memoized: the same objects on every call
  const i = Number(args[0]);
  const total = seg.view(BigUint64Array, mutex.offset + ipc.MUTEX_SIZE, 1);
  for (let j = 1; j <= 99; j++) {
    if (j % 2 === 0) await mutex.lock();
    else mutex.lockSync();
    total[0] += BigInt(i * j - i + i ** 4);
    mutex.unlock();
  }
  mutex.close();
  seg.close();
  return 0;
}
