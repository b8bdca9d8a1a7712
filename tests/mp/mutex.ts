/**
 * Mutexes across processes and runtimes: 100 processes (C, Bun, Deno, Node) summing under one mutex; a
 * holder killed with SIGKILL while the next locker is blocked in lockSync, in lock(), or has not
 * started waiting, for every pair of runtimes in both directions; timeouts, aborts and close() of
 * pending async locks with the event loop running meanwhile; processes exit by themselves.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { type Child, command, type Harness, type Program, run } from "../harness.ts";
import * as programs from "./programs.ts";

const sumExpected = 193107012120n;

const label = programs.label;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` returns true, polling every 2 ms; fails after `limitMs`. */
async function until(what: string, check: () => boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(2);
  }
}

async function expectLine(child: Child, want: string | RegExp): Promise<string> {
  const line = await child.line();
  if (typeof want === "string") assert.equal(line, want);
  else assert.match(line, want);
  return line;
}

export default function mutex(h: Harness): void {
  const { SharedMemory, Mutex } = h.ipc;

  /** A named segment with a mutex at offset 0 and a 64-bit sum at 64. */
  function setup() {
    const seg = SharedMemory.create({ size: 4096, name: true });
    const m = Mutex.init(seg, 0);
    return { seg, m, name: seg.name! };
  }

  /** Runs `body` while a C process holds the mutex of a fresh setup(); cleans up however it ends. */
  async function whileCHolds(
    body: (held: Child, fixture: ReturnType<typeof setup>) => Promise<void>,
  ): Promise<void> {
    const fixture = setup();
    const held = h.spawn(command(h, programs.c, ["mutex", "hold", fixture.name, "0"]));
    try {
      await expectLine(held, "locked");
      await body(held, fixture);
    } finally {
      held.kill("SIGKILL");
      SharedMemory.unlink(fixture.name);
      fixture.seg.close();
    }
  }

  // Node among them (issue 19): its children run the sources, so it needs Node >= 22.18 (`h.paths.node`).
  const summers: Program[] = [...programs.all.map((p) => p.program), programs.node];
  h.test(
    "mp mutex: 100 processes (C, Bun, Deno, Node) add to one 64-bit sum under the mutex; exact every run",
    async () => {
      const { seg, m, name } = setup();
      try {
        m.lockSync(); // everyone starts blocked on it: maximum contention when it is released
        const children: Child[] = [];
        for (let i = 0; i < 100; i++) {
          const program = summers[i % summers.length];
          const mode = i % 2 === 0 ? "sync" : "async";
          const args = ["mutex", "sum", name, "0", String(i)];
          children.push(h.spawn(command(h, program, program.kind === "c" ? args : [...args, mode]), {
            timeoutMs: 170_000,
          }));
        }
        for (const child of children) await expectLine(child, "ready");
        m.unlock();
        const exits = await Promise.all(children.map((child) => child.exited));
        for (const [i, exit] of exits.entries()) {
          assert.equal(
            exit.code,
            0,
            `child ${i} (${label(summers[i % summers.length])}): ${exit.stdout} ${exit.stderr}`,
          );
        }
        assert.equal(seg.view(BigUint64Array, 64, 1)[0], sumExpected);
      } finally {
        seg.unlink();
        seg.close();
      }
    },
    { timeoutMs: 180_000 },
  );

  const pairs: [Program, Program][] = [
    [programs.c, programs.bun],
    [programs.bun, programs.c],
    [programs.bun, programs.deno],
    [programs.deno, programs.bun],
    [programs.deno, programs.c],
    [programs.c, programs.deno],
  ];
  for (const [holder, locker] of pairs) {
    const modes = locker.kind === "c" ? ["sync", "later"] : ["sync", "async", "later"];
    for (const mode of modes) {
      const how = mode === "later"
        ? "arrives after the death"
        : `is blocked in ${mode === "sync" ? "lockSync" : "lock()"}`;
      h.test(
        `mp mutex: ${label(holder)} holder killed with SIGKILL; a ${label(locker)} locker that ${how} gets ownerDied`,
        async () => {
          const { seg, m, name } = setup();
          const spawned: Child[] = [];
          try {
            const held = h.spawn(command(h, holder, ["mutex", "hold", name, "0"]));
            spawned.push(held);
            await expectLine(held, "locked");
            assert.equal(m.state.holder > 0, true);
            let latency = "";
            if (mode === "later") {
              held.kill("SIGKILL");
              await held.exited;
              const out = await run(h, locker, ["mutex", "lock", name, "0", "sync"]);
              assert.match(out, /^waiting\nacquired 1 \d+\n$/);
            } else {
              const waiting = h.spawn(command(h, locker, ["mutex", "lock", name, "0", mode]));
              spawned.push(waiting);
              await expectLine(waiting, "waiting");
              await until("the locker parks (FUTEX_WAITERS)", () => m.state.waiters);
              const killedAt = h.ipc.now();
              held.kill("SIGKILL");
              const line = await expectLine(waiting, /^acquired 1 \d+$/);
              latency = ` (acquired ${Number(BigInt(line.split(" ")[2]) - killedAt) / 1000} µs after kill)`;
              assert.equal((await waiting.exited).code, 0);
            }
            // The locker repaired it: an ordinary lock now.
            assert.deepEqual(m.lockSync({ timeout: 5000 }), { ownerDied: false });
            m.unlock();
            if (latency) console.log(`  ${label(holder)}→${label(locker)} ${mode}${latency}`);
          } finally {
            for (const child of spawned) child.kill("SIGKILL");
            seg.unlink();
            seg.close();
          }
        },
        { timeoutMs: 60_000 },
      );
    }
  }

  h.test("mp mutex: lock() keeps the event loop running, times out, aborts, and then still works", async () => {
    await whileCHolds(async (held, { m }) => {
      // Timeouts: blocking and async.
      assert.throws(() => m.lockSync({ timeout: 20 }), { name: "IpcError", code: "ETIMEDOUT" });
      await assert.rejects(m.lock({ timeout: 20 }), { name: "IpcError", code: "ETIMEDOUT" });
      assert.equal(m.tryLock(), null);
      // Abort: rejects with the signal's reason.
      const controller = new AbortController();
      const reason = new Error("stop waiting");
      const aborted = m.lock({ signal: controller.signal });
      setTimeout(() => controller.abort(reason), 20);
      await assert.rejects(aborted, (e) => e === reason);
      await assert.rejects(m.lock({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
      // The event loop runs while lock() waits; the holder dies; the waiter gets it.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const locked = m.lock({ timeout: 20_000 });
      await until("the timer ticks 5 times during the wait", () => ticks >= 5);
      held.kill("SIGKILL");
      const state = await locked;
      clearInterval(timer);
      assert.ok(ticks >= 5);
      assert.equal(state.ownerDied, true);
      m.consistent();
      m.unlock();
      assert.deepEqual(m.tryLock(), { ownerDied: false });
      m.unlock();
    });
  }, { timeoutMs: 60_000 });

  h.test("mp mutex: close() rejects pending locks with ECLOSED; closing the segment closes its mutexes", async () => {
    await whileCHolds(async (_held, { seg, m }) => {
      const other = Mutex.at(seg, 0);
      const pending = [m.lock(), m.lock({ timeout: 60_000 }), other.lock()];
      await sleep(5);
      m.close();
      await assert.rejects(pending[0], { code: "ECLOSED" });
      await assert.rejects(pending[1], { code: "ECLOSED" });
      assert.throws(() => m.lockSync(), { code: "ECLOSED" });
      seg.close();
      assert.equal(other.closed, true);
      await assert.rejects(pending[2], { code: "ECLOSED" });
    });
  }, { timeoutMs: 60_000 });

  for (const program of [programs.bun, programs.deno]) {
    h.test(`mp mutex: a ${label(program)} process whose locks timed out or were closed exits by itself`, async () => {
      await whileCHolds(async (_held, { name }) => {
        const out = await run(h, program, ["mutex", "exit", name, "0"], { timeoutMs: 20_000 });
        assert.equal(out.trim(), "ok");
      });
    }, { timeoutMs: 60_000 });
  }

  h.test("mp mutex: an idle async wait burns no CPU, and no waiter thread outlives its waits", async () => {
    await whileCHolds(async (_held, { m }) => {
      const cpuBefore = process.cpuUsage();
      const pending = m.lock({ timeout: 300 });
      await sleep(50);
      // Bun delivers completions from one library thread (callback mode); Deno runs the wait on its
      // own pool thread (poll mode).
      assert.equal(waiterThreads(), h.runtime === "bun" ? 1 : 0);
      await assert.rejects(pending, { code: "ETIMEDOUT" });
      // An idle wait parks: nowhere near the 300 ms of CPU a busy-waiting process would burn.
      const cpu = process.cpuUsage(cpuBefore);
      assert.ok(cpu.user + cpu.system < 150_000, `${cpu.user + cpu.system} µs of CPU during a 300 ms wait`);
      // The callback-mode waiter thread (Bun) lingers 100 ms, then exits; Deno uses none.
      await until("no ipc-waiter thread is left", () => waiterThreads() === 0, 5_000);
    });
  }, { timeoutMs: 30_000 });
}

function waiterThreads(): number {
  let n = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() === "ipc-waiter") n++;
    } catch {
      // The thread exited while we looked.
    }
  }
  return n;
}
