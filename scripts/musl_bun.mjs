#!/usr/bin/env node
// The `musl-bun` step: the single-process TS cases (tests/bun.test.ts) under Bun's musl build from npm
// (@oven/bun-linux-x64-musl, the pinned Bun's version), with libipc's musl build, on this glibc
// machine. What it takes, each part unpacked here, nothing installed on the system:
//
// - musl's dynamic loader, /lib/ld-musl-x86_64.so.1, from Debian's `musl` package (scripts/debs.mjs).
//   Bun's musl binary names it as its interpreter, and Bun starts children with its own path
//   (process.execPath), so the loader must be at that path, not only run by hand: the step runs Bun in
//   a private mount namespace (`unshare -m`, root) in which an overlay adds the loader to /usr/lib (/lib
//   is a link to it) and /etc/ld-musl-x86_64.path (musl's library path) to /etc. Other processes, and
//   glibc processes in the namespace (Deno, Node children), see the system as it is.
// - A libstdc++ for musl: Bun's musl build links libstdc++.so.6 and libgcc_s.so.1, which Debian packages
//   only for glibc. The step uses Debian's (libstdc++6, libgcc-s1) with tests/musl/glibc_shim.c, the
//   seven glibc-only symbols they need, linked as libgcc_s.so.1 in front of the real one. This is the
//   one part that is not as on Alpine, and it is Bun's C++ runtime, not libipc's path.
// - libipc built for x86_64-linux-musl (`zig build install -Dtarget=x86_64-linux-musl -p zig-out/musl`:
//   the owner-recording mutex) and, beside it, this checkout's glibc build, laid out as the platform
//   packages @libipc/linux-x64-musl and @libipc/linux-x64-gnu and added to node_modules by a third
//   overlay in the namespace: lib/locate.ts must pick the musl one in a musl Bun (its report has no
//   glibcVersionRuntime; the step's probe checks the path it loaded) and the gnu one in the Deno and
//   Node children the cases start; tests/cases/load.ts checks the libc Bun sees (LIBIPC_TEST_LIBC=musl).
//
// When any of that is missing (not x86_64 Linux, not root, no unshare or overlayfs, apt-get or the npm
// registry unreachable), the step fails and says which; it never passes without running the cases.

import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { fetchDebs } from "./debs.mjs";
import { zigPath } from "./zig.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function fail(why) {
  console.error(`musl-bun: cannot run: ${why}`);
  process.exit(1);
}

function run(argv, options = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: "inherit", ...options });
  if (result.error) fail(`${argv[0]}: ${result.error.message}`);
  if (result.status !== 0) fail(`${argv.join(" ")} exited with ${result.status ?? result.signal}`);
  return result;
}

/** The first of `paths` (under the unpacked Debian root) that exists. */
function found(debs, paths, what) {
  for (const path of paths) if (existsSync(join(debs, path))) return join(debs, path);
  return fail(`${what}: none of ${paths.join(", ")} in ${debs}`);
}

if (process.platform !== "linux" || process.arch !== "x64") {
  fail(`Bun's musl build is run on x86_64 Linux only, this is ${process.platform} ${process.arch}`);
}
if (process.getuid?.() !== 0) {
  fail(
    "the private mount namespace that puts musl's loader at /lib/ld-musl-x86_64.so.1 needs root (unshare -m, mount -t overlay)",
  );
}

const work = join(root, ".debs", "musl-bun");
mkdirSync(work, { recursive: true });

// musl's loader, Debian's libstdc++ and libgcc.
const debs = fetchDebs(["musl", "libstdc++6", "libgcc-s1"]);
if (debs === null) fail("apt-get download of musl, libstdc++6 or libgcc-s1 failed (see above)");
const loader = found(debs, ["lib/ld-musl-x86_64.so.1", "usr/lib/ld-musl-x86_64.so.1"], "musl's loader");
const libstdcxx = found(debs, ["usr/lib/x86_64-linux-gnu/libstdc++.so.6"], "libstdc++");
const libgcc = found(
  debs,
  ["lib/x86_64-linux-gnu/libgcc_s.so.1", "usr/lib/x86_64-linux-gnu/libgcc_s.so.1"],
  "libgcc_s",
);

// Bun's musl build, the pinned version, from the npm registry (npm pack: no install, no libc check).
const version = JSON.parse(readFileSync(join(root, "node_modules", "bun", "package.json"), "utf8")).version;
const bunDir = join(work, `bun-${version}`);
const bun = join(bunDir, "package", "bin", "bun");
if (!existsSync(bun)) {
  rmSync(bunDir, { recursive: true, force: true });
  mkdirSync(bunDir, { recursive: true });
  const packed = spawnSync("npm", ["pack", "--silent", `@oven/bun-linux-x64-musl@${version}`], {
    cwd: bunDir,
    encoding: "utf8",
  });
  if (packed.status !== 0) {
    fail(`npm pack @oven/bun-linux-x64-musl@${version} failed: ${packed.stderr ?? packed.error}`);
  }
  run(["tar", "-xzf", packed.stdout.trim().split("\n").at(-1)], { cwd: bunDir });
}

