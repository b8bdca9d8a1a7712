/**
 * The shared heap section: Bun creates a named heap; C allocates a block through the context-first
 * allocator trio and publishes it as a named root; Deno finds it by name, reads it and adds its own;
 * then a C allocation storm is killed with SIGKILL mid-flight and the heap still checks clean.
 */

import { SharedHeap } from "../bun.ts";
import { c, deno, root } from "./run.ts";

export async function heapSection(): Promise<void> {
  using heap = SharedHeap.create({ size: 256 << 20, name: true });
  const name = heap.memory.name!;
  const decoder = new TextDecoder();
  const text = (block: number) => {
    const bytes = heap.view(block);
    return decoder.decode(bytes.subarray(0, bytes.indexOf(0)));
  };
  try {
    await c("heap", "write", name);
    process.stdout.write(await deno("heap", name));
    const fromC = Number(heap.view(heap.root("from-c"), BigUint64Array)[0]);
    const fromDeno = Number(heap.view(heap.root("from-deno"), BigUint64Array)[0]);
    console.log(`Bun reads root "from-c": "${text(fromC)}"`);
    console.log(`Bun reads root "from-deno": "${text(fromDeno)}"`);

    const storm = Bun.spawn([`${root}/zig-out/bin/ipc-demo`, "heap", "storm", name], { stdout: "pipe" });
    await storm.stdout.getReader().read(); // "storming"
    await new Promise((resolve) => setTimeout(resolve, 20));
    storm.kill("SIGKILL");
    await storm.exited;
    const stats = heap.check();
    console.log(
      `a C allocation storm got SIGKILL mid-flight: check() is clean — ${stats.allocations} blocks ` +
        `(${(stats.inUse / 1024).toFixed(0)} KiB) allocated, of which the dead process's stay until reclaimed`,
    );
    heap.free(heap.malloc(1000));
  } finally {
    heap.memory.unlink();
  }
}
