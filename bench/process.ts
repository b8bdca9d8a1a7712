/**
 * Process benchmarks through the TypeScript API, shared by process.bun.ts and process.deno.ts. The
 * functions that run elsewhere are in process_work.ts. Cases, one per process:
 *
 *   isolate [calls]    `isolate(process_work.ts, "times10", 7)`, one call at a time, 3 warm-up calls then
 *                      `calls` (30) timed, interleaved call by call with the peers: the same runtime
 *                      started on process_print.ts, which prints the result, read from its stdout
 *                      (node:child_process spawn; Bun.spawn in Bun). Median and p90 ms per call.
 *   map <workload> <contender> [items]
 *                      a map of `items` through a pool of POOL_SIZE (2) workers, after a warm-up map
 *                      of 2 chunks per worker that also waits out the pool's start; only the second
 *                      map is timed. Workloads (process_work.ts):
 *                        small  1 000 000 numbers, mix(), chunks of 512: items/s
 *                        large  2 000 Uint8Array of 64 KiB, byteSum(), chunks of 8: MB/s and items/s
 *                        gc     10 000 numbers, allocHeavy(), chunks of 32: items/s
 *                      Contenders: pool (libipc Pool), workers (Web Workers, structured clone),
 *                      workers-transfer (Web Workers, the items' buffers transferred), ipc (Bun only:
 *                      Bun.spawn children with ipc), serial (this thread, Array.prototype.map).
 *
 * The peers' pools (LanePool) send a chunk as one message `{ id, name, items }` and keep at most two
 * chunks in flight per worker, so that a worker finds its next chunk waiting when it answers one.
 * Every map's results are checked at 64 sampled indices against the function run here.
 *
 * Environment: POOL_SIZE (default 2) workers per pool; PROCESS_BENCH_SCALE (default 1) multiplies the
 * default counts, for a quick check that the whole group runs (`PROCESS_BENCH_SCALE=0.02 BENCH_REPS=1
 * bun bench/run.ts process`).
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { report } from "./report.ts";
import * as work from "./process_work.ts";
import type { IpcModule } from "../tests/harness.ts";

/** One chunk of a peer pool's map, as its workers receive it. */
export interface Chunk {
  id: number;
  name: string;
  items: unknown[];
}

/** A peer worker's answer to one chunk. */
export type ChunkReply = { id: number; out: unknown[] } | { id: number; error: string };

/** One worker of a peer pool: takes chunks; answers come back through the `deliver` it was made with. */
export interface Lane {
  post(chunk: Chunk): void;
  close(): Promise<void>;
}

/** What every contender of the map cases provides. */
export interface MapPool {
  /** Puts the items where this contender keeps them before the clock starts (as making them is not timed). */
  prepare?(items: unknown[]): void;
  map(items: unknown[], name: string, chunkSize: number): Promise<unknown[]>;
  close(): Promise<void>;
}

/** What only one runtime can measure: Bun passes its Bun.spawn peers. */
export interface Extras {
  /** Runs argv and resolves with its stdout (Bun.spawn). */
  spawnStdout?: { tool: string; run(argv: string[]): Promise<string> };
  /** A pool of child processes that talk through the runtime's own IPC (Bun.spawn ipc). */
  ipcPool?: { tool: string; create(size: number): MapPool };
}

const workModule = new URL("./process_work.ts", import.meta.url);
const poolSize = Number(process.env.POOL_SIZE ?? 2);
/** Scales the default counts down for a quick run of the whole group (`PROCESS_BENCH_SCALE=0.05`). */
const scale = Number(process.env.PROCESS_BENCH_SCALE ?? 1);
const inFlight = 2;
const kib64 = 64 * 1024;

/** The peers' dispatcher: chunks of `chunkSize` items, at most `inFlight` per lane, results in input order. */
export class LanePool implements MapPool {
  readonly #lanes: Lane[];
  #onReply: (lane: number, reply: ChunkReply) => void = () => {};

