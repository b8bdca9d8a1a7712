/**
 * Another user in /dev/shm, for real: `nobody` (through setpriv, else su) squats a name with a valid
 * segment of mode 0666, and makes a FIFO named like a dead process's generated name. This user's
 * opens of the squatted name are refused with EOWNER naming uid 65534 and succeed with the any-owner
 * option; Bun and Deno load libipc (which sweeps at load) and every path — open, fromFd, inspect,
 * list, unlink, unlinkDead, sweep, `libipc ls` and `gc` — returns in time on the FIFO, from C, Bun
 * and Deno. Needs root to become nobody: run by anyone else it says "skipped: ..." and why.
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { type Harness, run } from "../harness.ts";
import * as programs from "./programs.ts";

const nobody = 65534;
/** Generous: loading a runtime takes seconds on a busy machine; a hang never ends. */
const deadlineMs = 60_000;

/** The argv prefix that runs a command as nobody, or why there is none. */
function asNobody(): string[] | string {
  if (process.getuid?.() !== 0) return "not root: cannot become nobody to play the other user";
  const setpriv = spawnSync("setpriv", ["--version"]);
  if (setpriv.status === 0) return ["setpriv", `--reuid=${nobody}`, `--regid=${nobody}`, "--clear-groups", "--"];
  const su = spawnSync("su", ["-s", "/bin/sh", "nobody", "-c", "true"]);
  if (su.status === 0) return ["su", "-s", "/bin/sh", "nobody", "-c"];
  return "";
}

function shellAsNobody(prefix: string[], script: string): void {
  const argv = prefix[0] === "su" ? [...prefix, script] : [...prefix, "sh", "-c", script];
  const done = spawnSync(argv[0], argv.slice(1));
  assert.equal(done.status, 0, `as nobody: ${script}: ${done.stderr}`);
}

