/**
 * Pool: map over 100 000 items equals the serial result in order; exec of values, errors and async
 * functions; a worker killed mid-map (the map rejects with EBROKEN, or succeeds with `retries`, and
 * the pool goes on with a new worker); maxTasksPerWorker; timeouts and aborts kill the worker running
 * the task; a module that does not load; close and terminate; a pool of the other runtime; an idle
 * pool that does not keep its process alive.
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import type { Pool as PoolClass, WorkerExit } from "../../lib/index.ts";
import type { Harness } from "../harness.ts";
import { mix } from "./pool_work.ts";
import { statOf } from "../support/procs.ts";

/** Whether `pid` still runs code: a zombie has exited (its reaper may be an init that never reaps). */
function alive(pid: number): boolean {
  const stat = statOf(pid);
  return stat !== null && stat.state !== "Z";
}

/**
 * Waits until a file whose name starts with `prefix` appears in `dir`: a worker's sign that it runs
 * its task (pool_work.ts's `mark`). Polls; the deadline holds on a busy machine (not a timing assert).
 */
async function started(dir: string, prefix: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!readdirSync(dir).some((name) => name.startsWith(prefix))) {
    if (Date.now() > until) throw new Error(`no ${dir}/${prefix}* appeared within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits up to `ms` for every pid to be gone. */
async function gone(pids: number[], ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = left.filter(alive);
  }
  return left;
}

export default function pool(h: Harness): void {
  const { Pool, IpcError } = h.ipc;
  const other = h.runtime === "bun" ? "deno" : "bun";
  const work = `${h.paths.root}/tests/mp/pool_work.ts`;
  const code = (c: string, pattern?: RegExp) => (error: unknown) =>
    error instanceof IpcError && (error as { code: string }).code === c &&
    (pattern === undefined || pattern.test((error as Error).message));

  /** Runs `fn` with a pool and closes it; checks that its workers are gone afterwards. */
  async function withPool(
    options: Partial<ConstructorParameters<typeof Pool>[0]>,
    fn: (p: PoolClass) => Promise<void>,
  ) {
    const p = new Pool({ module: work, size: 2, ...options });
    const seen = new Set<number>();
    try {
      await fn(p);
      for (const pid of p.pids) seen.add(pid);
    } finally {
      for (const pid of p.pids) seen.add(pid);
      await p.terminate();
    }
    assert.deepEqual(await gone([...seen], 5000), [], "every worker has exited");
  }

  h.test("mp pool: map over 100 000 items with chunkSize 512 equals the serial result, in order", async () => {
    const items = Array.from({ length: 100_000 }, (_, i) => i * 7919);
    const serial = items.map(mix);
    await withPool({}, async (p) => {
      assert.deepEqual(await p.map(items, "mix", { chunkSize: 512 }), serial);
      // The default chunk size, an iterable source, and the async iterator in both orders.
      assert.deepEqual(await p.map(items, "mix"), serial);
      assert.deepEqual(await p.map(new Set(items.slice(0, 5000)), "mix", { chunkSize: 100 }), serial.slice(0, 5000));
      const inOrder: number[] = [];
      for await (const v of p.imap<number>(items, "mix", { chunkSize: 512 })) inOrder.push(v);
      assert.deepEqual(inOrder, serial);
      const any: number[] = [];
      for await (const v of p.imap<number>(items, "mix", { chunkSize: 512, ordered: false })) any.push(v);
      assert.deepEqual(any.sort((a, b) => a - b), [...serial].sort((a, b) => a - b));
      assert.deepEqual(await p.map([], "mix"), []);
      // Chunks of numbers cross as Float64Array: every number exactly; a mixed chunk stays as it is.
      const numbers = [-0, NaN, Infinity, -Infinity, 0.1, 2 ** 53 + 2, -5e-324, 7, 8, 9, 1e308, -1];
      assert.deepEqual(await p.map(numbers, "same", { chunkSize: 12 }), numbers);
      assert.ok(Object.is((await p.map(numbers, "same"))[0], -0));
      const mixed = [...numbers.slice(1), "ten", 11n, null]; // msgpack itself writes -0 as 0
      assert.deepEqual(await p.map(mixed, "same", { chunkSize: 15 }), mixed);
      assert.equal(p.queued, 0);
    });
  }, { timeoutMs: 120_000 });

  h.test("mp pool: imap reads an endless source only as workers take it; leaving early stops it", async () => {
    let read = 0;
    function* endless() {
      for (let i = 0;; i++) {
        read++;
        yield i;
      }
    }
    await withPool({}, async (p) => {
      const got: number[] = [];
      for await (const v of p.imap<number>(endless(), "mix", { chunkSize: 10 })) {
        got.push(v);
        if (got.length === 1000) break;
      }
      assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => mix(i)));
      assert.ok(read < 1000 + 4 * 2 * 10 + 10, `read ${read} items for 1000 results`);
      assert.equal(p.queued, 0, "the chunks not run were dropped");
      assert.equal(await p.exec("add", 2, 3), 5, "the pool goes on");
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: exec returns values through msgpack; errors keep name, message, code and stack", async () => {
    await withPool({}, async (p) => {
      assert.equal(await p.exec("add", 2, 40), 42);
      const calls = await Promise.all(Array.from({ length: 50 }, (_, i) => p.exec<number>("add", i, i)));
      assert.deepEqual(calls, Array.from({ length: 50 }, (_, i) => 2 * i));
      const rich = (await p.exec("rich", 5)) as Record<string, unknown>;
      assert.equal(rich.big, 125n);
      assert.equal((rich.when as Date).getTime(), 5);
      assert.deepEqual(rich.bytes, new Uint8Array([5, 6]));
      assert.deepEqual(rich.nested, [{ n: 5 }]);
      await assert.rejects(p.exec("fails", "x{"), (error: Error & { code?: string }) => {
        assert.equal(error.name, "ParseFailure");
        assert.equal(error.message, 'cannot parse "x{"');
        assert.equal(error.code, "EPARSE");
        assert.match(error.stack!, /fails .*pool_work\.ts/);
        return true;
      });
      await assert.rejects(p.exec("missing"), /exports no function named "missing"/);
      await assert.rejects(
        p.map(Array.from({ length: 2000 }, (_, i) => i), "failsOn777", { chunkSize: 100 }),
        (error: Error) =>
          error.name === "RangeError" && /777 is not allowed \(item 777 of failsOn777/.test(error.message),
      );
      assert.equal(await p.exec("add", 1, 1), 2, "a thrown error leaves the worker working");
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: bad arguments to exec, map and imap are IpcTypeError or IpcRangeError", async () => {
    await withPool({ size: 1 }, async (p) => {
      const fails = (c: string, pattern: RegExp) => (error: unknown) => code(c, pattern)(error);
      await assert.rejects(p.exec(""), fails("EINVAL", /name must be a non-empty string/));
      await assert.rejects(p.exec(7 as never), fails("EINVAL", /name must be a non-empty string, got 7/));
      await assert.rejects(p.exec({ name: "add", timeout: -1 }), fails("EINVAL", /timeout must be at least 0/));
      await assert.rejects(
        p.exec({ name: "add", signal: 1 as never }),
        fails("EINVAL", /signal must be an AbortSignal/),
      );
      await assert.rejects(p.map([1], "mix", { chunkSize: 0 }), fails("EINVAL", /chunkSize must be an integer/));
      await assert.rejects(p.map([1], "mix", { chunkSize: 2 ** 21 }), fails("ERANGE", /chunkSize 2097152 exceeds/));
      await assert.rejects(p.map([1], "mix", { ordered: 1 as never }), fails("EINVAL", /ordered must be a boolean/));
      await assert.rejects(
        p.map(5 as never, "mix"),
        fails("EINVAL", /items must be iterable or async iterable/),
      );
      await assert.rejects(p.imap([1], "").next(), fails("EINVAL", /name must be a non-empty string/));
      assert.equal(await p.exec("add", 1, 2), 3);
    });
  });

  h.test("mp pool: a worker killed mid-map rejects the map with EBROKEN; a new worker takes its place", async () => {
    const exits: WorkerExit[] = [];
    const dir = mkdtempSync(`${tmpdir()}/libipc-pool-`);
    await withPool({ onWorkerExit: (info) => exits.push(info) }, async (p) => {
      const before = p.pids;
      // Enough work that the map still runs when the victim has started (the other worker alone
      // would take 5 s); the victim is killed once it has loaded the module and runs a chunk.
      const items = Array.from({ length: 2000 }, (_, x) => ({ x, ms: 5, marker: `${dir}/started` }));
      const mapping = p.map(items, "slowItem", { chunkSize: 4 });
      const victim = before[0];
      await started(dir, `started.${victim}`);
      process.kill(victim, "SIGKILL");
      await assert.rejects(
        mapping,
        code("EBROKEN", new RegExp(`worker ${victim} running slowItem\\(items \\d+\\.\\.\\d+\\).*SIGKILL`)),
      );
      assert.equal(exits.length, 1);
      assert.equal(exits[0].pid, victim);
      assert.deepEqual(exits[0].exit, { code: null, signal: "SIGKILL" });
      assert.equal(exits[0].retry, false);
      assert.equal(exits[0].cause, "died");
      assert.match(exits[0].task!, /^slowItem\(items \d+\.\.\d+\)$/);
      // The pool has replaced it and works on.
      assert.deepEqual(await p.map([1, 2, 3, 4], "mix", { chunkSize: 1 }), [1, 2, 3, 4].map(mix));
      assert.equal(p.pids.length, 2);
      assert.ok(!p.pids.includes(victim));
    }).finally(() => rmSync(dir, { recursive: true, force: true }));
  }, { timeoutMs: 60_000 });

  h.test("mp pool: a task sent to a worker that has just died idle runs on the next one, blameless", async () => {
    const exits: WorkerExit[] = [];
    await withPool({ size: 1, onWorkerExit: (info) => exits.push(info) }, async (p) => {
      assert.equal(await p.exec("add", 1, 1), 2);
      const [idle] = p.pids;
      process.kill(idle, "SIGKILL"); // its exit is not seen yet: the next call goes into its channel
      assert.equal(await p.exec("add", 2, 2), 4);
      assert.equal(exits.length, 1);
      assert.equal(exits[0].pid, idle);
      assert.equal(exits[0].task, undefined, "it was running nothing");
      assert.notEqual(p.pids[0], idle);
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: a worker killed before it is ready is replaced; the work queued meanwhile runs", async () => {
    const exits: WorkerExit[] = [];
    await withPool({ onWorkerExit: (info) => exits.push(info) }, async (p) => {
      const [early] = p.pids;
      const mapping = p.map(Array.from({ length: 5000 }, (_, i) => i), "mix", { chunkSize: 100 });
      process.kill(early, "SIGKILL"); // before its runtime has even loaded the module
      assert.deepEqual(await mapping, Array.from({ length: 5000 }, (_, i) => mix(i)));
      assert.deepEqual(exits.map((e) => [e.pid, e.exit.signal, e.task]), [[early, "SIGKILL", undefined]]);
      assert.ok(!p.pids.includes(early));
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: with retries, the chunk of a crashed worker runs again and the map succeeds", async () => {
    const dir = mkdtempSync(`${tmpdir()}/libipc-pool-`);
    try {
      const exits: WorkerExit[] = [];
      await withPool({ retries: 1, onWorkerExit: (info) => exits.push(info) }, async (p) => {
        const items = Array.from({ length: 3000 }, (_, x) => ({ x, crash: x === 1234, marker: `${dir}/crashed` }));
        const out = await p.map(items, "crashOnce", { chunkSize: 50 });
        assert.deepEqual(out, items.map((item) => item.x * 2));
        assert.ok(existsSync(`${dir}/crashed`), "the first attempt crashed");
        assert.equal(exits.length, 1);
        assert.equal(exits[0].retry, true);
        assert.equal(exits[0].task, "crashOnce(items 1200..1249)");
        // Retries are counted: a task that crashes every time fails after 1 + retries attempts.
        const always = [{ x: 1, crash: true }];
        await assert.rejects(p.map(always, "crashOnce"), code("EBROKEN", /crashOnce\(items 0\.\.0\).*\(attempt 2\)/));
        assert.equal(exits.length, 3);
        assert.deepEqual(exits.slice(1).map((e) => e.retry), [true, false]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 60_000 });

  h.test("mp pool: maxTasksPerWorker replaces workers after so many tasks, quietly", async () => {
    const exits: WorkerExit[] = [];
    await withPool({ size: 1, maxTasksPerWorker: 2, onWorkerExit: (info) => exits.push(info) }, async (p) => {
      const pids: number[] = [];
      for (let i = 0; i < 6; i++) pids.push(await p.exec<number>("pid"));
      assert.deepEqual(pids.map((pid, i) => pid === pids[i - (i % 2)]), [true, true, true, true, true, true]);
      assert.equal(new Set(pids).size, 3, `pids ${pids.join(" ")}: a new worker every 2 tasks`);
      assert.deepEqual(await p.map(Array.from({ length: 20 }, (_, i) => i), "mix", { chunkSize: 3 }), [
        ...Array.from({ length: 20 }, (_, i) => mix(i)),
      ]);
      assert.deepEqual(exits, [], "retirements are not reported as exits");
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: a timeout or an abort kills the worker running the task; others are untouched", async () => {
    const exits: WorkerExit[] = [];
    const dir = mkdtempSync(`${tmpdir()}/libipc-pool-`);
    await withPool({ onWorkerExit: (info) => exits.push(info) }, async (p) => {
      // A worker is ready and idle, so the task goes to it at once; the timeout (a deadline that
      // holds on a busy machine) ends it running, not queued.
      assert.equal(await p.exec("add", 1, 1), 2);
      await assert.rejects(
        p.exec({ name: "hangs", timeout: 1000 }, `${dir}/timed`),
        code("ETIMEDOUT", /hangs\(\.\.\.\) did not return/),
      );
      assert.equal(readdirSync(dir).filter((name) => name.startsWith("timed.")).length, 1, "it ran before its timeout");
      const controller = new AbortController();
      const pending = p.exec({ name: "hangs", signal: controller.signal }, `${dir}/aborted`);
      const meanwhile = p.exec<number>("slow", 9, 300);
      // The abort comes once the task runs (its worker says so).
      await started(dir, "aborted.");
      controller.abort(new Error("caller gave up"));
      await assert.rejects(pending, /caller gave up/);
      assert.equal(await meanwhile, 9);
      assert.deepEqual(exits.map((e) => [e.cause, e.task]), [["cancel", "hangs(...)"], ["cancel", "hangs(...)"]]);
      // An aborted map: its chunks stop, the pool goes on.
      const mapAbort = new AbortController();
      const items = Array.from({ length: 1000 }, (_, x) => ({ x, ms: 5, marker: `${dir}/mapped` }));
      const mapping = p.map(items, "slowItem", { chunkSize: 5, signal: mapAbort.signal });
      mapping.catch(() => {}); // awaited below, after the abort
      await started(dir, "mapped.");
      mapAbort.abort(new Error("map cancelled"));
      await assert.rejects(mapping, /map cancelled/);
      assert.equal(p.queued, 0);
      assert.equal(await p.exec("add", 1, 2), 3);
      const aborted = new AbortController();
      aborted.abort(new Error("already"));
      await assert.rejects(p.exec({ name: "add", signal: aborted.signal }, 1, 2), /already/);
    }).finally(() => rmSync(dir, { recursive: true, force: true }));
  }, { timeoutMs: 60_000 });

  h.test("mp pool: a task or result too large for the channel rejects with ERANGE; the pool goes on", async () => {
    await withPool({ capacity: 65536 }, async (p) => {
      // The worker finds its result too large: the error comes back as an Error with code ERANGE.
      await assert.rejects(
        p.exec("bytes", 100_000),
        (error: Error & { code?: string }) => error.code === "ERANGE" && /capacity/.test(error.message),
      );
      await assert.rejects(p.exec("add", new Uint8Array(100_000), 1), code("ERANGE", /capacity/));
      await assert.rejects(
        p.map(Array.from({ length: 2000 }, () => "x".repeat(100)), "mix", { chunkSize: 1000 }),
        code("ERANGE", /chunkSize/),
      );
      assert.equal(await p.exec("add", 1, 2), 3);
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: a module that does not load, or a runtime that is not there, rejects the work", async () => {
    const broken = new Pool({ module: `${h.paths.root}/tests/mp/pool_broken.ts`, size: 2 });
    try {
      await assert.rejects(broken.exec("f"), code("EBROKEN", /could not load .*pool_broken\.ts.*refuses to load/));
      await assert.rejects(broken.map([1, 2], "f"), code("EBROKEN", /could not load/));
    } finally {
      await broken.terminate();
    }
    const missing = new Pool({ module: work, size: 1, runtime: other, execPath: "/nonexistent/runtime" });
    try {
      await assert.rejects(missing.exec("add", 1, 2), code("ENOENT", /\/nonexistent\/runtime/));
    } finally {
      await missing.terminate();
    }
  }, { timeoutMs: 60_000 });

  h.test("mp pool: close() lets queued work finish, then workers exit; terminate() rejects pending work", async () => {
    const p = new Pool({ module: work, size: 2 });
    const pending = Array.from({ length: 10 }, (_, i) => p.exec<number>("slow", i, 20));
    const pids = p.pids;
    const closing = p.close();
    assert.equal(p.closed, true);
    await assert.rejects(p.exec("add", 1, 2), code("ECLOSED", /closing/));
    assert.deepEqual(await Promise.all(pending), Array.from({ length: 10 }, (_, i) => i));
    await closing;
    assert.deepEqual(await gone(pids, 2000), []);
    assert.deepEqual(p.pids, []);

    const q = new Pool({ module: work, size: 2 });
    // Two run, two wait in a worker's channel or in the pool's queue: all four reject.
    const hung = [q.exec("hangs"), q.exec("hangs"), q.exec("hangs"), q.exec("hangs")];
    const qpids = q.pids;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const outcomes = Promise.all(hung.map((call) => call.then((value) => ({ value }), (error) => error)));
    await q.terminate();
    for (const outcome of await outcomes) assert.ok(code("ECLOSED", /terminated/)(outcome), String(outcome));
    assert.deepEqual(await gone(qpids, 2000), []);
    await assert.rejects(q.map([1], "mix"), code("ECLOSED"));
  }, { timeoutMs: 60_000 });

  h.test("mp pool: workers get the pool's shared objects: 2 workers of each runtime add under one Mutex", async () => {
    const { SharedMemory, Mutex, MUTEX_SIZE } = h.ipc;
    using seg = SharedMemory.create({ size: 4096 });
    const mutex = Mutex.init(seg, 0);
    const items = Array.from({ length: 2000 }, (_, i) => i + 1);
    const module = `${h.paths.root}/tests/mp/pool_shared.ts`;
    for (const runtime of [h.runtime, other] as const) {
      await withPool({ module, share: [seg, mutex], runtime, execPath: h.paths[runtime] }, async (p) => {
        assert.deepEqual(await p.map(items, "addUnderLock", { chunkSize: 16 }), items);
      });
    }
    assert.equal(seg.view(BigUint64Array, MUTEX_SIZE, 1)[0], 2n * BigInt((2000 * 2001) / 2));
    mutex.close();
  }, { timeoutMs: 60_000 });

  h.test(`mp pool: a pool of ${other} workers maps for a ${h.runtime} parent`, async () => {
    await withPool({ runtime: other, execPath: h.paths[other] }, async (p) => {
      const items = Array.from({ length: 10_000 }, (_, i) => i);
      assert.deepEqual(await p.map(items, "mix", { chunkSize: 512 }), items.map(mix));
      assert.equal((await p.exec("rich", 3) as { big: bigint }).big, 27n);
    });
  }, { timeoutMs: 60_000 });

  h.test("mp pool: an idle pool does not keep its process alive; its workers exit with it", async () => {
    for (const runtime of ["bun", "deno"] as const) {
      const child = h.spawn(
        runtime === "bun"
          ? [h.paths.bun, `${h.paths.root}/tests/mp/pool_idle.bun.ts`, work]
          : [h.paths.deno, "run", "--allow-all", `${h.paths.root}/tests/mp/pool_idle.deno.ts`, work],
        { timeoutMs: 30_000 },
      );
      const exit = await child.exited;
      assert.deepEqual([exit.code, exit.signal], [0, null], `${runtime}: ${exit.stderr}`);
      const pids = exit.stdout.trim().split(" ").map(Number);
      assert.equal(pids.length, 2, exit.stdout);
      assert.deepEqual(await gone(pids, 5000), [], `${runtime}: the workers exited with their parent`);
    }
  }, { timeoutMs: 90_000 });
}
