/**
 * Segment life-cycle cost through the TypeScript API: create+map+close (anonymous), create+map+
 * unlink+close (named) and open+map+close of an existing named segment, each touching one byte.
 * Shared by segment.bun.ts and segment.deno.ts; bench/segment.c measures the same from C.
 */

import { report } from "./report.ts";
import type { IpcModule } from "../tests/harness.ts";

const iterations = 20_000;

function timeUs(body: () => void): number {
  for (let i = 0; i < 1000; i++) body();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) body();
  return ((performance.now() - start) * 1000) / iterations;
}

export function segmentBench(ipc: IpcModule, runtime: string, pid: number): void {
  const { SharedMemory } = ipc;
  const name = `ipcbench-${runtime.toLowerCase()}-${pid}`;
  const tool = `${runtime} libipc SharedMemory`;
  report({
    case: "segment create+map+close, anonymous 4 KiB",
    tool,
    unit: "us/op",
    value: timeUs(() => {
      const seg = SharedMemory.create({ size: 4096 });
      seg.bytes()[0] = 1;
      seg.close();
    }),
  });
  report({
    case: "segment create+map+unlink+close, named 4 KiB",
    tool,
    unit: "us/op",
    value: timeUs(() => {
      const seg = SharedMemory.create({ size: 4096, name });
      seg.bytes()[0] = 1;
      seg.unlink();
      seg.close();
    }),
  });
  const kept = SharedMemory.create({ size: 4096, name });
  try {
    report({
      case: "segment open+map+close, named 4 KiB",
      tool,
      unit: "us/op",
      value: timeUs(() => SharedMemory.open(name).close()),
    });
  } finally {
    kept.unlink();
    kept.close();
  }
}