/** "<path> <result>" lines as a map. */
function results(out: string): Map<string, string> {
  return new Map(
    out.trim().split("\n").map((line) => {
      const at = line.lastIndexOf(" ");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
}

export default function secondUser(h: Harness): void {
  const prefix = asNobody();
  if (typeof prefix === "string") {
    if (prefix === "") throw new Error("second-user test: running as root, but neither setpriv nor su works");
    h.test(`mp second user: skipped: ${prefix}`, () => console.log(`second-user test skipped: ${prefix}`));
    return;
  }
  const tag = `${h.runtime}${process.pid.toString(36)}`;

  h.test(
    `mp second user (${h.runtime} parent): a name squatted by nobody is refused naming its owner, accepted with anyOwner`,
    async () => {
      const name = `/ipctest-squat-${tag}`;
      const template = `/tmp/libipc-squat-${tag}`;
      // A real mutex's bytes, written by nobody under the name with mode 0666.
      const real = h.ipc.Mutex.create({ name: `ipctest-sqt-${tag}` });
      writeFileSync(template, readFileSync(`/dev/shm/ipctest-sqt-${tag}`), { mode: 0o644 });
      real.close();
      h.ipc.SharedMemory.unlink(`ipctest-sqt-${tag}`);
      try {
        shellAsNobody(prefix, `umask 0; cat ${template} > /dev/shm${name}`);
        assert.equal(h.ipc.SharedMemory.inspect(name).uid, nobody);
        for (const open of [() => h.ipc.SharedMemory.open(name), () => h.ipc.Mutex.open(name)]) {
          assert.throws(open, (error: Error & { code?: string }) => {
            assert.equal(error.code, "EOWNER");
            assert.match(error.message, /uid 65534/);
            assert.match(error.message, /anyOwner/);
            return true;
          });
        }
        const mutex = h.ipc.Mutex.open(name, { anyOwner: true });
        assert.notEqual(mutex.tryLock(), null);
        mutex.unlock();
        mutex.close();
        h.ipc.SharedMemory.open(name, { anyOwner: true }).close();
        // The same from C and from the other runtime's child.
        const c = results(await run(h, { kind: "c", name: "ipc-fuzz-open" }, ["--probe", name]));
        assert.equal(c.get("open"), "EOWNER");
        assert.equal(c.get("open_any"), "OK");
        assert.equal(c.get("open_fd"), "EOWNER");
        assert.equal(c.get("unlink_dead"), "OK"); // 0: another user's name is kept
        const ts = results(await run(h, programs.other(h.runtime), ["fuzz", "probe", name]));
        assert.equal(ts.get("SharedMemory.open"), "EOWNER");
        assert.equal(ts.get("SharedMemory.open any"), "OK");
        assert.equal(ts.get("Mutex.open"), "OK");
        assert.equal(ts.get("SharedMemory.fromFd"), "EOWNER");
        assert.equal(ts.get("SharedMemory.fromFd any"), "OK");
        assert.ok(existsSync(`/dev/shm${name}`), "unlinkDead removed another user's segment");
      } finally {
        rmSync(template, { force: true });
        if (existsSync(`/dev/shm${name}`)) unlinkSync(`/dev/shm${name}`);
      }
    },
    { timeoutMs: 4 * deadlineMs },
  );

  h.test(
    `mp second user (${h.runtime} parent): nobody's FIFO under a dead process's generated name hangs nothing`,
    async () => {
      const dead = deadPid();
      const name = `/ipc.${dead.toString(36)}.${(12345).toString(36)}.${tag.slice(0, 8).padEnd(8, "0")}`;
      shellAsNobody(prefix, `mkfifo -m 0666 /dev/shm${name}`);
      try {
        // Loading the library sweeps /dev/shm; the sweep used to open this FIFO and block forever.
        for (const program of [programs.bun, programs.deno]) {
          const out = await run(h, program, ["info"], { timeoutMs: deadlineMs });
          assert.ok(out.trim().endsWith("libipc.so"), out);
        }
        const c = results(
          await run(h, { kind: "c", name: "ipc-fuzz-open" }, ["--probe", name], { timeoutMs: deadlineMs }),
        );
        for (const path of ["open", "open_any", "info"]) assert.equal(c.get(path), "EPROTO", `C ${path}`);
        assert.equal(c.get("unlink_dead"), "OK"); // 0: another user's file is never opened
        for (const program of [programs.bun, programs.deno]) {
          const ts = results(
            await run(h, program, ["fuzz", "probe", name, "--destructive"], { timeoutMs: deadlineMs }),
          );
          for (const path of ["SharedMemory.open", "SharedMemory.open any", "Mutex.open", "SharedMemory.inspect"]) {
            assert.equal(ts.get(path), "EPROTO", `${program.kind} ${path}`);
          }
          assert.equal(ts.get("SharedMemory.unlink"), "EPROTO");
          assert.equal(ts.get("SharedMemory.unlinkDead"), "OK");
          assert.equal(ts.get("SharedMemory.list"), "OK");
        }
        for (const runtime of ["bun", "deno"] as const) {
          const cli = runtime === "bun"
            ? [h.paths.bun, `${h.paths.root}/cli/libipc.bun.ts`]
            : [h.paths.deno, "run", "--allow-all", `${h.paths.root}/cli/libipc.deno.ts`];
          for (const args of [["ls"], ["gc", "--all-dead"]]) {
            const exit = await h.spawn([...cli, ...args], { timeoutMs: deadlineMs }).exited;
            assert.equal(exit.code, 0, `libipc ${args.join(" ")} under ${runtime}: ${exit.signal} ${exit.stderr}`);
          }
        }
        assert.ok(existsSync(`/dev/shm${name}`), "nobody's FIFO was removed");
      } finally {
        if (existsSync(`/dev/shm${name}`)) unlinkSync(`/dev/shm${name}`);
      }
    },
    { timeoutMs: 10 * deadlineMs },
  );
}

function deadPid(): number {
  for (let pid = 30000; pid > 2; pid--) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as { code?: string }).code === "ESRCH") return pid;
    }
  }
  throw new Error("no free pid");
}
