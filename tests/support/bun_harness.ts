/** The harness for Bun: bun:test registration and Bun.spawn children. */

import { resolve } from "node:path";
import { test } from "bun:test";
import * as ipc from "../../bun.ts";
import type { Harness } from "../harness.ts";
import { spawnBun } from "./spawn_bun.ts";

const root = resolve(import.meta.dirname!, "../..");

export const harness: Harness = {
  runtime: "bun",
  ipc,
  paths: {
    root,
    out: process.env.LIBIPC_OUT || `${root}/zig-out`,
    bun: process.execPath,
    deno: `${root}/node_modules/.bin/deno`,
    node: process.env.LIBIPC_NODE || `${root}/node_modules/node/bin/node`,
  },
  test: (name, fn, options) => test(name, fn, options?.timeoutMs ?? 30_000),
  spawn: spawnBun,
  gc: () => Bun.gc(true),
};
