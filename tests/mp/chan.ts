/**
 * Chan across processes and runtimes: a million mixed-size messages from each runtime to each other
 * one (this runtime -> the other, the other -> this, C -> this, this -> C), every one received once
 * and in order (every other consumer reading zero-copy views); three producers (C, Bun, Deno) and two
 * consumers (one async, one on views) with nothing lost or duplicated; producers and consumers (half of
 * them holding views) killed with SIGKILL mid-stream while the others go on.
 */

import assert from "node:assert/strict";
import { type Child, command, type Harness, type Program } from "../harness.ts";
import {
  ledgerBatch,
  ledgerIds,
  ledgerMarksAt,
  ledgerMessageAt,
  ledgerProducers,
  ledgerReceiving,
  ledgerSize,
  ledgerSlotBytes,
  ledgerSlotsAt,
  parseSummary,
  slotMessage,
  validMessage,
} from "./child_chan.ts";
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
  const { Chan, Pipe, Duplex, SharedValue, SharedMemory } = h.ipc;
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
  const self: Program = programs.self(h.runtime);
  const other = programs.other(h.runtime);
  const label = programs.label;

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
        assert.equal((await writer.exited).signal, "SIGKILL", "the writer was killed");
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
        assert.equal((await child.exited).signal, "SIGKILL", "the holder was killed");
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
        assert.equal((await again.exited).signal, "SIGKILL", "the holder was killed");
        await sending;
        assert.deepEqual(chan.recvSync(), new Uint8Array(400).fill(8));
      } finally {
        await reap();
        chan.memory.unlink();
      }
    });
  }

  h.test(
    "mp chan: producers and consumers of every runtime killed with SIGKILL mid-stream; every message accounted for",
    async () => {
      // Producers and consumers record what they did in a ledger (child_chan.ts): after 24 kills of
      // each, every message each producer committed was received exactly once by a live consumer or
      // was taken by a killed consumer — whole in its slot, or a view it held — and nobody else (at
      // most one per copying consumer, a batch per consumer on views); none was received twice; none
      // beyond what was committed exists. So a consumer killed mid-receive left the message it had
      // not committed in the channel, and views a killed consumer held were dropped, not redelivered
      // (nor lost beyond them).
      using chan = Chan.create({ capacity: 4096, name: true });
      using ledger = SharedMemory.create({ size: ledgerSize, name: true });
      const name = chan.memory.name!;
      const lname = ledger.name!;
      const committed = ledger.view(Uint32Array, 0, ledgerProducers);
      const slot = (s: number) => ledger.view(Uint32Array, ledgerSlotsAt + s * ledgerSlotBytes, 4);
      const until = async (what: string, done: () => boolean, children: Child[]): Promise<void> => {
        let exited: Child | undefined;
        for (const c of children) void c.exited.then(() => exited ??= c);
        const deadline = Date.now() + 60_000;
        while (!done()) {
          if (exited !== undefined) {
            const exit = await exited.exited;
            assert.fail(`${what}: a child exited early (${exit.code ?? exit.signal}): ${exit.stdout} ${exit.stderr}`);
          }
          assert.ok(Date.now() < deadline, `${what}: not within 60 s`);
          await sleep(1);
        }
      };
      const rounds = 24;
      const views = (round: number) => round % 2 === 1;
      try {
        // A consumer that stays, and one producer that finishes; around them, producers and
        // consumers of every runtime are killed mid-stream.
        // What each killed consumer took: the whole message in a copying consumer's slot, the views
        // whose offsets and lengths a consumer on views got (read from the ring at once).
        const taken = new Set<number>();
        const ring = chan.memory.bytes(chan.offset);
        let inReceive = 0;
        const took = (round: number): void => {
          if (slot(1 + round)[0] === ledgerReceiving) inReceive++;
          const at = ledgerSlotsAt + (1 + round) * ledgerSlotBytes + ledgerMessageAt;
          const found = (got: [number, number] | null) => got !== null && taken.add(got[0] * ledgerIds + got[1]);
          if (!views(round)) return void found(slotMessage(ledger.bytes(at, ledgerSlotBytes - ledgerMessageAt)));
          const out = ledger.view(Uint32Array, at, 2 * ledgerBatch);
          for (let j = 0; j < ledgerBatch; j++) {
            const [offset, length] = [out[j], out[ledgerBatch + j]];
            if (length < 512 && offset + length <= ring.length) {
              found(validMessage(ring.subarray(offset, offset + length), length));
            }
          }
        };
        const survivor = spawn(command(h, other, ["chan", "consume-ledger", name, lname, "0"]));
        assert.equal(await survivor.line(), "consuming");
        for (let round = 0; round < rounds; round++) {
          const what = `round ${round}`;
          const id = 1 + round;
          const program = programs.all[round % 3].program;
          const producer = spawn(
            command(h, program, ["chan", "produce-ledger", name, lname, String(id), String(ledgerIds)]),
          );
          // Half the victims take views (a loan of ring space only senders can reap).
          const victimArgs = [
            "chan",
            "consume-ledger",
            name,
            lname,
            String(1 + round),
            ...(views(round) ? ["views"] : []),
          ];
          const victim = spawn(command(h, programs.all[(round + 1) % 3].program, victimArgs));
          assert.equal(await producer.line(), "producing", what);
          assert.equal(await victim.line(), "consuming", what);
          // Killed mid-stream: once the victim has received a number of messages that varies by round.
          const received = 1 + (round * 53) % 200;
          await until(what, () => Atomics.load(slot(1 + round), 2) >= received && Atomics.load(committed, id) > 0, [
            producer,
            victim,
          ]);
          // The producer stops first (mid-send, perhaps) so that no sender reaps the victim's loan
          // before its views are read; the victim dies with messages still coming.
          process.kill(producer.pid, "SIGSTOP");
          victim.kill("SIGKILL");
          const died = await victim.exited;
          assert.equal(died.signal, "SIGKILL", `${what}: the consumer was killed, not ${died.code}: ${died.stderr}`);
          took(round);
          producer.kill("SIGKILL");
          const exit = await producer.exited;
          assert.equal(exit.signal, "SIGKILL", `${what}: the producer was killed, not ${exit.code}: ${exit.stderr}`);
        }
        // The channel still works for everyone: a last producer's messages all reach the survivor.
        const last = spawn(command(h, programs.c, ["chan", "produce-ledger", name, lname, "0", "20000"]));
        assert.equal((await last.exited).code, 0);
        assert.equal(Atomics.load(committed, 0), 20_000);
        chan.end();
        const exit = await survivor.exited;
        assert.equal(exit.code, 0, `surviving consumer: ${exit.stdout} ${exit.stderr}`);

        const marks = ledger.bytes(ledgerMarksAt, ledgerProducers * ledgerIds);
        let received = 0;
        let takenByKilled = 0;
        let missing = 0;
        const lost: string[] = [];
        for (let id = 0; id <= rounds; id++) {
          const sent = Atomics.load(committed, id);
          for (let i = 0; i < ledgerIds; i++) {
            const m = marks[id * ledgerIds + i];
            const key = id * ledgerIds + i;
            assert.ok(m <= 1, `producer ${id} message ${i}: received ${m} times`);
            if (i > sent) {
              assert.ok(
                m === 0 && !taken.has(key),
                `producer ${id} message ${i}: received, yet only ${sent} were sent`,
              );
            } else if (m === 1) {
              received++;
            } else if (taken.has(key)) {
              takenByKilled++;
            } else if (i < sent) {
              if (missing++ < 20) lost.push(`${id}:${i}`);
            }
          }
        }
        assert.deepEqual(lost, [], `${missing} messages lost (producer:index, the first 20)`);
        assert.ok(
          takenByKilled <= rounds / 2 + (rounds / 2) * ledgerBatch,
          `${takenByKilled} taken by killed consumers`,
        );
        console.log(
          `mp chan kills: ${received} received; of ${rounds} consumers ${inReceive} killed inside a receive call, ` +
            `${takenByKilled} messages taken by killed consumers`,
        );
      } finally {
        await reap();
        chan.memory.unlink();
        ledger.unlink();
      }
    },
    { timeoutMs: 240_000 },
  );
}
