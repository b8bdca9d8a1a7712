/**
 * The Node entry point (the package's "node" export condition): finds libipc, binds it with koffi
 * (no flag; prebuilt binaries from the registry), and exports the library. Node 20 to 22.17 run it
 * compiled to JavaScript (dist/node.js); later ones can also run this source.
 *
 * koffi represents a pointer as a BigInt (null for NULL), returns a uint64_t as a number when it is
 * below 2^53 (so "u64" results are made BigInts here, as lib/ expects), and passes a TypedArray's
 * own memory to a pointer parameter. Waits complete through `ipc_waiter_next` called asynchronously
 * on a libuv pool thread (Deno's way): a koffi callback called from another thread blocks that thread
 * until the JS thread runs it, which would let the waiter's thread and `forget` wait for each other
 * (DEVELOPERS.md, "Node").
 *
 * @module
 */

import koffi, { type LibraryHandle } from "koffi";
import { Packr } from "msgpackr/pack";
import v8 from "node:v8";
import { libcFromReport, libraryCandidates, loadFirst } from "./lib/locate.ts";
import { handoffFor } from "./lib/handoff.ts";
import { bind, type Pointer, sweepWanted } from "./lib/native.ts";
import { type ArgType, type ReturnType as ResultType, type Symbols, symbols } from "./lib/symbols.ts";

const types: Record<ArgType | ResultType, string> = {
  i32: "int32_t",
  u32: "uint32_t",
  i64: "int64_t",
  u64: "uint64_t",
  u53: "uint64_t",
  ptr: "void *",
  buf: "void *",
  void: "void",
};

type Bound = ReturnType<LibraryHandle["func"]>;

const { path, library } = loadFirst(
  libraryCandidates({
    envPath: process.env.LIBIPC_PATH,
    os: process.platform,
    cpu: process.arch,
    libc: () => libcFromReport(process.report?.getReport()),
  }),
  (candidate) => koffi.load(candidate),
);

const functions: Record<string, Bound> = {};
const bound: Record<string, unknown> = {};
for (const [name, spec] of Object.entries(symbols)) {
  const fn = library.func(name, types[spec.returns], spec.args.map((t) => types[t]));
  functions[name] = fn;
  // koffi returns a number for a uint64_t below 2^53; lib/ takes every "u64" result as a BigInt.
  bound[name] = spec.returns === "u64" ? (...args: unknown[]): bigint => BigInt(fn(...args)) : fn;
}

const next = functions.ipc_waiter_next!;

/**
 * Node 20 (V8 11.3) has no `ArrayBuffer.prototype.transfer`, and refuses to transfer a koffi view
 * through structuredClone (Node 26) or copies it (Node 20): V8's own detach, compiled once with
 * natives syntax turned on for that moment only, is the one way left.
 */
function nativesDetach(): (buffer: ArrayBuffer) => void {
  v8.setFlagsFromString("--allow-natives-syntax");
  try {
    return new Function("buffer", "%ArrayBufferDetach(buffer)") as (buffer: ArrayBuffer) => void;
  } finally {
    v8.setFlagsFromString("--no-allow-natives-syntax");
  }
}

bind({
  runtime: `node ${process.versions.node}`,
  Packr,
  path,
  symbols: bound as unknown as Symbols,
  // koffi.view aborts the process above 2^32 bytes under Node 20 (koffi 3.3.4; Node 26 takes more).
  maxArrayBufferBytes: 2 ** 32,
  arrayBuffer: (pointer: Pointer, byteOffset: number, byteLength: number): ArrayBuffer =>
    koffi.view((pointer as unknown as bigint) + BigInt(byteOffset), byteLength),
  detach: typeof ArrayBuffer.prototype.transfer === "function"
    ? (buffer: ArrayBuffer): void => void buffer.transfer(0)
    : nativesDetach(),
  u53: (value: number): number => value,
  readPointer: (cell: BigUint64Array): Pointer | null => (cell[0] === 0n ? null : (cell[0] as unknown as Pointer)),
  cstring: (pointer: Pointer): string => koffi.decode(pointer, "char", -1) as string,
  handoff: handoffFor(process.platform),
  sweepOnLoad: sweepWanted(process.env.LIBIPC_NO_SWEEP),
  completions: {
    kind: "poll",
    // On a libuv pool thread: the event loop goes on while it blocks.
    next: (waiter: Pointer, tokens: Uint32Array, results: Int32Array, capacity: number): Promise<number> =>
      new Promise((resolve, reject) => {
        next.async(waiter, tokens, results, capacity, (error: unknown, n: number) => {
          if (error) reject(error);
          else resolve(n);
        });
      }),
  },
});

export * from "./lib/index.ts";
