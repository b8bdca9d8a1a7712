/**
 * Semaphore, Event, Condition, Barrier and RwLock across processes and runtimes (C, Bun, Deno,
 * sync and async forms mixed). The choreography is done with libipc's own primitives and the
 * children's output lines, never with sleeps:
 * - the seed's Ruby process_shared example: a waiter on a condition reads exactly the two numbers
 *   another process wrote before signalling;
 * - a bounded buffer (Mutex + two Conditions): 2 producers and 2 consumers in different runtimes
 *   move 100 000 items, each received exactly once;
 * - 8 processes pass a barrier 1 000 times and nobody passes early; a timed-out party breaks it for
 *   every waiter;
 * - rwlock readers in three runtimes hold read locks at once; a writer gets in while readers keep
 *   arriving; killed readers and writers release what they held (a dead writer reports ownerDied);
 * - a semaphore bounds how many processes are inside; a killed holder's unit is not returned (the
 *   documented semantics) and waiters are told so by their timeout; an event releases waiters in
 *   every runtime.
 */

import assert from "node:assert/strict";
import { type Child, command, type Harness, type Program, run } from "../harness.ts";
import { layout } from "./child_sync.ts";
import * as programs from "./programs.ts";

function label(program: Program): string {
  return program.kind === "c" ? "C" : program.kind === "bun" ? "Bun" : "Deno";
}

async function expectLine(child: Child, want: string | RegExp): Promise<string> {
  const line = await child.line();
  if (typeof want === "string") assert.equal(line, want);
  else assert.match(line, want);
  return line;
}

async function expectExit(child: Child, what: string): Promise<string> {
  const exit = await child.exited;
  assert.equal(exit.code, 0, `${what}: ${exit.code ?? exit.signal}\nstdout: ${exit.stdout}\nstderr: ${exit.stderr}`);
  return exit.stdout;
}

