#!/usr/bin/env node
// Checks the glibc floor of the shipped Linux libraries: builds them (`zig build cross`, against
// glibc 2.28; the same build as `npm test` step `cross`, so it comes from the cache there) and fails when a library or helper in zig-out/cross/*-linux-gnu needs a symbol
// version newer than GLIBC_2.28, as `readelf --dyn-syms` lists them (readelf reads every
// architecture's ELF; objdump -T only the host's). Also prints each file's size.
//
//   node scripts/glibc.mjs            build, then check
//   node scripts/glibc.mjs --no-build check what zig-out/cross holds
//   node scripts/glibc.mjs -Dstrip=true   build the stripped (packaged) libraries, then check

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const floor = [2, 28];

if (!process.argv.includes("--no-build")) {
  execFileSync("node", [join(root, "scripts", "zig.mjs"), "build", "cross", "-Dstrip=true"], {
    cwd: root,
    stdio: "inherit",
  });
}

/** The GLIBC_x.y[.z] versions `file` needs, from its dynamic symbols. */
export function glibcVersions(file) {
  const text = execFileSync("readelf", ["--dyn-syms", "--wide", file], { encoding: "utf8" });
  return [
    ...new Set([...text.matchAll(/@GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => m.slice(1, 3).map(Number).join("."))),
  ];
}

function newer(version) {
  const [major, minor] = version.split(".").map(Number);
  return major > floor[0] || (major === floor[0] && minor > floor[1]);
}

const cross = join(root, "zig-out", "cross");
const dirs = existsSync(cross) ? readdirSync(cross).filter((d) => d.includes("-linux-gnu")) : [];
let failed = dirs.length === 0;
if (failed) console.error(`no Linux gnu build in ${cross}`);
for (const dir of dirs) {
  for (const name of ["libipc.so", "libipc-tracker"]) {
    const file = join(cross, dir, name);
    if (!existsSync(file)) {
      console.error(`${dir}/${name}: missing`);
      failed = true;
      continue;
    }
    const versions = glibcVersions(file);
    const bad = versions.filter(newer);
    const size = (statSync(file).size / 1024).toFixed(0);
    const newest = versions.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1) ?? "none";
    console.log(
      `${dir}/${name}: ${size} KB, newest ${newest === "none" ? "(no glibc)" : `GLIBC_${newest}`}${
        bad.length ? `: NEWER THAN 2.28: ${bad.join(", ")}` : ""
      }`,
    );
    if (bad.length) failed = true;
  }
}
process.exit(failed ? 1 : 0);