  constructor(size: number, makeLane: (deliver: (reply: ChunkReply) => void) => Lane) {
    this.#lanes = Array.from({ length: size }, (_, i) => makeLane((reply) => this.#onReply(i, reply)));
  }

  map(items: unknown[], name: string, chunkSize: number): Promise<unknown[]> {
    const lanes = this.#lanes;
    const out = new Array<unknown>(items.length);
    const chunks = Math.ceil(items.length / chunkSize);
    const busy = new Array<number>(lanes.length).fill(0);
    let next = 0;
    let done = 0;
    return new Promise((resolve, reject) => {
      if (chunks === 0) return resolve(out);
      const feed = (lane: number) => {
        while (busy[lane] < inFlight && next < chunks) {
          const id = next++;
          busy[lane]++;
          lanes[lane].post({ id, name, items: items.slice(id * chunkSize, (id + 1) * chunkSize) });
        }
      };
      this.#onReply = (lane, reply) => {
        if ("error" in reply) return reject(new Error(`${name}, chunk ${reply.id}: ${reply.error}`));
        const start = reply.id * chunkSize;
        for (let i = 0; i < reply.out.length; i++) out[start + i] = reply.out[i];
        busy[lane]--;
        if (++done === chunks) resolve(out);
        else feed(lane);
      };
      for (let lane = 0; lane < lanes.length; lane++) feed(lane);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.close()));
  }
}

/** A pool of Web Workers (Bun and Deno) running process_worker.ts; `transfer` moves the items' buffers. */
function workerPool(size: number, transfer: boolean): MapPool {
  const url = new URL("./process_worker.ts", import.meta.url);
  return new LanePool(size, (deliver) => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (event: MessageEvent<ChunkReply>) => deliver(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      deliver({ id: -1, error: `a worker failed: ${event.message}` });
    };
    return {
      post(chunk) {
        const buffers = transfer ? chunk.items.map((item) => (item as Uint8Array).buffer as ArrayBuffer) : [];
        worker.postMessage(chunk, buffers);
      },
      close() {
        worker.terminate();
        return Promise.resolve();
      },
    };
  });
}

/** libipc's Pool of `size` processes of this runtime, importing process_work.ts. */
function libipcPool(ipc: IpcModule, size: number): MapPool {
  const pool = new ipc.Pool({ module: workModule, size });
  return { map: (items, name, chunkSize) => pool.map(items, name, { chunkSize }), close: () => pool.close() };
}

/**
 * libipc Pool with the items in shared memory: the 64 KiB items are made in one anonymous segment that
 * every worker shares (copied there before the clock starts, as every contender's items are made before
 * it), and a task carries only item indices.
 */
function libipcSharedPool(ipc: IpcModule, size: number, capacityItems: number): MapPool {
  const seg = ipc.SharedMemory.create({ size: capacityItems * kib64 });
  const pool = new ipc.Pool({ module: new URL("./process_shared_work.ts", import.meta.url), size, share: [seg] });
  return {
    prepare: (items) => {
      const bytes = seg.view(Uint8Array, 0, items.length * kib64);
      for (let i = 0; i < items.length; i++) bytes.set(items[i] as Uint8Array, i * kib64);
    },
    map: (items, _name, chunkSize) => pool.map(items.map((_, i) => i), "byteSumAt", { chunkSize }),
    close: async () => {
      await pool.close();
      seg.close();
    },
  };
}

/** The baseline: the function on this thread, one item after the other. */
function serial(): MapPool {
  return {
    map(items, name) {
      const fn = (work as Record<string, (item: never) => unknown>)[name];
      return Promise.resolve(items.map((item) => fn(item as never)));
    },
    close: () => Promise.resolve(),
  };
}

interface Workload {
  fn: keyof typeof work;
  count: number;
  chunkSize: number;
  /** `n` fresh items; `from` numbers them, so that the warm-up's differ from the timed ones. */
  make(n: number, from: number): unknown[];
  /** The cases and values to report for `n` items mapped in `seconds`. */
  rows(n: number, seconds: number): { case: string; unit: string; value: number }[];
}

