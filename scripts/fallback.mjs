#!/usr/bin/env node
// Runs the tests on the path kernels without futex_waitv (Linux < 5.16) take — plain futex waits,
// and proxy threads for waits on several words (zig/platform/linux_futex.zig) — so that path stays
// tested on machines whose kernel has futex_waitv. `npm test` step `fallback`:
//   - the Zig unit tests with LIBIPC_FUTEX=wait (the switch that forces it);
//   - the C tests and the Bun suite under tests/c/no_futex_waitv.c, a seccomp filter that makes
//     futex_waitv fail with ENOSYS as an old kernel does, so libipc's own probe chooses the fallback.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const work = mkdtempSync(join(tmpdir(), "libipc-fallback-"));
const noWaitv = join(work, "no_futex_waitv");
const zig = ["node", join(root, "scripts", "zig.mjs")];

function run(argv, env) {
  console.log(`\n--- ${argv.join(" ").replaceAll(root + "/", "").replace(work + "/", "")}`);
  const { status, signal } = spawnSync(argv[0], argv.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: "inherit",
  });
  if (status !== 0) {
    console.error(`failed (${status ?? signal}): ${argv.join(" ")}`);
    rmSync(work, { recursive: true, force: true });
    process.exit(1);
  }
}

execFileSync("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", noWaitv, join(root, "tests", "c", "no_futex_waitv.c")]);
run([...zig, "build", "test"], { LIBIPC_FUTEX: "wait" });
run([noWaitv, ...zig, "build", "ctest"], {});
run([noWaitv, join(root, "node_modules", ".bin", "bun"), "test", "tests/bun.test.ts"], {});
rmSync(work, { recursive: true, force: true });
