/** Finding the native library: the search order, and an error that lists every path tried. */

import assert from "node:assert/strict";
import { bind, libraryCandidates, loadFirst, native } from "../../lib/native.ts";
import type { Harness } from "../harness.ts";

export default function load(h: Harness): void {
  h.test("load: LIBIPC_PATH comes first, then the build output beside the module", () => {
    assert.deepEqual(libraryCandidates("/opt/x/libipc.so", "/pkg", "linux"), [
      "/opt/x/libipc.so",
      "/pkg/zig-out/lib/libipc.so",
    ]);
    assert.deepEqual(libraryCandidates(undefined, "/pkg", "darwin"), ["/pkg/zig-out/lib/libipc.dylib"]);
    assert.deepEqual(libraryCandidates("", "C:\\pkg", "windows"), ["C:\\pkg\\zig-out\\lib\\ipc.dll"]);
  });

  h.test("load: when nothing loads, the error lists every path with its reason and the fix", () => {
    const tried: string[] = [];
    const error = (() => {
      try {
        loadFirst(["/a/libipc.so", "/b/libipc.so"], (path) => {
          tried.push(path);
          throw new Error(`no file at ${path}`);
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error("loadFirst did not throw");
    })();
    assert.deepEqual(tried, ["/a/libipc.so", "/b/libipc.so"]);
    assert.match(error.message, /\/a\/libipc\.so: no file at \/a\/libipc\.so/);
    assert.match(error.message, /\/b\/libipc\.so: no file at \/b\/libipc\.so/);
    assert.match(error.message, /LIBIPC_PATH/);
    assert.equal((error.cause as Error).message, "no file at /b/libipc.so");
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
