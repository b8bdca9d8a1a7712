#!/usr/bin/env node
// The consumer test (`node scripts/test.mjs consumer`): what a user gets from npm. Lays out and packs
// the main package and this machine's platform package (scripts/package.mjs), installs them and
// msgpackr (packed from node_modules) offline into fresh projects in a temporary directory (one with
// npm, one with `bun add`), with libipc's dependencies msgpackr and koffi (and koffi's package for
// this platform) packed from node_modules, and there:
//   - runs tests/consumer/parent.ts under Bun and under Deno (each starts a Bun and a Deno child and
//     shares a Mutex and a Chan<number> with them, then runs a Bun and a Deno isolate; the library
//     must come from the platform package);
//   - runs parent.ts under Node 26 (the devDependency; it strips the types) with a Node and a Bun
//     child and isolate: the package's dist/node.js binds libipc through the installed koffi;
//   - imports npm:libipc under Deno with only --allow-ffi;
//   - imports libipc under this machine's Node (20: the compiled dist/node.js) and uses a Mutex and a
//     Chan;
//   - runs the installed bin (node_modules/.bin/libipc) as `npx libipc` does, under this machine's Node
//     and under Node 26, with no Bun or Deno on PATH: `ls` lists a live and a dead segment, `gc
//     --all-dead` removes the dead one (tests/consumer/cli.mjs);
//   - type-checks the consumer with strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes and
//     moduleResolution nodenext, without skipLibCheck: 0 errors;
//   - checks that the main tarball holds no Zig source, no C header and no native library;
//   - before all that, lays out and packs every platform package from the cross build (`zig build
//     cross`, which the cross step of `npm test` has cached) and checks each tarball: its package.json
//     (name, version, os, cpu, libc on Linux only), exactly its library and, on Linux, the tracker's
//     helper (besides package.json, README.md and LICENSE), each file of the package's OS and CPU
//     (ELF, Mach-O or PE headers; a glibc build names GLIBC_ symbol versions, a musl one none), and the
//     main package's optionalDependencies naming all of them at its exact version.
// The temporary directory is removed at the end unless LIBIPC_CONSUMER_KEEP is set.

import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pack, platforms } from "./package.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = (name) => join(root, "node_modules", ".bin", name);
const failures = [];

