/**
 * The Deno entry point: finds libipc, binds it with Deno.dlopen, and exports the library.
 * Needs --allow-ffi, and --allow-env to honour LIBIPC_PATH; spawn, isolate and Pool also need --allow-run and
 * --allow-env (README, "Permissions (Deno)").
 *
 * @module
 */

import { libraryCandidates, loadFirst } from "./lib/locate.ts";
import { handoffFor } from "./lib/handoff.ts";
import { bind, type PackrClass, type Pointer, sweepWanted } from "./lib/native.ts";
import { type ArgType, type ReturnType, type Symbols, symbols } from "./lib/symbols.ts";

const types: Record<ArgType | ReturnType, Deno.NativeType | "void"> = {
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  u53: "u64",
  ptr: "pointer",
  buf: "buffer",
  void: "void",
};

const definitions = Object.fromEntries(
  Object.entries(symbols).map(([name, spec]) => [
    name,
    {
      parameters: spec.args.map((t) => types[t]),
      result: types[spec.returns],
      nonblocking: "nonblocking" in spec,
    },
  ]),
) as Deno.ForeignLibraryInterface;

// msgpackr through an `npm:` specifier, which Deno resolves wherever this module is loaded from: a
// checkout imported from another directory (no deno.json import map applies there), JSR, a URL. Inside
// an npm package (node_modules, or Deno's npm cache) `npm:` specifiers are refused, and the bare one
// resolves through the package's own dependencies instead. The version is package.json's dependency
// (tests/cases/abi.ts checks they agree).
let Packr: PackrClass;
try {
  // deno-lint-ignore no-import-prefix -- a bare specifier needs an import map, which no importer outside this checkout has
  ({ Packr } = await import("npm:msgpackr@2.1.3/pack"));
} catch (npmError) {
  try {
    ({ Packr } = await import("msgpackr/pack"));
  } catch {
    throw npmError;
  }
}

let envPath: string | undefined;
let envNote = "";
try {
  envPath = Deno.env.get("LIBIPC_PATH");
} catch {
  envNote = " (LIBIPC_PATH could not be read: run deno with --allow-env=LIBIPC_PATH)";
}

// Read only when env access to it is granted: asking here would prompt on every import.
let noSweep: string | undefined;
try {
  if (Deno.permissions.querySync({ name: "env", variable: "LIBIPC_NO_SWEEP" }).state === "granted") {
    noSweep = Deno.env.get("LIBIPC_NO_SWEEP");
  }
} catch {
  // No permission API (a restricted embedding): sweep.
}

// Loaded from JSR (or any URL but a file): no build beside this module, so this platform's npm package
// holds the library, fetched into Deno's npm cache. deno_platform.ts is imported only then, through a
// specifier Deno cannot analyze, because its literal npm: imports would be fetched at every start.
let fromNpm: { name: string; manifest: string } | undefined;
let npmNote = "";
if (!import.meta.url.startsWith("file:") && (envPath === undefined || envPath === "")) {
  const helper = new URL("./deno_platform.ts", import.meta.url).href;
  const { platformPackage } = (await import(helper)) as {
    platformPackage(
      os: string,
      arch: string,
      env?: string,
    ): Promise<{ name: string; manifest?: string; reason?: string } | undefined>;
  };
  const found = await platformPackage(Deno.build.os, Deno.build.arch, Deno.build.env);
  if (found?.manifest !== undefined) fromNpm = { name: found.name, manifest: found.manifest };
  else if (found !== undefined) npmNote = ` (${found.name} ${found.reason})`;
}

const { path, library } = loadFirst(
  // Loaded over https (JSR) there is no local build: the platform package found in Deno's npm cache
  // above stands in for the one node_modules would hold.
  libraryCandidates({
    envPath,
    os: Deno.build.os,
    cpu: Deno.build.arch,
    libc: () => Deno.build.env === "musl" ? "musl" : Deno.build.env === "gnu" ? "glibc" : undefined,
    resolve: (specifier) =>
      fromNpm !== undefined && specifier === `${fromNpm.name}/package.json`
        ? fromNpm.manifest
        : import.meta.resolve(specifier),
  }),
  (candidate) => Deno.dlopen(candidate, definitions),
  envNote + npmNote,
);

bind({
  runtime: `deno ${Deno.version.deno}`,
  path,
  symbols: library.symbols as unknown as Symbols,
  // V8 wraps external memory of up to 2^53 - 1 bytes (64 GiB measured with Deno 2.9.6).
  maxArrayBufferBytes: Number.MAX_SAFE_INTEGER,
  arrayBuffer: (pointer: Pointer, byteOffset: number, byteLength: number): ArrayBuffer =>
    Deno.UnsafePointerView.getArrayBuffer(pointer as unknown as Deno.PointerObject, byteLength, byteOffset),
  u53: (value: number): bigint => BigInt(value),
  readPointer: (cell: BigUint64Array): Pointer | null =>
    Deno.UnsafePointer.create(cell[0]) as unknown as Pointer | null,
  cstring: (pointer: Pointer): string => Deno.UnsafePointerView.getCString(pointer as unknown as Deno.PointerObject),
  handoff: handoffFor(Deno.build.os),
  sweepOnLoad: sweepWanted(noSweep),
  Packr,
  deniedFlag(error: unknown): string | undefined {
    // Deno's refusal says which flag grants it: "Requires run access to "deno", run again with the --allow-run flag".
    if (!(error instanceof Deno.errors.NotCapable) && !(error instanceof Deno.errors.PermissionDenied)) {
      return undefined;
    }
    return /--allow-[a-z-]+/.exec(error.message)?.[0] ?? "the permission it asks for";
  },
  completions: {
    kind: "poll",
    // Declared nonblocking: runs on a Deno pool thread and returns a Promise.
    next: library.symbols.ipc_waiter_next as unknown as (
      waiter: Pointer,
      tokens: Uint32Array,
      results: Int32Array,
      capacity: number,
    ) => Promise<number>,
  },
});

export * from "./lib/index.ts";
