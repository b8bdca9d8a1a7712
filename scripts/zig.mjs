#!/usr/bin/env node
// Runs the pinned Zig with the given arguments: `node scripts/zig.mjs build test`.
//
// The pinned version lives in one place, `minimum_zig_version` in build.zig.zon. If the `zig` on PATH
// reports exactly that version it is used. Otherwise that release is installed from PyPI (package
// `ziglang`) with `pip install --target .zig/<version>`, a folder inside this project, so the user's own
// Python environment is never touched, and the binary inside that wheel is run.
//
// `node scripts/zig.mjs --path` prints the path of the Zig it would run.

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function pinnedVersion() {
  const zon = readFileSync(join(root, "build.zig.zon"), "utf8");
  const match = zon.match(/\.minimum_zig_version\s*=\s*"([^"]+)"/);
  if (!match) throw new Error("build.zig.zon has no .minimum_zig_version");
  return match[1];
}

function versionOf(zig) {
  try {
    return execFileSync(zig, ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

function findPython() {
  for (const python of ["python3", "python"]) {
    const result = spawnSync(python, ["-m", "pip", "--version"], { stdio: "ignore" });
    if (result.status === 0) return python;
  }
  return null;
}

function install(version, target) {
  const python = findPython();
  if (!python) {
    throw new Error(
      `Zig ${version} is needed and the zig on PATH is not that version; installing it needs ` +
        `python3 with pip (to fetch the 'ziglang' wheel from PyPI). Install python3-pip, or put Zig ` +
        `${version} on PATH.`,
    );
  }
  process.stderr.write(`libipc: installing Zig ${version} from PyPI into ${target}\n`);
  const result = spawnSync(
    python,
    [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--root-user-action=ignore",
      "--no-deps",
      "--target",
      target,
      `ziglang==${version}`,
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (result.status !== 0) throw new Error(`pip install ziglang==${version} failed (exit ${result.status})`);
}

export function zigPath() {
  const version = pinnedVersion();
  if (versionOf("zig") === version) return "zig";
  const target = join(root, ".zig", version);
  const exe = join(target, "ziglang", process.platform === "win32" ? "zig.exe" : "zig");
  if (versionOf(exe) !== version) {
    install(version, target);
    const got = versionOf(exe);
    if (got !== version) throw new Error(`the installed Zig at ${exe} reports ${got}, expected ${version}`);
  }
  return exe;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const zig = zigPath();
    const args = process.argv.slice(2);
    if (args[0] === "--path") {
      console.log(zig);
      process.exit(0);
    }
    const result = spawnSync(zig, args, { stdio: "inherit", cwd: root });
    process.exit(result.status ?? 1);
  } catch (error) {
    process.stderr.write(`libipc: ${error.message}\n`);
    process.exit(1);
  }
}
