/**
 * The shared-memory section: Bun creates a segment under a generated name, Deno and C each attach
 * by that name and write their line into their own 128-byte slot, Bun prints all three lines, then
 * removes the name and shows that it is gone.
 */

import { statSync } from "node:fs";
import { SharedMemory } from "../bun.ts";
import { c, deno } from "./run.ts";

const slot = 128;

export async function segmentSection(): Promise<void> {
  const seg = SharedMemory.create({ size: 3 * slot, name: true });
  const name = seg.name!;
  const mode = (statSync(`/dev/shm${name}`).mode & 0o777).toString(8).padStart(4, "0");
  console.log(`Bun created ${name} (${seg.size} bytes, mode ${mode})`);
  try {
    new TextEncoder().encodeInto(`Bun (pid ${process.pid}) created the segment and wrote this\0`, seg.bytes(0, slot));
    await deno("segment", name, "1");
    await c("segment", name, "2");
    const decoder = new TextDecoder();
    for (let i = 0; i < 3; i++) {
      const bytes = seg.bytes(i * slot, slot);
      console.log(`  slot ${i}: ${decoder.decode(bytes.subarray(0, bytes.indexOf(0)))}`);
    }
  } finally {
    seg.unlink();
    seg.close();
  }
  try {
    SharedMemory.open(name);
    throw new Error(`${name} still exists`);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
    console.log(`Bun unlinked ${name}: opening it now fails with ENOENT, nothing left in /dev/shm`);
  }
}
