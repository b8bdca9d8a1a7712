#!/usr/bin/env node
// `npm test`: builds libipc and runs every test, each step under a hard timeout, then checks that
// the run left no libipc segment in /dev/shm and no tracker helper running. Prints a summary and
// exits non-zero if any step failed.
//
// Every step runs with LIBIPC_NO_SWEEP=1: a Bun or Deno process that loads libipc would otherwise
// sweep dead creators' generated names, and the steps after a leak (the demo last) would hide it
// from the leak check. The tests of the sweep itself turn it on for their children ("0").
//
//   node scripts/test.mjs            every step
//   node scripts/test.mjs bun mp     only the named steps (the build always runs first)

import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = (name) => join(root, "node_modules", ".bin", name);
const zig = ["node", join(root, "scripts", "zig.mjs")];
const deno = [bin("deno"), "test", "--allow-all", "--v8-flags=--expose-gc"];
const minutes = 60_000;
// Node 20 to 22 cannot run TypeScript: scripts/node_test.mjs compiles, then runs `node --test`. The
// `node` step runs under the machine's Node (found on PATH past node_modules/.bin, where the
// devDependency `node` puts Node 26 for npm scripts), the `node26` step under that Node 26.
const nodeTest = (node) => ["node", join(root, "scripts", "node_test.mjs"), "--node", node];
const node26 = join(root, "node_modules", "node", "bin", "node");

/** The first `node` on PATH outside this checkout's node_modules, else the Node running this script. */
function machineNode() {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "" || dir.startsWith(join(root, "node_modules"))) continue;
    const candidate = join(dir, "node");
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not there.
    }
  }
  return process.execPath;
}

// Where the `owner` step installs its build, and what the steps that test it set.
const ownerOut = join(root, "zig-out", "owner");
const ownerEnv = { LIBIPC_PATH: join(ownerOut, "lib", "libipc.so"), LIBIPC_OUT: ownerOut };

const steps = [
  { name: "build", argv: [...zig, "build", "install", "helpers"], timeout: 15 * minutes },
  { name: "zig", argv: [...zig, "build", "test"], timeout: 10 * minutes },
  { name: "c", argv: [...zig, "build", "ctest"], timeout: 10 * minutes },
  { name: "crash", argv: [...zig, "build", "crashtest"], timeout: 10 * minutes },
  // Debian's Lua 5.4 on heap arenas in child processes killed -9 (tests/c/arena_lua.c): after each death the
  // heap is back at its baseline. Fetches liblua5.4-dev into .debs/ (scripts/debs.mjs) and says why when it cannot.
  { name: "arena-lua", argv: [...zig, "build", "arenalua"], timeout: 10 * minutes },
  // The owner-recording mutex (musl's and macOS's) on this Linux: Zig unit tests, C tests and crash
  // test built with -Dmutex=owner, and that build installed into zig-out/owner (zig-out keeps the
  // default build) for the two steps after it.
  {
    name: "owner",
    argv: [...zig, "build", "install", "helpers", "test", "ctest", "crashtest", "-Dmutex=owner", "--prefix", ownerOut],
    timeout: 25 * minutes,
  },
  // The TS cases and the multi-process suite (Bun parent; C, Bun, Deno and Node children) against the
  // owner build: LIBIPC_PATH makes every runtime load it, LIBIPC_OUT gives the harness its C child.
  { name: "owner-bun", argv: [bin("bun"), "test", "tests/bun.test.ts"], env: ownerEnv, timeout: 10 * minutes },
  { name: "owner-mp", argv: [bin("bun"), "test", "tests/mp/bun.test.ts"], env: ownerEnv, timeout: 15 * minutes },
  // The C tests as static x86_64-linux-musl programs, run here, and a glibc and a musl process on one
  // named mutex (refused with IPC_ENOTSUP: different lock protocols).
  { name: "musl", argv: [...zig, "build", "ctest-musl"], timeout: 15 * minutes },
  // The single-process TS cases under Bun's musl build from npm with libipc's musl build (root: a private
  // mount namespace puts musl's loader where Bun looks for it; the step says why when it cannot run).
  { name: "musl-bun", argv: ["node", join(root, "scripts", "musl_bun.mjs")], timeout: 25 * minutes },
  // Before the mp steps: it installs ipc-fuzz-open-fast, which the file fuzzer runs.
  { name: "fast", argv: [...zig, "build", "fasttest"], timeout: 15 * minutes },
  // Every shipped target, stripped as scripts/package.mjs builds them (the consumer step's platform packages
  // come from the cache), plus the macOS test programs (mactest): the slowest build step.
  { name: "cross", argv: [...zig, "build", "cross", "-Dstrip=true"], timeout: 30 * minutes },
  { name: "glibc", argv: ["node", join(root, "scripts", "glibc.mjs")], timeout: 15 * minutes },
  { name: "c-install", argv: ["node", join(root, "scripts", "c_install.mjs")], timeout: 15 * minutes },
  // The Windows backend: test programs cross-compiled for x86_64-windows-gnu, run under wine64
  // (installed by the step when missing and root; otherwise it fails and says why).
  { name: "wine", argv: ["node", join(root, "scripts", "wine.mjs")], timeout: 20 * minutes },
  { name: "types", argv: [bin("tsc"), "-p", root], timeout: 5 * minutes },
  { name: "lint", argv: [bin("deno"), "lint"], timeout: 5 * minutes },
  { name: "fmt", argv: [bin("deno"), "fmt", "--check"], timeout: 5 * minutes },
  { name: "bun", argv: [bin("bun"), "test", "tests/bun.test.ts"], timeout: 10 * minutes },
  { name: "deno", argv: [...deno, "tests/deno.test.ts"], timeout: 10 * minutes },
  { name: "node", argv: [...nodeTest(machineNode()), "tests/node.test.ts"], timeout: 10 * minutes },
  { name: "node26", argv: [...nodeTest(node26), "tests/node.test.ts"], timeout: 10 * minutes },
  { name: "fallback", argv: ["node", join(root, "scripts", "fallback.mjs")], timeout: 25 * minutes },
  { name: "mp-bun", argv: [bin("bun"), "test", "tests/mp/bun.test.ts"], timeout: 15 * minutes },
  { name: "mp-deno", argv: [...deno, "tests/mp/deno.test.ts"], timeout: 15 * minutes },
  // From the sources: its Node children run TypeScript, which Node 26 strips.
  {
    name: "mp-node",
    argv: [node26, "--expose-gc", "--test", "--test-concurrency=1", "tests/mp/node.test.ts"],
    timeout: 20 * minutes,
  },
  { name: "readme", argv: ["node", join(root, "scripts", "readme.mjs")], timeout: 15 * minutes },
  { name: "demo", argv: [bin("bun"), "demo/main.ts"], timeout: 5 * minutes },
  { name: "consumer", argv: ["node", join(root, "scripts", "consumer.mjs")], timeout: 25 * minutes },
  { name: "models", argv: ["node", join(root, "scripts", "models.mjs")], timeout: 10 * minutes },
];

