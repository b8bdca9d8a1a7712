/**
 * Deno from outside the checkout, with only the permissions a feature needs: a program in a temporary
 * directory (no deno.json applies there) imports this checkout's mod.ts, which must load (msgpackr
 * through an `npm:` specifier), and spawn, isolate and Pool must work with the flags the README lists,
 * and without --allow-run or --allow-env reject with an IpcError (EACCES) naming the missing flag.
 * Run under both runtimes' harnesses: the parent's runtime does not matter, the child is always Deno.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Harness } from "../harness.ts";

type Outcome = "ok" | { code: string | undefined; message: string };

/** The program: tries each feature and prints one JSON line of outcomes. */
function program(modUrl: string): string {
  return `
import { isolate, Pool, SharedMemory, spawn } from ${JSON.stringify(modUrl)};
const work = new URL("./work.ts", import.meta.url);
const out = {};
async function attempt(name, fn) {
  try {
    await fn();
    out[name] = "ok";
  } catch (error) {
    out[name] = { code: error?.code, message: String(error?.message ?? error) };
  }
}
await attempt("memory", () => SharedMemory.create({ size: 4096 }).close());
await attempt("spawn", async () => {
  const child = await spawn(work, { args: ["exit"] });
  const exit = await child.exited;
  if (exit.code !== 0) throw new Error("the child exited with " + JSON.stringify(exit));
});
await attempt("isolate", async () => {
  const value = await isolate(work, "twice", 21);
  if (value !== 42) throw new Error("isolate returned " + value);
});
await attempt("pool", async () => {
  // Two workers: the second one's failed start was once unref'd, which crashed Deno (TypeError reading 'unref').
  await using pool = new Pool({ module: work, size: 2 });
  const value = await pool.exec("twice", 4);
  if (value !== 8) throw new Error("the pool returned " + value);
});
console.log(JSON.stringify(out));
`;
}

const work = `export function twice(n: number): number { return n * 2; }\n`;

export default function denoPermissions(h: Harness): void {
  const modUrl = pathToFileURL(join(h.paths.root, "mod.ts")).href;

  async function runWith(flags: string[]): Promise<Record<string, Outcome>> {
    const dir = mkdtempSync(join(tmpdir(), "libipc-perm-"));
    try {
      writeFileSync(join(dir, "main.ts"), program(modUrl));
      writeFileSync(join(dir, "work.ts"), work);
      // The children spawn, isolate and Pool start are Deno too (the parent's runtime): with --allow-all.
      const child = h.spawn([h.paths.deno, "run", "--no-prompt", ...flags, join(dir, "main.ts")], {
        timeoutMs: 240_000,
      });
      const exit = await child.exited;
      assert.equal(exit.code, 0, `deno ${flags.join(" ")} exited with ${exit.code ?? exit.signal}\n${exit.stderr}`);
      const last = exit.stdout.trim().split("\n").at(-1) ?? "";
      return JSON.parse(last) as Record<string, Outcome>;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function refused(outcome: Outcome | undefined, op: string, flag: string): void {
    assert.notEqual(outcome, "ok", `${op} ran without ${flag}`);
    const { code, message } = outcome as { code: string | undefined; message: string };
    assert.equal(code, "EACCES", message);
    assert.match(message, new RegExp(`^${op}: .*run it with ${flag} \\(EACCES\\)$`));
  }

  // What the README's "Permissions (Deno)" table lists for spawn, isolate and Pool: no --allow-read.
  const all = ["--allow-ffi", "--allow-run", "--allow-env"];

  h.test(
    "deno permissions: mod.ts imported from another directory runs every feature with the listed flags",
    async () => {
      const out = await runWith(all);
      assert.deepEqual(out, { memory: "ok", spawn: "ok", isolate: "ok", pool: "ok" });
    },
    { timeoutMs: 300_000 },
  );

  h.test("deno permissions: without --allow-run, spawn, isolate and Pool reject with EACCES naming it", async () => {
    const out = await runWith(all.filter((flag) => flag !== "--allow-run"));
    assert.equal(out.memory, "ok");
    refused(out.spawn, "spawn", "--allow-run");
    refused(out.isolate, "isolate", "--allow-run");
    refused(out.pool, "Pool", "--allow-run");
  }, { timeoutMs: 300_000 });

  h.test("deno permissions: without --allow-env, spawn, isolate and Pool reject with EACCES naming it", async () => {
    const out = await runWith(all.filter((flag) => flag !== "--allow-env"));
    assert.equal(out.memory, "ok");
    refused(out.spawn, "spawn", "--allow-env");
    refused(out.isolate, "isolate", "--allow-env");
    refused(out.pool, "Pool", "--allow-env");
  }, { timeoutMs: 300_000 });
}
