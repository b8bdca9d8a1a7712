/**
 * The entry point for runtimes other than Bun, Deno and Node (the package's "default" export
 * condition): libipc binds its native library with bun:ffi, Deno.dlopen or (soon) a Node addon, and
 * this runtime has none of them. Like node.ts it re-exports the API so that named imports link and
 * this message, not "does not provide an export named ...", is what the user sees.
 *
 * @module
 */

import { IpcError } from "./lib/errors.ts";

export * from "./lib/index.ts";

throw new IpcError(
  "load",
  "ENOTSUP",
  "libipc runs under Bun and Deno (and from C through libipc.so); this runtime is not supported. " +
    "Import libipc from Bun or Deno.",
);
