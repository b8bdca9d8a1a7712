#!/usr/bin/env node
// The `libipc` command (package.json "bin"): `libipc ls`, `libipc gc`, `libipc --version`; see libipc.ts. It runs in
// whichever runtime started it, with that runtime's binding: Bun, Deno, or Node (20 and later, through koffi).
//
// The npm package ships the command compiled in dist/cli, so every Node runs it there, inside node_modules too (where
// Node refuses to strip types). A checkout has no dist/ until scripts/build-js.mjs made one: a Node that strips
// TypeScript (22.18 and later) runs cli/libipc.node.ts itself; an older one runs dist/cli/libipc.node.js, which this
// file first (re)builds when it is missing or older than a source it is compiled from.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);

// A checkout runs the TypeScript beside this file; the npm package ships it compiled in dist/cli.
const compiled = !existsSync(join(here, "libipc.bun.ts"));
const entry = (runtime) =>
  compiled ? join(root, "dist", "cli", `libipc.${runtime}.js`) : join(here, `libipc.${runtime}.ts`);

// Answered here, before any runtime or native library is needed: the version of the package this file is in.
if (args[0] === "--version" || args[0] === "-v") {
  console.log(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version);
  process.exit(0);
}

/** The newest modification time (ms) of the TypeScript files that dist/cli/libipc.node.js is compiled from. */
function newestSource() {
  let newest = 0;
  const visit = (dir, recurse) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && recurse) visit(path, true);
      else if (entry.isFile() && entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  visit(root, false);
  visit(join(root, "lib"), true);
  visit(here, false);
  return newest;
}

/** The Node entry: compiled in the package; in a checkout the source where Node strips types, else a fresh build. */
function nodeEntry() {
  if (compiled) return entry("node");
  if (process.features.typescript && !here.split(/[\\/]/).includes("node_modules")) return entry("node");
  const built = join(root, "dist", "cli", "libipc.node.js");
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource()) {
    const build = spawnSync(process.execPath, [join(root, "scripts", "build-js.mjs")], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    if (build.status !== 0) {
      console.error(`libipc: building ${built} failed (scripts/build-js.mjs exited ${build.status ?? build.signal})`);
      process.exit(1);
    }
  }
  return built;
}

const runtime = process.versions.bun !== undefined ? "bun" : "Deno" in globalThis ? "deno" : "node";
await import(pathToFileURL(runtime === "node" ? nodeEntry() : entry(runtime)).href);
