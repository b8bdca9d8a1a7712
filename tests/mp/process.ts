/**
 * Processes: the D post's scenario end to end — 15 workers started by `spawn`, sharing a Mutex and a
 * counter segment handed over by fd (anonymous) or by name, of this runtime, the other one and C —
 * and `isolate` (fork-map): values computed in a child, thrown errors, crashes, timeouts, aborts,
 * and a child that leaks memory leaving this process's memory as it was.
 */

import assert from "node:assert/strict";
import process from "node:process";
import type { SharedMemory as Segment } from "../../lib/index.ts";
import type { Harness } from "../harness.ts";

/** What the workers add: worker i adds i*j - i + i^4 for j = 1..99 (as child_mutex.ts does). */
function expectedSum(workers: number[]): bigint {
  let sum = 0n;
  for (const i of workers) for (let j = 1; j <= 99; j++) sum += BigInt(i * j - i + i ** 4);
  return sum;
}

export default function processes(h: Harness): void {
  const { SharedMemory, Mutex, MUTEX_SIZE, spawn, isolate, IpcError } = h.ipc;
  const other = h.runtime === "bun" ? "deno" : "bun";
  const worker = (runtime: "bun" | "deno" | "node") => `${h.paths.root}/tests/mp/worker.${runtime}.ts`;
  const isolated = `${h.paths.root}/tests/mp/isolated.ts`;

  async function fifteen(seg: Segment, runtimeOf: (i: number) => "bun" | "deno" | "node" | "c") {
    const m = Mutex.init(seg, 0);
    m.lockSync(); // every worker starts against a held lock: they all contend once it is released
    const children = [];
    try {
      for (let i = 1; i <= 15; i++) {
        const runtime = runtimeOf(i);
        children.push(
          runtime === "c"
            ? await spawn(`${h.paths.out}/bin/ipc-child`, {
              runtime: "native",
              args: ["mutex", "sum", seg.name!, "0", String(i)],
              stdio: ["inherit", "ignore", "inherit"],
            })
            : await spawn(worker(runtime), {
              runtime,
              execPath: h.paths[runtime],
              args: [String(i)],
              share: [seg, m],
            }),
        );
      }
    } finally {
      m.unlock();
    }
    const exits = await Promise.all(children.map((child) => child.exited));
    for (const [n, exit] of exits.entries()) {
      assert.deepEqual(exit, { code: 0, signal: null }, `worker ${n + 1} (${runtimeOf(n + 1)})`);
      assert.deepEqual(children[n].exitStatus, exit);
      assert.equal(children[n].kill(), false, "kill() after the exit sends nothing");
    }
    assert.equal(seg.view(BigUint64Array, MUTEX_SIZE, 1)[0], expectedSum([...Array(15).keys()].map((i) => i + 1)));
    m.close();
  }

  h.test(
    `mp spawn: 15 ${h.runtime} workers share an anonymous segment (by fd) with a Mutex and a counter`,
    async () => {
      using seg = SharedMemory.create({ size: 4096 });
      await fifteen(seg, () => h.runtime);
    },
    { timeoutMs: 120_000 },
  );

  h.test(`mp spawn: 15 workers (5 ${h.runtime}, 5 ${other}, 5 C) share a named segment (by name)`, async () => {
    using seg = SharedMemory.create({ size: 4096, name: true });
    try {
      await fifteen(seg, (i) => (i % 3 === 0 ? h.runtime : i % 3 === 1 ? other : "c"));
    } finally {
      seg.unlink();
    }
  }, { timeoutMs: 120_000 });

  h.test("mp spawn: kill() ends a child with the signal, exited reports it; a signal aborts it", async () => {
    const child = await spawn(`${h.paths.root}/tests/mp/child.${h.runtime}.ts`, {
      args: ["segment", "hold"],
      stdio: ["inherit", "pipe", "inherit"],
    });
    assert.equal(typeof child.pid, "number");
    // Wait for its first line, so that the segment it holds exists and is named, then kill it.
    const name = await new Promise<string>((resolve) => child.stdout!.once("data", (d) => resolve(String(d).trim())));
    assert.equal(child.kill("SIGKILL"), true);
    assert.deepEqual(await child.exited, { code: null, signal: "SIGKILL" });
    SharedMemory.unlinkDead(name);

    const controller = new AbortController();
    const aborted = await spawn(isolated, { signal: controller.signal, args: [] });
    controller.abort();
    const exit = await aborted.exited;
    // It may have finished first (the module does nothing); if not, SIGKILL ended it.
    assert.ok(exit.code === 0 || exit.signal === "SIGKILL", JSON.stringify(exit));
  });

  h.test("mp spawn: a runtime that is not there rejects with ENOENT naming it", async () => {
    await assert.rejects(
      spawn(worker(other), { runtime: other, execPath: "/nonexistent/runtime" }),
      (error: unknown) =>
        error instanceof IpcError && (error as { code: string }).code === "ENOENT" &&
        /\/nonexistent\/runtime/.test((error as Error).message),
    );
  });

  h.test("mp isolate: fork-map's example — value * 10 computed in a child, numbers and bigints", async () => {
    assert.equal(await isolate(isolated, "times10", 7), 70);
    // A timeout longer than a JS timer holds (2^31 - 1 ms) is no timeout, not 1 ms.
    assert.equal(await isolate({ module: isolated, timeout: 2 ** 40 }, "times10", 8), 80);
    assert.equal(await isolate(new URL(`file://${isolated}`), "times10", 2n ** 60n), 2n ** 60n * 10n);
    const rich = (await isolate(isolated, "rich", 5)) as Record<string, unknown>;
    assert.equal(rich.big, 125n);
    assert.equal((rich.when as Date).getTime(), 5);
    assert.deepEqual(rich.floats, new Float64Array([5, 2.5]));
    assert.deepEqual(rich.nested, [{ n: 5 }]);
  });

  h.test(`mp isolate: a ${other} child computes for a ${h.runtime} parent`, async () => {
    assert.equal(await isolate({ module: isolated, runtime: other, execPath: h.paths[other] }, "times10", 9), 90);
  });

  h.test("mp isolate: a thrown error rejects with its name, message, code and the child's stack", async () => {
    await assert.rejects(isolate(isolated, "fails", "x{"), (error: Error & { code?: string }) => {
      assert.equal(error.name, "ParseFailure");
      assert.equal(error.message, 'cannot parse "x{"');
      assert.equal(error.code, "EPARSE");
      assert.match(error.stack!, /fails .*isolated\.ts/);
      return true;
    });
    await assert.rejects(isolate(isolated, "notAFunction"), /exports no function named "notAFunction"/);
    await assert.rejects(isolate(isolated, "missing"), /exports no function named "missing"/);
  });

  h.test("mp isolate: a child that dies without answering rejects with EBROKEN naming how", async () => {
    const broken = (pattern: RegExp) => (error: unknown) =>
      error instanceof IpcError && (error as { code: string }).code === "EBROKEN" &&
      pattern.test((error as Error).message);
    await assert.rejects(isolate(isolated, "exits", 3), broken(/exits of .* exited with code 3 before returning/));
    await assert.rejects(isolate(isolated, "exits", 0), broken(/exited with code 0 before returning/));
    await assert.rejects(isolate(isolated, "killsItself"), broken(/was killed by SIGKILL/));
  });

  h.test("mp isolate: timeout kills the child with ETIMEDOUT; an abort kills it with the signal's reason", async () => {
    await assert.rejects(
      isolate({ module: isolated, timeout: 200 }, "hangs"),
      (error: unknown) => error instanceof IpcError && (error as { code: string }).code === "ETIMEDOUT",
    );
    const controller = new AbortController();
    const pending = isolate({ module: isolated, signal: controller.signal }, "hangs");
    setTimeout(() => controller.abort(new Error("caller gave up")), 200);
    await assert.rejects(pending, /caller gave up/);
  });

  h.test("mp isolate: a result larger than the channel rejects with ERANGE; capacity makes room", async () => {
    await assert.rejects(
      isolate({ module: isolated, capacity: 65536 }, "huge", 100_000),
      (error: Error & { code?: string }) => error.code === "ERANGE" && /capacity/.test(error.message),
    );
    const big = (await isolate({ module: isolated, capacity: 1 << 18 }, "huge", 100_000)) as Uint8Array;
    assert.equal(big.length, 100_000);
    assert.equal(big[99_999], 7);
  });

  h.test("mp isolate: a child that leaks 256 MiB leaves this process's memory as it was", async () => {
    h.gc();
    const before = process.memoryUsage().rss;
    const grew = (await isolate(isolated, "leaks", 256)) as number;
    h.gc();
    const after = process.memoryUsage().rss;
    assert.ok(grew >= 200 * (1 << 20), `the child's RSS grew by only ${grew} bytes: it did not leak as meant`);
    assert.ok(after - before < 64 * (1 << 20), `this process's RSS grew by ${after - before} bytes`);
  });
}
