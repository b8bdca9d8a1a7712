/** The harness for Deno: Deno.test registration and node:child_process children. */

import { resolve } from "node:path";
import * as ipc from "../../mod.ts";
import type { Harness } from "../harness.ts";
import { spawnNode } from "./spawn_node.ts";

const root = resolve(import.meta.dirname!, "../..");

export const harness: Harness = {
  runtime: "deno",
  ipc,
  paths: {
    root,
    out: Deno.env.get("LIBIPC_OUT") || `${root}/zig-out`,
    bun: `${root}/node_modules/.bin/bun`,
    deno: Deno.execPath(),
    node: Deno.env.get("LIBIPC_NODE") || `${root}/node_modules/node/bin/node`,
  },
  test: (name, fn) => Deno.test(name, fn),
  spawn: spawnNode,
  gc: () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error("run deno test with --v8-flags=--expose-gc");
    gc();
  },
};
