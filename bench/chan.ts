/**
 * Chan benchmarks through the TypeScript API, shared by chan.bun.ts and chan.deno.ts (bench/chan.c
 * measures the same from C). This process is the parent; the child runs the runtime in the
 * CHAN_CHILD environment variable (a JSON argv), by default this one. Cases:
 *   roundtrip [rounds]     a 16-byte message to the child and back through two channels: p50, p99
 *   throughput64 [count]   64-byte messages one way, sent one by one (sendSync) and in batches
 *                          (sendManySync), received in batches (recvManySync): messages per
 *                          second; and packed (sendPackedSync) to a zero-copy receiver (recvBatchSync)
 *   throughput64k [count]  64 KiB messages one way: GB/s
 *   many [count]           64-byte messages 2->2: two sender and two receiver children on one channel,
 *                          in batches, until the parent ends the channel: messages per second
 *   objects <json|msgpack> [count]   small objects one way through the codec, sent one by one and in
 *                          batches, received (and decoded) in batches: objects per second
 *   child <case> <name> <count>   the other side
 * Round trips: the first 10% dropped, p50 and p99 of the rest.
 */

import { spawn } from "node:child_process";
import { report } from "./report.ts";
import { CHAN_HEADER_SIZE } from "../lib/abi.ts";
import type { IpcModule } from "../tests/harness.ts";
import type { Chan, SharedMemory } from "../lib/index.ts";

const ring = 1 << 20;
const second = CHAN_HEADER_SIZE + ring; // offset of the second channel, 64-aligned

type Codec = "bytes" | "json" | "msgpack";

function channels(
  ipc: IpcModule,
  seg: SharedMemory,
  init: boolean,
  codec: Codec = "bytes",
): { ping: Chan<unknown>; pong: Chan } {
  const { Chan } = ipc;
  return init
    ? { ping: Chan.init<unknown>(seg, 0, { capacity: ring, codec }), pong: Chan.init(seg, second, { capacity: ring }) }
    : { ping: Chan.at<unknown>(seg, 0, { codec }), pong: Chan.at(seg, second) };
}

/** The object of the object-throughput case (about 60 bytes in either codec). */
const sample = { id: 12345, name: "worker-7", ok: true, score: 3.25, tags: ["a", "b"] };

function percentiles(us: Float64Array): [number, number] {
  const kept = us.subarray(Math.floor(us.length / 10)).sort();
  return [kept[Math.floor(kept.length / 2)], kept[Math.floor(kept.length * 0.99)]];
}

