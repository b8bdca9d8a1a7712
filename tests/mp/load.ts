/**
 * LIBIPC_PATH decides which library a process loads, in every runtime; when it names no loadable file,
 * loading fails with that path in the message instead of falling back to another copy (lib/locate.ts).
 */

import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { type Harness, run } from "../harness.ts";
import * as programs from "./programs.ts";

export default function load(h: Harness): void {
  const runtimes = [
    { label: "Bun", program: programs.bun },
    { label: "Deno", program: programs.deno },
    { label: "Node", program: programs.node },
  ];
  for (const { label, program } of runtimes) {
    h.test(
      `mp load: ${label} loads the library LIBIPC_PATH names, and fails naming it when it is missing`,
      async () => {
        const dir = mkdtempSync(`${tmpdir()}/libipc-load-`);
        try {
          const copy = `${dir}/libipc-copy.so`;
          copyFileSync(`${h.paths.out}/lib/libipc.so`, copy);
          const out = await run(h, program, ["info"], { env: { LIBIPC_PATH: copy } });
          assert.equal(out.trim(), copy);
          const missing = `${dir}/missing.so`;
          await assert.rejects(run(h, program, ["info"], { env: { LIBIPC_PATH: missing } }), (error: Error) => {
            assert.match(error.message, /LIBIPC_PATH is used alone when set/);
            assert.ok(error.message.includes(missing), error.message);
            return true;
          });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
      { timeoutMs: 60_000 },
    );
  }
}
