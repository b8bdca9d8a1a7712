/**
 * Chan across processes and runtimes: a million mixed-size messages from each runtime to each other
 * one (this runtime -> the other, the other -> this, C -> this, this -> C), every one received once
 * and in order (every other consumer reading zero-copy views); three producers (C, Bun, Deno) and two
 * consumers (one async, one on views) with nothing lost or duplicated; producers and consumers (half of
 * them holding views) killed with SIGKILL mid-stream while the others go on.
 */

import assert from "node:assert/strict";
import { type Child, command, type Harness, type Program } from "../harness.ts";
import { parseSummary } from "./child_chan.ts";
import * as programs from "./programs.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The per-producer [count, sum of indices] a consumer printed last. */
async function summary(child: Child, label: string): Promise<Map<number, [number, number]>> {
  const exit = await child.exited;
  assert.equal(exit.code, 0, `${label}: ${exit.stdout} ${exit.stderr}`);
  const lines = exit.stdout.trim().split("\n");
  const { bad, seen } = parseSummary(lines[lines.length - 1]);
  assert.equal(bad, 0, label);
  return seen;
}

function expectAll(seen: Map<number, [number, number]>[], producers: number[], count: number): void {
  for (const id of producers) {
    let total = 0;
    let sum = 0;
    for (const s of seen) {
      const [c, x] = s.get(id) ?? [0, 0];
      total += c;
      sum += x;
    }
    assert.equal(total, count, `producer ${id}: messages received`);
    assert.equal(sum, (count * (count - 1)) / 2, `producer ${id}: each index once`);
  }
}

