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
 *   chan produce-ledger <name> <ledger> <id> <count>
 *                                      print "producing", send messages 0..count-1, storing after each
 *                                      send how many were sent in the ledger, then print "ok"
 *   chan consume-ledger <name> <ledger> <slot> [views]
 *                                      print "consuming", receive into ledger slot `slot` and mark each
 *                                      message's id in the ledger until the channel ends, then print
 *                                      "ok"; exit 3 (a message on stderr) for a malformed message or one
 *                                      out of order for its producer
 * Message i of producer `id` is `lengthOf(id, i)` bytes: id, i (u32 little-endian), then byte k =
 * (i + k) & 0xff.
 *
 * The ledger (a segment the kill test makes; tests/c/child_chan.c agrees) accounts for every message
 * whoever is killed:
 *   0                        u32 per producer id (< ledgerProducers): how many messages its sends
 *                            returned for. A producer killed mid-send may or may not have committed
 *                            message `committed`, and never one beyond it.
 *   ledgerSlotsAt + s * 512  consumer slot s: u32 state (receiving: inside a receive call, else
 *                            idle), u32 unused, u32 received
 *                            (messages marked), u32 unused, then at ledgerMessageAt either the
 *                            message a copying consumer receives straight into (poisoned with 0xee
 *                            before each receive, so a copy a kill interrupts is never a whole
 *                            message; the channel copies before it commits, so a whole message there
 *                            that nobody marked was taken by the killed consumer), or, for a consumer
 *                            on views, the outputs of its receive: u32 offsets[ledgerBatch], u32
 *                            lengths[ledgerBatch] (poisoned with 0xffffffff before each receive; the
 *                            channel writes an entry before it commits the loan), u32 count, u32
 *                            loan[2]. The parent reads the views a killed consumer held from the ring
 *                            while no sender runs (only a sender that finds the ring full reaps a
 *                            dead loan and overwrites it): views nobody marked were dropped with it.
 *   ledgerMarksAt + id * ledgerIds + i   a counter byte per message, added to by whoever receives it.
 * The TypeScript consumer calls the native receives the API's recvSync and recvBatchSync call, with
 * the slot as their outputs (the API keeps them in private buffers, out of the parent's sight).
 */

import type { IpcModule } from "../harness.ts";
import type * as Ipc from "../../lib/index.ts";

export const ledgerProducers = 32;
export const ledgerSlotsAt = 128;
export const ledgerSlotBytes = 512;
export const ledgerMessageAt = 16;
export const ledgerBatch = 16;
export const ledgerIds: number = 1 << 19;
export const ledgerMarksAt: number = 1 << 16;
export const ledgerSize: number = ledgerMarksAt + ledgerProducers * ledgerIds;
export const ledgerIdle = 0;
export const ledgerReceiving = 1;

/** The [producer id, index] of the whole message at the start of `m` (a slot), else null. */
export function slotMessage(m: Uint8Array): [number, number] | null {
  if (m[0] >= ledgerProducers) return null;
  const length = lengthOf(m[0], (m[1] | m[2] << 8 | m[3] << 16 | m[4] << 24) >>> 0);
  return length <= m.length ? validMessage(m, length) : null;
}

/** The [producer id, index] of the whole message at `m` (`length` bytes), else null. */
export function validMessage(m: Uint8Array, length: number): [number, number] | null {
  const id = m[0];
  const i = m[1] | m[2] << 8 | m[3] << 16 | m[4] << 24;
  if (id >= ledgerProducers || i < 0 || i >= ledgerIds || length !== lengthOf(id, i)) return null;
  for (let k = 5; k < length; k++) if (m[k] !== ((i + k) & 0xff)) return null;
  return [id, i];
}

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
    if (command === "produce-ledger" || command === "consume-ledger") {
      using ledger = ipc.SharedMemory.open(args[2]);
      return command === "produce-ledger"
        ? produceLedger(chan, ledger, Number(args[3]), Number(args[4]))
        : consumeLedger(ipc, chan, ledger, Number(args[3]), args[4] === "views");
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

type Ledgered = Ipc.Chan;
type Memory = Ipc.SharedMemory;

function produceLedger(chan: Ledgered, ledger: Memory, id: number, count: number): number {
  const committed = ledger.view(Uint32Array, 0, ledgerProducers);
  console.log("producing");
  for (let i = 0; i < count; i++) {
    chan.sendSync(makeMessage(id, i));
    Atomics.store(committed, id, i + 1);
  }
  console.log("ok");
  return 0;
}

/** The native receives the API makes, reached past it so that their outputs land in the slot. */
interface Raw {
  s: {
    ipc_chan_recv_views(
      h: unknown,
      offsets: Uint32Array,
      lengths: Uint32Array,
      max: number,
      count: Uint32Array,
      loan: Uint32Array,
      timeout: bigint,
    ): number;
    ipc_chan_release(h: unknown, loan: Uint32Array): number;
    ipc_chan_recv(h: unknown, buffer: Uint8Array, capacity: number, length: BigUint64Array, timeout: bigint): number;
  };
  handle(op: string): unknown;
}

function consumeLedger(ipc: IpcModule, chan: Ledgered, ledger: Memory, slot: number, onViews: boolean): number {
  const at = ledgerSlotsAt + slot * ledgerSlotBytes;
  const header = ledger.view(Uint32Array, at, 4);
  const message = ledger.bytes(at + ledgerMessageAt, ledgerSlotBytes - ledgerMessageAt);
  const views = ledger.view(Uint32Array, at + ledgerMessageAt, 2 * ledgerBatch + 3);
  const viewOffsets = views.subarray(0, ledgerBatch);
  const viewLengths = views.subarray(ledgerBatch, 2 * ledgerBatch);
  const viewCount = views.subarray(2 * ledgerBatch, 2 * ledgerBatch + 1);
  const loan = views.subarray(2 * ledgerBatch + 1);
  const ring = chan.memory.bytes(chan.offset);
  const marks = ledger.bytes(ledgerMarksAt, ledgerProducers * ledgerIds);
  const last = new Array<number>(ledgerProducers).fill(-1);
  const raw = chan as unknown as Raw;
  const length = new BigUint64Array(1);
  const mark = (m: Uint8Array, n: number): boolean => {
    const got = validMessage(m, n);
    if (got === null || got[1] <= last[got[0]]) {
      console.error(`consume-ledger: a message malformed or out of order: ${m.subarray(0, 5)} (${n} bytes)`);
      return false;
    }
    last[got[0]] = got[1];
    Atomics.add(marks, got[0] * ledgerIds + got[1], 1);
    return true;
  };
  console.log("consuming");
  for (;;) {
    if (onViews) {
      viewLengths.fill(0xffff_ffff);
      Atomics.store(header, 0, ledgerReceiving);
      const h = raw.handle("consume-ledger");
      const rc = raw.s.ipc_chan_recv_views(h, viewOffsets, viewLengths, ledgerBatch, viewCount, loan, -1n);
      if (rc === ipc.RESULT_CODES.EOF) break;
      if (rc !== ipc.RESULT_CODES.OK) {
        console.error(`consume-ledger: receive failed with ${rc}`);
        return 3;
      }
      for (let j = 0; j < viewCount[0]; j++) {
        if (!mark(ring.subarray(viewOffsets[j], viewOffsets[j] + viewLengths[j]), viewLengths[j])) return 3;
      }
      Atomics.add(header, 2, viewCount[0]);
    } else {
      message.fill(0xee);
      Atomics.store(header, 0, ledgerReceiving);
      const rc = raw.s.ipc_chan_recv(raw.handle("consume-ledger"), message, message.length, length, -1n);
      if (rc === ipc.RESULT_CODES.EOF) break;
      if (rc !== ipc.RESULT_CODES.OK) {
        console.error(`consume-ledger: receive failed with ${rc}`);
        return 3;
      }
      if (!mark(message, Number(length[0]))) return 3;
      Atomics.add(header, 2, 1);
    }
    Atomics.store(header, 0, ledgerIdle);
  }
  if (raw.s.ipc_chan_release(raw.handle("consume-ledger"), loan) !== ipc.RESULT_CODES.OK) return 3;
  console.log("ok");
  return 0;
}
