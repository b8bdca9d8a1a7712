#!/usr/bin/env node
// `npm test` step "readme": every ```ts block of README.md type-checks (deno check) and runs as written, under
// Bun and under Deno.
//
// Each block is written to a temporary directory and run there with a deadline; the only change is the
// module specifier "libipc", which points at this checkout's bun.ts (Bun) or mod.ts (Deno) as an
// installed package's export conditions would. A block preceded by `<!-- example file: NAME -->` is not
// run: it is written as NAME beside the blocks that follow (a worker module a spawn or Pool example
// starts). A block must exit with 0 and leave nothing in /dev/shm (names a tracker removes after the
// example exits get a few seconds to go); a leftover name fails the block and is removed.
//
//   node scripts/readme.mjs             every block, both runtimes
//   node scripts/readme.mjs bun 3       only Bun, only the block starting on README line 3 or after

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const deadlineMs = 180_000;

/** The ```ts blocks of `text` (indented ones too), with the file marker before each, if any. */
export function examples(text) {
  const lines = text.split("\n");
  const found = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```ts\s*$/.exec(lines[i]);
    if (open === null) continue;
    const indent = open[1].length;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !/^ *```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(indent));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === "") k--;
    const marker = k >= 0 ? /^\s*<!-- example file: (\S+) -->\s*$/.exec(lines[k]) : null;
    found.push({ line: i + 1, file: marker?.[1], code: body.join("\n") + "\n" });
    i = j;
  }
  return found;
}

function shmNames() {
  try {
    return new Set(readdirSync("/dev/shm"));
  } catch {
    return new Set();
  }
}

function run(argv, cwd) {
  return new Promise((resolve) => {
    const env = { ...process.env, LIBIPC_NO_SWEEP: "1" };
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, pid: child.pid });
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, output: error.message });
    });
  });
}

/**
 * Names that appeared in /dev/shm since `before` and are the example's: user-chosen names, and generated
 * ones (`ipc.<pid in base 36>.…`) of the example's process. Other processes of this user (tests running
 * beside this one) come and go with generated names of their own.
 */
function extraNames(before, pid) {
  return [...shmNames()].filter((name) =>
    !before.has(name) && (!name.startsWith("ipc.") || parseInt(name.split(".")[1], 36) === pid)
  );
}

async function leftovers(before, pid) {
  // A tracked name goes once the tracker helper has seen the example's process die.
  for (let waited = 0; waited < 10_000; waited += 100) {
    if (extraNames(before, pid).length === 0) return [];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return extraNames(before, pid);
}

const runtimes = {
  bun: { binding: join(root, "bun.ts"), argv: (file) => [join(root, "node_modules", ".bin", "bun"), file] },
  deno: {
    binding: join(root, "mod.ts"),
    argv: (file) => [join(root, "node_modules", ".bin", "deno"), "run", "--allow-all", file],
    check: (files) => [join(root, "node_modules", ".bin", "deno"), "check", ...files],
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const wanted = process.argv.slice(2).filter((a) => a in runtimes);
  const fromLine = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 0);
  const blocks = examples(readFileSync(join(root, "README.md"), "utf8"));
  let failed = 0;
  let ran = 0;
  for (const name of wanted.length > 0 ? wanted : Object.keys(runtimes)) {
    const runtime = runtimes[name];
    const dir = mkdtempSync(join(tmpdir(), `libipc-readme-${name}-`));
    try {
      const files = blocks.map((block) => {
        const code = block.code.replaceAll(`from "libipc"`, `from ${JSON.stringify(runtime.binding)}`);
        const file = join(dir, block.file ?? `example-${block.line}.ts`);
        writeFileSync(file, code);
        return file;
      });
      if (runtime.check) {
        // Type-checked too (all at once: one checker run), since readers copy them into TypeScript projects.
        const checked = await run(runtime.check(files), dir);
        ran++;
        if (checked.code === 0) console.log(`ok   ${name} type-check of every example`);
        else {
          failed++;
          console.log(`FAIL ${name} type-check of the examples\n${checked.output.trimEnd()}`);
        }
      }
      for (const [index, block] of blocks.entries()) {
        if (block.file !== undefined || block.line < fromLine) continue;
        const file = files[index];
        const before = shmNames();
        const started = Date.now();
        const exit = await run(runtime.argv(file), dir);
        const extra = await leftovers(before, exit.pid);
        for (const leftover of extra) {
          try {
            unlinkSync(join("/dev/shm", leftover));
          } catch {
            // Gone meanwhile.
          }
        }
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        ran++;
        if (exit.code === 0 && extra.length === 0) {
          console.log(`ok   ${name} README.md:${block.line} (${seconds} s)`);
        } else {
          failed++;
          const why = exit.code !== 0
            ? `exited with ${exit.code ?? exit.signal}${exit.code === null ? ` (deadline ${deadlineMs / 1000} s)` : ""}`
            : `left ${extra.map((n) => `/dev/shm/${n}`).join(", ")} behind`;
          console.log(`FAIL ${name} README.md:${block.line} ${why} (${seconds} s)\n${exit.output.trimEnd()}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`${ran - failed} of ${ran} README examples ran`);
  process.exit(failed === 0 && ran > 0 ? 0 : 1);
}
