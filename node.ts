/**
 * The Node entry point (the package's "node" export condition). Node has no FFI without a native
 * addon and libipc's Node binding is not written yet (issue 19), so importing libipc under Node
 * throws an IpcError (ENOTSUP) that names what works. It re-exports the whole API first: an ES module
 * that lacked the names would fail at link time with "does not provide an export named ...", before
 * this message could show. The Node binding replaces this file.
 *
 * @module
 */

import { IpcError } from "./lib/errors.ts";

export * from "./lib/index.ts";

throw new IpcError(
  "load",
  "ENOTSUP",
  "libipc has no Node binding yet: run this program with Bun (`bun add libipc`, `bun run app.ts`) or Deno " +
    '(`import ... from "npm:libipc"`, `deno run --allow-ffi app.ts`), or use libipc.so from C.',
);