export async function chanBench(ipc: IpcModule, runtime: string, self: string[], args: string[]): Promise<void> {
  const { SharedMemory } = ipc;
  const [kind] = args;
  if (kind === "child") {
    const [, which, name, countText, codec] = args;
    const count = Number(countText);
    using seg = SharedMemory.open(name);
    const { ping, pong } = channels(ipc, seg, false, (codec ?? "bytes") as Codec);
    if (which === "roundtrip") {
      for (let i = 0; i < count; i++) pong.sendSync(ping.recvSync() as Uint8Array);
    } else if (which === "send") {
      // A 2->2 sender: `count` 64-byte messages in batches of 256.
      const batch = new Array<Uint8Array>(256).fill(new Uint8Array(64));
      for (let i = 0; i < count; i += batch.length) ping.sendManySync(batch);
    } else if (which === "batch") {
      // Zero-copy: messages read in the ring itself, no object per message.
      let got = 0;
      let bytes = 0;
      while (got < count) {
        const batch = ping.recvBatchSync();
        for (let i = 0; i < batch.count; i++) bytes += batch.lengths[i];
        got += batch.count;
      }
      ping.release();
      pong.sendSync(new Uint8Array(new Float64Array([bytes]).buffer));
    } else if (which === "drain") {
      // A 2->2 receiver: whatever comes, until the channel ends; then its byte total.
      let bytes = 0;
      for (let batch = ping.recvManySync(); batch.length > 0; batch = ping.recvManySync()) {
        for (const m of batch) bytes += (m as Uint8Array).byteLength;
      }
      pong.sendSync(new Uint8Array(new Float64Array([bytes]).buffer));
    } else {
      let got = 0;
      let bytes = 0;
      while (got < count) {
        for (const m of ping.recvManySync()) {
          got++;
          bytes += m instanceof Uint8Array ? m.byteLength : 1;
        }
      }
      pong.sendSync(new Uint8Array(new Float64Array([bytes]).buffer));
    }
    ping.close();
    pong.close();
    return;
  }
  const childArgv: string[] = process.env.CHAN_CHILD ? JSON.parse(process.env.CHAN_CHILD) : self;
  const childRuntime = process.env.CHAN_CHILD_LABEL ?? runtime;
  const pair = childRuntime === runtime ? `${runtime}<->${runtime}` : `${runtime}<->${childRuntime}`;
  const codec = (kind === "objects" ? args[1] : "bytes") as Codec;
  const countArg = kind === "objects" ? args[2] : args[1];
  const asked = Number(countArg ?? (kind === "roundtrip" ? 100_000 : kind === "throughput64k" ? 50_000 : 2_000_000));
  // Batches of 256 must add up to the count exactly: a message left over would go to the next child.
  const count = kind === "roundtrip" || kind === "throughput64k" ? asked : asked - (asked % 256);
  using seg = SharedMemory.create({ size: 2 * second, name: true });
  const { ping, pong } = channels(ipc, seg, true, codec);
  const run = async (which: string, n: number, body: () => void): Promise<number> => {
    const child = spawn(childArgv[0], [...childArgv.slice(1), "child", which, seg.name!, String(n), codec], {
      stdio: "inherit",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const start = ipc.now();
    body();
    const ns = Number(ipc.now() - start);
    if (await exited !== 0) throw new Error("the benchmark child failed");
    return ns;
  };
  switch (kind) {
    case "roundtrip": {
      const us = new Float64Array(count);
      const message = new Uint8Array(16);
      await run("roundtrip", count, () => {
        for (let i = 0; i < count; i++) {
          const start = ipc.now();
          ping.sendSync(message);
          pong.recvSync();
          us[i] = Number(ipc.now() - start) / 1000;
        }
      });
      const [p50, p99] = percentiles(us);
      const tool = `${pair} libipc Chan (sendSync/recvSync)`;
      report({ case: "round trip, small message, p50", tool, unit: "us", value: p50 });
      report({ case: "round trip, small message, p99", tool, unit: "us", value: p99 });
      break;
    }
    case "throughput64":
    case "throughput64k": {
      const size = kind === "throughput64" ? 64 : 64 * 1024;
      const message = new Uint8Array(size).fill(7);
      const tool = `${pair} libipc Chan`;
      if (size === 64) {
        const single = await run(kind, count, () => {
          for (let i = 0; i < count; i++) ping.sendSync(message);
          pong.recvSync();
        });
        report({
          case: "throughput, 64 B messages, 1->1",
          tool: `${tool} (sendSync)`,
          unit: "M msg/s",
          value: count / single * 1000,
        });
        const batch = new Array<Uint8Array>(256).fill(message);
        const batched = await run(kind, count, () => {
          for (let i = 0; i < count; i += batch.length) ping.sendManySync(batch);
          pong.recvSync();
        });
        report({
          case: "throughput, 64 B messages, 1->1",
          tool: `${tool} (sendManySync, 256 per call)`,
          unit: "M msg/s",
          value: count / batched * 1000,
        });
        const packed = new Uint8Array(64 * 256).fill(7);
        const lengths = new Uint32Array(256).fill(64);
        const zeroCopy = await run("batch", count, () => {
          for (let i = 0; i < count; i += 256) ping.sendPackedSync(packed, lengths);
          pong.recvSync();
        });
        report({
          case: "throughput, 64 B messages, 1->1",
          tool: `${tool} (sendPackedSync, 256 per call; recvBatchSync, zero-copy)`,
          unit: "M msg/s",
          value: count / zeroCopy * 1000,
        });
      } else {
        const ns = await run(kind, count, () => {
          for (let i = 0; i < count; i++) ping.sendSync(message);
          pong.recvSync();
        });
        report({
          case: "throughput, 64 KiB messages, 1->1",
          tool: `${tool} (sendSync)`,
          unit: "GB/s",
          value: count * size / ns,
        });
      }
      break;
    }
    case "many": {
      const spawnChild = (which: string, n: number) => {
        const child = spawn(childArgv[0], [...childArgv.slice(1), "child", which, seg.name!, String(n), codec], {
          stdio: "inherit",
        });
        return new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      };
      const each = count - (count % 256);
      const start = ipc.now();
      const receivers = [spawnChild("drain", 0), spawnChild("drain", 0)];
      const senders = [spawnChild("send", each), spawnChild("send", each)];
      for (const s of senders) if (await s !== 0) throw new Error("a sender failed");
      ping.end();
      let bytes = 0;
      for (let i = 0; i < 2; i++) bytes += new Float64Array(pong.recvSync()!.slice().buffer)[0];
      const ns = Number(ipc.now() - start);
      for (const r of receivers) if (await r !== 0) throw new Error("a receiver failed");
      if (bytes !== 2 * each * 64) throw new Error(`2->2 received ${bytes} bytes, not ${2 * each * 64}`);
      const tool = `${pair} libipc Chan (sendManySync, 256 per call; recvManySync)`;
      report({ case: "throughput, 64 B messages, 2->2", tool, unit: "M msg/s", value: ((2 * each) / ns) * 1000 });
      break;
    }
    case "objects": {
      const tool = `${pair} libipc Chan, ${codec} codec`;
      const single = await run(kind, count, () => {
        for (let i = 0; i < count; i++) ping.sendSync(sample);
        pong.recvSync();
      });
      const unit = "M msg/s";
      report({
        case: "throughput, small objects, 1->1",
        tool: `${tool} (sendSync)`,
        unit,
        value: (count / single) * 1000,
      });
      const batch = new Array<unknown>(256).fill(sample);
      const batched = await run(kind, count, () => {
        for (let i = 0; i < count; i += batch.length) ping.sendManySync(batch);
        pong.recvSync();
      });
      const many = `${tool} (sendManySync, 256 per call)`;
      report({ case: "throughput, small objects, 1->1", tool: many, unit, value: (count / batched) * 1000 });
      break;
    }
    default:
      throw new Error(`unknown case ${args.join(" ")}`);
  }
  ping.close();
  pong.close();
  seg.unlink();
}
