/** The demo's Deno parts: `deno run demo/deno_part.ts <section> ...`. */

import { SharedMemory } from "../mod.ts";

const [section, ...args] = Deno.args;

switch (section) {
  case "segment": {
    const [name, slot] = args;
    using seg = SharedMemory.open(name);
    const text = `Deno (pid ${Deno.pid}) attached by name and wrote this\0`;
    new TextEncoder().encodeInto(text, seg.bytes(Number(slot) * 128, 128));
    break;
  }
  default:
    console.error(`unknown demo section ${section}`);
    Deno.exit(64);
}
