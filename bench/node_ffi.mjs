// The FFI choice for Node, measured: per-call overhead, an uncontended lock+unlock, a zero-copy view
// over segment memory, 64-bit results and the cost of one async completion (a wait that a wake
// ends), for koffi (Node >= 16), node:ffi (Node >= 26.1, behind --experimental-ffi) and bun:ffi as
// the peer. Each backend runs in its own process; `node bench/node_ffi.mjs` runs them all, BENCH_REPS
// times (default 3), and prints the median of each row.
//
//   node bench/node_ffi.mjs                        the table (Node 26 from node_modules/node if present)
//   node bench/node_ffi.mjs koffi|nodeffi|bunffi   one backend, one JSON line (what the table runs)

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const libPath = process.env.LIBIPC_PATH || join(root, "zig-out", "lib", "libipc.so");
const CALLS = 2_000_000;
const WAKES = 2_000;

/** The few symbols measured, bound by each backend to functions of the same shape. */
function bindKoffi(koffi) {
  const lib = koffi.load(libPath);
  const f = (decl) => lib.func(decl);
  return {
    version: f("uint32_t ipc_version()"),
    nowNs: f("uint64_t ipc_now_ns()"),
    create: f(
      "int32_t ipc_segment_create(const char *name, uint64_t size, uint32_t mode, uint32_t flags, _Out_ void *out)",
    ),
    base: f("void *ipc_segment_base(void *segment)"),
    close: f("int32_t ipc_segment_close(void *segment)"),
    mutexInit: f("int32_t ipc_mutex_init_at(void *segment, uint64_t offset, _Out_ void *out)"),
    lock: f("int32_t ipc_mutex_lock(void *mutex)"),
    unlock: f("int32_t ipc_mutex_unlock(void *mutex)"),
    wake: f("int32_t ipc_wake(void *word, uint32_t n)"),
    waiterCreate: f("int32_t ipc_waiter_create(void *callback, _Out_ void *out)"),
    submit: f(
      "int32_t ipc_waiter_submit(void *waiter, void *word, uint32_t expected, int64_t timeout, uint32_t token)",
    ),
    next: f("int32_t ipc_waiter_next(void *waiter, _Out_ void *tokens, _Out_ void *results, uint32_t capacity)"),
    view: (pointer, length) => koffi.view(pointer, length),
    pointer: (cell) => cell[0],
    callback(handler) {
      const proto = koffi.proto("void ipc_completion(uint32_t token, int32_t result)");
      return koffi.register(handler, koffi.pointer(proto));
    },
  };
}

function bindNodeFfi(ffi) {
  const t = { u32: "uint32", i32: "int32", u64: "uint64", i64: "int64", ptr: "pointer", buf: "buffer" };
  const spec = {
    ipc_version: [[], "u32"],
    ipc_now_ns: [[], "u64"],
    ipc_segment_create: [["buf", "u64", "u32", "u32", "buf"], "i32"],
    ipc_segment_base: [["ptr"], "ptr"],
    ipc_segment_close: [["ptr"], "i32"],
    ipc_mutex_init_at: [["ptr", "u64", "buf"], "i32"],
    ipc_mutex_lock: [["ptr"], "i32"],
    ipc_mutex_unlock: [["ptr"], "i32"],
    ipc_wake: [["ptr", "u32"], "i32"],
    ipc_waiter_create: [["ptr", "buf"], "i32"],
    ipc_waiter_submit: [["ptr", "ptr", "u32", "i64", "u32"], "i32"],
  };
  const symbols = Object.fromEntries(
    Object.entries(spec).map(([name, [args, ret]]) => [name, { arguments: args.map((a) => t[a]), return: t[ret] }]),
  );
  const { lib, functions: s } = ffi.dlopen(libPath, symbols);
  return {
    version: s.ipc_version,
    nowNs: s.ipc_now_ns,
    create: s.ipc_segment_create,
    base: s.ipc_segment_base,
    close: s.ipc_segment_close,
    mutexInit: s.ipc_mutex_init_at,
    lock: s.ipc_mutex_lock,
    unlock: s.ipc_mutex_unlock,
    wake: s.ipc_wake,
    waiterCreate: s.ipc_waiter_create,
    submit: s.ipc_waiter_submit,
    next: null,
    view: (pointer, length) => ffi.toArrayBuffer(pointer, length, false),
    pointer: (cell) => cell[0],
    callback(handler) {
      return lib.registerCallback({ arguments: ["uint32", "int32"], return: "void" }, handler);
    },
  };
}

