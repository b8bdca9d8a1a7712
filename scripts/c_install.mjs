#!/usr/bin/env node
// Uses libipc from C as README "Use from C" says: `zig build -p PREFIX` into a temporary prefix, then
// tests/c/install_app.c compiled with the system's `cc` through pkg-config, linked with libipc.so and
// with libipc.a, and run from another directory. Checks the install layout (SONAME and symlinks,
// libexec/libipc/libipc-tracker, libipc.pc's prefix), that both programs find the tracker's helper
// (the shared one relative to libipc.so, the static one at the path compiled in), and that with the
// helper moved away a tracked create fails with IPC_ENOHELPER.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const work = mkdtempSync(join(tmpdir(), "libipc-c-"));
const prefix = join(work, "prefix");
const env = { ...process.env, PKG_CONFIG_PATH: join(prefix, "lib", "pkgconfig"), LIBIPC_TRACKER: "" };
delete env.LIBIPC_TRACKER;

function run(argv, options = {}) {
  console.log(`$ ${argv.join(" ")}`);
  const out = execFileSync(argv[0], argv.slice(1), { cwd: work, env, encoding: "utf8", ...options });
  if (out) process.stdout.write(out);
  return out;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

try {
  run(["node", join(root, "scripts", "zig.mjs"), "build", "install", "-p", prefix], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  });

  const lib = join(prefix, "lib");
  check(readlinkSync(join(lib, "libipc.so")) === "libipc.so.0", "lib/libipc.so should link to libipc.so.0");
  check(readlinkSync(join(lib, "libipc.so.0")) === "libipc.so.0.1.0", "lib/libipc.so.0 should link to libipc.so.0.1.0");
  const dynamic = run(["readelf", "-d", join(lib, "libipc.so.0.1.0")]);
  check(/SONAME.*\[libipc\.so\.0\]/.test(dynamic), "SONAME should be libipc.so.0");
  for (const file of ["lib/libipc.a", "include/ipc.h", "libexec/libipc/libipc-tracker"]) {
    check(existsSync(join(prefix, file)), `${file} should be installed`);
  }
  check(readFileSync(join(lib, "pkgconfig", "libipc.pc"), "utf8").startsWith(`prefix=${prefix}\n`), "libipc.pc prefix");

  const source = join(root, "tests", "c", "install_app.c");
  const checkH = `-I${join(root, "tests", "c")}`;
  const cflags = run(["pkg-config", "--cflags", "libipc"]).trim().split(/\s+/).filter(Boolean);
  const libs = run(["pkg-config", "--libs", "libipc"]).trim().split(/\s+/);
  const libdir = run(["pkg-config", "--variable=libdir", "libipc"]).trim();
  // Shared: as README shows, plus an rpath because the prefix is not on the loader's path.
  run(["cc", "-o", "app_shared", source, checkH, ...cflags, ...libs, `-Wl,-rpath,${libdir}`]);
  const needed = run(["readelf", "-d", join(work, "app_shared")]);
  check(/NEEDED.*\[libipc\.so\.0\]/.test(needed), "the program should need libipc.so.0");
  // Static: libipc.a by file name, plus what `pkg-config --static` lists beyond -lipc.
  const extra = run(["pkg-config", "--static", "--libs-only-l", "libipc"]).trim().split(/\s+/).filter((f) =>
    f !== "-lipc"
  );
  run(["cc", "-o", "app_static", source, checkH, ...cflags, `-L${libdir}`, "-l:libipc.a", ...extra]);
  check(
    !/libipc/.test(run(["readelf", "-d", join(work, "app_static")])),
    "the static program should not need libipc.so",
  );

  check(run([join(work, "app_shared")]).startsWith("ok "), "shared program");
  check(run([join(work, "app_static")]).startsWith("ok "), "static program");
  // Without the helper, the error names it.
  const helper = join(prefix, "libexec", "libipc", "libipc-tracker");
  renameSync(helper, `${helper}.away`);
  try {
    check(run([join(work, "app_static"), "nohelper"]).startsWith("nohelper: "), "static program without the helper");
    check(run([join(work, "app_shared"), "nohelper"]).startsWith("nohelper: "), "shared program without the helper");
  } finally {
    renameSync(`${helper}.away`, helper);
  }
  console.log("C install: shared and static programs ok");
} finally {
  rmSync(work, { recursive: true, force: true });
}
