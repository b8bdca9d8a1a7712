#!/usr/bin/env node
// Debian packages unpacked into the checkout, never installed on the system: `apt-get download`
// fetches each .deb into .debs/ and `dpkg-deb -x` unpacks it into .debs/root (headers under
// usr/include, static libraries under usr/lib/<triplet>). Tests and benches that build against a real,
// unmodified C library (Lua, jemalloc, mimalloc, Boost's headers) use it, so a machine needs only
// apt-get and dpkg-deb, not root.
//
//   node scripts/debs.mjs liblua5.4-dev      prints the root it unpacked into; exit 1 when it cannot
//
// A package already unpacked (its marker file .debs/<name>.done exists) is not fetched again.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const checkout = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Fetches and unpacks the named Debian packages. Returns the root they were unpacked into, or null
 * with the reason written to stderr when apt-get or dpkg-deb is missing or refuses.
 */
export function fetchDebs(packages, dir = join(checkout, ".debs")) {
  const root = join(dir, "root");
  mkdirSync(root, { recursive: true });
  for (const name of packages) {
    const done = join(dir, `${name}.done`);
    if (existsSync(done)) continue;
    const before = new Set(readdirSync(dir));
    const got = spawnSync("apt-get", ["download", name], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    if (got.error || got.status !== 0) {
      process.stderr.write(`debs: apt-get download ${name} failed${got.error ? `: ${got.error.message}` : ""}\n`);
      return null;
    }
    const deb = readdirSync(dir).find((f) => f.endsWith(".deb") && f.startsWith(`${name}_`) && !before.has(f)) ??
      readdirSync(dir).find((f) => f.endsWith(".deb") && f.startsWith(`${name}_`));
    if (deb === undefined) {
      process.stderr.write(`debs: apt-get download ${name} left no ${name}_*.deb in ${dir}\n`);
      return null;
    }
    const x = spawnSync("dpkg-deb", ["-x", deb, root], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    if (x.error || x.status !== 0) {
      process.stderr.write(`debs: dpkg-deb -x ${deb} failed${x.error ? `: ${x.error.message}` : ""}\n`);
      return null;
    }
    writeFileSync(done, `${deb}\n`);
  }
  return root;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fetchDebs(process.argv.slice(2));
  if (root === null) process.exit(1);
  console.log(root);
}
