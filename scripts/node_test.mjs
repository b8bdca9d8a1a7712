#!/usr/bin/env node
// Runs a Node test file: Node 20 to 22 cannot run TypeScript, so node.ts, lib/ and the tests are
// compiled first (the pinned tsc, no type check: the `types` step does that) into a temporary
// directory, beside symlinks to zig-out and node_modules, and run from there with `node --test`.
// LIBIPC_ROOT tells the harness where the checkout is (for the C helpers and child scripts).
//
//   node scripts/node_test.mjs [--node PATH] tests/node.test.ts [more node --test flags]
//
// With `--node PATH` the tests run under that Node (scripts/test.mjs passes Node 26 from the
// devDependency `node`); by default under the Node running this script.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
let nodePath = process.execPath;
if (args[0] === "--node") {
  nodePath = args[1];
  args.splice(0, 2);
}
const [entry, ...flags] = args;
if (entry === undefined || !entry.endsWith(".ts")) {
  console.error("usage: node scripts/node_test.mjs [--node PATH] tests/<file>.ts [node --test flags]");
  process.exit(2);
}

const out = mkdtempSync(join(tmpdir(), "libipc-node-"));
let status = 1;
try {
  writeFileSync(
    join(out, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["esnext"],
        types: [],
        allowImportingTsExtensions: true,
        rewriteRelativeImportExtensions: true,
        verbatimModuleSyntax: true,
        skipLibCheck: true,
        noCheck: true,
        rootDir: root,
        outDir: out,
      },
      files: [join(root, "node.ts"), join(root, entry)],
    }),
  );
  const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(out, "tsconfig.json")], {
    stdio: "inherit",
  });
  if (tsc.status !== 0) throw new Error(`tsc exited with ${tsc.status ?? tsc.signal}`);
  // The compiled node.js finds the library beside it (zig-out/lib) and its packages in node_modules.
  symlinkSync(join(root, "zig-out"), join(out, "zig-out"));
  symlinkSync(join(root, "node_modules"), join(out, "node_modules"));
  writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }));
  const test = spawnSync(
    nodePath,
    ["--expose-gc", "--test", "--test-concurrency=1", ...flags, join(out, entry.replace(/\.ts$/, ".js"))],
    { stdio: "inherit", cwd: root, env: { ...process.env, LIBIPC_ROOT: root } },
  );
  status = test.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
