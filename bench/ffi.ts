/**
 * FFI call overhead: a trivial libipc call (ipc_abi_version, no arguments), a handle call
 * (ipc_segment_size: pointer in, u64 out) and, as the peer, libc's getpagesize() (no arguments, no
 * system call) bound directly with the runtime's own FFI. Shared by ffi.bun.ts and ffi.deno.ts.
 *
 * At a few ns per call the JIT decides the result: a loop that calls through a shared helper sees
 * several targets and is deoptimized. So each case has its own loop, and the runner starts a fresh
 * process for each case.
 */

import { native } from "../lib/native.ts";
import { report } from "./report.ts";

const calls = 20_000_000;
const warmup = 200_000;

function elapsedNs(start: number, n: number): number {
  return ((performance.now() - start) * 1e6) / n;
}

export function ffiBench(runtime: string, which: string, getpagesize: () => number): void {
  const s = native().symbols;
  let sink = 0;
  switch (which) {
    case "trivial": {
      const f = s.ipc_abi_version;
      for (let i = 0; i < warmup; i++) sink += f();
      const start = performance.now();
      for (let i = 0; i < calls; i++) sink += f();
      const value = elapsedNs(start, calls);
      report({ case: "FFI call, no arguments", tool: `${runtime} libipc ipc_abi_version`, unit: "ns/call", value });
      break;
    }
    case "peer": {
      const f = getpagesize;
      for (let i = 0; i < warmup; i++) sink += f();
      const start = performance.now();
      for (let i = 0; i < calls; i++) sink += f();
      const value = elapsedNs(start, calls);
      report({
        case: "FFI call, no arguments",
        tool: `${runtime} raw FFI libc getpagesize`,
        unit: "ns/call",
        value,
        peer: true,
      });
      break;
    }
    case "handle": {
      const cell = new BigUint64Array(1);
      if (s.ipc_segment_create(null, 64n, 0, 0, cell) !== 0) throw new Error("ipc_segment_create failed");
      const handle = native().readPointer(cell)!;
      const f = s.ipc_segment_size;
      const n = calls / 4;
      for (let i = 0; i < warmup; i++) sink += Number(f(handle));
      const start = performance.now();
      for (let i = 0; i < n; i++) sink += Number(f(handle));
      const value = elapsedNs(start, n);
      s.ipc_segment_close(handle);
      report({
        case: "FFI call, pointer in, u64 out",
        tool: `${runtime} libipc ipc_segment_size`,
        unit: "ns/call",
        value,
        note: "u64 results are BigInts in both runtimes",
      });
      break;
    }
    default:
      throw new Error(`unknown case ${which}; cases: trivial, peer, handle`);
  }
  if (sink === 0.5) console.log(sink); // keeps the loops from being optimized away
}