const workloads: Record<string, Workload> = {
  small: {
    fn: "mix",
    count: 1_000_000,
    chunkSize: 512,
    make: (n, from) => Array.from({ length: n }, (_, i) => from + i),
    rows: (
      n,
      s,
    ) => [{
      case: `map ${n.toLocaleString("en-US")} numbers, cheap arithmetic`,
      unit: "M items/s",
      value: n / s / 1e6,
    }],
  },
  large: {
    fn: "byteSum",
    count: 2_000,
    chunkSize: 8,
    make: (n, from) => Array.from({ length: n }, (_, i) => new Uint8Array(kib64).fill((from + i) & 255)),
    rows: (n, s) => [
      {
        case: `map ${n.toLocaleString("en-US")} × 64 KiB Uint8Array, sum of bytes: data`,
        unit: "MB/s",
        value: (n * kib64) / s / 1e6,
      },
      {
        case: `map ${n.toLocaleString("en-US")} × 64 KiB Uint8Array, sum of bytes: items`,
        unit: "items/s",
        value: n / s,
      },
    ],
  },
  gc: {
    fn: "allocHeavy",
    count: 10_000,
    chunkSize: 32,
    make: (n, from) => Array.from({ length: n }, (_, i) => from + i),
    rows: (
      n,
      s,
    ) => [{ case: `map ${n.toLocaleString("en-US")} allocation-heavy items`, unit: "k items/s", value: n / s / 1e3 }],
  },
};

/** Indices to check, with the results the function gives here (computed before the items may be transferred). */
function expectations(workload: Workload, items: unknown[]): [number, unknown][] {
  const fn = work[workload.fn] as (item: never) => unknown;
  const step = Math.max(1, Math.floor(items.length / 64));
  const picked: [number, unknown][] = [];
  for (let i = 0; i < items.length; i += step) picked.push([i, fn(items[i] as never)]);
  picked.push([items.length - 1, fn(items[items.length - 1] as never)]);
  return picked;
}

function check(what: string, out: unknown[], length: number, expected: [number, unknown][]): void {
  if (out.length !== length) throw new Error(`${what}: ${out.length} results for ${length} items`);
  for (const [i, value] of expected) {
    if (out[i] !== value) throw new Error(`${what}: item ${i} gave ${out[i]}, expected ${value}`);
  }
}

