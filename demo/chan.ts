/**
 * The message-passing section: C sends 200 000 messages into a Chan that Bun (for await) and Deno
 * (batches) drain together, none lost; Bun and Deno bounce a message through a Duplex pair; a C
 * sender killed with SIGKILL mid-stream leaves the channel working; C writes lines into a Pipe that
 * Deno reads as a stream until EOF.
 */

import { Chan, Duplex, Pipe } from "../bun.ts";
import { c, deno, root } from "./run.ts";

export async function chanSection(): Promise<void> {
  using chan = Chan.create({ name: true, capacity: 1 << 16 });
  const name = chan.memory.name!;
  try {
    const count = 200_000;
    const started = performance.now();
    const denoDone = deno("chan", "consume", name);
    const cDone = c("chan", "produce", name, String(count));
    let bun = 0;
    const bunDone = (async () => {
      for await (const _ of chan) bun++;
    })();
    await cDone;
    chan.end();
    const fromDeno = await denoDone;
    await bunDone;
    const seconds = (performance.now() - started) / 1000;
    const denoCount = Number(/received (\d+)/.exec(fromDeno)?.[1]);
    console.log(
      `C sent ${count} messages; Bun received ${bun} and Deno ${denoCount} (sum ${bun + denoCount}) in ` +
        `${seconds.toFixed(2)} s, process start-up included`,
    );

    using pair = Duplex.create({ name: true });
    try {
      const pong = deno("duplex", pair.memory.name!, "20000");
      const message = new Uint8Array(16);
      pair.sendSync(message); // the first round waits for Deno to start
      pair.recvSync();
      const t0 = performance.now();
      for (let i = 1; i < 20_000; i++) {
        pair.sendSync(message);
        pair.recvSync();
      }
      const us = ((performance.now() - t0) * 1000) / 19_999;
      await pong;
      console.log(`Bun <-> Deno through a Duplex pair: ${us.toFixed(2)} µs per round trip (mean of 19 999)`);
    } finally {
      pair.memory.unlink();
    }

    using flooded = Chan.create({ name: true, capacity: 4096 });
    try {
      const flood = Bun.spawn([`${root}/zig-out/bin/ipc-demo`, "chan", "flood", flooded.memory.name!], {
        stdout: "pipe",
      });
      await flood.stdout.getReader().read(); // "flooding"
      for (let i = 0; i < 1000; i++) flooded.recvSync();
      flood.kill("SIGKILL");
      await flood.exited;
      let left = 0;
      while (flooded.tryRecv() !== undefined) left++;
      flooded.sendSync(new TextEncoder().encode("still works"));
      console.log(
        `a C sender got SIGKILL mid-stream: the ${left} messages it had sent were still there, ` +
          `and the channel took "${new TextDecoder().decode(flooded.recvSync())}"`,
      );
    } finally {
      flooded.memory.unlink();
    }

    using pipe = Pipe.create({ name: true, capacity: 64 });
    try {
      const reader = deno("pipe", pipe.memory.name!);
      await c("chan", "bites", pipe.memory.name!);
      process.stdout.write(await reader);
    } finally {
      pipe.memory.unlink();
    }
  } finally {
    chan.memory.unlink();
  }
}
