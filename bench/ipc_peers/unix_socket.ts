/**
 * Peer for message passing: a unix domain socket (SOCK_STREAM) between two Bun processes, Bun.listen
 * in the parent and Bun.connect in the child (`unix:` paths, a fresh directory under the temp dir that
 * is removed afterwards). Bun's socket.write() is unbuffered, one send per call, so every message is
 * one syscall; the reader takes whatever each wake-up brings.
 *
 *   bun bench/ipc_peers/unix_socket.ts roundtrip          16-byte message echoed back: p50, p99 of 20 000
 *   bun bench/ipc_peers/unix_socket.ts throughput-64      64 B messages one way, M msg/s
 *   bun bench/ipc_peers/unix_socket.ts throughput-64k     64 KiB messages one way, GB/s
 *
 * With SOCKET_CHILD=deno the round trip's other end is a Deno process (unix_socket_echo.deno.ts,
 * Deno.connect, one write per read) and the tool reads "unix socket (Bun<->Deno)".
 *
 * Throughput: the socket's buffer pushes back (a short write waits for drain); the receiver writes
 * back its byte total every `batch` messages (8 bytes), and the sender stops the clock when that total
 * reaches everything it sent. The warm-up's rate sizes the timed phase to about 1.5 s (an optional
 * last argument fixes the number of timed messages instead).
 */
import type { Socket } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { report } from "../report.ts";
import { caseOf, countFor, ROUNDS, roundTripRows, throughputRow, WARM } from "./common.ts";

const denoChild = process.env.SOCKET_CHILD === "deno";
const tool = denoChild ? "unix socket (Bun<->Deno)" : "unix socket (Bun<->Bun)";
const args = process.argv.slice(2);

if (args[0] === "child") await child(args[1], args[2], Number(args[3]));
else await parent(args);

/** The other end: echoes everything back ("echo"), or counts bytes and acknowledges every `ackEvery` ("sink"). */
async function child(path: string, kind: string, ackEvery: number): Promise<void> {
  let bytes = 0;
  let nextAck = ackEvery;
  const ack = new Float64Array(1);
  await Bun.connect({
    unix: path,
    socket: {
      data(socket, data) {
        if (kind === "echo") {
          if (socket.write(data) !== data.length) throw new Error("short echo write");
          return;
        }
        bytes += data.length;
        while (bytes >= nextAck) {
          ack[0] = nextAck;
          if (socket.write(ack) !== 8) throw new Error("short ack write");
          nextAck += ackEvery;
        }
      },
      close: () => process.exit(0),
      error: (_socket, error) => {
        console.error(error);
        process.exit(1);
      },
    },
  });
}

async function parent(args: string[]): Promise<void> {
  const c = caseOf(args, "bun bench/ipc_peers/unix_socket.ts");
  const dir = mkdtempSync(join(tmpdir(), "ipc-peer-"));
  const path = join(dir, "s.sock");
  let onData: (data: Buffer) => void = () => {};
  let onDrain: () => void = () => {};
  let connected!: (s: Socket) => void;
  const isConnected = new Promise<Socket>((resolve) => (connected = resolve));
  const server = Bun.listen({
    unix: path,
    socket: {
      open: (s) => connected(s),
      data: (_s, data) => onData(data),
      drain: () => onDrain(),
    },
  });
  const ackEvery = c.kind === "roundtrip" ? 0 : c.batch * c.size;
  if (denoChild && c.kind !== "roundtrip") throw new Error("SOCKET_CHILD=deno measures the round trip only");
  const deno = join(import.meta.dirname, "../../node_modules/.bin/deno");
  const sub = Bun.spawn(
    denoChild ? [deno, "run", "--allow-all", join(import.meta.dirname, "unix_socket_echo.deno.ts"), path] : [
      process.execPath,
      import.meta.filename,
      "child",
      path,
      c.kind === "roundtrip" ? "echo" : "sink",
      String(ackEvery),
    ],
    { stdio: ["ignore", 2, "inherit"] },
  );
  let finished = false;
  const died = sub.exited.then((code) => {
    if (!finished) throw new Error(`the child exited early (${code})`);
  });
  const measure = async () => {
    const sock = await isConnected;
    if (c.kind === "roundtrip") {
      const msg = new Uint8Array(16).fill(120);
      const us = new Float64Array(ROUNDS);
      let i = 0;
      let got = 0;
      let t = 0;
      await new Promise<void>((done, fail) => {
        onData = (data) => {
          got += data.length;
          if (got < msg.length) return;
          const now = performance.now();
          if (got !== msg.length) return fail(new Error("echo mismatch"));
          got = 0;
          if (i >= WARM) us[i - WARM] = (now - t) * 1000;
          if (++i === WARM + ROUNDS) return done();
          t = performance.now();
          sock.write(msg);
        };
        t = performance.now();
        sock.write(msg);
      });
      const how = denoChild ? "Bun.listen/Deno.connect" : "Bun.listen/Bun.connect";
      for (const row of roundTripRows(tool, us, `16-byte message, ${how}`)) report(row);
    } else {
      const msg = new Uint8Array(c.size).fill(120);
      let sent = 0;
      let target = 0;
      /** Bytes of the current message already written when a write came up short, or -1. */
      let partial = -1;
      let acked = 0;
      let pending: Buffer = Buffer.alloc(0);
      let wake: () => void = () => {};
      const pump = () => {
        if (partial >= 0) {
          const n = sock.write(msg, partial, msg.length - partial);
          if (n < 0) throw new Error("socket closed");
          if (partial + n < msg.length) return void (partial += n);
          partial = -1;
          sent++;
        }
        while (sent < target) {
          const n = sock.write(msg);
          if (n === msg.length) {
            sent++;
            continue;
          }
          if (n < 0) throw new Error("socket closed");
          partial = n;
          return;
        }
      };
      onDrain = pump;
      onData = (data) => {
        pending = pending.length ? Buffer.concat([pending, data]) : data;
        const whole = pending.length - (pending.length % 8);
        if (whole === 0) return;
        acked = pending.readDoubleLE(whole - 8);
        pending = pending.subarray(whole);
        wake();
      };
      const run = (messages: number) =>
        new Promise<void>((resolve) => {
          target += messages;
          wake = () => {
            if (acked >= target * c.size) resolve();
          };
          pump();
        });
      const w0 = performance.now();
      await run(c.warm);
      const count = countFor(c, (performance.now() - w0) / 1000);
      const t0 = performance.now();
      await run(count);
      const seconds = (performance.now() - t0) / 1000;
      if (acked !== (c.warm + count) * c.size) throw new Error("receiver total mismatch");
      const note = `one write per message, receiver's byte total back every ${c.batch} messages`;
      report(throughputRow(c, count, tool, seconds, note));
    }
    sock.end();
  };
  try {
    await Promise.race([measure(), died]);
    finished = true;
    if ((await sub.exited) !== 0) throw new Error("the child failed");
  } finally {
    finished = true;
    sub.kill();
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
}