// The library directory musl searches (ld-musl-x86_64.path names it): Debian's libstdc++, and the
// shim as libgcc_s.so.1 needing the real one under another name (a stub gives the link that name).
const zig = zigPath();
const libs = join(work, "lib");
rmSync(libs, { recursive: true, force: true });
mkdirSync(join(libs, "stub"), { recursive: true });
symlinkSync(libstdcxx, join(libs, "libstdc++.so.6"));
// Debian's libstdc++ also names glibc's loader and libc as dependencies: both are musl's loader (which
// is musl's libc) here.
symlinkSync(loader, join(libs, "ld-linux-x86-64.so.2"));
symlinkSync(loader, join(libs, "libc.so.6"));
symlinkSync(libgcc, join(libs, "libgcc_s-glibc.so.1"));
writeFileSync(join(libs, "stub", "stub.c"), "int libipc_musl_bun_stub;\n");
const cc = [zig, "cc", "-target", "x86_64-linux-musl", "-shared", "-fPIC"];
run([
  ...cc,
  "-Wl,-soname,libgcc_s-glibc.so.1",
  "-o",
  join(libs, "stub", "libgcc_s-glibc.so.1"),
  join(libs, "stub", "stub.c"),
]);
run([
  ...cc,
  "-Wl,-soname,libgcc_s.so.1",
  "-o",
  join(libs, "libgcc_s.so.1"),
  join(root, "tests", "musl", "glibc_shim.c"),
  "-Wl,--no-as-needed",
  join(libs, "stub", "libgcc_s-glibc.so.1"),
]);

// The overlays' upper layers: the loader beside /lib's files, musl's path file beside /etc's.
const libDir = realpathSync("/lib");
const overLib = join(work, "over-lib");
const overEtc = join(work, "over-etc");
for (const dir of [overLib, overEtc]) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
}
copyFileSync(loader, join(overLib, "ld-musl-x86_64.so.1"));
writeFileSync(join(overEtc, "ld-musl-x86_64.path"), `${libs}\n`);

// libipc for musl, and the two platform packages that the namespace adds to node_modules.
run([zig, "build", "install", "-Dtarget=x86_64-linux-musl", "-p", join(root, "zig-out", "musl")]);
const modules = join(work, "node_modules");
rmSync(modules, { recursive: true, force: true });
for (
  const [name, prefix] of [["linux-x64-musl", join(root, "zig-out", "musl")], ["linux-x64-gnu", join(root, "zig-out")]]
) {
  const dir = join(modules, "@libipc", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `@libipc/${name}`, version }) + "\n");
  copyFileSync(join(prefix, "lib", "libipc.so"), join(dir, "libipc.so"));
  copyFileSync(join(prefix, "libexec", "libipc", "libipc-tracker"), join(dir, "libipc-tracker"));
}

// The namespace: the overlays mounted (the two packages join this checkout's node_modules there, where
// lib/locate.ts resolves them from; `bun test` does not read NODE_PATH), then the command.
const nodeModules = realpathSync(join(root, "node_modules"));
const inNamespace = (argv, options = {}) =>
  spawnSync("unshare", [
    "-m",
    "sh",
    "-c",
    `mount -t overlay overlay -o lowerdir=${overLib}:${libDir} ${libDir} && ` +
    `mount -t overlay overlay -o lowerdir=${overEtc}:/etc /etc && ` +
    `mount -t overlay overlay -o lowerdir=${modules}:${nodeModules} ${nodeModules} && exec "$@"`,
    "sh",
    ...argv,
  ], { cwd: root, ...options });

const env = { ...process.env, LIBIPC_TEST_LIBC: "musl" };
delete env.LIBIPC_PATH;
const probe = inNamespace([
  bun,
  "-e",
  'const ipc = await import("./bun.ts"); const h = process.report.getReport().header; ' +
  'console.log(`bun ${Bun.version} glibc=${h.glibcVersionRuntime ?? "none"} library=${ipc.libraryInfo().path}`)',
], { env, encoding: "utf8" });
if (probe.error) fail(`unshare: ${probe.error.message}`);
const said = `${probe.stdout ?? ""}${probe.stderr ?? ""}`.trim();
if (probe.status !== 0) fail(`Bun's musl build did not start in the namespace (exit ${probe.status}):\n${said}`);
console.log(`musl-bun: ${said}`);
if (!/glibc=none/.test(said)) fail("the Bun that ran reports glibc: not the musl build");
if (!/library=.*@libipc\/linux-x64-musl\/libipc\.so/.test(said)) {
  console.error("musl-bun: FAIL: lib/locate.ts did not pick @libipc/linux-x64-musl in a musl process");
  process.exit(1);
}

const cases = inNamespace([bun, "test", "tests/bun.test.ts"], { env, stdio: "inherit" });
process.exit(cases.status ?? 1);
