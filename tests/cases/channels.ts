/**
 * MVar, Pipe and Duplex in one process: an MVar's take/put/read/swap/modify in sync, try and async
 * forms; a pipe's partial reads as a stream, its end, Web Streams; a duplex pair both ways.
 */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";

export default function channelsCase(h: Harness): void {
  const { MVar, Pipe, Duplex, SharedValue, SharedMemory } = h.ipc;

  h.test("shared value: store and load a JS value, bounds checked, seen by another handle", () => {
    using v = SharedValue.create<unknown>({ name: true, capacity: 256 });
    try {
      assert.equal(v.load(), undefined);
      v.store({ workers: 4, names: ["a", "b"] });
      using other = SharedValue.open<unknown>(v.memory.name!);
      assert.deepEqual(other.load(), { workers: 4, names: ["a", "b"] });
      other.store("replaced");
      assert.equal(v.load(), "replaced");
      assert.equal(v.load(), "replaced", "load does not take the value");
      assert.throws(
        () => v.store("x".repeat(200)),
        (e: Error & { code?: string }) =>
          e.code === "ERANGE" && /202 bytes/.test(e.message) && /at most 120/.test(e.message),
      );
      assert.equal(v.load(), "replaced", "a value that does not fit stores nothing");
      using seg = SharedMemory.create({ size: 4096 });
      const placed = SharedValue.init(seg, 64, { capacity: 1024, value: [1, 2, 3] });
      assert.deepEqual(SharedValue.at(seg, 64).load(), [1, 2, 3]);
      placed.close();
    } finally {
      v.memory.unlink();
    }
  });

  h.test("mvar: take, put, read, swap, modify; empty and full", async () => {
    using m = MVar.create<unknown>({ codec: "json" });
    assert.equal(m.full, false);
    assert.equal(m.tryTake(), undefined);
    assert.throws(() => m.takeSync({ timeout: 5 }), (e: Error & { code?: string }) => e.code === "ETIMEDOUT");
    m.putSync({ n: 1 });
    assert.equal(m.full, true);
    assert.equal(m.tryPut({ n: 2 }), false);
    assert.deepEqual(m.readSync(), { n: 1 });
    assert.deepEqual(await m.read(), { n: 1 });
    assert.deepEqual(m.swapSync({ n: 2 }), { n: 1 });
    assert.deepEqual(await m.swap({ n: 3 }), { n: 2 });
    assert.deepEqual(m.modifySync((v) => ({ n: (v as { n: number }).n + 1 })), { n: 4 });
    assert.throws(() =>
      m.modifySync(() => {
        throw new Error("no");
      }), /no/);
    assert.deepEqual(m.tryRead(), { n: 4 }, "a throwing modify puts the old value back");
    assert.deepEqual(await m.modify((v) => ({ n: (v as { n: number }).n * 10 })), { n: 40 });
    // A take waiting while empty gets the next put; a put waiting while full gets in after a take.
    assert.deepEqual(m.takeSync(), { n: 40 });
    const taking = m.take();
    setTimeout(() => m.putSync("later"), 5);
    assert.equal(await taking, "later");
    m.putSync(1);
    const putting = m.put(2);
    assert.equal(m.takeSync(), 1);
    await putting;
    assert.equal(m.takeSync(), 2);
    using full = MVar.create({ value: new Uint8Array([9]) });
    assert.deepEqual(full.takeSync(), new Uint8Array([9]));
  });

  h.test("pipe: a byte stream read in pieces, the end, Web Streams", async () => {
    using pipe = Pipe.create({ capacity: 64 });
    const text = "Another one bites the dust\n".repeat(10);
    const writing = pipe.write(text); // larger than the ring: it waits for the (async) reads
    const decoder = new TextDecoder();
    let got = "";
    while (got.length < text.length) got += decoder.decode((await pipe.read(7))!);
    await writing;
    assert.equal(got, text);
    pipe.writeSync(new Uint8Array([1, 2, 3]));
    pipe.end();
    assert.deepEqual(await pipe.read(), new Uint8Array([1, 2, 3]));
    assert.equal(pipe.readSync(), null);
    assert.equal(await pipe.read(), null);
    assert.throws(() => pipe.writeSync("x"), (e: Error & { code?: string }) => e.code === "EPIPE");

    using streamed = Pipe.create({ capacity: 256 });
    const lines = streamed.readable.pipeThrough(
      new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>,
    );
    const writer = streamed.writable.getWriter();
    const done = (async () => {
      for (let i = 0; i < 100; i++) await writer.write(new TextEncoder().encode(`line ${i}\n`));
      await writer.close();
    })();
    let all = "";
    for await (const piece of lines) all += piece;
    await done;
    assert.equal(all, Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(""));
  });

  h.test("duplex: each end sends and receives whole messages", async () => {
    using a = Duplex.create<unknown>({ codec: "json", name: true, capacity: 1024 });
    using b = Duplex.open<unknown>(a.memory.name!, { codec: "json" });
    try {
      a.sendSync("hello");
      b.sendSync({ answer: 42 });
      assert.equal(b.recvSync(), "hello");
      assert.deepEqual(await a.recv(), { answer: 42 });
      a.end();
      assert.equal(b.recvSync(), undefined);
      b.sendSync("still open this way");
      assert.equal(a.recvSync(), "still open this way");
    } finally {
      a.memory.unlink();
    }
  });
}