function step(name, argv, { cwd, expect = 0, match, env, timeout = 120_000 } = {}) {
  const started = Date.now();
  const result = spawnSync(argv[0], argv.slice(1), {
    cwd,
    encoding: "utf8",
    env: { ...process.env, LIBIPC_BUN: bin("bun"), LIBIPC_DENO: bin("deno"), ...env },
    timeout,
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const ok = result.status === expect && (match === undefined || match.test(output));
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (!ok) {
    failures.push(name);
    console.log(`  exit ${result.status ?? result.signal}${result.error ? ` (${result.error.message})` : ""}`);
    console.log(output.trimEnd().split("\n").map((line) => `  | ${line}`).join("\n"));
  }
  return output;
}

/** The bytes of `file` inside the tarball `tgz` (its entries are under package/). */
function tarFile(tgz, file) {
  return execFileSync("tar", ["-xzOf", tgz, `package/${file}`], { maxBuffer: 64 << 20 });
}

/**
 * Why `bytes` is not a library (`kind` "library") or program ("helper") for `platform`, or null. ELF:
 * e_type, e_machine (x86_64 62, aarch64 183); Mach-O 64: cputype (x86_64 0x01000007, arm64
 * 0x0100000c), filetype MH_DYLIB; PE: the COFF machine (0x8664, 0xaa64) and IMAGE_FILE_DLL.
 */
function wrongBinary(platform, bytes, kind) {
  const arm = platform.cpu === "arm64";
  if (platform.os === "linux") {
    if (bytes.readUInt32BE(0) !== 0x7f454c46) return "not ELF";
    const type = bytes.readUInt16LE(16);
    if (kind === "library" ? type !== 3 : type !== 2 && type !== 3) return `ELF type ${type}`;
    if (bytes.readUInt16LE(18) !== (arm ? 183 : 62)) return `ELF machine ${bytes.readUInt16LE(18)}`;
    if (kind === "library") {
      const glibc = bytes.includes("GLIBC_2.");
      if (platform.libc === "glibc" && !glibc) return "a glibc build without GLIBC_ symbol versions";
      if (platform.libc === "musl" && glibc) return "a musl build that names GLIBC_ symbol versions";
    }
    return null;
  }
  if (platform.os === "darwin") {
    if (bytes.readUInt32LE(0) !== 0xfeedfacf) return "not Mach-O 64";
    if (bytes.readUInt32LE(4) !== (arm ? 0x0100000c : 0x01000007)) return `Mach-O cputype ${bytes.readUInt32LE(4)}`;
    // MH_DYLIB 6 for the library, MH_EXECUTE 2 for the helper.
    return bytes.readUInt32LE(12) === (kind === "library" ? 6 : 2) ? null : `Mach-O filetype ${bytes.readUInt32LE(12)}`;
  }
  if (bytes.toString("latin1", 0, 2) !== "MZ") return "not PE";
  const pe = bytes.readUInt32LE(0x3c);
  if (bytes.toString("latin1", pe, pe + 4) !== "PE\0\0") return "no PE signature";
  if (bytes.readUInt16LE(pe + 4) !== (arm ? 0xaa64 : 0x8664)) return `PE machine ${bytes.readUInt16LE(pe + 4)}`;
  return (bytes.readUInt16LE(pe + 22) & 0x2000) !== 0 ? null : "PE without IMAGE_FILE_DLL";
}

/** Packs every platform package and the main one into `dir` and checks them (see the file comment). */
function checkPlatformPackages(dir) {
  const main = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  step("package every platform (zig build cross)", ["node", join(root, "scripts", "package.mjs")], {
    cwd: root,
    timeout: 0,
  });
  const expected = [
    "linux-x64-gnu",
    "linux-arm64-gnu",
    "linux-x64-musl",
    "linux-arm64-musl",
    "darwin-x64",
    "darwin-arm64",
    "win32-x64",
    "win32-arm64",
  ];
  const names = platforms.map((p) => p.name);
  const problems = [];
  if (JSON.stringify(names) !== JSON.stringify(expected)) problems.push(`platforms ${names.join(", ")}`);
  for (const platform of platforms) {
    const tgz = pack(join(root, "npm", platform.name), dir);
    const manifest = JSON.parse(tarFile(tgz, "package.json").toString("utf8"));
    const shipped = [platform.library, ...(platform.helper ? [platform.helper] : [])];
    const want = {
      name: `@libipc/${platform.name}`,
      version: main.version,
      os: [platform.os],
      cpu: [platform.cpu],
      libc: platform.os === "linux" ? [platform.name.endsWith("-musl") ? "musl" : "glibc"] : undefined,
    };
    for (const [field, value] of Object.entries(want)) {
      if (JSON.stringify(manifest[field]) !== JSON.stringify(value)) {
        problems.push(
          `${platform.name}: package.json ${field} ${JSON.stringify(manifest[field])}, not ${JSON.stringify(value)}`,
        );
      }
    }
    const listing = execFileSync("tar", ["-tzf", tgz], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
    const files = ["LICENSE", "README.md", "package.json", ...shipped].map((f) => `package/${f}`).sort();
    if (JSON.stringify(listing) !== JSON.stringify(files)) {
      problems.push(`${platform.name}: holds ${listing.join(", ")}; expected ${files.join(", ")}`);
    }
    for (const file of shipped) {
      if (!listing.includes(`package/${file}`)) continue;
      const why = wrongBinary(platform, tarFile(tgz, file), file === platform.library ? "library" : "helper");
      if (why !== null) problems.push(`${platform.name}: ${file}: ${why}`);
    }
  }
  const mainTgz = pack(join(root, "npm", "libipc"), dir);
  const optional = JSON.parse(tarFile(mainTgz, "package.json").toString("utf8")).optionalDependencies ?? {};
  const wantOptional = Object.fromEntries(expected.map((name) => [`@libipc/${name}`, main.version]));
  if (JSON.stringify(optional) !== JSON.stringify(wantOptional)) {
    problems.push(`main package: optionalDependencies ${JSON.stringify(optional)}`);
  }
  console.log(`${problems.length === 0 ? "ok  " : "FAIL"} ${platforms.length} platform packages and their tarballs`);
  for (const problem of problems) console.log(`  | ${problem}`);
  if (problems.length > 0) failures.push("platform packages");
}

const cpu = { x64: "x64", arm64: "arm64" }[process.arch];
const platform = platforms.find((p) => p.os === process.platform && p.cpu === cpu && p.libc === "glibc");
if (!platform) {
  console.error(`consumer: no platform package for ${process.platform} ${process.arch}`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "libipc-consumer-"));
try {
  const every = join(work, "every");
  mkdirSync(every);
  checkPlatformPackages(every);
  const tarballs = join(work, "tarballs");
  mkdirSync(tarballs);
  // The platform package from this checkout's build (the test's first step made it) unless
  // LIBIPC_CONSUMER_CROSS=1 asks for the cross-compiled one that is published (minutes more to build).
  const how = process.env.LIBIPC_CONSUMER_CROSS === "1" ? [] : ["--local"];
  step(`package ${platform.name} ${how.join(" ")}`, [
    "node",
    join(root, "scripts", "package.mjs"),
    ...how,
    platform.name,
  ], {
    cwd: root,
    timeout: 0,
  });
  const platformTgz = pack(join(root, "npm", platform.name), tarballs);
  const mainTgz = pack(join(root, "npm", "libipc"), tarballs);
  // libipc's dependencies, packed from this checkout's node_modules: the install needs no network.
  // koffi's binary is in its optional package for this platform (@koromix/koffi-<os>-<cpu>), which
  // npm would otherwise fetch; the other platforms' ones are skipped (their os/cpu do not match).
  const msgpackrTgz = pack(join(root, "node_modules", "msgpackr"), tarballs);
  const koffiTgz = pack(join(root, "node_modules", "koffi"), tarballs);
  const koffiPlatformTgz = pack(
    join(root, "node_modules", "@koromix", `koffi-${process.platform}-${process.arch}`),
    tarballs,
  );

  const listing = execFileSync("tar", ["-tzf", mainTgz], { encoding: "utf8" }).split("\n").filter(Boolean);
  const unwanted = listing.filter((file) => /\.(zig|h|so|a|ts)$/.test(file) && !file.endsWith(".d.ts"));
  console.log(`${unwanted.length === 0 ? "ok  " : "FAIL"} main tarball: ${listing.length} files, no sources`);
  if (unwanted.length > 0) failures.push(`main tarball holds ${unwanted.join(", ")}`);

  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }) + "\n");
  step("npm install --offline (the tarballs)", [
    "npm",
    "install",
    "--offline",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    mainTgz,
    platformTgz,
    msgpackrTgz,
    koffiTgz,
    koffiPlatformTgz,
  ], { cwd: app });
  for (const file of ["parent.ts", "child.ts", "work.ts", "npm_specifier.ts", "node.mjs", "cli.mjs"]) {
    cpSync(join(root, "tests", "consumer", file), join(app, file));
  }

  step("bun parent", [bin("bun"), "parent.ts"], { cwd: app, match: /consumer: bun .* parent, bun and deno children/ });
  step("deno parent", [bin("deno"), "run", "--allow-all", "parent.ts"], {
    cwd: app,
    match: /consumer: deno .* parent, bun and deno children/,
  });
  step("deno npm:libipc with --allow-ffi only", [bin("deno"), "run", "--allow-ffi", "npm_specifier.ts"], {
    cwd: app,
    match: /npm: specifier: deno .*node_modules\/@libipc\/linux-/,
  });
  step("node 26 parent", [bin("node"), "parent.ts", "node", "bun"], {
    cwd: app,
    env: { LIBIPC_NODE: bin("node") },
    match: /consumer: node 26\.\S+ parent, node and bun children/,
  });
  step(`node ${process.versions.node}: named imports, a Mutex and a Chan`, ["node", "node.mjs"], {
    cwd: app,
    match: /consumer: node \S+ imports libipc; library .*node_modules\/@libipc\/linux-/,
  });
  // The installed bin under each Node, as `npx libipc` runs it (the old one handed off to Bun or Deno).
  for (
    const [node, version] of [[process.execPath, process.versions.node.replace(/\./g, "\\.")], [bin("node"), "26\\."]]
  ) {
    step(`libipc ls and gc under ${node}`, [node, "cli.mjs"], {
      cwd: app,
      match: new RegExp(`consumer: libipc ls and gc under node ${version}\\S* from node_modules`),
    });
  }

  // Bun's own installer, offline: the registry is a closed port, msgpackr comes from its tarball
  // through "overrides", and the platform packages not given (other CPUs) are optional, so skipped.
  const bunApp = join(work, "bun-app");
  mkdirSync(bunApp);
  writeFileSync(
    join(bunApp, "package.json"),
    JSON.stringify({
      name: "bun-app",
      private: true,
      type: "module",
      overrides: { msgpackr: msgpackrTgz, koffi: koffiTgz },
    }) + "\n",
  );
  step("bun add (the tarballs, offline)", [bin("bun"), "add", "--no-cache", mainTgz, platformTgz], {
    cwd: bunApp,
    env: { BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/" },
  });
  for (const file of ["parent.ts", "child.ts", "work.ts"]) {
    cpSync(join(root, "tests", "consumer", file), join(bunApp, file));
  }
  step("bun parent (bun add)", [bin("bun"), "parent.ts"], {
    cwd: bunApp,
    match: /consumer: bun .* parent, bun and deno children/,
  });

  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["esnext"],
          types: ["bun"],
          typeRoots: [join(root, "node_modules", "@types")],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ["parent.ts", "child.ts"],
      },
      null,
      2,
    ),
  );
  step("tsc: strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, nodenext", [bin("tsc"), "-p", app], {
    cwd: app,
  });
} finally {
  if (process.env.LIBIPC_CONSUMER_KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`consumer: ${failures.length} failed: ${failures.join("; ")}`);
  process.exit(1);
}