/** Runs argv and resolves with its stdout (node:child_process, as isolate starts its children). */
function nodeSpawnStdout(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => (out += text));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(" ")} exited ${code}`))));
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

async function isolateCase(ipc: IpcModule, runtime: string, run: string[], extras: Extras, args: string[]) {
  const calls = Number(args[1] ?? Math.max(1, Math.round(30 * scale)));
  const warm = 3;
  const printArgv = [...run, fileURLToPath(new URL("./process_print.ts", import.meta.url)), "7"];
  const contenders: { tool: string; peer?: boolean; call(): Promise<unknown>; ms: number[] }[] = [
    { tool: `${runtime} libipc isolate`, call: () => ipc.isolate(workModule, "times10", 7), ms: [] },
    {
      tool: `${runtime} node:child_process spawn, result on stdout`,
      peer: true,
      call: async () => JSON.parse(await nodeSpawnStdout(printArgv)),
      ms: [],
    },
  ];
  const bunSpawn = extras.spawnStdout;
  if (bunSpawn !== undefined) {
    contenders.push({
      tool: bunSpawn.tool,
      peer: true,
      call: async () => JSON.parse(await bunSpawn.run(printArgv)),
      ms: [],
    });
  }
  for (let i = 0; i < warm + calls; i++) {
    for (const c of contenders) {
      const start = performance.now();
      const value = await c.call();
      const ms = performance.now() - start;
      if (value !== 70) throw new Error(`${c.tool} returned ${value}, not 70`);
      if (i >= warm) c.ms.push(ms);
    }
  }
  for (const c of contenders) {
    const sorted = c.ms.sort((a, b) => a - b);
    const note = `${calls} timed calls, one at a time, after ${warm} warm-up calls`;
    const tool = c.tool;
    const unit = "ms";
    report({
      case: "one call in a fresh process, median",
      tool,
      unit,
      value: quantile(sorted, 0.5),
      peer: c.peer,
      note,
    });
    report({ case: "one call in a fresh process, p90", tool, unit, value: quantile(sorted, 0.9), peer: c.peer, note });
  }
}

async function mapCase(ipc: IpcModule, runtime: string, extras: Extras, args: string[]) {
  const [, workloadName, contender, countArg] = args;
  const workload = workloads[workloadName];
  if (workload === undefined) throw new Error(`unknown workload ${workloadName}: ${Object.keys(workloads)}`);
  const count = Number(countArg ?? Math.max(1, Math.round(workload.count * scale)));
  const { fn, chunkSize } = workload;
  let tool: string;
  let peer = true;
  let note = `${poolSize} workers, chunks of ${chunkSize}`;
  let pool: MapPool;
  switch (contender) {
    case "pool":
      tool = `${runtime} libipc Pool`;
      peer = false;
      note += ", msgpack through a memfd Duplex per worker (numbers as one Float64Array), at most 2 chunks per worker";
      pool = libipcPool(ipc, poolSize);
      break;
    case "pool-shared":
      if (workloadName !== "large") throw new Error("pool-shared maps the large workload only");
      tool = `${runtime} libipc Pool, items in shared memory`;
      peer = false;
      note += ", items made in one shared segment before the clock starts, tasks carry indices";
      pool = libipcSharedPool(ipc, poolSize, count);
      break;
    case "workers":
      tool = `${runtime} Worker threads`;
      note += `, structured clone, ${inFlight} chunks in flight per worker`;
      pool = workerPool(poolSize, false);
      break;
    case "workers-transfer":
      tool = `${runtime} Worker threads, buffers transferred`;
      note += `, items' buffers transferred, ${inFlight} chunks in flight per worker`;
      pool = workerPool(poolSize, true);
      break;
    case "ipc":
      if (extras.ipcPool === undefined) throw new Error(`${runtime} has no ipc pool contender`);
      tool = extras.ipcPool.tool;
      note += `, ${inFlight} chunks in flight per worker`;
      pool = extras.ipcPool.create(poolSize);
      break;
    case "serial":
      tool = `${runtime} serial, one thread`;
      note = "Array.prototype.map in this thread";
      pool = serial();
      break;
    default:
      throw new Error(`unknown contender ${contender}: pool, workers, workers-transfer, ipc, serial`);
  }
  try {
    const warmItems = workload.make(Math.min(count, 2 * poolSize * chunkSize), count);
    const warmExpected = expectations(workload, warmItems);
    pool.prepare?.(warmItems);
    check(`${tool} warm-up`, await pool.map(warmItems, fn, chunkSize), warmItems.length, warmExpected);
    const items = workload.make(count, 0);
    const expected = expectations(workload, items);
    pool.prepare?.(items);
    const start = performance.now();
    const out = await pool.map(items, fn, chunkSize);
    const seconds = (performance.now() - start) / 1000;
    check(tool, out, count, expected);
    for (const row of workload.rows(count, seconds)) report({ ...row, tool, peer: peer || undefined, note });
  } finally {
    await pool.close();
  }
}

export async function processBench(
  ipc: IpcModule,
  runtime: string,
  run: string[],
  args: string[],
  extras: Extras = {},
): Promise<void> {
  if (args[0] === "isolate") await isolateCase(ipc, runtime, run, extras, args);
  else if (args[0] === "map") await mapCase(ipc, runtime, extras, args);
  else throw new Error(`usage: process.{bun,deno}.ts isolate [calls] | map <small|large|gc> <contender> [items]`);
}
