/**
 * The seeded file-mutation fuzzer: makes one real object of every kind, copies its file, and writes
 * thousands of mutated copies into /dev/shm (header bytes with and without a fixed checksum, body
 * bytes, truncations, extensions, FIFOs, symlinks, plain files, another user's copies, some under
 * generated names of a dead process so that the sweeps see them). A C program (tests/c/fuzz_open.c)
 * and a Bun and a Deno child (child_fuzz.ts) open every file through every open path and call the
 * cheap operations of what opened. Each child has a deadline: it must exit with 0 — never a signal,
 * never a hang, never a plain (non-IpcError) exception. LIBIPC_FUZZ_SEED replays a run (the seed is
 * in every failure message); LIBIPC_FUZZ_COUNT changes the number of mutations (default 2 000);
 * LIBIPC_FUZZ_KEEP=1 leaves the files in /dev/shm.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { command, type Harness, type IpcModule, type Program } from "../harness.ts";
import * as programs from "./programs.ts";

const fuzzer: Program = { kind: "c", name: "ipc-fuzz-open" };
/** The same program linked with a ReleaseFast libipc.a (`zig build fasttest` installs it). */
const fastFuzzer: Program = { kind: "c", name: "ipc-fuzz-open-fast" };
const nobody = 65534;

/** xorshift128+, seeded: the same seed writes the same files. */
class Rng {
  #a: bigint;
  #b: bigint;
  constructor(seed: number) {
    this.#a = BigInt(seed) ^ 0x9e3779b97f4a7c15n;
    this.#b = (BigInt(seed) * 0xbf58476d1ce4e5b9n + 1n) & 0xffffffffffffffffn;
    for (let i = 0; i < 8; i++) this.next();
  }
  next(): number {
    let x = this.#a;
    const y = this.#b;
    this.#a = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    x ^= x >> 17n;
    x ^= y ^ (y >> 26n);
    this.#b = x;
    return Number((x + y) & 0xffffffffn);
  }
  below(n: number): number {
    return this.next() % n;
  }
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Rewrites the header checksum (offset 60, over bytes 0..59) so that a mutated header validates. */
function fixChecksum(file: Uint8Array): void {
  if (file.length < 64) return;
  new DataView(file.buffer, file.byteOffset).setUint32(60, crc32(file.subarray(0, 60)), true);
}

/** One object of every kind, closed, and the bytes of its file. */
function templates(ipc: IpcModule, tag: string): { kind: string; bytes: Uint8Array }[] {
  const makers: [string, (name: string) => { close(): void }][] = [
    ["segment", (name) => ipc.SharedMemory.create({ name, size: 4096 })],
    ["mutex", (name) => ipc.Mutex.create({ name })],
    ["semaphore", (name) => ipc.Semaphore.create({ name, value: 2 })],
    ["event", (name) => ipc.Event.create({ name })],
    ["condition", (name) => ipc.Condition.create({ name })],
    ["barrier", (name) => ipc.Barrier.create({ name, parties: 3 })],
    ["rwlock", (name) => ipc.RwLock.create({ name })],
    ["heap", (name) => {
      const heap = ipc.SharedHeap.create({ name, size: 1 << 18 });
      for (const size of [24, 24, 24, 100, 100, 5000]) heap.malloc(size);
      return heap;
    }],
    ["chan", (name) => {
      const chan = ipc.Chan.create({ name, capacity: 1024 });
      for (let i = 0; i < 5; i++) chan.trySend(new Uint8Array(i * 30 + 1).fill(i));
      return chan;
    }],
    ["mvar", (name) => ipc.MVar.create({ name, capacity: 256, value: new Uint8Array([1, 2, 3]) })],
    ["pipe", (name) => ipc.Pipe.create({ name, capacity: 256 })],
  ];
  return makers.map(([kind, make], i) => {
    const name = `ipctest-fzt-${tag}-${i}`;
    try {
      const object = make(name);
      const bytes = new Uint8Array(readFileSync(`/dev/shm/${name}`));
      object.close();
      return { kind, bytes };
    } finally {
      removeQuietly(`/dev/shm/${name}`);
    }
  });
}

/** A pid with no process now (so generated names with it belong to a dead creator). */
function deadPid(rng: Rng): number {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const pid = 2 + rng.below(30000);
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as { code?: string }).code === "ESRCH") return pid;
    }
  }
  return 0;
}

