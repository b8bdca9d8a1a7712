/**
 * Leaving nothing behind, across processes: a C, Bun or Deno participant killed with SIGKILL in the
 * middle of a workload leaves none of its tracked names in /dev/shm (its tracker removes them; the
 * test polls the file system with a deadline); loading libipc sweeps the generated names of dead
 * creators unless LIBIPC_NO_SWEEP is set; and `libipc ls` / `libipc gc` list dead segments and
 * remove them — generated names by default, user-chosen ones only with --all-dead, never a live
 * process's segment or a file that is not a libipc segment.
 */

import assert from "node:assert/strict";
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import { command, type Harness, run, testName } from "../harness.ts";
import * as programs from "./programs.ts";

const shmPath = (name: string): string => `/dev/shm/${name.replace(/^\//, "")}`;

/** Polls until none of `names` is in /dev/shm; fails after `ms` milliseconds (a deadline, not a timing assert). */
async function goneWithin(names: string[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (names.some((name) => existsSync(shmPath(name)))) {
    if (Date.now() > deadline) {
      assert.fail(`still in /dev/shm after ${ms} ms: ${names.filter((name) => existsSync(shmPath(name))).join(" ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export default function cleanup(h: Harness): void {
  const { SharedMemory } = h.ipc;

  for (const { label, program } of programs.all) {
    h.test(`mp cleanup: a ${label} participant killed with SIGKILL mid-workload leaves no tracked name`, async () => {
      const name = testName("cl");
      const child = h.spawn(command(h, program, ["cleanup", "work", name]));
      const line = await child.line();
      const names = line.split(" ");
      try {
        assert.equal(names.length, 3, `child said ${JSON.stringify(line)}`);
        assert.match(names[0], /^\/ipc\./);
        for (const n of names) {
          const info = SharedMemory.inspect(n);
          assert.equal(info.alive, true);
          assert.equal(info.creator.pid, child.pid);
        }
      } finally {
        child.kill("SIGKILL");
      }
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL");
      await goneWithin(names, 20_000);
    }, { timeoutMs: 60_000 });
  }

  for (const program of [programs.bun, programs.deno]) {
    h.test(
      `mp cleanup: ${program.kind} sweeps a SIGKILLed creator's generated name when libipc loads, unless LIBIPC_NO_SWEEP`,
      async () => {
        const off = await run(h, program, ["cleanup", "loaded"], { env: { LIBIPC_NO_SWEEP: "1" } });
        assert.equal(off.trim(), "null");
        // Another libipc process of this user may sweep the name first; then the load found nothing
        // to remove, and the test tries again (at most ten times).
        let sweptByLoad = false;
        for (let attempt = 0; attempt < 10 && !sweptByLoad; attempt++) {
          const holder = h.spawn(command(h, programs.c, ["segment", "hold"]));
          const name = await holder.line();
          holder.kill("SIGKILL");
          await holder.exited;
          if (!existsSync(shmPath(name))) continue;
          // "0" turns the sweep on even where the suite turned it off (scripts/test.mjs).
          const swept = Number(await run(h, program, ["cleanup", "loaded"], { env: { LIBIPC_NO_SWEEP: "0" } }));
          assert.ok(!existsSync(shmPath(name)), `${name} survived the load`);
          sweptByLoad = swept >= 1;
        }
        assert.ok(sweptByLoad, "the sweep at load never removed the name");
      },
      { timeoutMs: 60_000 },
    );
  }

  const cli = (runtime: "bun" | "deno" | "node", args: string[]): string[] =>
    runtime === "bun"
      ? [h.paths.bun, `${h.paths.root}/cli/libipc.bun.ts`, ...args]
      : runtime === "node"
      ? [h.paths.node, `${h.paths.root}/cli/libipc.node.ts`, ...args]
      : [
        h.paths.deno,
        "run",
        "--allow-ffi",
        "--allow-read",
        "--allow-env",
        `${h.paths.root}/cli/libipc.deno.ts`,
        ...args,
      ];

  async function runCli(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const exit = await h.spawn(argv).exited;
    return { code: exit.code, stdout: exit.stdout, stderr: exit.stderr };
  }

  h.test(`mp cleanup: libipc ls and gc (${h.runtime}) list dead segments and remove only what they may`, async () => {
    const name = testName("gc");
    const plain = testName("plain");
    const [generated, named] = (await run(h, programs.c, ["cleanup", "leave", name])).trim().split(" ");
    using live = SharedMemory.create({ size: 64, name: testName("live") });
    writeFileSync(shmPath(plain), "x".repeat(300));
    try {
      const ls = await runCli(cli(h.runtime, ["ls", "--json"]));
      assert.equal(ls.code, 0, ls.stderr);
      const rows = JSON.parse(ls.stdout) as { name: string; state: string; kind: string; size: number }[];
      const row = (n: string) => rows.find((r) => r.name === n);
      assert.deepEqual(
        { ...row(named), pid: 0 },
        { name: named, size: 4096, kind: "segment", pid: 0, state: "dead", generated: false },
      );
      // Another libipc process of this user may have swept the generated one already.
      if (row(generated) !== undefined) assert.equal(row(generated)!.state, "dead");
      assert.equal(row(live.name!)!.state, "alive");
      assert.equal(row(`/${plain}`), undefined, "a plain file is not listed");

      const table = await runCli(cli(h.runtime, ["ls"]));
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^NAME +SIZE +KIND +CREATOR +STATE$/m);
      assert.match(table.stdout, new RegExp(`^${named} +4096 +segment +\\d+ +dead$`, "m"));

      // By default gc keeps user-chosen names; --dry-run removes nothing.
      const dry = await runCli(cli(h.runtime, ["gc", "--all-dead", "--dry-run"]));
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`would remove ${named} `));
      assert.ok(existsSync(shmPath(named)));
      const gc = await runCli(cli(h.runtime, ["gc"]));
      assert.equal(gc.code, 0, gc.stderr);
      assert.ok(!existsSync(shmPath(generated)));
      assert.ok(existsSync(shmPath(named)), "gc without --all-dead removed a user-chosen name");
      assert.match(gc.stdout, /libipc gc --all-dead removes them too/);
      const all = await runCli(["node", `${h.paths.root}/cli/libipc.mjs`, "gc", "--all-dead", "--json"]);
      assert.equal(all.code, 0, all.stderr);
      assert.ok(JSON.parse(all.stdout).removed.includes(named));
      assert.ok(!existsSync(shmPath(named)));
      // Never a live process's segment, never a file that is not a libipc segment.
      assert.ok(existsSync(shmPath(live.name!)));
      assert.ok(existsSync(shmPath(plain)));

      const usage = await runCli(cli(h.runtime, ["gc", "--everything"]));
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /unknown or repeated option/);
      const help = await runCli(cli(h.runtime, ["help"]));
      assert.equal(help.code, 0);
      assert.match(help.stdout, /usage: libipc <command>/);
    } finally {
      live.unlink();
      unlinkSync(shmPath(plain));
      for (const n of [generated, named]) if (existsSync(shmPath(n))) SharedMemory.unlink(n);
    }
  }, { timeoutMs: 120_000 });
}
