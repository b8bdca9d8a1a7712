/**
 * Peer for message passing: Node's worker_threads, a Worker in the same process (`worker.postMessage`
 * / `parentPort.postMessage`, structured clone). Not between processes as libipc's channels are, but
 * what a Node user reaches for first to pass messages without a socket. Run with Node 22.18 or later
 * (type stripping):
 *
 *   node bench/ipc_peers/node_worker.ts roundtrip          p50 and p99 of 20 000 round trips (2 000 warm-up)
 *   node bench/ipc_peers/node_worker.ts throughput-64      64 B messages one way, M msg/s
 *   node bench/ipc_peers/node_worker.ts throughput-64k     64 KiB messages one way, GB/s
 *
 * Messages: a 16-character string for the round trip, a 64-character string for 64 B, a 65 536-byte
 * Uint8Array (copied, not transferred) for 64 KiB. postMessage never pushes back, so throughput uses
 * the credit window of node_ipc.mjs: the receiver returns [messages, bytes] every `batch` messages, the
 * sender keeps at most 4 batches in flight.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { report } from "../report.ts";
import { caseOf, countFor, ROUNDS, roundTripRows, throughputRow, WARM } from "./common.ts";

const tool = "Node worker_threads postMessage (Node<->Node)";

if (!isMainThread) {
  const port = parentPort!;
  const { kind, batch } = workerData as { kind: string; batch: number };
  if (kind === "echo") {
    port.on("message", (m) => (m === "bye" ? port.close() : port.postMessage(m)));
  } else {
    let count = 0;
    let bytes = 0;
    port.on("message", (m: string | Uint8Array) => {
      if (m === "bye") return port.close();
      count++;
      bytes += m.length;
      if (count % batch === 0) port.postMessage([count, bytes]);
    });
  }
  port.postMessage("ready");
} else {
  const c = caseOf(process.argv.slice(2), "node bench/ipc_peers/node_worker.ts");
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { kind: c.kind === "roundtrip" ? "echo" : "sink", batch: c.kind === "roundtrip" ? 0 : c.batch },
  });
  let onMessage: (m: unknown) => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    worker.on("message", (m) => (m === "ready" ? resolve() : onMessage(m)));
  });
  const failed = new Promise<never>((_, reject) => worker.on("error", reject));
  const measure = async (): Promise<void> => {
    await isReady;
    if (c.kind === "roundtrip") {
      const msg = "0123456789abcdef";
      const us = new Float64Array(ROUNDS);
      let i = 0;
      let t = 0n;
      await new Promise<void>((done, fail) => {
        onMessage = (m) => {
          const now = process.hrtime.bigint();
          if (m !== msg) return fail(new Error("echo mismatch"));
          if (i >= WARM) us[i - WARM] = Number(now - t) / 1000;
          if (++i === WARM + ROUNDS) return done();
          t = process.hrtime.bigint();
          worker.postMessage(msg);
        };
        t = process.hrtime.bigint();
        worker.postMessage(msg);
      });
      for (const row of roundTripRows(tool, us, "16-char string, structured clone")) report(row);
    } else {
      const binary = c.size > 1024;
      const msg = binary ? new Uint8Array(c.size).fill(120) : "x".repeat(c.size);
      let acked = 0;
      let ackedBytes = 0;
      let sent = 0;
      let wake = () => {};
      onMessage = (m) => {
        [acked, ackedBytes] = m as [number, number];
        wake();
      };
      const pump = async (target: number): Promise<void> => {
        while (acked < target) {
          while (sent < target && sent - acked < 4 * c.batch) {
            worker.postMessage(msg);
            sent++;
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      };
      const w0 = process.hrtime.bigint();
      await pump(c.warm);
      const count = countFor(c, Number(process.hrtime.bigint() - w0) / 1e9);
      const t0 = process.hrtime.bigint();
      await pump(c.warm + count);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (acked !== c.warm + count || ackedBytes !== acked * c.size) throw new Error("receiver total mismatch");
      const what = binary ? "Uint8Array messages (copied)" : "string messages";
      report(throughputRow(c, count, tool, seconds, `${what}; a credit every ${c.batch}, at most 4 in flight`));
    }
  };
  try {
    await Promise.race([measure(), failed]);
    worker.postMessage("bye");
  } finally {
    await worker.terminate();
  }
}