const mutationKinds = [
  "header",
  "header+crc",
  "body",
  "body",
  "body",
  "words",
  "words",
  "truncate",
  "extend",
  "fifo",
  "symlink",
  "plain",
  "owner",
] as const;

/** Writes mutation `i` under `name`; returns what it did. */
function mutate(
  rng: Rng,
  name: string,
  base: { kind: string; bytes: Uint8Array },
  valid: string,
  asRoot: boolean,
): string {
  const path = `/dev/shm${name}`;
  const what = mutationKinds[rng.below(mutationKinds.length)];
  const file = base.bytes.slice();
  const view = new DataView(file.buffer);
  switch (what) {
    case "header":
      for (let n = 1 + rng.below(4); n > 0; n--) file[rng.below(128)] = rng.below(256);
      break;
    case "header+crc": {
      // A header that passes the checksum but states something else: kind, sizes, flags, creator.
      const fields = [[12, 4], [16, 4], [20, 4], [24, 8], [32, 4], [40, 8], [48, 8], [8, 4]];
      const [offset, width] = fields[rng.below(fields.length)];
      const edges = [0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, file.length, file.length - 127, rng.next()];
      const value = edges[rng.below(edges.length)] >>> 0;
      if (width === 8) view.setBigUint64(offset, BigInt(value) * (rng.below(4) === 0 ? 0x100000000n : 1n), true);
      else view.setUint32(offset, value, true);
      fixChecksum(file);
      break;
    }
    case "body":
      for (let n = 1 + rng.below(16); n > 0; n--) file[128 + rng.below(file.length - 128)] = rng.below(256);
      break;
    case "words": {
      // Control words set to edge values: what a peer scribbling over indexes and links would write.
      const edges = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 64, 4096, file.length, rng.next()];
      for (let n = 1 + rng.below(6); n > 0; n--) {
        const at = 128 + 4 * rng.below(Math.floor((file.length - 128) / 4));
        view.setUint32(at, edges[rng.below(edges.length)] >>> 0, true);
      }
      break;
    }
    case "truncate":
      writeFileSync(path, file.subarray(0, rng.below(file.length)), { mode: 0o600 });
      return `${what} ${base.kind}`;
    case "extend": {
      const more = new Uint8Array(1 + rng.below(8192)).map(() => rng.below(256));
      writeFileSync(path, new Uint8Array([...file, ...more]), { mode: 0o600 });
      return `${what} ${base.kind}`;
    }
    case "fifo": {
      const made = spawnSync("mkfifo", ["-m", "0666", path]);
      assert.equal(made.status, 0, `mkfifo ${path}: ${made.stderr}`);
      return what;
    }
    case "symlink": {
      const targets = [`/dev/shm${valid}`, "/dev/zero", "/dev/null", "/proc/self/mem", "/nonexistent"];
      symlinkSync(targets[rng.below(targets.length)], path);
      return what;
    }
    case "plain": {
      const text = rng.below(2) === 0
        ? new TextEncoder().encode("not a segment\n".repeat(rng.below(40)))
        : new Uint8Array(
          rng.below(1 << 14),
        ).map(() => rng.below(256));
      writeFileSync(path, text, { mode: 0o600 });
      return what;
    }
    case "owner":
      writeFileSync(path, file, { mode: 0o666 });
      if (asRoot) chownSync(path, nobody, nobody);
      return `${what} ${base.kind}`;
  }
  writeFileSync(path, file, { mode: 0o600 });
  return `${what} ${base.kind}`;
}