export default function chan(h: Harness): void {
  const { Chan, Pipe, Duplex, SharedValue } = h.ipc;
  // Every child of a test, killed when the test ends (a failed assertion must not leave a producer
  // running forever).
  const started: Child[] = [];
  const spawn = (argv: string[], timeoutMs = 120_000): Child => {
    const child = h.spawn(argv, { timeoutMs });
    started.push(child);
    return child;
  };
  const reap = async (): Promise<void> => {
    for (const child of started.splice(0)) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.exited.catch(() => {});
    }
  };
  const self: Program = h.runtime === "bun" ? programs.bun : programs.deno;
  const other = programs.other(h.runtime);
  const label = (p: Program) => (p.kind === "c" ? "C" : p.kind === "bun" ? "Bun" : "Deno");

  for (const child of [other, programs.c]) {
    h.test(`mp chan: the seed's pipe — ${label(child)} writes ten lines, then EOF`, async () => {
      using pipe = Pipe.create({ capacity: 128, name: true });
      try {
        const writer = spawn(command(h, child, ["chan", "bites", pipe.memory.name!]), 30_000);
        let text = "";
        for await (
          const piece of pipe.readable.pipeThrough(
            new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>,
          )
        ) text += piece;
        const lines = text.split("\n");
        assert.equal(lines.pop(), "", "the text ends with a newline");
        assert.deepEqual(lines, new Array(10).fill("Another one bites the dust"));
        assert.equal((await writer.exited).code, 0);
      } finally {
        await reap();
        pipe.memory.unlink();
      }
    });

    h.test(`mp chan: a pipe ends when its writer (${label(child)}) is killed, for sync and async readers`, async () => {
      using pipe = Pipe.create({ capacity: 128, name: true });
      using second = Pipe.open(pipe.memory.name!);
      try {
        const writer = spawn(command(h, child, ["chan", "hold", pipe.memory.name!]), 30_000);
        assert.equal(await writer.line(), "written");
        assert.equal(new TextDecoder().decode((await pipe.read())!), "written before dying\n");
        const waiting = second.read(); // parked on the data and on the writer
        await sleep(20);
        writer.kill("SIGKILL");
        await writer.exited;
        assert.equal(await waiting, null, "an async reader sees the end");
        assert.equal(pipe.readSync(), null, "a sync reader too");
        assert.ok(pipe.ended);
      } finally {
        await reap();
        pipe.memory.unlink();
      }
    });

    h.test(`mp chan: the seed's socketpair — ${label(child)} answers each instruction`, async () => {
      using end = Duplex.create({ capacity: 1024, name: true });
      try {
        const server = spawn(command(h, child, ["chan", "serve", end.memory.name!]), 30_000);
        const encoder = new TextEncoder();
        const decoder = new TextDecoder();
        for (const instruction of ["Clean the kitchen", "Walk the dog", "Write the tests"]) {
          await end.send(encoder.encode(instruction));
          assert.equal(decoder.decode(await end.recv()), `${instruction} accomplished!`);
        }
        end.end();
        assert.equal(await end.recv(), undefined, "the server ends its side after ours");
        assert.equal((await server.exited).code, 0);
      } finally {
        await reap();
        end.memory.unlink();
      }
    });
  }

  h.test("mp chan: a SharedValue stored by C and by the other runtime, loaded here", async () => {
    using value = SharedValue.create<unknown>({ name: true, value: { from: "parent" } });
    try {
      for (const child of [programs.c, other]) {
        const text = JSON.stringify({ from: label(child), n: [1, 2, 3] });
        const exit = await spawn(command(h, child, ["chan", "value", value.memory.name!, text]), 30_000).exited;
        assert.equal(exit.code, 0, exit.stderr);
        assert.deepEqual(value.load(), { from: label(child), n: [1, 2, 3] });
      }
    } finally {
      await reap();
      value.memory.unlink();
    }
  });

  h.test("mp chan: msgpack values go to the other runtime and back unchanged", async () => {
    using end = Duplex.create<unknown>({ name: true, codec: "msgpack" });
    try {
      const echo = spawn(command(h, other, ["chan", "echo", end.memory.name!, "msgpack"]), 30_000);
      const values: unknown[] = [
        { id: 1, big: 2n ** 60n, when: new Date(1_700_000_000_000), bytes: new Uint8Array([9, 8]) },
        new Float64Array([1.5, -0.25]),
        ["text", 42, null, { nested: new Set([1, 2]) }],
      ];
      for (const v of values) {
        await end.send(v);
        assert.deepEqual(await end.recv(), v);
      }
      end.end();
      assert.equal((await echo.exited).code, 0);
    } finally {
      await reap();
      end.memory.unlink();
    }
  });

  const pairs: [Program, Program][] = [[self, other], [other, self], [programs.c, self], [self, programs.c]];
  for (const [index, [from, to]] of pairs.entries()) {
    // Every other consumer takes zero-copy views of the ring instead of copies.
    const mode = index % 2 === 1 ? "views" : "copies";
    h.test(
      `mp chan: ${label(from)} -> ${label(to)} (${mode}), 1 000 000 mixed-size messages, each once and in order`,
      async () => {
        using chan = Chan.create({ capacity: 1 << 16, name: true });
        const name = chan.memory.name!;
        try {
          const consumer = spawn(command(h, to, ["chan", "consume", name, ...(mode === "views" ? ["views"] : [])]));
          const producer = spawn(command(h, from, ["chan", "produce", name, "1", "1000000"]));
          const exit = await producer.exited;
          assert.equal(exit.code, 0, exit.stderr);
          chan.end();
          expectAll([await summary(consumer, label(to))], [1], 1_000_000);
        } finally {
          await reap();
          chan.memory.unlink();
        }
      },
      { timeoutMs: 150_000 },
    );
  }

  h.test(
    "mp chan: producers in C, Bun and Deno, consumers async and zero-copy in two runtimes; none lost or duplicated",
    async () => {
      using chan = Chan.create({ capacity: 1 << 14, name: true });
      const name = chan.memory.name!;
      try {
        const consumers = [
          spawn(command(h, self, ["chan", "consume", name, "async"])),
          spawn(command(h, other, ["chan", "consume", name, "views"])),
        ];
        const producers = programs.all.map(({ program }, id) =>
          spawn(command(h, program, ["chan", "produce", name, String(id), "100000"]))
        );
        for (const p of producers) assert.equal((await p.exited).code, 0);
        chan.end();
        const seen = [await summary(consumers[0], "async consumer"), await summary(consumers[1], "views consumer")];
        expectAll(seen, [0, 1, 2], 100_000);
      } finally {
        await reap();
        chan.memory.unlink();
      }
    },
    { timeoutMs: 150_000 },
  );

  for (const holder of [self, other]) {
    h.test(`mp chan: a ${label(holder)} receiver killed holding views; a sender that finds the ring full reaps them`, async () => {
      using chan = Chan.create({ capacity: 1024, name: true });
      const name = chan.memory.name!;
      try {
        const fill = (): number => {
          let n = 0;
          while (chan.trySend(new Uint8Array(56).fill(n))) n++;
          return n;
        };
        const held = fill(); // the whole ring
        const child = spawn(command(h, holder, ["chan", "views-hold", name]));
        assert.equal(await child.line(), `holding ${held}`);
        assert.ok(chan.viewsOut);
        assert.equal(chan.trySend(new Uint8Array(8)), false);
        child.kill("SIGKILL");
        await child.exited;
        // Nobody gives the loan back and nobody wakes this sender: it reaps the dead holder's loan.
        chan.sendSync(new Uint8Array(400).fill(7), { timeout: 10_000 });
        assert.ok(!chan.viewsOut);
        assert.deepEqual(chan.recvSync(), new Uint8Array(400).fill(7));
        assert.equal(chan.queued, 0);
        // An async sender reaps too.
        const heldAgain = fill();
        const again = spawn(command(h, holder, ["chan", "views-hold", name]));
        assert.equal(await again.line(), `holding ${heldAgain}`);
        const sending = chan.send(new Uint8Array(400).fill(8), { timeout: 10_000 });
        again.kill("SIGKILL");
        await sending;
        assert.deepEqual(chan.recvSync(), new Uint8Array(400).fill(8));
      } finally {
        await reap();
        chan.memory.unlink();
      }
    });
  }

  h.test(
    "mp chan: producers and consumers killed with SIGKILL mid-stream; the others go on, nothing hangs",
    async () => {
      using chan = Chan.create({ capacity: 4096, name: true });
      const name = chan.memory.name!;
      try {
        // A consumer that stays, and one producer that finishes; around them, producers and
        // consumers of every runtime are killed at random moments.
        const survivor = spawn(command(h, other, ["chan", "consume", name]));
        assert.equal(await survivor.line(), "consuming");
        for (let round = 0; round < 12; round++) {
          const program = programs.all[round % 3].program;
          const producer = spawn(command(h, program, ["chan", "produce", name, String(3 + round), "-1"]), 30_000);
          // Half the victims die holding views (a loan of ring space only senders can reap).
          const victimArgs = ["chan", "consume", name, ...(round % 2 === 1 ? ["views"] : [])];
          const victim = spawn(command(h, programs.all[(round + 1) % 3].program, victimArgs), 30_000);
          assert.equal(await producer.line(), "producing");
          assert.equal(await victim.line(), "consuming");
          await sleep(5 + (round % 4) * 7);
          producer.kill("SIGKILL");
          victim.kill("SIGKILL");
          await producer.exited;
          await victim.exited;
        }
        // The channel still works for everyone: a last producer's messages all reach the survivor.
        const last = spawn(command(h, programs.c, ["chan", "produce", name, "1", "20000"]));
        assert.equal((await last.exited).code, 0);
        chan.end();
        const seen = await summary(survivor, "surviving consumer");
        expectAll([seen], [1], 20_000);
      } finally {
        await reap();
        chan.memory.unlink();
      }
    },
    { timeoutMs: 150_000 },
  );
}
