/**
 * Shared heap benchmark through the TypeScript API, shared by heap.bun.ts and heap.deno.ts
 * (bench/heap.c measures the same from C with 1, 2 and 4 processes):
 *   64 | mixed     one process: rounds of 1 000 malloc() then 1 000 free() (one op each)
 */

import { report } from "./report.ts";
import type { IpcModule } from "../tests/harness.ts";

const round = 1000;

export function heapBench(ipc: IpcModule, runtime: string, args: string[]): void {
  const mixed = args[0] === "mixed";
  const ops = mixed ? 1_000_000 : 4_000_000;
  using heap = ipc.SharedHeap.create({ size: 1 << 30 });
  const blocks = new Array<number>(round).fill(0);
  let state = 1;
  const size = (): number => {
    if (!mixed) return 64;
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % 8 !== 0 ? 16 + (state % 1009) : 16 + (state % 65521);
  };
  const run = (n: number) => {
    for (let done = 0; done < n; done += 2 * round) {
      for (let i = 0; i < round; i++) blocks[i] = heap.malloc(size());
      for (let i = 0; i < round; i++) heap.free(blocks[i]);
    }
  };
  run(ops / 10);
  const start = performance.now();
  run(ops);
  const seconds = (performance.now() - start) / 1000;
  report({
    case: `heap malloc+free ${mixed ? "mixed 16 B-64 KiB" : "64 B"}, 1 process`,
    tool: `${runtime} libipc SharedHeap`,
    unit: "Mops/s",
    value: ops / seconds / 1e6,
  });
  heap.check();
}