function removeQuietly(path: string): void {
  try {
    lstatSync(path);
    unlinkSync(path);
  } catch {
    // Gone already (the destructive child or a sweep removed it).
  }
}

export default function fuzzOpen(h: Harness): void {
  // The children are C, Bun and Deno whichever runtime is the parent; one parent runs it.
  if (h.runtime !== "bun") return;
  h.test("mp fuzz: 2 000 mutated segment files opened through every open path from C, Bun and Deno", async () => {
    const seed = Number(process.env.LIBIPC_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const count = Number(process.env.LIBIPC_FUZZ_COUNT ?? 2000);
    const rng = new Rng(seed);
    const tag = (seed % 36 ** 4).toString(36);
    const asRoot = process.getuid?.() === 0;
    const bases = templates(h.ipc, tag);
    const dir = mkdtempSync(`${tmpdir()}/libipc-fuzz-`);
    const validName = `/ipctest-fzv-${tag}`;
    writeFileSync(`/dev/shm${validName}`, bases[0].bytes, { mode: 0o600 });
    const dead = deadPid(rng);
    const batch = 500;
    const tally = new Map<string, number>();
    const written: string[] = [];
    const fast = existsSync(command(h, fastFuzzer, [])[0]);
    if (!fast) {
      console.log(
        "fuzz: no ipc-fuzz-open-fast in the build's bin/ (zig build fasttest): the ReleaseFast child is left out",
      );
    }
    try {
      for (let first = 0; first < count; first += batch) {
        const names: string[] = [];
        const made = new Map<string, string>();
        for (let i = first; i < Math.min(count, first + batch); i++) {
          const generated = dead > 0 && rng.below(10) === 0;
          const name = generated
            ? `/ipc.${dead.toString(36)}.${(1 + rng.below(1e6)).toString(36)}.${i.toString(36).padStart(8, "0")}`
            : `/ipctest-fz-${tag}-${i.toString(36)}`;
          const what = mutate(rng, name, bases[rng.below(bases.length)], validName, asRoot);
          tally.set(what.split(" ")[0], (tally.get(what.split(" ")[0]) ?? 0) + 1);
          made.set(name, what);
          names.push(name);
          written.push(name);
        }
        const list = `${dir}/batch-${first}`;
        writeFileSync(list, names.join("\n") + "\n");
        // The destructive child runs last: it removes what it can.
        const children: [string, string[]][] = [
          ["C", command(h, fuzzer, [list])],
          ...(fast ? [["C (ReleaseFast)", command(h, fastFuzzer, [list])] as [string, string[]]] : []),
          ["Bun", command(h, programs.bun, ["fuzz", "fuzz", list])],
          ["Deno", command(h, programs.deno, ["fuzz", "fuzz", list, "--destructive"])],
        ];
        for (const [label, argv] of children) {
          const child = h.spawn(argv, { timeoutMs: 60_000 });
          const exit = await child.exited;
          if (exit.code !== 0 || !exit.stdout.includes(`ok ${names.length} `)) {
            const last = exit.stderr.trim().split("\n").filter((l) => l.startsWith("@ ")).at(-1)?.slice(2) ?? "";
            assert.fail(
              `${label} fuzz child ended with ${exit.code ?? exit.signal} (seed ${seed}, batch at ${first}); ` +
                `last file ${last}: ${made.get(last) ?? "?"}\nstdout: ${exit.stdout.slice(-2000)}\n` +
                `stderr: ${exit.stderr.slice(-2000)}`,
            );
          }
        }
      }
      console.log(`fuzz seed ${seed}: ${count} mutations ${JSON.stringify(Object.fromEntries(tally))}`);
    } finally {
      // LIBIPC_FUZZ_KEEP=1 keeps the files of a failed run, to replay one with ipc-fuzz-open.
      if (process.env.LIBIPC_FUZZ_KEEP !== "1") { for (const name of written) removeQuietly(`/dev/shm${name}`); }
      removeQuietly(`/dev/shm${validName}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 900_000 });
}