export default function sync(h: Harness): void {
  const { SharedMemory, Mutex, Condition, Barrier, RwLock, Semaphore, Event } = h.ipc;

  /** The test segment of child_sync.ts, every object initialized; `parties` for its barrier. */
  function setup(parties: number, semaphoreValue = 2) {
    const seg = SharedMemory.create({ size: layout.size, name: true });
    const mutex = Mutex.init(seg, layout.mutex);
    const objects = {
      seg,
      name: seg.name!,
      mutex,
      notEmpty: Condition.init(seg, layout.notEmpty, mutex),
      notFull: Condition.init(seg, layout.notFull, mutex),
      barrier: Barrier.init(seg, layout.barrier, { parties }),
      semaphore: Semaphore.init(seg, layout.semaphore, { value: semaphoreValue, max: semaphoreValue }),
      event: Event.init(seg, layout.event),
      rw: RwLock.init(seg, layout.rwlock),
      words: seg.view(Uint32Array, 0, layout.slots / 4),
      [Symbol.dispose]() {
        seg.unlink();
        seg.close();
      },
    };
    return objects;
  }

  const args = (...rest: string[]) => ["sync", ...rest];
  const spawn = (program: Program, rest: string[], timeoutMs = 120_000) =>
    h.spawn(command(h, program, args(...rest)), { timeoutMs });
  const other = programs.other(h.runtime);
  const self: Program = programs.self(h.runtime);

  for (const [waiter, signaller] of [[programs.c, self], [self, programs.c], [other, self]] as const) {
    for (const mode of waiter.kind === "c" ? ["sync"] : ["sync", "async"]) {
      h.test(
        `mp sync: Ruby's condition example: a ${label(waiter)} waiter (${mode}) reads exactly the numbers a ${
          label(signaller)
        } process wrote`,
        async () => {
          using f = setup(1);
          const waiting = spawn(waiter, ["ruby-wait", f.name, mode]);
          await expectLine(waiting, "waiting");
          // The signaller blocks on the mutex until the waiter has released it inside its wait.
          await run(h, signaller, args("ruby-signal", f.name, "8675309", "1234567"));
          await expectLine(waiting, "got 8675309 1234567");
          await expectExit(waiting, "waiter");
        },
      );
    }
  }

  h.test(
    "mp sync: bounded buffer, 2 producers and 2 consumers in different runtimes, 100 000 items each once",
    async () => {
      using f = setup(1);
      const total = 100_000;
      const producers = [
        spawn(programs.c, ["produce", f.name, "0", String(total / 2), "sync"]),
        spawn(other, ["produce", f.name, "1", String(total / 2), "async"]),
      ];
      const consumers = [
        spawn(self, ["consume", f.name, String(total), "async"]),
        spawn(other, ["consume", f.name, String(total), "sync"]),
      ];
      for (const p of producers) assert.equal(await expectExit(p, "producer"), "done\n");
      let consumed = 0;
      for (const c of consumers) consumed += Number(/consumed (\d+)/.exec(await expectExit(c, "consumer"))![1]);
      assert.equal(consumed, total);
      const seen = f.seg.bytes(layout.seen, total);
      const wrong = seen.findIndex((n) => n !== 1);
      assert.equal(wrong, -1, `item ${wrong} was received ${seen[wrong]} times`);
      assert.equal(f.words[layout.count / 4], 0);
    },
    { timeoutMs: 150_000 },
  );

  h.test("mp sync: 8 processes (C, Bun, Deno) pass a barrier 1 000 times; nobody passes early", async () => {
    using f = setup(8);
    const children = Array.from({ length: 8 }, (_, i) => {
      const program = programs.all[i % 3].program;
      return spawn(program, ["barrier", f.name, String(i), "1000", i % 2 === 0 ? "sync" : "async"]);
    });
    for (const [i, child] of children.entries()) assert.equal(await expectExit(child, `party ${i}`), "done\n");
    assert.equal(f.barrier.waiting, 0);
    assert.equal(f.barrier.broken, false);
  }, { timeoutMs: 150_000 });

  h.test("mp sync: a party that times out breaks the barrier for the waiters in every runtime", async () => {
    using f = setup(4);
    const waiters = [
      spawn(programs.c, ["barrier-once", f.name, "30000", "sync"]),
      spawn(other, ["barrier-once", f.name, "30000", "async"]),
    ];
    for (const w of waiters) await expectLine(w, "waiting");
    assert.throws(() => f.barrier.waitSync({ timeout: 200 }), { code: "ETIMEDOUT" });
    for (const w of waiters) {
      await expectLine(w, "error EBROKEN");
      assert.equal((await w.exited).code, 2);
    }
    assert.equal(f.barrier.broken, true);
    f.barrier.reset();
    assert.equal(f.barrier.broken, false);
  });

  h.test("mp sync: rwlock readers in C, Bun and Deno hold read locks at the same time", async () => {
    using f = setup(3);
    const readers = programs.all.map(({ program }, i) =>
      spawn(program, ["read-together", f.name, i === 1 ? "async" : "sync"])
    );
    for (const r of readers) assert.equal(await expectExit(r, "reader"), "ok 3\n");
  });

  h.test("mp sync: a writer gets in while readers in two runtimes keep arriving", async () => {
    using f = setup(1);
    const readers = [
      spawn(programs.c, ["read-loop", f.name, "sync"]),
      spawn(other, ["read-loop", f.name, "async"]),
      spawn(self, ["read-loop", f.name, "sync"]),
    ];
    for (const r of readers) await expectLine(r, "reading");
    const writer = await run(
      h,
      self.kind === "bun" ? programs.bun : programs.deno,
      args("write-once", f.name, "async"),
    );
    assert.equal(writer, "wrote\n");
    for (const r of readers) assert.match(await expectExit(r, "reader"), /^reading\nreads \d+\n$/);
  }, { timeoutMs: 60_000 });

  h.test("mp sync: closing an rwlock with a write lock pending rejects it with ECLOSED and gives back what it took", async () => {
    using f = setup(1);
    const held = spawn(programs.c, ["read-hold", f.name]);
    try {
      await expectLine(held, "held");
      const rw = RwLock.at(f.seg, layout.rwlock);
      const writing = rw.writeLock();
      assert.equal(rw.closed, false);
      rw.close();
      await assert.rejects(writing, { code: "ECLOSED" });
      assert.deepEqual(f.rw.tryReadLock(), { ownerDied: false });
      f.rw.readUnlock();
    } finally {
      held.kill("SIGKILL");
    }
  });

  for (const holder of programs.all) {
    h.test(`mp sync: a ${holder.label} reader killed with SIGKILL releases its read lock; a writer gets in`, async () => {
      using f = setup(1);
      const held = spawn(holder.program, ["read-hold", f.name]);
      try {
        await expectLine(held, "held");
        assert.equal(f.rw.readers, 1);
        assert.throws(() => f.rw.writeLockSync({ timeout: 20 }), { code: "ETIMEDOUT" });
        await assert.rejects(f.rw.writeLock({ timeout: 20 }), { code: "ETIMEDOUT" });
        const aborting = new AbortController();
        const aborted = f.rw.writeLock({ signal: aborting.signal });
        aborting.abort(new Error("enough"));
        await assert.rejects(aborted, /enough/);
        // The writers that gave up released what they had taken: new readers get in.
        assert.deepEqual(f.rw.tryReadLock(), { ownerDied: false });
        assert.equal(f.rw.readers, 2);
        f.rw.readUnlock();
        const writing = f.rw.writeLock({ timeout: 10_000 });
        held.kill("SIGKILL");
        assert.deepEqual(await writing, { ownerDied: false });
        f.rw.writeUnlock();
      } finally {
        held.kill("SIGKILL");
      }
    });

    h.test(`mp sync: a ${holder.label} writer killed with SIGKILL: readers and writers get ownerDied until consistent()`, async () => {
      using f = setup(1);
      const held = spawn(holder.program, ["write-hold", f.name]);
      try {
        await expectLine(held, "held");
        const reading = f.rw.readLock({ timeout: 10_000 });
        held.kill("SIGKILL");
        assert.deepEqual(await reading, { ownerDied: true });
        f.rw.readUnlock();
        assert.deepEqual(f.rw.writeLockSync({ timeout: 5000 }), { ownerDied: true });
        f.rw.consistent();
        f.rw.writeUnlock();
        assert.deepEqual(f.rw.readLockSync(), { ownerDied: false });
        f.rw.readUnlock();
      } finally {
        held.kill("SIGKILL");
      }
    });
  }

  h.test("mp sync: a semaphore of 2 keeps at most 2 of 6 processes (C, Bun, Deno) inside", async () => {
    using f = setup(1, 2);
    const children = Array.from(
      { length: 6 },
      (_, i) => spawn(programs.all[i % 3].program, ["sem-work", f.name, "3000", i % 2 === 0 ? "async" : "sync"]),
    );
    for (const child of children) assert.match(await expectExit(child, "worker"), /^max [12]\n$/);
    assert.equal(f.semaphore.value, 2);
    assert.ok(f.words[layout.insideMax / 4] >= 1 && f.words[layout.insideMax / 4] <= 2);
  }, { timeoutMs: 120_000 });

  for (const holder of programs.all) {
    h.test(`mp sync: a unit held by a ${holder.label} process killed with SIGKILL is not returned; a waiter's timeout says why`, async () => {
      using f = setup(1, 1);
      const held = spawn(holder.program, ["sem-hold", f.name]);
      try {
        await expectLine(held, "held");
        held.kill("SIGKILL");
        await held.exited;
        assert.equal(f.semaphore.value, 0);
        assert.throws(
          () => f.semaphore.acquireSync(1, { timeout: 20 }),
          (e: Error & { code?: string }) =>
            e.code === "ETIMEDOUT" && /value now 0/.test(e.message) && /no owner/.test(e.message),
        );
        await assert.rejects(f.semaphore.acquire(1, { timeout: 20 }), /units held by a process that died/);
        f.semaphore.release();
        f.semaphore.acquireSync(1, { timeout: 1000 });
      } finally {
        held.kill("SIGKILL");
      }
    });
  }

  h.test("mp sync: setting an event releases waiters in C, Bun and Deno (sync and async)", async () => {
    using f = setup(1);
    const waiters = [
      spawn(programs.c, ["event-wait", f.name, "sync"]),
      spawn(programs.bun, ["event-wait", f.name, "async"]),
      spawn(programs.deno, ["event-wait", f.name, "sync"]),
      spawn(programs.deno, ["event-wait", f.name, "async"]),
    ];
    for (const w of waiters) await expectLine(w, "waiting");
    f.event.set();
    for (const w of waiters) assert.equal(await expectExit(w, "event waiter"), "waiting\nset\n");
  });
}
