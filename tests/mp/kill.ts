/**
 * SIGKILL every kind of participant during a workload; afterwards /dev/shm holds none of the test's
 * names, every process involved has exited, and the survivors saw the documented outcome:
 * - a C, Bun or Deno child killed while holding a robust mutex, while sending on a Chan and while
 *   holding zero-copy views: exactly one waiter (another runtime's process, or this one) gets the
 *   lock with ownerDied, the receiver finds every message whole and in order, a blocked sender reaps
 *   the dead receiver's loan;
 * - an isolate() child killed mid-call: the call rejects with EBROKEN naming SIGKILL;
 * - a Pool worker killed mid-map: the pool replaces it, and the map completes in order (retries) or
 *   rejects with EBROKEN naming the worker (no retries); after close() every worker has exited;
 * - a Bun or Deno parent killed with tracked named objects, C/Bun/Deno children reading its pipe, an
 *   isolate() call in flight and a Pool mid-map: its tracker removes the names and exits, the readers
 *   see the end of the pipe and exit, the isolate child and the pool's workers exit (stdin closed);
 * - a tracker killed, then its owner: the names stay; the next libipc load sweeps the generated one,
 *   and `unlinkDead` removes the user-chosen ones;
 * - untracked creators of generated names killed: `SharedMemory.sweep()` removes their names and
 *   keeps a live creator's.
 * Every wait has a deadline (tests/support/procs.ts), so a hang fails the test.
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import type { WorkerExit } from "../../lib/index.ts";
import { type Child, command, type Harness, type Program, run, testName } from "../harness.ts";
import { makeMessage } from "./child_chan.ts";
import * as programs from "./programs.ts";
import { namesGone, Processes, shmPath, statOf, trackersOf, until, within } from "../support/procs.ts";

const label = (p: Program) => (p.kind === "c" ? "C" : p.kind === "bun" ? "Bun" : "Deno");

/** Whether `m` is message `i` of producer `id` (tests/mp/child_chan.ts's format). */
function isMessage(m: Uint8Array | undefined, id: number, i: number): boolean {
  const want = makeMessage(id, i);
  return m !== undefined && m.length === want.length && m.every((b, k) => b === want[k]);
}

/** The pid an isolate() child wrote to `file` (tests/mp/kill_work.ts `working`). */
async function pidIn(file: string, settled: () => boolean): Promise<number> {
  await until(`the isolate child writes ${file}`, 30_000, () => existsSync(file) || settled());
  assert.ok(existsSync(file), "the isolate call ended before its child started working");
  return Number(readFileSync(file, "latin1"));
}

