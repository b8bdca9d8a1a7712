#!/usr/bin/env node
// Lays out the npm packages in npm/, each ready for `npm publish npm/<dir>`:
//
// - npm/<platform>/ per platform: cross-compiles libipc with the pinned Zig (ReleaseSafe: the
//   assertions that guard libipc's internal invariants stay in shipped builds, as in every other build
//   of libipc), strips the library of its debug information and symbol table (the exported ipc_*
//   dynamic symbols stay: 3 MB becomes about 0.4 MB), and writes package.json (os, cpu, libc), with
//   libipc.so and libipc-tracker side by side (the library finds the helper beside itself).
// - npm/libipc/, the main package: dist/ (compiled by scripts/build-js.mjs), the CLI, README, LICENSE,
//   and this checkout's package.json without its scripts and devDependencies, plus
//   "optionalDependencies" naming every platform package at the same version; npm, Bun and Deno
//   install only the one whose os, cpu and libc match. The checkout's own package.json lists none, so
//   a checkout never installs a published library over its own build and its lockfile stays put.
//
//   node scripts/package.mjs                       every platform, and the main package
//   node scripts/package.mjs linux-x64-gnu         only the named platforms, and the main package
//   node scripts/package.mjs --pack DIR [names]    also `npm pack` each into DIR
//   node scripts/package.mjs --local NAME          NAME from this checkout's build (zig-out), not cross-compiled
//
// Platform names follow @libipc/<os>-<cpu>[-<libc>] with Node's words for os and cpu (process.platform,
// process.arch); a new platform (musl, darwin, win32) is one more entry in `platforms` and in the main
// package's optionalDependencies.

import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { zigPath } from "./zig.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Every platform package: Zig's target (glibc 2.28 is the floor the gnu builds promise), npm's fields. */
export const platforms = [
  { name: "linux-x64-gnu", target: "x86_64-linux-gnu.2.28", os: "linux", cpu: "x64", libc: "glibc" },
  { name: "linux-arm64-gnu", target: "aarch64-linux-gnu.2.28", os: "linux", cpu: "arm64", libc: "glibc" },
];

const files = { library: "libipc.so", helper: "libipc-tracker" };

function run(argv, options = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw new Error(`could not run ${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${argv.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

/**
 * Builds one platform into zig-out/npm/<name> and lays its package out in npm/<name>; returns its dir.
 * With `local`, takes the library and helper of this checkout's own build (zig-out) instead: the
 * consumer test's quick path, for this machine's platform only (that build targets this CPU).
 */
export function buildPlatform(platform, main, { local = false } = {}) {
  const zig = zigPath();
  let prefix = join(root, "zig-out");
  if (!local) {
    prefix = join(root, "zig-out", "npm", platform.name);
    run([zig, "build", "install", `-Dtarget=${platform.target}`, "-Doptimize=ReleaseSafe", "--prefix", prefix]);
  }
  const dir = join(root, "npm", platform.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  strip(join(prefix, "lib", files.library), join(dir, files.library), { required: !local });
  copyFileSync(join(prefix, "libexec", "libipc", files.helper), join(dir, files.helper));
  copyFileSync(join(root, "LICENSE"), join(dir, "LICENSE"));
  const manifest = {
    name: `@libipc/${platform.name}`,
    version: main.version,
    description: `libipc's native library for ${platform.os} ${platform.cpu} (${platform.libc}); installed by libipc`,
    license: main.license,
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.libc ? { libc: [platform.libc] } : {}),
    files: [files.library, files.helper, "LICENSE"],
    preferUnplugged: true,
  };
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  writeFileSync(
    join(dir, "README.md"),
    `# ${manifest.name}\n\nThe native part of [libipc](https://www.npmjs.com/package/libipc) for ${platform.os} ` +
      `${platform.cpu} (${platform.libc}): \`${files.library}\` and its tracker helper \`${files.helper}\`. ` +
      `Install \`libipc\`, not this package: it depends on the package for your platform.\n`,
  );
  return dir;
}

/**
 * Copies `source` to `dest` without debug information or symbol table; the dynamic symbols (.dynsym)
 * stay, so dlopen still finds every ipc_* function. Zig 0.15's `zig objcopy` cannot strip a shared
 * library ("unimplemented"), so this uses llvm-strip, else GNU strip (whose generic ELF support
 * handles the other architectures' files too). Without either, a published build fails; the consumer
 * test's local one is copied as it is.
 */
function strip(source, dest, { required }) {
  for (const tool of ["llvm-strip", "strip"]) {
    const result = spawnSync(tool, ["--strip-all", "-o", dest, source], { stdio: ["ignore", "inherit", "inherit"] });
    if (result.error?.code === "ENOENT") continue;
    if (result.status !== 0) throw new Error(`${tool} --strip-all ${source} failed (exit ${result.status})`);
    return;
  }
  if (required) throw new Error("packaging strips libipc with llvm-strip or strip (binutils): install one of them");
  console.warn(`package: no llvm-strip or strip found; ${dest} keeps its debug information`);
  copyFileSync(source, dest);
}

/** Stages the main package in npm/libipc from dist/ (built first) and returns its dir. */
export function stageMain(main) {
  run(["node", join(root, "scripts", "build-js.mjs")]);
  const dir = join(root, "npm", "libipc");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "cli"), { recursive: true });
  cpSync(join(root, "dist"), join(dir, "dist"), {
    recursive: true,
    filter: (source) => !/\.ts$/.test(source) || source.endsWith(".d.ts"),
  });
  copyFileSync(join(root, "cli", "libipc.mjs"), join(dir, "cli", "libipc.mjs"));
  for (const file of ["README.md", "LICENSE"]) copyFileSync(join(root, file), join(dir, file));
  // The checkout is private so that only this staged package, with its optionalDependencies, is published.
  const { private: _private, scripts: _scripts, devDependencies: _dev, allowScripts: _allow, ...manifest } = main;
  manifest.optionalDependencies = Object.fromEntries(
    platforms.map((platform) => [`@libipc/${platform.name}`, main.version]),
  );
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  return dir;
}

/** `npm pack` of `dir` into `dest`; returns the tarball's path. */
export function pack(dir, dest) {
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dest], {
    cwd: dir,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return join(dest, JSON.parse(out)[0].filename);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let packDir = null;
  const at = args.indexOf("--pack");
  if (at >= 0) {
    packDir = args[at + 1];
    if (!packDir) throw new Error("--pack needs a directory");
    args.splice(at, 2);
  }
  const local = args.includes("--local");
  if (local) args.splice(args.indexOf("--local"), 1);
  const unknown = args.filter((name) => !platforms.some((p) => p.name === name));
  if (unknown.length > 0) {
    console.error(
      `unknown platform(s): ${unknown.join(", ")}; platforms are ${platforms.map((p) => p.name).join(", ")}`,
    );
    process.exit(2);
  }
  const main = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  for (const platform of platforms.filter((p) => args.length === 0 || args.includes(p.name))) {
    const dir = buildPlatform(platform, main, { local });
    const size = statSync(join(dir, files.library)).size;
    console.log(`npm/${platform.name}: ${files.library} ${(size / 1024).toFixed(0)} KiB`);
    if (packDir) console.log(pack(dir, packDir));
  }
  const dir = stageMain(main);
  console.log(`npm/libipc: the main package`);
  if (packDir) console.log(pack(dir, packDir));
}
