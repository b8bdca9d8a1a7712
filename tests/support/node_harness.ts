/** The harness for Node: node:test registration and node:child_process children. */

import { resolve } from "node:path";
import { test } from "node:test";
import * as ipc from "../../node.ts";
import type { Harness } from "../harness.ts";
import { spawnNode } from "./spawn_node.ts";

// Node runs the compiled copy (scripts/node_test.mjs), whose directory is not the checkout's.
const root = process.env.LIBIPC_ROOT ?? resolve(import.meta.dirname, "../..");

export const harness: Harness = {
  runtime: "node",
  ipc,
  paths: {
    root,
    out: process.env.LIBIPC_OUT || `${root}/zig-out`,
    bun: `${root}/node_modules/.bin/bun`,
    deno: `${root}/node_modules/.bin/deno`,
    node: process.execPath,
  },
  test: (name, fn, options) => void test(name, { timeout: options?.timeoutMs ?? 30_000 }, fn),
  spawn: spawnNode,
  gc: () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error("run node with --expose-gc");
    gc();
  },
};
