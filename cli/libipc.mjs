#!/usr/bin/env node
// The `libipc` command (package.json "bin"): `libipc ls`, `libipc gc`, `libipc --version`; see libipc.ts.
// Node cannot load native libraries without an addon, so this runs the command with Bun or Deno: under either
// one directly, otherwise with $LIBIPC_RUNTIME ("bun", "deno" or a path to one of them), the Bun or
// Deno installed beside this package (node_modules/.bin), or the one on PATH.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

// Answered here, before any runtime or native library is needed: the version of the package this file is in.
if (args[0] === "--version" || args[0] === "-v") {
  console.log(JSON.parse(readFileSync(join(here, "..", "package.json"), "utf8")).version);
  process.exit(0);
}

function argv(runtime) {
  return basename(runtime).startsWith("deno")
    ? [runtime, "run", "--allow-ffi", "--allow-read", "--allow-env", join(here, "libipc.deno.ts"), ...args]
    : [runtime, join(here, "libipc.bun.ts"), ...args];
}

if (process.versions.bun !== undefined) {
  await import("./libipc.bun.ts");
} else if ("Deno" in globalThis) {
  await import("./libipc.deno.ts");
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
