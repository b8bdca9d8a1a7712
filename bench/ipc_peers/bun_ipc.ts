/**
 * Peer for message passing: Bun's own IPC, `Bun.spawn({ ipc })` in the parent and `process.send` /
 * `process.on("message")` in the child, both Bun (default serialization, "advanced", i.e. structured
 * clone). Messages: a 16-character string for the round trip; for throughput a 64-character string or a
 * 65 536-byte Uint8Array (each the faster of the two for its size: structured clone of a small string is
 * cheaper than of a typed array, a large typed array is cheaper than a large string).
 *
 *   bun bench/ipc_peers/bun_ipc.ts roundtrip          p50 and p99 of 20 000 round trips (2 000 warm-up)
 *   bun bench/ipc_peers/bun_ipc.ts throughput-64      64 B messages one way, M msg/s
 *   bun bench/ipc_peers/bun_ipc.ts throughput-64k     64 KiB messages one way, GB/s
 *
 * Throughput: the warm-up's rate sizes the timed phase to about 1.5 s (common.ts; an optional last
 * argument fixes the number of timed messages instead). Bun's send() never pushes back (it queues without bound), so the receiver returns a
 * credit, [messages, bytes] so far, every `batch` messages and the sender keeps at most 4 batches in
 * flight; the last credit is the receiver's acknowledgement of the total. Timed from the first send
 * after a warm-up to that acknowledgement.
 */
import { report } from "../report.ts";
import { caseOf, countFor, ROUNDS, roundTripRows, throughputRow, WARM } from "./common.ts";

const tool = "Bun.spawn ipc (Bun<->Bun)";
const args = process.argv.slice(2);

if (args[0] === "child") {
  const [, kind, batchArg] = args;
  const send = (m: unknown) => process.send!(m);
  if (kind === "echo") {
    process.on("message", (m) => (m === "bye" ? process.exit(0) : send(m)));
  } else {
    const batch = Number(batchArg);
    let count = 0;
    let bytes = 0;
    process.on("message", (m) => {
      if (m === "bye") process.exit(0);
      count++;
      bytes += (m as string | Uint8Array).length;
      if (count % batch === 0) send([count, bytes]);
    });
  }
  send("ready");
} else {
  await parent(args);
}

async function parent(args: string[]): Promise<void> {
  const c = caseOf(args, "bun bench/ipc_peers/bun_ipc.ts");
  let onMessage: (m: unknown) => void = () => {};
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const childArgs = c.kind === "roundtrip" ? ["echo"] : ["sink", String(c.batch)];
  const sub = Bun.spawn([process.execPath, import.meta.filename, "child", ...childArgs], {
    stdio: ["ignore", 2, "inherit"],
    ipc(m) {
      if (m === "ready") ready();
      else onMessage(m);
    },
  });
  let finished = false;
  const died = sub.exited.then((code) => {
    if (!finished) throw new Error(`the child exited early (${code})`);
  });
  const measure = async () => {
    await isReady;
    if (c.kind === "roundtrip") {
      const msg = "0123456789abcdef";
      const us = new Float64Array(ROUNDS);
      let i = 0;
      let t = 0;
      await new Promise<void>((done, fail) => {
        onMessage = (m) => {
          const now = performance.now();
          if (m !== msg) return fail(new Error("echo mismatch"));
          if (i >= WARM) us[i - WARM] = (now - t) * 1000;
          if (++i === WARM + ROUNDS) return done();
          t = performance.now();
          sub.send(msg);
        };
        t = performance.now();
        sub.send(msg);
      });
      for (const row of roundTripRows(tool, us, "16-char string")) report(row);
    } else {
      const binary = c.size > 1024;
      const msg = binary ? new Uint8Array(c.size).fill(120) : "x".repeat(c.size);
      let acked = 0;
      let ackedBytes = 0;
      let sent = 0;
      let wake: () => void = () => {};
      onMessage = (m) => {
        [acked, ackedBytes] = m as [number, number];
        wake();
      };
      const pump = async (target: number) => {
        while (acked < target) {
          while (sent < target && sent - acked < 4 * c.batch) {
            sub.send(msg);
            sent++;
          }
          await new Promise<void>((resolve) => (wake = resolve));
        }
      };
      const w0 = performance.now();
      await pump(c.warm);
      const count = countFor(c, (performance.now() - w0) / 1000);
      const t0 = performance.now();
      await pump(c.warm + count);
      const seconds = (performance.now() - t0) / 1000;
      if (acked !== c.warm + count || ackedBytes !== acked * c.size) throw new Error("receiver total mismatch");
      const what = binary ? "Uint8Array" : "string";
      report(
        throughputRow(c, count, tool, seconds, `${what} messages; a credit every ${c.batch}, at most 4 in flight`),
      );
    }
  };
  try {
    await Promise.race([measure(), died]);
    finished = true;
    sub.send("bye");
    if ((await sub.exited) !== 0) throw new Error("the child failed");
  } finally {
    finished = true;
    sub.kill();
  }
}
