/**
 * Node children: `spawn`, `isolate` and `Pool` with `runtime: "node"`. Workers of Node, another
 * runtime (this one, or Bun under a Node parent) and C add to one counter under one Mutex (the D
 * post's sum, checked exactly), a function runs isolated in Node, and a Pool of Node workers maps.
 * Node runs the TypeScript sources itself, so it must strip types (22.18 or later): `h.paths.node`.
 */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";

/** What worker i adds: i*j - i + i^4 for j = 1..99 (as worker.ts does). */
function expectedSum(workers: number[]): bigint {
  let sum = 0n;
  for (const i of workers) for (let j = 1; j <= 99; j++) sum += BigInt(i * j - i + i ** 4);
  return sum;
}

export default function node(h: Harness): void {
  const { SharedMemory, Mutex, MUTEX_SIZE, spawn, isolate, Pool } = h.ipc;
  const nodePath = h.paths.node;
  const peer = h.runtime === "node" ? "bun" : h.runtime;
  const worker = (runtime: string) => `${h.paths.root}/tests/mp/worker.${runtime}.ts`;

  h.test(
    `mp node: 15 workers (5 node, 5 ${peer}, 5 C) add to one counter under one Mutex`,
    async () => {
      using seg = SharedMemory.create({ size: 4096, name: true });
      try {
        const m = Mutex.init(seg, 0);
        m.lockSync(); // all of them start against a held lock and contend once it is released
        const children = [];
        const kinds: string[] = [];
        try {
          for (let i = 1; i <= 15; i++) {
            const kind = i % 3 === 0 ? "node" : i % 3 === 1 ? peer : "c";
            kinds.push(kind);
            children.push(
              kind === "c"
                ? await spawn(`${h.paths.out}/bin/ipc-child`, {
                  runtime: "native",
                  args: ["mutex", "sum", seg.name!, "0", String(i)],
                  stdio: ["inherit", "ignore", "inherit"],
                })
                : await spawn(worker(kind), {
                  runtime: kind as "node" | "bun" | "deno",
                  execPath: kind === "node" ? nodePath : h.paths[peer],
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
          assert.deepEqual(exit, { code: 0, signal: null }, `worker ${n + 1} (${kinds[n]})`);
        }
        const total = seg.view(BigUint64Array, MUTEX_SIZE, 1)[0];
        assert.equal(total, expectedSum([...Array(15).keys()].map((i) => i + 1)));
        m.close();
      } finally {
        seg.unlink();
      }
    },
    { timeoutMs: 180_000 },
  );

  h.test("mp node: isolate runs a function in Node and brings back what JSON would lose", async () => {
    const isolated = `${h.paths.root}/tests/mp/isolated.ts`;
    assert.equal(await isolate({ module: isolated, runtime: "node", execPath: nodePath }, "times10", 7n), 70n);
    const rich = await isolate({ module: isolated, runtime: "node", execPath: nodePath }, "rich", 3) as {
      big: bigint;
      floats: Float64Array;
    };
    assert.equal(rich.big, 27n);
    assert.deepEqual([...rich.floats], [3, 1.5]);
  }, { timeoutMs: 120_000 });

  h.test("mp node: a Pool of Node workers maps, each item computed once", async () => {
    const module = `${h.paths.root}/tests/mp/pool_work.ts`;
    const pool = new Pool({ module, size: 2, runtime: "node", execPath: nodePath });
    try {
      const items = [...Array(200).keys()];
      const mixed = await pool.map(items, "mix", { chunkSize: 16 });
      const { mix } = await import("./pool_work.ts");
      assert.deepEqual(mixed, items.map(mix));
      assert.equal(await pool.exec("add", 2, 3), 5);
    } finally {
      await pool.close();
    }
  }, { timeoutMs: 120_000 });
}
