/**
 * The TypeScript tables against zig/ipc.h (which zig/ipc_h_test.zig checks against Zig): constants,
 * result codes and every bound signature; version numbers in every manifest; and the built library
 * exports exactly the header's functions and is marked NODELETE.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as abi from "../../lib/abi.ts";
import { symbols } from "../../lib/symbols.ts";
import type { Harness } from "../harness.ts";
import { readElfDynamic } from "../support/elf.ts";

interface Prototype {
  returns: string;
  params: string[];
}

/** `#define IPC_X value` lines with literal values, evaluated. */
function headerConstants(header: string): Map<string, number> {
  const constants = new Map<string, number>();
  for (const match of header.matchAll(/^#define IPC_(\w+) +([^/\n]+?)\s*(?:\/\*.*)?$/gm)) {
    const literal = match[2].replace(/[()]/g, "").replace(/(?<=[0-9a-fA-F])(ULL|UL|U|u|ull)$/, "");
    if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(literal)) constants.set(match[1], Number(literal));
  }
  return constants;
}

/** Every `ipc_*` prototype in the header, with C types reduced to the neutral vocabulary. */
function headerPrototypes(header: string): Map<string, Prototype> {
  const types: Record<string, string> = {
    int32_t: "i32",
    uint32_t: "u32",
    int64_t: "i64",
    uint64_t: "u64",
    size_t: "u64", // 64-bit targets only, as the bindings are
    void: "void",
    ipc_waiter_callback_t: "pointer",
  };
  const kind = (decl: string): string => {
    if (decl.includes("*")) return "pointer";
    const type = decl.trim().split(/\s+/).filter((word) => word !== "const")[0];
    return types[type] ?? `unknown(${decl})`;
  };
  const protos = new Map<string, Prototype>();
  for (const match of header.matchAll(/^(\w[\w ]*?\**)\s*\b(ipc_\w+)\(([^)]*)\);/gm)) {
    const params = match[3].trim() === "void" ? [] : match[3].split(",").map(kind);
    protos.set(match[2], { returns: kind(match[1]), params });
  }
  return protos;
}

function neutral(t: string): string {
  return t === "ptr" || t === "buf" ? "pointer" : t === "u53" ? "u64" : t;
}

export default function abiCase(h: Harness): void {
  const root = h.paths.root;
  const header = readFileSync(`${root}/zig/ipc.h`, "utf8");

  h.test("abi: lib/abi.ts constants and result codes equal the #defines of ipc.h", () => {
    const defines = headerConstants(header);
    // Every constant lib/abi.ts exports repeats the #define of the same name.
    const constants = Object.entries(abi).filter(([name]) => name !== "RESULT_CODES");
    assert.ok(constants.length >= 30, `lib/abi.ts exports only ${constants.length} constants`);
    for (const [name, value] of constants) assert.equal(value, defines.get(name), `IPC_${name}`);
    const headerCodes = [...defines].filter(([name]) => /^(OK|OWNER_DIED|E[A-Z]+)$/.test(name));
    assert.deepEqual(Object.fromEntries(headerCodes), abi.RESULT_CODES);
  });

  h.test("abi: the symbol table binds every ipc.h function with its exact signature", () => {
    const protos = headerPrototypes(header);
    assert.ok(protos.size >= 20, `parsed only ${protos.size} prototypes`);
    assert.deepEqual([...protos.keys()].sort(), Object.keys(symbols).sort());
    for (const [name, spec] of Object.entries(symbols)) {
      const proto = protos.get(name)!;
      assert.deepEqual(spec.args.map(neutral), proto.params, `${name} parameters`);
      assert.equal(neutral(spec.returns), proto.returns, `${name} result`);
    }
  });

  h.test("abi: one version in package.json, deno.json, build.zig.zon, ipc.h and the loaded library", () => {
    const version = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).version;
    assert.equal(JSON.parse(readFileSync(`${root}/deno.json`, "utf8")).version, version);
    assert.match(readFileSync(`${root}/build.zig.zon`, "utf8"), new RegExp(`\\.version = "${version}"`));
    const d = headerConstants(header);
    assert.equal(`${d.get("VERSION_MAJOR")}.${d.get("VERSION_MINOR")}.${d.get("VERSION_PATCH")}`, version);
    assert.equal(h.ipc.libraryInfo().version, version);
    assert.equal(h.ipc.libraryInfo().abiVersion, abi.ABI_VERSION);
  });

  h.test("abi: one msgpackr version in package.json, deno.json and mod.ts's npm: import", () => {
    const pinned = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).dependencies.msgpackr;
    const imports = JSON.parse(readFileSync(`${root}/deno.json`, "utf8")).imports;
    assert.equal(imports["msgpackr/pack"], `npm:msgpackr@${pinned}/pack`);
    assert.ok(readFileSync(`${root}/mod.ts`, "utf8").includes(`import("npm:msgpackr@${pinned}/pack")`));
  });

  h.test("abi: deno_platform.ts fetches the platform packages of this version", () => {
    const version = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).version;
    const text = readFileSync(`${root}/deno_platform.ts`, "utf8");
    const versions = [...text.matchAll(/npm:@libipc\/[a-z0-9-]+@([^/"]+)\//g)].map((m) => m[1]);
    // Two specifiers (fetch, resolve) for each of the 8 platform packages (scripts/package.mjs).
    assert.equal(versions.length, 16);
    for (const v of versions) assert.equal(v, version);
  });

  h.test("abi: libipc.so exports exactly the ipc.h functions and is linked with -z nodelete", () => {
    const elf = readElfDynamic(readFileSync(`${h.paths.out}/lib/libipc.so`));
    assert.deepEqual(elf.exported.sort(), [...headerPrototypes(header).keys()].sort());
    assert.ok(elf.nodelete, "DT_FLAGS_1 lacks DF_1_NODELETE");
  });
}