async function bindBunFfi() {
  const { dlopen, FFIType: T, JSCallback, toArrayBuffer } = await import("bun:ffi");
  const { symbols: s } = dlopen(libPath, {
    ipc_version: { args: [], returns: T.u32 },
    ipc_now_ns: { args: [], returns: T.u64 },
    ipc_segment_create: { args: [T.ptr, T.u64, T.u32, T.u32, T.ptr], returns: T.i32 },
    ipc_segment_base: { args: [T.ptr], returns: T.ptr },
    ipc_segment_close: { args: [T.ptr], returns: T.i32 },
    ipc_mutex_init_at: { args: [T.ptr, T.u64, T.ptr], returns: T.i32 },
    ipc_mutex_lock: { args: [T.ptr], returns: T.i32 },
    ipc_mutex_unlock: { args: [T.ptr], returns: T.i32 },
    ipc_wake: { args: [T.ptr, T.u32], returns: T.i32 },
    ipc_waiter_create: { args: [T.ptr, T.ptr], returns: T.i32 },
    ipc_waiter_submit: { args: [T.ptr, T.ptr, T.u32, T.i64, T.u32], returns: T.i32 },
  });
  return {
    version: s.ipc_version,
    nowNs: s.ipc_now_ns,
    create: s.ipc_segment_create,
    base: s.ipc_segment_base,
    close: s.ipc_segment_close,
    mutexInit: s.ipc_mutex_init_at,
    lock: s.ipc_mutex_lock,
    unlock: s.ipc_mutex_unlock,
    wake: s.ipc_wake,
    waiterCreate: s.ipc_waiter_create,
    submit: s.ipc_waiter_submit,
    next: null,
    view: (pointer, length) => toArrayBuffer(pointer, 0, length),
    pointer: (cell) => Number(cell[0]),
    callback(handler) {
      return new JSCallback(handler, { args: [T.u32, T.i32], returns: T.void, threadsafe: true }).ptr;
    },
  };
}

function nsPer(n, fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / n;
}

/** Rounds of: submit a wait on `word`, change it and wake, until the completion reaches JS. */
async function completions(b, mode, word, wordPtr) {
  const cell = new BigUint64Array(1);
  let resolveOne;
  const handler = (_token, _result) => resolveOne();
  const callback = mode === "callback" ? b.callback(handler) : null;
  if (b.waiterCreate(callback, cell) !== 0) throw new Error("waiter_create");
  const waiter = b.pointer(cell);
  const tokens = new Uint32Array(127);
  const results = new Int32Array(127);
  // As lib/wait.ts does: koffi's cross-thread calls do not keep the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const start = process.hrtime.bigint();
  for (let i = 0; i < WAKES; i++) {
    const done = new Promise((resolve) => (resolveOne = resolve));
    const expected = Atomics.load(word, 0);
    if (b.submit(waiter, wordPtr, expected, -1n, i + 1) !== 0) throw new Error("submit");
    if (mode === "async") {
      b.next.async(waiter, tokens, results, 127, (error, n) => (error ? Promise.reject(error) : resolveOne(n)));
    }
    Atomics.store(word, 0, expected + 1);
    b.wake(wordPtr, 1);
    await done;
  }
  clearInterval(keepAlive);
  return Number(process.hrtime.bigint() - start) / WAKES;
}

