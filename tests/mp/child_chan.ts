/**
 * The chan commands of the TypeScript participant (same arguments as tests/c/child_chan.c):
 *   chan produce <name> <id> <count>   print "producing", send `count` messages (negative: forever,
 *                                      until killed), print "ok"
 *   chan consume <name> [async|views]  print "consuming", receive (async, or zero-copy views in
 *                                      batches; by default copies in batches) until the channel ends, then print
 *                                      "bad N" and "id:count:sum" for each producer seen (sum of the
 *                                      message indices); exit 3 when a message was malformed or out of
 *                                      order for its producer
 *   chan bites <pipe-name>             the seed chapter's pipe: write "Another one bites the dust\n"
 *                                      ten times, then end the pipe
 *   chan hold <pipe-name>              write a line into a pipe (becoming its writer), print "written",
 *                                      then wait to be killed
 *   chan views-hold <name>             take every message there is as views, print "holding N", then
 *                                      wait to be killed (its loan of ring space dies with it)
 *   chan drain <pipe-name>             print "draining", read the pipe until its end (a writer's death
 *                                      ends it too), then print "eof <bytes read>"
 *   chan value <name> <json>           replace a SharedValue (JSON codec) with the value the JSON text gives
 *   chan echo <duplex-name> <codec>    decode each value with the codec and send it back, until the end
 *   chan serve <duplex-name>           the seed chapter's socketpair: answer each instruction with
 *                                      "<instruction> accomplished!" until the other end ends, then end
 * Message i of producer `id` is `lengthOf(id, i)` bytes: id, i (u32 little-endian), then byte k =
 * (i + k) & 0xff.
 */

import type { IpcModule } from "../harness.ts";

export function lengthOf(id: number, i: number): number {
  return 5 + (Math.imul(i, 7919) + id * 13 >>> 0) % 300;
}

export function makeMessage(id: number, i: number): Uint8Array {
  const length = lengthOf(id, i);
  const m = new Uint8Array(length);
  m[0] = id;
  new DataView(m.buffer).setUint32(1, i, true);
  for (let k = 5; k < length; k++) m[k] = (i + k) & 0xff;
  return m;
}

/** Parses a consumer's summary line into per-producer [count, sum]. */
export function parseSummary(line: string): { bad: number; seen: Map<number, [number, number]> } {
  const [, bad, ...rest] = line.trim().split(" ");
  const seen = new Map<number, [number, number]>();
  for (const part of rest) {
    const [id, count, sum] = part.split(":").map(Number);
    seen.set(id, [count, sum]);
  }
  return { bad: Number(bad), seen };
}

export async function chanCommand(ipc: IpcModule, args: string[]): Promise<number> {
  const [command, name] = args;
  if (command === "bites") {
    using pipe = ipc.Pipe.open(name);
    for (let i = 0; i < 10; i++) await pipe.write("Another one bites the dust\n");
    pipe.end();
    return 0;
  }
  if (command === "hold") {
    const pipe = ipc.Pipe.open(name);
    pipe.writeSync("written before dying\n");
    console.log("written");
    await new Promise(() => setInterval(() => {}, 1 << 30)); // until killed (Deno ends a process with nothing pending)
  }
  if (command === "drain") {
    using pipe = ipc.Pipe.open(name);
    console.log("draining");
    let bytes = 0;
    for (let chunk = await pipe.read(); chunk !== null; chunk = await pipe.read()) bytes += chunk.length;
    console.log(`eof ${bytes}`);
    return 0;
  }
  if (command === "value") {
    using value = ipc.SharedValue.open(name);
    value.store(JSON.parse(args[2]));
    return 0;
  }
  if (command === "echo") {
    // Decode each message with the codec named, and send the value back encoded again.
    using end = ipc.Duplex.open<unknown>(name, { codec: args[2] as "json" | "msgpack" });
    for (let v = end.recvSync(); v !== undefined; v = end.recvSync()) end.sendSync(v);
    end.end();
    return 0;
  }
  if (command === "serve") {
    using end = ipc.Duplex.open(name);
    const decoder = new TextDecoder();
    for (let m = end.recvSync(); m !== undefined; m = end.recvSync()) {
      end.sendSync(new TextEncoder().encode(`${decoder.decode(m)} accomplished!`));
    }
    end.end();
    return 0;
  }
  const chan = ipc.Chan.open(name);
  try {
    if (command === "views-hold") {
      console.log(`holding ${chan.recvViewsSync().length}`);
      await new Promise(() => setInterval(() => {}, 1 << 30)); // until killed (Deno ends a process with nothing pending)
    }
    if (command === "produce") {
      const id = Number(args[2]);
      const count = Number(args[3]);
      console.log("producing");
      for (let i = 0; count < 0 || i < count; i++) chan.sendSync(makeMessage(id, i));
      console.log("ok");
      return 0;
    }
    if (command === "consume") {
      const counts = new Map<number, [number, number]>();
      const last = new Map<number, number>();
      let bad = 0;
      console.log("consuming");
      const check = (m: Uint8Array): void => {
        const id = m[0];
        const i = new DataView(m.buffer, m.byteOffset).getUint32(1, true);
        if (m.length !== lengthOf(id, i) || i <= (last.get(id) ?? -1)) {
          bad++;
          return;
        }
        for (let k = 5; k < m.length; k++) {
          if (m[k] !== ((i + k) & 0xff)) {
            bad++;
            return;
          }
        }
        last.set(id, i);
        const [c, s] = counts.get(id) ?? [0, 0];
        counts.set(id, [c + 1, s + i]);
      };
      if (args[2] === "async") {
        for await (const m of chan) check(m);
      } else if (args[2] === "views") {
        for (let batch = chan.recvBatchSync(64); batch.count > 0; batch = chan.recvBatchSync(64)) {
          for (let j = 0; j < batch.count; j++) check(batch.at(j));
        }
      } else {
        while (true) {
          const batch = chan.recvManySync();
          if (batch.length === 0) break;
          for (const m of batch) check(m);
        }
      }
      console.log(`bad ${bad}${[...counts].map(([id, [c, s]]) => ` ${id}:${c}:${s}`).join("")}`);
      return bad === 0 ? 0 : 3;
    }
    console.error(`unknown chan command ${command}`);
    return 2;
  } finally {
    chan.close();
  }
}
