/**
 * Builds bench/ipc_peers/unix_socket.c with the pinned Zig's C compiler (scripts/zig.mjs cc -O2) into
 * zig-out/bin/ipc-peer-unix-socket when the binary is missing or older than the source, then runs it
 * with the given arguments; its stdout (the JSON lines) passes through. Runs under node or bun:
 *
 *   node bench/ipc_peers/unix_socket_c.mjs roundtrip|throughput-64|throughput-64k [messages]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const source = join(here, "unix_socket.c");
const binary = join(root, "zig-out/bin/ipc-peer-unix-socket");

if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
  mkdirSync(dirname(binary), { recursive: true });
  const cc = spawnSync(
    process.execPath,
    [join(root, "scripts/zig.mjs"), "cc", "-O2", "-std=c11", "-Wall", "-Wextra", source, "-o", binary],
    { cwd: root, stdio: ["ignore", 2, "inherit"] },
  );
  if (cc.status !== 0) {
    process.stderr.write(`unix_socket_c: compiling ${source} failed\n`);
    process.exit(1);
  }
}

const run = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
process.exit(run.status ?? 1);
