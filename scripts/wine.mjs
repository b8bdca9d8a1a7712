#!/usr/bin/env node
// The `wine` test step: cross-compiles the Windows test programs (`zig build wintest`: tests/windows,
// the portable C tests of tests/c listed in build.zig's wine_c_tests and the platform's Zig tests,
// x86_64-windows-gnu, linked with libipc.a) and runs every program in zig-out/wintest under Wine's
// wine64, saying of each whether it passed and how long it took.
//
// Wine is Debian's wine64 package, which puts the loader in /usr/lib/wine (not on PATH). When it is
// missing and this runs as root with apt-get (CI's container, .ci/run), it is installed here; else
// the step fails and says why and what installs it, so a missing Wine never passes unnoticed.
// Set LIBIPC_WINE to a wine64 loader to use another one.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findWine, wineCandidates as candidates } from "./wine_loader.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const programTimeoutMs = 5 * 60_000;

function run(argv, options = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { stdio: "inherit", cwd: root, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

let wine = findWine();
if (!wine) {
  const root_ = typeof process.getuid === "function" && process.getuid() === 0;
  const hasApt = existsSync("/usr/bin/apt-get");
  if (!root_ || !hasApt) {
    console.error(
      `wine: cannot run: no wine64 loader at ${candidates.join(", ")}, and ` +
        (hasApt ? "this is not root, so it cannot be installed here" : "there is no apt-get to install it with") +
        ". Install Debian's wine64 (apt-get install wine64) or set LIBIPC_WINE to a wine64 loader.",
    );
    process.exit(1);
  }
  console.log("wine: installing Debian's wine64 (apt-get install --no-install-recommends wine64)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Another apt-get (a second checkout's test run, an unattended upgrade) may hold dpkg's lock:
  // wait for it rather than fail at once.
  const aptGet = (...args) => run(["apt-get", "-o", "DPkg::Lock::Timeout=600", ...args], { env });
  const install = () => aptGet("install", "-y", "--no-install-recommends", "wine64");
  if (install() !== 0) {
    aptGet("update");
    if (install() !== 0) {
      console.error("wine: cannot run: apt-get could not install wine64");
      process.exit(1);
    }
  }
  wine = findWine();
  if (!wine) {
    console.error("wine: cannot run: wine64 was installed but no loader is at " + candidates.join(", "));
    process.exit(1);
  }
}

if (run(["node", join(root, "scripts", "zig.mjs"), "build", "wintest"]) !== 0) process.exit(1);
const dir = join(root, "zig-out", "wintest");
// ipc-child.exe is no test: test_handoff.exe starts it.
const programs = readdirSync(dir).filter((name) => name.endsWith(".exe") && !name.startsWith("ipc-")).sort();
if (programs.length === 0) {
  console.error(`wine: no test programs in ${dir}`);
  process.exit(1);
}
const env = { ...process.env, WINEDEBUG: process.env.WINEDEBUG ?? "-all" };
let failed = 0;
for (const program of programs) {
  console.log(`wine: ${program}`);
  const started = Date.now();
  const status = run([wine, join(dir, program)], { env, cwd: dir, timeout: programTimeoutMs, killSignal: "SIGKILL" });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (status !== 0) {
    console.error(`wine: ${program} failed (${status}) after ${seconds} s`);
    failed += 1;
  } else {
    console.log(`wine: ${program} ok (${seconds} s)`);
  }
}
console.log(`wine: ${programs.length - failed} of ${programs.length} programs passed`);
process.exit(failed === 0 ? 0 : 1);