export default function kill(h: Harness): void {
  const { SharedMemory, Mutex, Chan, IpcError, isolate, Pool } = h.ipc;
  const self = h.runtime === "bun" ? programs.bun : programs.deno;
  const work = `${h.paths.root}/tests/mp/kill_work.ts`;

  for (const [n, { label: who, program }] of programs.all.entries()) {
    const waiter = programs.all[(n + 1) % 3].program;
    h.test(`mp kill: ${who} children killed holding a mutex, sending, holding views; the survivors go on`, async () => {
      const procs = new Processes();
      const children: Child[] = [];
      const start = (p: Program, args: string[]): Child => {
        const child = h.spawn(command(h, p, args), { timeoutMs: 60_000 });
        procs.add(child.pid, `${label(p)} ${args[0]} ${args[1]}`);
        children.push(child);
        return child;
      };
      const seg = SharedMemory.create({ size: 4096, name: true, track: true });
      const mutex = Mutex.init(seg, 0);
      const stream = Chan.create({ capacity: 4096, name: true, track: true });
      const loans = Chan.create({ capacity: 1024, name: true, track: true });
      const names = [seg.name!, stream.memory.name!, loans.memory.name!];
      let settle: Promise<unknown> = Promise.resolve();
      let unlocked = false;
      try {
        const holder = start(program, ["mutex", "hold", seg.name!, "0"]);
        const producer = start(program, ["chan", "produce", stream.memory.name!, "7", "-1"]);
        let held = 0;
        while (loans.trySend(new Uint8Array(56).fill(held))) held++;
        const viewer = start(program, ["chan", "views-hold", loans.memory.name!]);
        assert.equal(await within("the holder locks", 30_000, holder.line()), "locked");
        assert.equal(await within("the producer starts", 30_000, producer.line()), "producing");
        assert.equal(await within("the viewer takes views", 30_000, viewer.line()), `holding ${held}`);

        // The survivors: a process of another runtime and this one wait for the mutex; this one also
        // receives the stream and waits to send into the ring the viewer's loan fills.
        const other = start(waiter, ["mutex", "lock", seg.name!, "0", waiter.kind === "c" ? "sync" : "async"]);
        assert.equal(await within("the waiter starts", 30_000, other.line()), "waiting");
        const locking = mutex.lock({ timeout: 30_000 });
        const sending = loans.send(new Uint8Array(400).fill(9), { timeout: 30_000 });
        // Awaited below; these only keep a failure before that from becoming an unhandled rejection.
        settle = Promise.all([locking.catch(() => {}), sending.catch(() => {})]);
        let received = 0;
        while (received < 200) {
          const m = await stream.recv({ timeout: 30_000 });
          assert.ok(isMessage(m, 7, received), `message ${received} is whole and in order`);
          received++;
        }

        for (const victim of [holder, producer, viewer]) victim.kill("SIGKILL");
        for (const victim of [holder, producer, viewer]) {
          const exit = await within("a victim's exit", 30_000, victim.exited);
          assert.equal(exit.signal, "SIGKILL", `a victim ended before the kill: ${JSON.stringify(exit)}`);
        }
        const state = await locking;
        if (state.ownerDied) mutex.consistent();
        mutex.unlock();
        unlocked = true;
        const waited = await within("the other waiter", 30_000, other.exited);
        assert.equal(waited.code, 0, `${waited.stdout} ${waited.stderr}`);
        const acquired = /^acquired ([01]) /m.exec(waited.stdout);
        assert.ok(acquired !== null, waited.stdout);
        assert.equal(Number(state.ownerDied) + Number(acquired[1]), 1, "exactly one survivor learns the owner died");

        await sending; // the dead viewer's loan was reaped
        assert.deepEqual(loans.tryRecv(), new Uint8Array(400).fill(9));
        assert.equal(loans.queued, 0);
        // What the producer sent before it died is whole and in order; a half-sent message was never sent.
        for (let m = stream.tryRecv(); m !== undefined; m = stream.tryRecv()) {
          assert.ok(isMessage(m, 7, received), `message ${received} is whole and in order`);
          received++;
        }
        stream.sendSync(makeMessage(1, 0));
        assert.ok(isMessage(stream.tryRecv(), 1, 0), "the channel still works");
      } finally {
        procs.killAll();
        for (const child of children) await within("a child's exit", 30_000, child.exited);
        // After a failure: the pending lock and send end once the victims are dead (or time out).
        await within("the pending lock and send", 40_000, settle);
        if (!unlocked) {
          try {
            mutex.unlock();
          } catch {
            // This thread did not get it.
          }
        }
        mutex.close();
        seg.unlink();
        seg.close();
        for (const chan of [stream, loans]) {
          chan.memory.unlink();
          chan.close();
        }
      }
      await procs.exited(10_000);
      await namesGone(h.ipc, names, procs.pids, 10_000);
    }, { timeoutMs: 120_000 });
  }

  for (const runtime of [h.runtime, h.runtime === "bun" ? "deno" as const : "bun" as const]) {
    h.test(`mp kill: a ${runtime} isolate() child killed mid-call rejects with EBROKEN`, async () => {
      const dir = mkdtempSync(`${tmpdir()}/libipc-kill-`);
      const procs = new Processes();
      try {
        let settled = false;
        const outcome = isolate(
          { module: work, runtime, execPath: h.paths[runtime], timeout: 60_000 },
          "working",
          `${dir}/isolate.pid`,
        ).then((value) => ({ value }), (error: unknown) => ({ error })).finally(() => (settled = true));
        const pid = await pidIn(`${dir}/isolate.pid`, () => settled);
        procs.add(pid, "the isolate child");
        process.kill(pid, "SIGKILL");
        const result = await within("the isolate call", 30_000, outcome);
        assert.ok("error" in result, `it resolved with ${JSON.stringify(result)}`);
        const error = result.error as Error & { code?: string };
        assert.ok(error instanceof IpcError, String(error));
        assert.equal(error.code, "EBROKEN");
        assert.match(error.message, new RegExp(`pid ${pid}\\) was killed by SIGKILL`));
        await procs.exited(10_000);
        await namesGone(h.ipc, [], procs.pids, 10_000);
      } finally {
        procs.killAll();
        rmSync(dir, { recursive: true, force: true });
      }
    }, { timeoutMs: 90_000 });
  }

  for (const [runtime, retries] of [[h.runtime, 1], [h.runtime === "bun" ? "deno" : "bun", 0]] as const) {
    h.test(`mp kill: a ${runtime} pool worker killed mid-map (retries: ${retries}); it is replaced`, async () => {
      const procs = new Processes();
      const exits: WorkerExit[] = [];
      const pool = new Pool({
        module: work,
        size: 2,
        runtime,
        execPath: h.paths[runtime],
        retries,
        onWorkerExit: (info) => exits.push(info),
      });
      const note = () => pool.pids.filter((pid) => !procs.pids.has(pid)).forEach((pid) => procs.add(pid, "a worker"));
      try {
        note();
        const items = Array.from({ length: 400 }, (_, x) => ({ x, ms: 2 }));
        const xs: number[] = [];
        let victim = 0;
        const mapped = await within(
          "the map",
          60_000,
          (async () => {
            for await (const [x, pid] of pool.imap<[number, number]>(items, "slowPid", { chunkSize: 4 })) {
              xs.push(x);
              if (xs.length === 40) {
                // This worker has answered (it is up) and holds the next chunks: kill it mid-chunk.
                victim = pid;
                process.kill(victim, "SIGKILL");
              }
            }
          })().then(() => null, (error: unknown) => error),
        );
        if (retries > 0) {
          assert.equal(mapped, null, `the map failed: ${mapped}`);
          assert.deepEqual(xs, items.map((item) => item.x), "every result once, in order");
        } else {
          assert.ok(mapped instanceof IpcError && (mapped as { code?: string }).code === "EBROKEN", String(mapped));
          assert.match((mapped as Error).message, new RegExp(`worker ${victim} running slowPid.*SIGKILL`));
        }
        assert.deepEqual(exits.map((e) => [e.pid, e.exit.signal, e.retry]), [[victim, "SIGKILL", retries > 0]]);
        // A new worker took its place and works.
        note();
        assert.equal(pool.pids.length, 2);
        assert.ok(!pool.pids.includes(victim));
        const again = await within(
          "a map after",
          30_000,
          pool.map<[number, number]>(items.slice(0, 8), "slowPid", { chunkSize: 1 }),
        );
        assert.deepEqual(again.map(([x]) => x), [0, 1, 2, 3, 4, 5, 6, 7]);
        note();
        await within("close()", 30_000, pool.close());
      } finally {
        await within("terminate()", 30_000, pool.terminate());
        procs.killAll();
      }
      await procs.exited(10_000);
      await namesGone(h.ipc, [], procs.pids, 10_000);
    }, { timeoutMs: 120_000 });
  }

  for (const middle of [programs.bun, programs.deno]) {
    h.test(
      `mp kill: a ${label(middle)} parent killed mid-workload; its tracker removes its names, its children end`,
      async () => {
        const dir = mkdtempSync(`${tmpdir()}/libipc-kill-`);
        const procs = new Processes();
        const parent = h.spawn(command(h, middle, ["kill", "middle", dir, testName("mid")]), {
          env: { LIBIPC_BUN: h.paths.bun, LIBIPC_DENO: h.paths.deno },
          timeoutMs: 90_000,
        });
        procs.add(parent.pid, "the parent");
        let parentGone = false;
        void parent.exited.then(() => (parentGone = true));
        let names: string[] = [];
        try {
          // Its own "ready" line and its children's "draining" lines arrive in any order.
          let ready: string[] | undefined;
          let draining = 0;
          await within(
            "the parent and its children start",
            60_000,
            (async () => {
              while (ready === undefined || draining < 3) {
                const line = await parent.line();
                if (line === "draining") draining++;
                else if (line.startsWith("ready ")) ready = line.split(" ").slice(1);
                else assert.fail(`the parent said ${JSON.stringify(line)}: ${(await parent.exited).stderr}`);
              }
            })(),
          );
          const [tracker, ...rest] = ready!;
          names = rest.slice(0, 3);
          procs.add(Number(tracker), "the parent's tracker");
          const kinds = ["C reader", "Bun reader", "Deno reader", "pool worker", "pool worker"];
          assert.equal(rest.length, 3 + kinds.length, `the parent said ready ${ready!.join(" ")}`);
          for (const [i, pid] of rest.slice(3).entries()) procs.add(Number(pid), `the parent's ${kinds[i]}`);
          procs.add(await pidIn(`${dir}/isolate.pid`, () => parentGone), "the parent's isolate child");
          for (const name of names) assert.equal(SharedMemory.inspect(name).creator.pid, parent.pid);

          parent.kill("SIGKILL");
          // The children inherited the parent's stdout: the stream ends once all of them are gone.
          const ends: string[] = [];
          await within(
            "the parent's children finish",
            30_000,
            (async () => {
              for (let line = await parent.line(); line !== ""; line = await parent.line()) ends.push(line);
            })(),
          );
          // The readers share one stream: each got some of the bytes, all of them at least "started".
          assert.equal(ends.length, 3, `the pipe's readers said ${JSON.stringify(ends)}`);
          for (const end of ends) assert.match(end, /^eof \d+$/);
          assert.ok(ends.reduce((sum, end) => sum + Number(end.slice(4)), 0) >= "started\n".length);
          assert.equal((await within("the parent's exit", 30_000, parent.exited)).signal, "SIGKILL");
          await namesGone(h.ipc, names, new Set([parent.pid]), 20_000);
          await procs.exited(20_000);
        } finally {
          procs.killAll();
          await within("the parent's exit", 30_000, parent.exited);
          for (const name of names) if (existsSync(shmPath(name))) SharedMemory.unlinkDead(name);
          rmSync(dir, { recursive: true, force: true });
        }
      },
      { timeoutMs: 120_000 },
    );
  }

  for (const { label: who, program } of programs.all) {
    h.test(
      `mp kill: a ${who} process's tracker killed, then the process; the next load sweeps its generated name`,
      async () => {
        // Another libipc process of this user may sweep the dead generated name before the load here
        // does (another test run starting pool workers sweeps many times a second); then the load
        // found nothing to remove, and the test tries again (at most 10 times).
        let sweptByLoad = false;
        for (let attempt = 0; attempt < 10 && !sweptByLoad; attempt++) {
          const procs = new Processes();
          const owner = h.spawn(command(h, program, ["cleanup", "work", testName("trk")]), { timeoutMs: 60_000 });
          procs.add(owner.pid, "the owner");
          let names: string[] = [];
          try {
            names = (await within("the owner starts", 30_000, owner.line())).split(" ");
            assert.equal(names.length, 3, `the owner said ${names.join(" ")}`);
            const [tracker] = trackersOf(owner.pid);
            assert.ok(tracker !== undefined, "the owner runs a tracker");
            const helper = new Processes();
            helper.add(tracker, "the tracker");
            procs.add(tracker, "the tracker");
            process.kill(tracker, "SIGKILL");
            await helper.exited(10_000); // the owner runs on, unaware
            assert.ok(statOf(owner.pid) !== null);
            owner.kill("SIGKILL");
            assert.equal((await within("the owner's exit", 30_000, owner.exited)).signal, "SIGKILL");
            // No tracker was left to remove the names.
            for (const name of names.slice(1)) assert.equal(SharedMemory.inspect(name).alive, false);
            const before = existsSync(shmPath(names[0]));
            // "0" turns the sweep on even where the suite turned it off (scripts/test.mjs).
            const swept = Number(await run(h, self, ["cleanup", "loaded"], { env: { LIBIPC_NO_SWEEP: "0" } }));
            assert.ok(!existsSync(shmPath(names[0])), `${names[0]} survived the load`);
            sweptByLoad = before && swept >= 1;
            // A sweep never removes a user-chosen name: `unlinkDead` (or `libipc gc --all-dead`) does.
            for (const name of names.slice(1)) assert.equal(SharedMemory.unlinkDead(name), true, name);
          } finally {
            procs.killAll();
            await within("the owner's exit", 30_000, owner.exited);
            for (const name of names) if (existsSync(shmPath(name))) SharedMemory.unlinkDead(name);
          }
          await procs.exited(10_000);
          await namesGone(h.ipc, names, procs.pids, 10_000);
        }
        assert.ok(sweptByLoad, "the sweep at load never removed the name");
      },
      { timeoutMs: 120_000 },
    );
  }

  h.test(
    "mp kill: untracked C, Bun and Deno creators killed; sweep() removes their names, not a live one's",
    async () => {
      const procs = new Processes();
      const holders = [...programs.all.map(({ program }) => program), programs.c].map((program) => {
        const child = h.spawn(command(h, program, ["segment", "hold"]), { timeoutMs: 60_000 });
        procs.add(child.pid, `${label(program)} holder`);
        return child;
      });
      const live = holders.pop()!;
      let names: string[] = [];
      try {
        names = await within("the holders start", 30_000, Promise.all(holders.map((child) => child.line())));
        const liveName = await within("the live holder starts", 30_000, live.line());
        for (const child of holders) child.kill("SIGKILL");
        for (const child of holders) await within("a holder's exit", 30_000, child.exited);
        SharedMemory.sweep(); // another libipc process may have swept some already
        for (const name of names) assert.ok(!existsSync(shmPath(name)), `${name} survived sweep()`);
        assert.equal(SharedMemory.inspect(liveName).alive, true);
        names.push(liveName);
        live.kill("SIGKILL");
        await within("the live holder's exit", 30_000, live.exited);
        SharedMemory.sweep();
      } finally {
        procs.killAll();
        for (const child of [...holders, live]) await within("a holder's exit", 30_000, child.exited);
      }
      await procs.exited(10_000);
      await namesGone(h.ipc, names, procs.pids, 10_000);
    },
    { timeoutMs: 90_000 },
  );
}