const magic = Buffer.from("libipc\x00\x01", "latin1");

/** Names in /dev/shm that hold a libipc segment (by header magic) or look like one of ours. */
function libipcEntries() {
  let names;
  try {
    names = readdirSync("/dev/shm");
  } catch {
    return new Set();
  }
  const found = new Set();
  for (const name of names) {
    if (name.startsWith("ipc.") || name.startsWith("ipctest") || name.startsWith("ipcbench")) {
      found.add(name);
      continue;
    }
    try {
      const fd = openSync(join("/dev/shm", name), "r");
      const head = Buffer.alloc(8);
      const n = readSync(fd, head, 0, 8, 0);
      closeSync(fd);
      if (n === 8 && head.equals(magic)) found.add(name);
    } catch {
      // Not readable by us: not ours.
    }
  }
  return found;
}

/** Pids of running (not zombie) tracker helpers, `libipc-tracker`, with their parent pids. */
function trackers() {
  const found = new Map();
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (name === "libipc-tracker" && state !== "Z" && state !== "X") found.set(pid, ppid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function runStep(step) {
  return new Promise((resolve) => {
    const started = Date.now();
    const env = { ...process.env, LIBIPC_NO_SWEEP: "1", ...step.env };
    const child = spawn(step.argv[0], step.argv.slice(1), { cwd: root, stdio: "inherit", env });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, step.timeout);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const outcome = timedOut
        ? `timed out after ${step.timeout / 1000} s`
        : code === 0
        ? "ok"
        : `failed (${code ?? signal})`;
      resolve({ name: step.name, ok: code === 0 && !timedOut, outcome, seconds });
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ name: step.name, ok: false, outcome: `could not start: ${error.message}`, seconds: "0.0" });
    });
  });
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !steps.some((step) => step.name === name));
if (unknown.length > 0) {
  console.error(`unknown step(s): ${unknown.join(", ")}; steps are ${steps.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

const before = libipcEntries();
const trackersBefore = trackers();
if (before.size > 0) console.log(`note: /dev/shm already held ${[...before].join(", ")} before the tests`);

const results = [];
for (const step of steps) {
  if (wanted.length > 0 && step.name !== "build" && !wanted.includes(step.name)) continue;
  console.log(`\n=== ${step.name}: ${step.argv.map((a) => a.replace(root + "/", "")).join(" ")}`);
  const result = await runStep(step);
  results.push(result);
  if (step.name === "build" && !result.ok) break;
}

// Every test process has ended, so every tracker started by the tests must end too (after its
// cleanup, which takes milliseconds; a deadline of 10 s, not a timing assert).
let stray = [];
for (let waited = 0; waited <= 10_000; waited += 100) {
  stray = [...trackers()].filter(([pid]) => !trackersBefore.has(pid));
  if (stray.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
results.push({
  name: "strays",
  ok: stray.length === 0,
  outcome: stray.length === 0
    ? "ok: no tracker helper left running"
    : `still running: ${stray.map(([pid, ppid]) => `libipc-tracker ${pid} (parent ${ppid})`).join(", ")}`,
  seconds: "0.0",
});

// After the trackers: a tracker removes its dead parent's names as it ends.
const left = [...libipcEntries()].filter((name) => !before.has(name));
results.push({
  name: "leaks",
  ok: left.length === 0,
  outcome: left.length === 0 ? "ok: no libipc segment left in /dev/shm" : `left in /dev/shm: ${left.join(", ")}`,
  seconds: "0.0",
});

console.log("\n=== summary");
for (const r of results) {
  console.log(`${r.ok ? "PASS" : "FAIL"}  ${r.name.padEnd(8)} ${r.seconds.padStart(6)} s  ${r.outcome}`);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
