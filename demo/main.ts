/**
 * `npm run demo`: every libipc capability working across Bun, Deno and C, one section each.
 * This process (Bun) drives each section; Deno runs demo/deno_part.ts and C runs zig-out/bin/ipc-demo.
 */

import { libraryInfo } from "../bun.ts";
import { mutexSection } from "./mutex.ts";
import { segmentSection } from "./segment.ts";
import { syncSection } from "./sync.ts";
import { heapSection } from "./heap.ts";
import { chanSection } from "./chan.ts";
import { processSection } from "./process.ts";

const info = libraryInfo();
console.log(`libipc ${info.version} (ABI ${info.abiVersion}) from ${info.path}, driven by ${info.runtime}\n`);

const sections: [string, () => Promise<void>][] = [
  ["Shared memory: one segment, three runtimes", segmentSection],
  ["Mutex: three runtimes, one lock, and a holder killed with SIGKILL", mutexSection],
  ["Event, Barrier, Condition, Semaphore, RwLock: three runtimes in one segment", syncSection],
  ["Shared heap: blocks found by name across runtimes, and a storm killed mid-malloc", heapSection],
  ["Message passing: Chan, Duplex and Pipe across C, Bun and Deno; a sender killed mid-stream", chanSection],
  [
    "Processes: spawn with shared objects (Bun, Deno, Node, C), isolate, and a Pool that loses a worker mid-map",
    processSection,
  ],
];

for (const [title, run] of sections) {
  console.log(`== ${title}`);
  await run();
  console.log();
}
