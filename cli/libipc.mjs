#!/usr/bin/env node
// The `libipc` command (package.json "bin"): `libipc ls`, `libipc gc`, `libipc --version`; see libipc.ts. Under Bun or
// Deno it runs directly; under a Node that strips TypeScript (22.18 and later) from a checkout too
// (Node refuses to strip types inside node_modules). Otherwise it runs the command with
// $LIBIPC_RUNTIME ("bun", "deno" or a path to one of them), the Bun or Deno installed beside this
// package (node_modules/.bin), or the one on PATH.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

// A checkout runs the TypeScript beside this file; the npm package ships it compiled in dist/cli.
const compiled = !existsSync(join(here, "libipc.bun.ts"));
const entry = (runtime) =>
  compiled ? join(here, "..", "dist", "cli", `libipc.${runtime}.js`) : join(here, `libipc.${runtime}.ts`);

// Answered here, before any runtime or native library is needed: the version of the package this file is in.
if (args[0] === "--version" || args[0] === "-v") {
  console.log(JSON.parse(readFileSync(join(here, "..", "package.json"), "utf8")).version);
  process.exit(0);
}

function argv(runtime) {
  return basename(runtime).startsWith("deno")
    ? [runtime, "run", "--allow-ffi", "--allow-read", "--allow-env", entry("deno"), ...args]
    : [runtime, entry("bun"), ...args];
}

if (process.versions.bun !== undefined) {
  await import(pathToFileURL(entry("bun")).href);
} else if ("Deno" in globalThis) {
  await import(pathToFileURL(entry("deno")).href);
} else if (!compiled && process.features.typescript && !here.split(/[\\/]/).includes("node_modules")) {
  await import(pathToFileURL(entry("node")).href);
} else {
  const bins = [join(here, "..", "node_modules", ".bin"), join(here, "..", "..", ".bin")];
  const candidates = [
    ...(process.env.LIBIPC_RUNTIME ? [process.env.LIBIPC_RUNTIME] : []),
    ...bins.flatMap((bin) => [join(bin, "bun"), join(bin, "deno")]).filter((path) => existsSync(path)),
    "bun",
    "deno",
  ];
  let status = null;
  for (const runtime of candidates) {
    const [command, ...rest] = argv(runtime);
    const result = spawnSync(command, rest, { stdio: "inherit" });
    if (result.error?.code === "ENOENT") continue;
    if (result.error) {
      console.error(`libipc: could not run ${command}: ${result.error.message}`);
      process.exit(1);
    }
    status = result.status ?? 1;
    break;
  }
  if (status === null) {
    console.error("libipc: needs Bun or Deno to run (tried " + candidates.join(", ") + "); set LIBIPC_RUNTIME");
    process.exit(1);
  }
  process.exit(status);
}
