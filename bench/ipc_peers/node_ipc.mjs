/**
 * Peer for message passing: Node's child_process.fork() IPC channel, parent and child both Node
 * (`child.send` / `process.send`, `on("message")`). Run with node, not Bun:
 *
 *   node bench/ipc_peers/node_ipc.mjs roundtrip          p50 and p99 of 20 000 round trips (2 000 warm-up)
 *   node bench/ipc_peers/node_ipc.mjs throughput-64      64 B messages one way, M msg/s
 *   node bench/ipc_peers/node_ipc.mjs throughput-64k     64 KiB messages one way, GB/s
 *
 * Throughput: the warm-up's rate sizes the timed phase to about 1.5 s; an optional last argument fixes
 * the number of timed messages instead. Messages: a 16-character string for
 * the round trip, a 64-character string for 64 B (default "json" serialization), a 65 536-byte Buffer for
 * 64 KiB ("advanced" serialization, which is faster there than a 64 KiB string through JSON). Throughput
 * is flow-controlled like bun_ipc.ts: the receiver returns a credit, [messages, bytes] so far, every
 * `batch` messages, the sender keeps at most 4 batches in flight, and the last credit acknowledges the
 * total. Same cases, counts and statistics as common.ts (kept in step by hand: Node 20 cannot load .ts).
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const WARM = 2_000;
const ROUNDS = 20_000;
const TARGET_SECONDS = 1.5;
const CASES = {
  "roundtrip": { kind: "roundtrip" },
  "throughput-64": {
    kind: "throughput",
    name: "throughput, 64 B messages, 1->1",
    unit: "M msg/s",
    size: 64,
    warm: 65_536,
    max: 8_388_608,
    batch: 4096,
  },
  "throughput-64k": {
    kind: "throughput",
    name: "throughput, 64 KiB messages, 1->1",
    unit: "GB/s",
    size: 65_536,
    warm: 1_024,
    max: 131_072,
    batch: 16,
  },
};
const tool = "Node child_process IPC (Node<->Node)";

function report(m) {
  console.log(JSON.stringify(m));
}

function caseOf(args) {
  const c = CASES[args[0]];
  if (c === undefined) {
    throw new Error(`usage: node bench/ipc_peers/node_ipc.mjs ${Object.keys(CASES).join("|")} [messages]`);
  }
  if (c.kind === "throughput" && args[1] !== undefined) {
    return { ...c, count: Math.max(1, Math.round(Number(args[1]) / c.batch)) * c.batch };
  }
  return c;
}

function countFor(c, warmSeconds) {
  if (c.count !== undefined) return c.count;
  const wanted = (c.warm / warmSeconds) * TARGET_SECONDS;
  return Math.min(c.max, Math.max(8, Math.round(wanted / c.batch)) * c.batch);
}

function percentiles(us) {
  const sorted = us.slice().sort();
  return [sorted[Math.floor(sorted.length / 2)], sorted[Math.floor(sorted.length * 0.99)]];
}

const args = process.argv.slice(2);
if (args[0] === "child") {
  const [, kind, batchArg] = args;
  if (kind === "echo") {
    process.on("message", (m) => (m === "bye" ? process.exit(0) : process.send(m)));
  } else {
    const batch = Number(batchArg);
    let count = 0;
    let bytes = 0;
    process.on("message", (m) => {
      if (m === "bye") process.exit(0);
      count++;
      bytes += m.length;
      if (count % batch === 0) process.send([count, bytes]);
    });
  }
  process.send("ready");
} else {
  await parent(args);
}

async function parent(args) {
  const c = caseOf(args);
  const binary = c.kind === "throughput" && c.size > 1024;
  const serialization = binary ? "advanced" : "json";
  const childArgs = c.kind === "roundtrip" ? ["echo"] : ["sink", String(c.batch)];
  const child = fork(fileURLToPath(import.meta.url), ["child", ...childArgs], {
    stdio: ["ignore", 2, "inherit", "ipc"],
    serialization,
  });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  let finished = false;
  const died = exited.then((code) => {
    if (!finished) throw new Error(`the child exited early (${code})`);
  });
  let onMessage = () => {};
  const isReady = new Promise((resolve) => {
    child.on("message", (m) => (m === "ready" ? resolve() : onMessage(m)));
  });
  const measure = async () => {
    await isReady;
    if (c.kind === "roundtrip") {
      const msg = "0123456789abcdef";
      const us = new Float64Array(ROUNDS);
      let i = 0;
      let t = 0n;
      await new Promise((done, fail) => {
        onMessage = (m) => {
          const now = process.hrtime.bigint();
          if (m !== msg) return fail(new Error("echo mismatch"));
          if (i >= WARM) us[i - WARM] = Number(now - t) / 1000;
          if (++i === WARM + ROUNDS) return done();
          t = process.hrtime.bigint();
          child.send(msg);
        };
        t = process.hrtime.bigint();
        child.send(msg);
      });
      const [p50, p99] = percentiles(us);
      const note = "16-char string, json serialization";
      report({ case: "round trip, small message, p50", tool, unit: "us", value: p50, peer: true, note });
      report({ case: "round trip, small message, p99", tool, unit: "us", value: p99, peer: true, note });
    } else {
      const msg = binary ? Buffer.alloc(c.size, 120) : "x".repeat(c.size);
      let acked = 0;
      let ackedBytes = 0;
      let sent = 0;
      let wake = () => {};
      onMessage = (m) => {
        [acked, ackedBytes] = m;
        wake();
      };
      const pump = async (target) => {
        while (acked < target) {
          while (sent < target && sent - acked < 4 * c.batch) {
            child.send(msg);
            sent++;
          }
          await new Promise((resolve) => (wake = resolve));
        }
      };
      const w0 = process.hrtime.bigint();
      await pump(c.warm);
      const count = countFor(c, Number(process.hrtime.bigint() - w0) / 1e9);
      const t0 = process.hrtime.bigint();
      await pump(c.warm + count);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (acked !== c.warm + count || ackedBytes !== acked * c.size) throw new Error("receiver total mismatch");
      const value = c.unit === "GB/s" ? (count * c.size) / seconds / 1e9 : count / seconds / 1e6;
      const what = binary ? "Buffer messages, advanced serialization" : "string messages, json serialization";
      const note = `${what}; a credit every ${c.batch}, at most 4 in flight; ${count} messages timed`;
      report({ case: c.name, tool, unit: c.unit, value, peer: true, note });
    }
  };
  try {
    await Promise.race([measure(), died]);
    finished = true;
    child.send("bye");
    if ((await exited) !== 0) throw new Error("the child failed");
  } finally {
    finished = true;
    child.kill();
  }
}
