/**
 * The Bun entry point: finds libipc, binds it with bun:ffi, and exports the library.
 *
 * @module
 */

import {
  CString,
  dlopen,
  type FFIFunction,
  FFIType,
  JSCallback,
  type Pointer as BunPointer,
  toArrayBuffer,
} from "bun:ffi";
import { Packr } from "msgpackr/pack";
import { libcFromReport, libraryCandidates, loadFirst } from "./lib/locate.ts";
import { handoffFor } from "./lib/handoff.ts";
import { bind, type Pointer, sweepWanted } from "./lib/native.ts";
import { type ArgType, type ReturnType, type Symbols, symbols } from "./lib/symbols.ts";

const types: Record<ArgType | ReturnType, FFIType> = {
  i32: FFIType.i32,
  u32: FFIType.u32,
  i64: FFIType.i64,
  u64: FFIType.u64,
  u53: FFIType.u64,
  ptr: FFIType.ptr,
  buf: FFIType.ptr,
  void: FFIType.void,
};

const definitions = Object.fromEntries(
  Object.entries(symbols).map(([name, spec]) => [
    name,
    { args: spec.args.map((t) => types[t]), returns: types[spec.returns] } satisfies FFIFunction,
  ]),
);

const callbacks: JSCallback[] = [];

const { path, library } = loadFirst(
  libraryCandidates({
    envPath: process.env.LIBIPC_PATH,
    os: process.platform,
    cpu: process.arch,
    libc: () => libcFromReport(process.report?.getReport()),
  }),
  (candidate) => dlopen(candidate, definitions),
);

bind({
  runtime: `bun ${Bun.version}`,
  path,
  symbols: library.symbols as unknown as Symbols,
  // JavaScriptCore refuses larger external ArrayBuffers ("Out of memory"; measured with Bun 1.4.5).
  maxArrayBufferBytes: 2 ** 32,
  arrayBuffer: (pointer: Pointer, byteOffset: number, byteLength: number): ArrayBuffer =>
    toArrayBuffer(pointer as unknown as BunPointer, byteOffset, byteLength),
  u53: (value: number): number => value,
  readPointer: (cell: BigUint64Array): Pointer | null =>
    cell[0] === 0n ? null : (Number(cell[0]) as unknown as Pointer),
  cstring: (pointer: Pointer): string => new CString(pointer as unknown as BunPointer).toString(),
  handoff: handoffFor(process.platform),
  sweepOnLoad: sweepWanted(process.env.LIBIPC_NO_SWEEP),
  Packr,
  completions: {
    kind: "callback",
    callback(handler: (token: number, result: number) => void): Pointer {
      // Threadsafe: called from the waiter's thread, it queues the call to the JS thread and returns.
      // Never closed: the waiter thread may call it until the process ends.
      const callback = new JSCallback(handler, {
        args: [FFIType.u32, FFIType.i32],
        returns: FFIType.void,
        threadsafe: true,
      });
      callbacks.push(callback);
      return callback.ptr as unknown as Pointer;
    },
  },
});

export * from "./lib/index.ts";
