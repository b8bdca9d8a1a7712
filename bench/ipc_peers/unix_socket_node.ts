/**
 * Peer for message passing: a unix domain socket (SOCK_STREAM) between two Node processes, `net`'s
 * server in the parent and `net.connect` in the child (a fresh directory under the temp dir, removed
 * afterwards). Node's `socket.write()` queues in the stream when the kernel's buffer is full, so the
 * sender waits for "drain" whenever write() returns false. Run with Node 22.18 or later (type stripping):
 *
 *   node bench/ipc_peers/unix_socket_node.ts roundtrip          16-byte message echoed back: p50, p99 of 20 000
 *   node bench/ipc_peers/unix_socket_node.ts throughput-64      64 B messages one way, M msg/s
 *   node bench/ipc_peers/unix_socket_node.ts throughput-64k     64 KiB messages one way, GB/s
 *
 * Throughput as in unix_socket.ts: the receiver writes back its byte total (8 bytes) every `batch`
 * messages and the sender stops the clock when that total reaches everything it sent.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { report } from "../report.ts";
import { caseOf, countFor, ROUNDS, roundTripRows, throughputRow, WARM } from "./common.ts";

const tool = "unix socket (Node<->Node)";
const args = process.argv.slice(2);

if (args[0] === "child") child(args[1]!, args[2]!, Number(args[3]));
else await parent(args);

/** The other end: echoes everything back ("echo"), or counts bytes and acknowledges every `ackEvery` ("sink"). */
function child(path: string, kind: string, ackEvery: number): void {
  let bytes = 0;
  let nextAck = ackEvery;
  const socket = connect(path);
  socket.setNoDelay?.(true);
  socket.on("data", (data: Buffer) => {
    if (kind === "echo") return void socket.write(data);
    bytes += data.length;
    while (bytes >= nextAck) {
      const ack = Buffer.alloc(8);
      ack.writeDoubleLE(nextAck);
      socket.write(ack);
      nextAck += ackEvery;
    }
  });
  socket.on("close", () => process.exit(0));
  socket.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
}

async function parent(args: string[]): Promise<void> {
  const c = caseOf(args, "node bench/ipc_peers/unix_socket_node.ts");
  const dir = mkdtempSync(join(tmpdir(), "ipc-peer-"));
  const path = join(dir, "s.sock");
  let connected!: (s: Socket) => void;
  const isConnected = new Promise<Socket>((resolve) => (connected = resolve));
  const server = createServer((s) => connected(s));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const ackEvery = c.kind === "roundtrip" ? 0 : c.batch * c.size;
  const sub = spawn(process.execPath, [
    fileURLToPath(import.meta.url),
    "child",
    path,
    c.kind === "roundtrip" ? "echo" : "sink",
    String(ackEvery),
  ], { stdio: ["ignore", 2, "inherit"] });
  const exited = new Promise<number | null>((resolve) => sub.on("exit", (code) => resolve(code)));
  let finished = false;
  const died = exited.then((code) => {
    if (!finished) throw new Error(`the child exited early (${code})`);
  });
  const measure = async (): Promise<void> => {
    const sock = await isConnected;
    if (c.kind === "roundtrip") {
      const msg = Buffer.alloc(16, 120);
      const us = new Float64Array(ROUNDS);
      let i = 0;
      let got = 0;
      let t = 0n;
      await new Promise<void>((done, fail) => {
        sock.on("data", (data: Buffer) => {
          got += data.length;
          if (got < msg.length) return;
          const now = process.hrtime.bigint();
          if (got !== msg.length) return fail(new Error("echo mismatch"));
          got = 0;
          if (i >= WARM) us[i - WARM] = Number(now - t) / 1000;
          if (++i === WARM + ROUNDS) return done();
          t = process.hrtime.bigint();
          sock.write(msg);
        });
        t = process.hrtime.bigint();
        sock.write(msg);
      });
      for (const row of roundTripRows(tool, us, "16-byte message, net.createServer/net.connect")) report(row);
    } else {
      const msg = Buffer.alloc(c.size, 120);
      let sent = 0;
      let target = 0;
      let acked = 0;
      let pending: Buffer = Buffer.alloc(0);
      let wake = () => {};
      const pump = (): void => {
        while (sent < target) {
          sent++;
          if (!sock.write(msg)) return void sock.once("drain", pump);
        }
      };
      sock.on("data", (data: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, data]) : data;
        const whole = pending.length - (pending.length % 8);
        if (whole === 0) return;
        acked = pending.readDoubleLE(whole - 8);
        pending = pending.subarray(whole);
        wake();
      });
      const run = (messages: number) =>
        new Promise<void>((resolve) => {
          target += messages;
          wake = () => {
            if (acked >= target * c.size) resolve();
          };
          pump();
        });
      const w0 = process.hrtime.bigint();
      await run(c.warm);
      const count = countFor(c, Number(process.hrtime.bigint() - w0) / 1e9);
      const t0 = process.hrtime.bigint();
      await run(count);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (acked !== (c.warm + count) * c.size) throw new Error("receiver total mismatch");
      const note = `one write() per message, wait for drain when it returns false; byte total back every ${c.batch}`;
      report(throughputRow(c, count, tool, seconds, note));
    }
    sock.end();
  };
  try {
    await Promise.race([measure(), died]);
    finished = true;
    if ((await exited) !== 0) throw new Error("the child failed");
  } finally {
    finished = true;
    sub.kill();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