async function measure(backend) {
  let b;
  let runtime;
  if (backend === "koffi") {
    const koffi = (await import("koffi")).default;
    b = bindKoffi(koffi);
    runtime = `node ${process.version} koffi ${koffi.version}`;
  } else if (backend === "nodeffi") {
    b = bindNodeFfi(await import("node:ffi"));
    runtime = `node ${process.version} node:ffi`;
  } else {
    b = await bindBunFfi();
    runtime = `bun ${Bun.version} bun:ffi`;
  }
  const cell = new BigUint64Array(1);
  if (b.create(null, 4096n, 0o600, 1, cell) !== 0) throw new Error("segment_create");
  const segment = b.pointer(cell);
  const base = b.base(segment);
  if (b.mutexInit(segment, 64n, cell) !== 0) throw new Error("mutex_init_at");
  const mutex = b.pointer(cell);
  const version = b.version;
  const lock = b.lock;
  const unlock = b.unlock;
  const row = { runtime };
  for (let round = 0; round < 2; round++) {
    // The first round warms the JIT up; the second is reported.
    row.callNs = nsPer(CALLS, () => {
      for (let i = 0; i < CALLS; i++) version();
    });
    row.lockUnlockNs = nsPer(CALLS, () => {
      for (let i = 0; i < CALLS; i++) {
        lock(mutex);
        unlock(mutex);
      }
    });
  }
  // Zero copy: a write through one view is seen through a second view made independently.
  const a = new Uint8Array(b.view(base, 4096));
  const c = new Uint8Array(b.view(base, 4096));
  a[100] = 42;
  row.zeroCopy = c[100] === 42;
  row.viewNs = nsPer(100_000, () => {
    for (let i = 0; i < 100_000; i++) b.view(base, 4096);
  });
  const now = b.nowNs();
  row.u64Result = typeof now;
  row.pointer = typeof base;
  const word = new Int32Array(b.view(base, 4));
  // node:ffi aborts the process when a callback is called from another thread ("Callbacks can only be
  // invoked on the system thread they were created on", Node 26.10.0), and has no async calls.
  if (backend !== "nodeffi") row.callbackCompletionUs = (await completions(b, "callback", word, base)) / 1000;
  if (b.next !== null) row.asyncCompletionUs = (await completions(b, "async", word, base)) / 1000;
  b.close(segment);
  return row;
}

function median(values) {
  const sorted = values.filter((v) => typeof v === "number").sort((x, y) => x - y);
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
}

const which = process.argv[2];
if (which !== undefined) {
  console.log(JSON.stringify(await measure(which)));
  process.exit(0);
}

const node26 = process.env.LIBIPC_NODE || join(root, "node_modules", "node", "bin", "node");
const runs = [
  { name: "koffi", argv: [process.execPath, fileURLToPath(import.meta.url), "koffi"] },
  ...(existsSync(node26)
    ? [
      { name: "koffi (node 26)", argv: [node26, fileURLToPath(import.meta.url), "koffi"] },
      {
        name: "node:ffi",
        argv: [node26, "--experimental-ffi", "--no-warnings", fileURLToPath(import.meta.url), "nodeffi"],
      },
    ]
    : []),
  { name: "bun:ffi", argv: [join(root, "node_modules", ".bin", "bun"), fileURLToPath(import.meta.url), "bunffi"] },
];
const reps = Number(process.env.BENCH_REPS ?? 3);
const rows = new Map(runs.map((r) => [r.name, []]));
for (let rep = 0; rep < reps; rep++) {
  for (const r of runs) {
    const out = spawnSync(r.argv[0], r.argv.slice(1), { encoding: "utf8", timeout: 300_000 });
    if (out.status !== 0) {
      console.error(`${r.name}: exited ${out.status ?? out.signal}\n${out.stderr}`);
      continue;
    }
    rows.get(r.name).push(JSON.parse(out.stdout.trim().split("\n").at(-1)));
  }
}
const fmt = (v, digits = 1) => (v === undefined ? "n/a" : v.toFixed(digits));
console.log(
  `| backend | runtime | call ns | lock+unlock ns | view ns | zero-copy | u64 result | completion µs (callback) | completion µs (async call) |`,
);
console.log(`| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: |`);
for (const [name, list] of rows) {
  if (list.length === 0) continue;
  const m = (key) => median(list.map((row) => row[key]));
  const first = list[0];
  console.log(
    `| ${name} | ${first.runtime} | ${fmt(m("callNs"))} | ${fmt(m("lockUnlockNs"))} | ${fmt(m("viewNs"))} | ` +
      `${first.zeroCopy} | ${first.u64Result} | ${fmt(m("callbackCompletionUs"))} | ${fmt(m("asyncCompletionUs"))} |`,
  );
}
