/** The demo's Deno parts: `deno run demo/deno_part.ts <section> ...`. */

import { Mutex, SharedMemory } from "../mod.ts";

const [section, ...args] = Deno.args;

switch (section) {
  case "segment": {
    const [name, slot] = args;
    using seg = SharedMemory.open(name);
    const text = `Deno (pid ${Deno.pid}) attached by name and wrote this\0`;
    new TextEncoder().encodeInto(text, seg.bytes(Number(slot) * 128, 128));
    break;
  }
  case "mutex": {
    const [name, n] = args;
    using seg = SharedMemory.open(name);
    const m = Mutex.at(seg, 0);
    const counter = seg.view(BigUint64Array, 64, 1);
    for (let i = 0; i < Number(n); i++) {
      m.lockSync();
      counter[0] += 1n;
      m.unlock();
    }
    m.close();
    break;
  }
  default:
    console.error(`unknown demo section ${section}`);
    Deno.exit(64);
}
