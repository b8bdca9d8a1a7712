#!/usr/bin/env node
// Runs the Zig unit tests, the C tests and the Bun suite with LIBIPC_FUTEX=wait: every wait then
// takes the path kernels without futex_waitv (Linux < 5.16) take — plain futex waits, and proxy
// threads for waits on several words (zig/platform/linux_futex.zig) — so that path stays tested on
// machines whose kernel has futex_waitv. `npm test` step `fallback`.

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const env = { ...process.env, LIBIPC_FUTEX: "wait" };
const zig = ["node", join(root, "scripts", "zig.mjs")];
const runs = [
  [...zig, "build", "test"],
  [...zig, "build", "ctest"],
  [join(root, "node_modules", ".bin", "bun"), "test", "tests/bun.test.ts"],
];
for (const argv of runs) {
  console.log(`\n--- LIBIPC_FUTEX=wait ${argv.join(" ").replace(root + "/", "")}`);
  const { status, signal } = spawnSync(argv[0], argv.slice(1), { cwd: root, env, stdio: "inherit" });
  if (status !== 0) {
    console.error(`failed (${status ?? signal}) with LIBIPC_FUTEX=wait: ${argv.join(" ")}`);
    process.exit(1);
  }
}
