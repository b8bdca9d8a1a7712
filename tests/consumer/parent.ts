/**
 * A consumer's program, run from a fresh project that installed the packed tarballs: under Bun, Deno
 * and Node it starts a child in each runtime named by its arguments (default: bun and deno), shares a
 * Mutex and a typed Chan with them, holds the mutex until all run, and expects each child's pid on the
 * channel; then runs a function in an isolate child of each of those runtimes (their runners are the
 * package's compiled modules). It also proves the
 * library came from the platform package, and the tracker's helper beside it starts. Type-checked with strict, noUncheckedIndexedAccess,
 * exactOptionalPropertyTypes and moduleResolution nodenext (tsconfig.json beside it).
 */
import { Chan, type ChildProcess, isolate, type JsRuntime, libraryInfo, Mutex, spawn, Tracker } from "libipc";
import process from "node:process";

const deadline = { timeout: 60_000 };
const runtimes = (process.argv.length > 2 ? process.argv.slice(2) : ["bun", "deno"]) as JsRuntime[];
const info = libraryInfo();
if (!info.path.includes("/node_modules/@libipc/linux-")) {
  throw new Error(`libipc was loaded from ${info.path}, not from its platform package`);
}

// The tracker's helper ships beside the library in the platform package.
const tracker = Tracker.start();
if (tracker.pid === null) throw new Error("Tracker.start() returned no helper pid");
Tracker.stop();

using mutex = Mutex.create();
using jobs = Chan.create<number>({ capacity: 4096, codec: "json" });
mutex.lockSync();
const children: ChildProcess[] = [];
for (const runtime of runtimes) {
  // The example: a typed channel shared with its codec named.
  children.push(
    await spawn(new URL("./child.ts", import.meta.url), { runtime, share: [mutex, { object: jobs, codec: "json" }] }),
  );
}
mutex.unlock();

const pids: number[] = [];
for (const _ of children) {
  const pid = await jobs.recv(deadline);
  if (pid === undefined) throw new Error("the channel closed before every child answered");
  pids.push(pid);
}
for (const child of children) {
  const exit = await child.exited;
  if (exit.code !== 0) throw new Error(`child ${child.pid} ended with ${JSON.stringify(exit)}`);
}
const expected = children.map((child) => child.pid).sort();
if (JSON.stringify(pids.sort()) !== JSON.stringify(expected)) {
  throw new Error(`got pids ${pids.join(", ")} on the channel, expected ${expected.join(", ")}`);
}
for (const runtime of runtimes) {
  const doubled = await isolate<number>({ module: new URL("./work.ts", import.meta.url), runtime }, "double", 21);
  if (doubled !== 42) throw new Error(`a ${runtime} isolate returned ${doubled} for double(21)`);
}
console.log(
  `consumer: ${info.runtime} parent, ${runtimes.join(" and ")} children answered, isolates ran; library ${info.path}`,
);
