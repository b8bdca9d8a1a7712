/**
 * Chan in one process: bytes and JSON messages in order across the ring's wrap, sync/try/async and
 * batch forms, for-await iteration, ending (drain, then the end; sending after it is EPIPE), the
 * message size limit, timeouts, aborts and closing while a receive waits.
 */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";

export default function chanCase(h: Harness): void {
  const { Chan } = h.ipc;

  h.test("chan: messages in order across the wrap, all forms, then the end", async () => {
    using chan = Chan.create({ capacity: 1024 });
    assert.equal(chan.capacity, 1024);
    assert.equal(chan.messageMax, 504);
    let next = 0;
    let got = 0;
    const message = (i: number): Uint8Array => new Uint8Array(1 + (i % 300)).fill(i & 0xff);
    const check = (m: Uint8Array | undefined): void => {
      assert.ok(m !== undefined);
      assert.deepEqual(m, message(got));
      got++;
    };
    for (let round = 0; round < 2000; round++) {
      if (!chan.trySend(message(next))) {
        check(chan.tryRecv());
        continue;
      }
      next++;
      if (round % 3 === 0) check(chan.recvSync());
    }
    while (got < next) check(await chan.recv());
    assert.equal(chan.tryRecv(), undefined);
    assert.equal(chan.queued, 0);

    chan.sendManySync([message(next), message(next + 1), message(next + 2)]);
    next += 3;
    for (const m of chan.recvManySync(10)) check(m);
    await chan.send(message(next++));
    chan.end();
    assert.ok(chan.ended);
    assert.throws(() => chan.sendSync(new Uint8Array(1)), (e: Error & { code?: string }) => e.code === "EPIPE");
    for await (const m of chan) check(m);
    assert.equal(got, next);
    assert.equal(chan.recvSync(), undefined);
    assert.deepEqual(chan.recvManySync(), []);
  });

  h.test("chan: JSON values, limits, timeouts, aborts and close while waiting", async () => {
    using chan = Chan.create<unknown>({ capacity: 256, codec: "json" });
    chan.sendSync({ id: 1, name: "worker", tags: ["a", "b"] });
    assert.deepEqual(chan.recvSync(), { id: 1, name: "worker", tags: ["a", "b"] });
    assert.throws(
      () => chan.sendSync("x".repeat(200)),
      (e: Error & { code?: string }) => e.code === "ERANGE" && /at most 120/.test(e.message),
    );
    assert.throws(() => chan.recvSync({ timeout: 5 }), (e: Error & { code?: string }) => e.code === "ETIMEDOUT");
    await assert.rejects(chan.recv({ timeout: 5 }), (e: Error & { code?: string }) => e.code === "ETIMEDOUT");
    const abort = new AbortController();
    const aborted = chan.recv({ signal: abort.signal });
    abort.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    // A receive waiting when a send arrives gets it.
    const waiting = chan.recv();
    setTimeout(() => chan.sendSync(42), 5);
    assert.equal(await waiting, 42);
    // A full channel: the async send waits for room.
    while (chan.trySend(7));
    const sending = chan.send(8);
    assert.equal(chan.recvSync(), 7);
    await sending;
    assert.throws(() => Chan.create({ capacity: 100 }), (e: Error & { code?: string }) => e.code === "ERANGE");
    assert.throws(() => Chan.create({ capacity: 32 }), RangeError);
    using bytes = Chan.create();
    assert.throws(
      () => bytes.sendSync("text" as unknown as Uint8Array),
      (e: Error) => e instanceof TypeError && /Uint8Array/.test(e.message),
    );
  });

  h.test("chan: the msgpack codec keeps what JSON cannot", () => {
    using chan = Chan.create<unknown>({ codec: "msgpack", capacity: 4096 });
    const value = {
      id: 12345,
      big: 2n ** 60n,
      when: new Date(1_700_000_000_000),
      bytes: new Uint8Array([1, 2, 3]),
      floats: new Float64Array([0.5, -2.25]),
      tags: new Set(["a", "b"]),
      nested: { list: [1, "two", null, true] },
    };
    chan.sendSync(value);
    assert.deepEqual(chan.recvSync(), value);
    chan.sendManySync([1, "two", [3]]);
    assert.deepEqual(chan.recvManySync(), [1, "two", [3]]);
  });

  h.test("chan: closing the handle rejects a pending receive with ECLOSED", async () => {
    const chan = Chan.create({ capacity: 64 });
    const waiting = chan.recv();
    chan.close();
    await assert.rejects(waiting, (e: Error & { code?: string }) => e.code === "ECLOSED");
    assert.throws(() => chan.recvSync(), (e: Error & { code?: string }) => e.code === "ECLOSED");
  });
}
