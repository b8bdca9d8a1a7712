/**
 * The npm `bin`, cli/libipc.mjs: `libipc --version` prints the package's version and exits 0, under
 * Node, Bun and Deno alike (scripts/consumer.mjs runs `ls` and `gc` from an installed package under Node 20 and 26).
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Harness } from "../harness.ts";

export default function cliCases(h: Harness): void {
  const bin = `${h.paths.root}/cli/libipc.mjs`;
  const version = JSON.parse(readFileSync(`${h.paths.root}/package.json`, "utf8")).version;

  h.test("cli: libipc --version prints the package version under Node, Bun and Deno", async () => {
    for (
      const argv of [
        ["node", bin, "--version"],
        [h.paths.bun, bin, "--version"],
        [h.paths.deno, "run", "--allow-read", bin, "-v"],
      ]
    ) {
      const exit = await h.spawn(argv).exited;
      assert.equal(exit.code, 0, `${argv.join(" ")}: ${exit.stderr}`);
      assert.equal(exit.stdout, `${version}\n`, argv.join(" "));
    }
  });
}
