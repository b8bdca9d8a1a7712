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

  h.test("chan: views are the ring itself, hold their space until given back, and any receive gives them back", async () => {
    using chan = Chan.create({ capacity: 256 });
    const message = (i: number): Uint8Array => new Uint8Array(16).fill(i);
    for (let i = 0; i < 8; i++) chan.sendSync(message(i)); // 8 records of 24 bytes
    const views = chan.recvViewsSync(3);
    assert.deepEqual(views.map((v) => v[0]), [0, 1, 2]);
    // Zero-copy: the views lie in the channel's segment.
    assert.equal(views[0].buffer, chan.memory.buffer);
    assert.ok(chan.viewsOut);
    assert.equal(chan.trySend(new Uint8Array(64)), false); // the views keep their space
    const batch = chan.recvBatchSync(2); // gives the views back first
    assert.equal(batch.count, 2);
    assert.deepEqual([...batch].map((v) => v[0]), [3, 4]);
    assert.equal(batch.bytes[batch.offsets[1]], 4);
    assert.equal(batch.lengths[0], 16);
    assert.throws(() => batch.at(2), (e: Error & { code?: string }) => e.code === "ERANGE");
    assert.equal(chan.trySend(new Uint8Array(64)), true); // 3 records came back: room for 72 bytes
    chan.release();
    chan.release(); // idempotent
    assert.ok(!chan.viewsOut);
    assert.deepEqual(chan.recvSync(), message(5)); // copies after views
    assert.deepEqual(chan.tryRecvViews().map((v) => v.byteLength), [16, 16, 64]);
    assert.deepEqual(chan.tryRecvViews(), []); // none now; the last views went back
    assert.ok(!chan.viewsOut);
    const later = chan.recvViews(4);
    chan.sendSync(message(9));
    assert.deepEqual((await later).map((v) => v[0]), [9]);
    chan.sendSync(message(10));
    assert.equal(chan.recvViewSync()?.[0], 10);
    assert.throws(() => chan.recvViewSync({ timeout: 5 }), (e: Error & { code?: string }) => e.code === "ETIMEDOUT");
    await assert.rejects(chan.recvViews(1, { timeout: 5 }), (e: Error & { code?: string }) => e.code === "ETIMEDOUT");
    chan.end();
    assert.deepEqual(chan.recvViewsSync(), []);
    assert.equal(chan.recvBatchSync().count, 0);
    assert.equal(chan.recvViewSync(), undefined);
    assert.throws(() => chan.recvViewsSync(0), (e: Error & { code?: string }) => e.code === "EINVAL");
    assert.throws(() => chan.recvViewsSync(1025), (e: Error & { code?: string }) => e.code === "ERANGE");
  });

  h.test("chan: views across handles and the wrap; closing a handle gives its views back", () => {
    using a = Chan.create({ capacity: 1024 });
    const b = Chan.at(a.memory, a.offset);
    let sent = 0;
    let got = 0;
    for (let round = 0; round < 500; round++) {
      const n = 1 + (round % 7);
      for (let i = 0; i < n; i++) {
        const m = new Uint8Array(1 + ((sent * 13) % 100)).fill(sent & 0xff);
        if (!a.trySend(m)) break;
        sent++;
      }
      for (const v of (round % 2 === 0 ? a : b).tryRecvViews(3)) {
        assert.equal(v.byteLength, 1 + ((got * 13) % 100));
        assert.ok(v.every((x) => x === (got & 0xff)));
        got++;
      }
    }
    assert.ok(a.viewsOut || b.viewsOut || got === sent);
    a.release();
    b.close(); // gives its views back
    while (got < sent) {
      for (const v of a.tryRecvViews()) {
        assert.equal(v.byteLength, 1 + ((got * 13) % 100));
        got++;
      }
    }
    a.release();
    assert.ok(!a.viewsOut);
    assert.equal(a.queued, 0);
  });

  h.test("chan: sendPackedSync sends messages lying back to back; bad lengths are refused, nothing sent", () => {
    using chan = Chan.create({ capacity: 256 });
    const data = new Uint8Array([1, 2, 2, 3, 3, 3]);
    chan.sendPackedSync(data, [1, 2, 3]);
    assert.deepEqual(chan.recvManySync(), [new Uint8Array([1]), new Uint8Array([2, 2]), new Uint8Array([3, 3, 3])]);
    const range = (e: Error & { code?: string }) => e.code === "ERANGE";
    const invalid = (e: Error & { code?: string }) => e.code === "EINVAL";
    assert.throws(() => chan.sendPackedSync(data, [4, 4]), range); // more than data holds
    assert.throws(() => chan.sendPackedSync(data, []), invalid);
    assert.throws(() => chan.sendPackedSync(data, [1, -1]), invalid);
    assert.throws(() => chan.sendPackedSync(data, [0.5]), invalid);
    assert.throws(() => chan.sendPackedSync(new Uint8Array(240), [120, 120]), range); // more than half the ring
    assert.throws(() => chan.sendPackedSync(new Uint8Array(300), [121]), range); // above messageMax
    assert.throws(() => chan.sendPackedSync([1, 2] as unknown as Uint8Array, [1]), TypeError);
    assert.equal(chan.queued, 0);
  });
}
