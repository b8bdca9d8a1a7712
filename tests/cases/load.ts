/** Finding the native library: the search order, and an error that lists every path tried. */

import assert from "node:assert/strict";
import { libcFromReport, libraryCandidates, loadFirst, platformPackages } from "../../lib/locate.ts";
import { bind, native } from "../../lib/native.ts";
import type { Harness } from "../harness.ts";

export default function load(h: Harness): void {
  h.test("load: LIBIPC_PATH alone when set; else the platform package, a local build, beside the module", () => {
    const resolve = (specifier: string): string => {
      if (specifier === "@libipc/linux-x64-gnu/package.json") {
        return "file:///app/node_modules/@libipc/linux-x64-gnu/package.json";
      }
      throw new Error(`Cannot find package '${specifier}'\nsearched node_modules`);
    };
    const moduleUrl = "file:///app/node_modules/libipc/dist/lib/locate.js";
    assert.deepEqual(libraryCandidates({ envPath: "/opt/x/libipc.so", os: "linux", cpu: "x64", resolve, moduleUrl }), [
      { source: "LIBIPC_PATH", path: "/opt/x/libipc.so" },
    ]);
    assert.deepEqual(libraryCandidates({ envPath: "", os: "linux", cpu: "x86_64", resolve, moduleUrl }), [
      { source: "@libipc/linux-x64-gnu", path: "/app/node_modules/@libipc/linux-x64-gnu/libipc.so" },
      {
        source: "@libipc/linux-x64-musl",
        path: null,
        reason: "not installed (Cannot find package '@libipc/linux-x64-musl/package.json')",
      },
      { source: "local build", path: "/app/node_modules/libipc/zig-out/lib/libipc.so" },
      { source: "beside the module", path: "/app/node_modules/libipc/dist/lib/libipc.so" },
    ]);
    // A checkout: lib/ at the root, the build in zig-out/lib; Deno's words for the platform.
    const checkout = libraryCandidates({
      envPath: undefined,
      os: "darwin",
      cpu: "aarch64",
      resolve,
      moduleUrl: "file:///src/libipc/lib/locate.ts",
    });
    assert.deepEqual(checkout.map((c) => c.path), [
      null,
      "/src/libipc/zig-out/lib/libipc.dylib",
      "/src/libipc/lib/libipc.dylib",
    ]);
    assert.equal(checkout[0]?.source, "@libipc/darwin-arm64");
    // Loaded over https (JSR): no local paths.
    const remote = libraryCandidates({
      envPath: undefined,
      os: "linux",
      cpu: "x64",
      resolve,
      moduleUrl: "https://jsr.io/x/lib/locate.ts",
    });
    assert.deepEqual(remote.at(-1), {
      source: "local build",
      path: null,
      reason: "this module was loaded from https://jsr.io/x/lib/locate.ts",
    });
  });

  h.test("load: every platform's package and file name; the musl package first in a musl process", () => {
    assert.deepEqual(platformPackages("linux", "x64"), ["@libipc/linux-x64-gnu", "@libipc/linux-x64-musl"]);
    assert.deepEqual(platformPackages("linux", "aarch64", "musl"), [
      "@libipc/linux-arm64-musl",
      "@libipc/linux-arm64-gnu",
    ]);
    assert.deepEqual(platformPackages("darwin", "x86_64"), ["@libipc/darwin-x64"]);
    assert.deepEqual(platformPackages("windows", "aarch64"), ["@libipc/win32-arm64"]);
    const installed = (specifier: string): string => `file:///app/node_modules/${specifier}`;
    const moduleUrl = "file:///app/node_modules/libipc/dist/lib/locate.js";
    const asked: string[] = [];
    const libc = (name: string) => (): string => {
      asked.push(name);
      return name;
    };
    // Both Linux packages installed (a node_modules copied from a glibc image to an Alpine one):
    // this process's libc decides which is tried first.
    const musl = libraryCandidates({
      envPath: "",
      os: "linux",
      cpu: "x64",
      resolve: installed,
      moduleUrl,
      libc: libc("musl"),
    });
    assert.deepEqual(musl.slice(0, 2).map((c) => c.path), [
      "/app/node_modules/@libipc/linux-x64-musl/libipc.so",
      "/app/node_modules/@libipc/linux-x64-gnu/libipc.so",
    ]);
    const glibc = libraryCandidates({
      envPath: "",
      os: "linux",
      cpu: "x64",
      resolve: installed,
      moduleUrl,
      libc: libc("glibc"),
    });
    assert.equal(glibc[0]?.source, "@libipc/linux-x64-gnu");
    assert.deepEqual(asked, ["musl", "glibc"]);
    // One package installed: the libc is not asked (Node's report costs tens of milliseconds).
    const onlyMusl = (specifier: string): string => {
      if (specifier.includes("musl")) return installed(specifier);
      throw new Error("Cannot find package");
    };
    libraryCandidates({ envPath: "", os: "linux", cpu: "x64", resolve: onlyMusl, moduleUrl, libc: libc("glibc") });
    assert.deepEqual(asked, ["musl", "glibc"]);
    const win = libraryCandidates({ envPath: "", os: "win32", cpu: "x64", resolve: installed, moduleUrl });
    assert.deepEqual(win[0], { source: "@libipc/win32-x64", path: "/app/node_modules/@libipc/win32-x64/ipc.dll" });
    assert.equal(libcFromReport({ header: { glibcVersionRuntime: "2.36" } }), "glibc");
    assert.equal(libcFromReport({ header: {} }), "musl");
    assert.equal(libcFromReport(undefined), undefined);
  });

  h.test("load: this process's libc as the runtime reports it (LIBIPC_TEST_LIBC: the one expected)", () => {
    const proc = (globalThis as { process?: { platform?: string; report?: { getReport?(): unknown } } }).process;
    if (proc?.platform !== "linux" || proc.report?.getReport === undefined) return;
    const libc = libcFromReport(proc.report.getReport());
    assert.ok(libc === "glibc" || libc === "musl", `libc ${libc}`);
    const expected = proc === undefined
      ? undefined
      : (globalThis as { process: { env: Record<string, string | undefined> } })
        .process.env.LIBIPC_TEST_LIBC;
    if (expected !== undefined && expected !== "") assert.equal(libc, expected);
  });

  h.test("load: when nothing loads, the error lists every path with its reason and the fix", () => {
    const tried: string[] = [];
    const error = (() => {
      try {
        loadFirst([
          { source: "@libipc/linux-x64-gnu", path: null, reason: "not installed" },
          { source: "local build", path: "/a/libipc.so" },
          { source: "beside the module", path: "/b/libipc.so" },
        ], (path) => {
          tried.push(path);
          throw new Error(`no file at ${path}`);
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error("loadFirst did not throw");
    })();
    assert.deepEqual(tried, ["/a/libipc.so", "/b/libipc.so"]);
    assert.match(error.message, /@libipc\/linux-x64-gnu: not installed/);
    assert.match(error.message, /local build: \/a\/libipc\.so: no file at \/a\/libipc\.so/);
    assert.match(error.message, /beside the module: \/b\/libipc\.so: no file at \/b\/libipc\.so/);
    assert.match(error.message, /LIBIPC_PATH/);
    assert.equal((error.cause as Error).message, "no file at /b/libipc.so");
  });

  h.test("load: a bad LIBIPC_PATH is an error of its own, never a fallback to another copy", () => {
    const tried: string[] = [];
    assert.throws(
      () =>
        loadFirst(libraryCandidates({ envPath: "/nope/libipc.so", os: "linux", cpu: "x64" }), (path) => {
          tried.push(path);
          throw new Error("cannot open shared object file");
        }),
      (e) =>
        e instanceof Error && /LIBIPC_PATH: \/nope\/libipc\.so: cannot open/.test(e.message) &&
        /LIBIPC_PATH is used alone when set/.test(e.message),
    );
    assert.deepEqual(tried, ["/nope/libipc.so"]);
  });

  h.test("load: the loaded library is the one this binding expects", () => {
    const info = h.ipc.libraryInfo();
    assert.match(info.runtime, new RegExp(`^${h.runtime} `));
    assert.match(info.path, /libipc\.so$/);
  });

  h.test("load: a library of another ABI version is refused with EVERSION, naming both and the fix", () => {
    const real = native();
    const other = { ...real, symbols: { ...real.symbols, ipc_abi_version: () => real.symbols.ipc_abi_version() + 1 } };
    assert.throws(
      () => bind(other),
      (e) =>
        e instanceof h.ipc.IpcError && e.code === "EVERSION" &&
        /has ABI version \d+, but this binding expects/.test(e.message) &&
        /npm install|LIBIPC_PATH/.test(e.message),
    );
    assert.equal(native(), real, "a refused library is not bound");
  });
}
