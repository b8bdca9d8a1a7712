#!/usr/bin/env node
// Lays out the npm packages in npm/, each ready for `npm publish npm/<dir>`:
//
// - npm/<platform>/ per platform (`platforms` below: Linux x64/arm64 with glibc and with musl, macOS
//   x64/arm64, Windows x64/arm64): takes the library that `zig build cross` built with the pinned Zig
//   (ReleaseSafe: the assertions that guard libipc's internal invariants stay in shipped builds, as in
//   every other build of libipc; without debug information), strips an ELF library of its symbol
//   table too (the exported ipc_* dynamic symbols stay: 3 MB becomes about 0.4 MB), and writes
//   package.json (os, cpu and, on Linux, libc), with the library (libipc.so, libipc.dylib, ipc.dll) and,
//   on Linux and macOS, libipc-tracker side by side (the library finds the helper beside itself). What the
//   libraries can do on each OS is the platform layer's business (zig/platform/); packaging ships
//   whatever it builds.
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
// process.arch); a new platform is one more entry in `platforms` (and in build.zig's cross targets),
// and the main package's optionalDependencies follow from it.

import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { zigPath } from "./zig.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * Every platform package: the directory `zig build cross` puts its build in (build.zig `cross_targets`),
 * npm's fields (Node's words: process.platform, process.arch, and npm's libc), and its files: the
 * library under the name Zig gives it on that OS, and the tracker's helper where the platform has one
 * (Linux and macOS; Windows has no tracker: a mapping dies with its last handle). The gnu builds link
 * against glibc 2.28, the floor they promise (build.zig); the musl ones against musl and its
 * owner-recording mutex (build/lib.zig `mutexKind`).
 */
export const platforms = [
  { name: "linux-x64-gnu", dir: "x86_64-linux-gnu", os: "linux", cpu: "x64", libc: "glibc" },
  { name: "linux-arm64-gnu", dir: "aarch64-linux-gnu", os: "linux", cpu: "arm64", libc: "glibc" },
  { name: "linux-x64-musl", dir: "x86_64-linux-musl", os: "linux", cpu: "x64", libc: "musl" },
  { name: "linux-arm64-musl", dir: "aarch64-linux-musl", os: "linux", cpu: "arm64", libc: "musl" },
  { name: "darwin-x64", dir: "x86_64-macos", os: "darwin", cpu: "x64" },
  { name: "darwin-arm64", dir: "aarch64-macos", os: "darwin", cpu: "arm64" },
  { name: "win32-x64", dir: "x86_64-windows-gnu", os: "win32", cpu: "x64" },
  { name: "win32-arm64", dir: "aarch64-windows-gnu", os: "win32", cpu: "arm64" },
].map((platform) => ({ ...platform, ...platformFiles(platform.os) }));

/** The library's file name on `os` (as Zig names it; lib/locate.ts `libraryFile` agrees) and the helper's. */
export function platformFiles(os) {
  const library = os === "win32" ? "ipc.dll" : os === "darwin" ? "libipc.dylib" : "libipc.so";
  return { library, helper: os === "linux" || os === "darwin" ? "libipc-tracker" : null };
}

function run(argv, options = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw new Error(`could not run ${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${argv.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

/**
 * Builds every shipped library once (`zig build cross`, ReleaseSafe, without debug information) into
 * zig-out/npm/cross/<dir>; the platform packages take their files from there. One build graph for all
 * targets: Zig builds them in parallel and from its cache when nothing changed.
 */
export function buildCross() {
  const prefix = join(root, "zig-out", "npm");
  run([zigPath(), "build", "cross", "-Doptimize=ReleaseSafe", "-Dstrip=true", "--prefix", prefix]);
  return join(prefix, "cross");
}

/**
 * Lays out one platform's package in npm/<name> from `built` (zig-out/npm/cross/<dir>) and returns its
 * dir. With `local`, takes the library and helper of this checkout's own build (zig-out) instead: the
 * consumer test's quick path, for this machine's platform only (that build targets this CPU).
 */
export function buildPlatform(platform, main, { local = false, built = null } = {}) {
  const from = local
    ? { library: join(root, "zig-out", "lib", platform.library), helper: join(root, "zig-out", "libexec", "libipc") }
    : { library: join(built, platform.dir, platform.library), helper: join(built, platform.dir) };
  const dir = join(root, "npm", platform.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  strip(from.library, join(dir, platform.library), { required: !local, elf: platform.os === "linux" });
  if (platform.helper) copyFileSync(join(from.helper, platform.helper), join(dir, platform.helper));
  copyFileSync(join(root, "LICENSE"), join(dir, "LICENSE"));
  const what = `${platform.os} ${platform.cpu}${platform.libc ? ` (${platform.libc})` : ""}`;
  const shipped = [platform.library, ...(platform.helper ? [platform.helper] : [])];
  const manifest = {
    name: `@libipc/${platform.name}`,
    version: main.version,
    description: `libipc's native library for ${what}; installed by libipc`,
    license: main.license,
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.libc ? { libc: [platform.libc] } : {}),
    files: [...shipped, "LICENSE"],
    preferUnplugged: true,
  };
  writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  writeFileSync(
    join(dir, "README.md"),
    `# ${manifest.name}\n\nThe native part of [libipc](https://www.npmjs.com/package/libipc) for ${what}: ` +
      `${shipped.map((file) => `\`${file}\``).join(" and its tracker helper ")}. ` +
      `Install \`libipc\`, not this package: it depends on the package for your platform.\n`,
  );
  return dir;
}

/**
 * Copies `source` to `dest`; an ELF library (`elf`) without debug information or symbol table: the
 * dynamic symbols (.dynsym) stay, so dlopen still finds every ipc_* function. Zig 0.15's `zig objcopy`
 * cannot strip a shared library ("unimplemented"), so this uses llvm-strip, else GNU strip (whose
 * generic ELF support handles the other architectures' files too). Without either, a published build
 * fails; the consumer test's local one is copied as it is. Mach-O and PE libraries are copied: the
 * cross build already left their debug information out (-Dstrip=true), and their exports live in
 * tables of their own that a symbol-table strip must not touch.
 */
function strip(source, dest, { required, elf }) {
  if (!elf) {
    copyFileSync(source, dest);
    return;
  }
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
  const built = local ? null : buildCross();
  for (const platform of platforms.filter((p) => args.length === 0 || args.includes(p.name))) {
    const dir = buildPlatform(platform, main, { local, built });
    const size = statSync(join(dir, platform.library)).size;
    console.log(`npm/${platform.name}: ${platform.library} ${(size / 1024).toFixed(0)} KiB`);
    if (packDir) console.log(pack(dir, packDir));
  }
  const dir = stageMain(main);
  console.log(`npm/libipc: the main package`);
  if (packDir) console.log(pack(dir, packDir));
}
