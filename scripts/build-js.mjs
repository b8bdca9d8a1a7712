#!/usr/bin/env node
// Compiles the TypeScript sources into dist/ with the pinned TypeScript: ES modules and .d.ts
// declarations for the npm package (package.json "exports" points there). Two projects:
// tsconfig.build.json type-checks and emits everything but the Deno files; tsconfig.build.deno.json
// only emits mod.ts and the Deno CLI entry (`noCheck`: their Deno types are checked by Deno itself,
// in `deno test` and `deno check`). dist/ is emptied first, so a removed source leaves no stale module.
//
//   node scripts/build-js.mjs

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const tsc = join(root, "node_modules", ".bin", "tsc");

rmSync(join(root, "dist"), { recursive: true, force: true });
for (const project of ["tsconfig.build.json", "tsconfig.build.deno.json"]) {
  const result = spawnSync(tsc, ["-p", join(root, project)], { cwd: root, stdio: "inherit" });
  if (result.error) throw new Error(`could not run ${tsc}: ${result.error.message} (npm install first)`);
  if (result.status !== 0) {
    console.error(`build-js: tsc -p ${project} failed (exit ${result.status})`);
    process.exit(1);
  }
}
