/** LIBIPC_PATH decides which library a process loads, in both runtimes. */

import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Harness, run } from "../harness.ts";
import * as programs from "./programs.ts";

export default function load(h: Harness): void {
  for (
    const { label, program } of [{ label: "Bun", program: programs.bun }, { label: "Deno", program: programs.deno }]
  ) {
    h.test(`mp load: ${label} loads the library LIBIPC_PATH names`, async () => {
      const dir = mkdtempSync(`${tmpdir()}/libipc-load-`);
      try {
        const copy = `${dir}/libipc-copy.so`;
        copyFileSync(`${h.paths.root}/zig-out/lib/libipc.so`, copy);
        const out = await run(h, program, ["info"], { env: { LIBIPC_PATH: copy } });
        assert.equal(out.trim(), copy);
        const fallback = await run(h, program, ["info"], { env: { LIBIPC_PATH: `${dir}/missing.so` } });
        assert.equal(fallback.trim(), `${h.paths.root}/zig-out/lib/libipc.so`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, { timeoutMs: 60_000 });
  }
}
