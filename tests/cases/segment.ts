/** SharedMemory in one process: creation, naming, views, fds, lifetime and unlinking. */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chownSync, statSync, symlinkSync, unlinkSync } from "node:fs";
import process from "node:process";
import type { Harness } from "../harness.ts";
import { testName } from "../harness.ts";

export default function segment(h: Harness): void {
  const { SharedMemory, IpcError } = h.ipc;

  h.test("segment: an anonymous segment is zero-filled, sized as asked and has no name", () => {
    using seg = SharedMemory.create({ size: 1000 });
    assert.equal(seg.name, null);
    assert.equal(seg.size, 1000);
    assert.equal(seg.buffer.byteLength, 1000);
    assert.ok(seg.bytes().every((b) => b === 0));
    assert.ok(seg.fd >= 0);
    assert.equal(seg.creator.pid, process.pid);
    assert.ok(seg.creator.startTime > 0n);
    assert.equal(seg.buffer, seg.buffer, "the same ArrayBuffer each time");
  });

  h.test("segment: a named segment opened twice shares its bytes, with or without the leading slash", () => {
    const name = testName("seg-named");
    using a = SharedMemory.create({ size: 4096, name });
    assert.equal(a.name, "/" + name);
    using b = SharedMemory.open(name);
    using c = SharedMemory.open("/" + name);
    a.bytes()[0] = 1;
    b.view(Uint32Array, 4, 1)[0] = 0xdeadbeef;
    c.view(Float64Array, 4088)[0] = 2.5;
    assert.equal(c.bytes()[0], 1);
    assert.equal(a.dataView(4, 4).getUint32(0, true), 0xdeadbeef);
    assert.equal(b.view(Float64Array, 4088, 1)[0], 2.5);
    a.unlink();
    assert.throws(() => SharedMemory.open(name), { code: "ENOENT" });
    assert.equal(b.bytes()[0], 1, "a mapping outlives the name");
  });

  h.test("segment: Atomics work on segment views", () => {
    using seg = SharedMemory.create({ size: 64 });
    const words = seg.view(Int32Array);
    assert.equal(Atomics.add(words, 3, 5), 0);
    assert.equal(Atomics.compareExchange(words, 3, 5, 9), 5);
    assert.equal(Atomics.load(words, 3), 9);
    const big = seg.view(BigInt64Array, 32, 2);
    Atomics.store(big, 1, -7n);
    assert.equal(Atomics.load(big, 1), -7n);
  });

  h.test("segment: generated names are unique, short, and name their creator", () => {
    using a = SharedMemory.create({ size: 16, name: true });
    using b = SharedMemory.create({ size: 16, name: true });
    try {
      assert.match(a.name!, /^\/ipc\.[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/);
      assert.notEqual(a.name, b.name);
      assert.ok(new TextEncoder().encode(a.name!).length <= h.ipc.NAME_MAX);
      assert.equal(a.name!.split(".")[1], process.pid.toString(36));
      const fresh = h.ipc.uniqueName();
      assert.match(fresh, /^\/ipc\./);
      using c = SharedMemory.create({ size: 16, name: fresh });
      assert.equal(c.name, fresh);
      c.unlink();
    } finally {
      a.unlink();
      b.unlink();
    }
  });

  h.test("segment: a generated name of another process cannot be created", () => {
    const parts = h.ipc.uniqueName().split(".");
    parts[2] = "1"; // another start time: another process
    assert.throws(() => SharedMemory.create({ size: 16, name: parts.join(".") }), { code: "EINVAL" });
  });

  h.test("segment: fromFd maps the same memory and keeps the caller's fd open", () => {
    using a = SharedMemory.create({ size: 256 });
    using b = SharedMemory.fromFd(a.fd);
    b.bytes()[255] = 77;
    assert.equal(a.bytes()[255], 77);
    using c = SharedMemory.fromFd(a.fd);
    assert.equal(c.bytes()[255], 77);
  });

  h.test("segment: close detaches every view instead of leaving it to crash", () => {
    const seg = SharedMemory.create({ size: 4096 });
    const bytes = seg.bytes(10, 4);
    const words = seg.view(Int32Array);
    const dv = seg.dataView();
    bytes[0] = 5;
    seg.close();
    assert.equal(seg.closed, true);
    assert.equal(bytes.length, 0);
    assert.equal(words.length, 0);
    assert.equal(bytes[0], undefined);
    assert.throws(() => dv.getUint8(0), TypeError);
    seg.close(); // idempotent
    for (const use of [() => seg.buffer, () => seg.bytes(), () => seg.fd, () => seg.creator]) {
      assert.throws(use, (e: unknown) => e instanceof IpcError && (e as { code: string }).code === "ECLOSED");
    }
    assert.equal(seg.size, 4096);
  });

  h.test("segment: `using` closes at the end of the block", () => {
    let view: Uint8Array;
    {
      using seg = SharedMemory.create({ size: 8 });
      view = seg.bytes();
      assert.equal(view.length, 8);
    }
    assert.equal(view.length, 0);
  });

  h.test("segment: an unreachable segment with a live view is not unmapped by the collector", async () => {
    const make = () => {
      const seg = SharedMemory.create({ size: 1 << 16 });
      const view = seg.view(Uint32Array);
      view[100] = 12345;
      return view;
    };
    const view = make();
    // Finalizers run after the collection, on a later turn of the event loop: give them turns.
    for (let i = 0; i < 3; i++) {
      h.gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(view[100], 12345);
    view[200] = 1;
    assert.equal(view.length, 1 << 14);
  });

  h.test("segment: default and explicit permission bits of a named segment", () => {
    const name = testName("seg-mode");
    using a = SharedMemory.create({ size: 16, name });
    assert.equal(statSync(`/dev/shm/${name}`).mode & 0o777, 0o600);
    a.unlink();
    using b = SharedMemory.create({ size: 16, name, mode: 0o640 });
    assert.equal(statSync(`/dev/shm/${name}`).mode & 0o777, 0o640);
    b.unlink();
  });

  h.test("segment: reserve allocates the memory up front", () => {
    using seg = SharedMemory.create({ size: 1 << 20, reserve: true });
    seg.bytes()[(1 << 20) - 1] = 1;
    assert.equal(seg.bytes()[(1 << 20) - 1], 1);
  });

  h.test("segment: larger than one ArrayBuffer can hold, views at offsets still work", () => {
    const size = 5 * 2 ** 30; // sparse: only touched pages cost memory
    using seg = SharedMemory.create({ size });
    const limit = h.ipc.libraryInfo().maxArrayBufferBytes;
    if (size > limit) {
      assert.throws(() => seg.buffer, { code: "ERANGE", name: "IpcRangeError" });
    } else {
      assert.equal(seg.buffer.byteLength, size);
    }
    const far = seg.view(Float64Array, size - 4096, 512);
    far[511] = 6.5;
    assert.equal(seg.dataView(size - 8, 8).getFloat64(0, true), 6.5);
    assert.throws(() => seg.view(Uint8Array, size - 8, 16), { code: "ERANGE" });
  });

  h.test("segment: a FIFO or a symlink under a name is EPROTO at once on every path; open options are checked", () => {
    const fifo = testName("seg-fifo");
    assert.equal(spawnSync("mkfifo", ["-m", "0666", `/dev/shm/${fifo}`]).status, 0);
    try {
      // Each of these blocked forever in a read-only open of the FIFO before opens were non-blocking.
      assert.throws(() => SharedMemory.open(fifo), { code: "EPROTO" });
      assert.throws(() => SharedMemory.inspect(fifo), { code: "EPROTO" });
      assert.throws(() => SharedMemory.unlink(fifo), { code: "EPROTO" });
      assert.throws(() => SharedMemory.unlinkDead(fifo), { code: "EPROTO" });
      assert.ok(!SharedMemory.list().includes(`/${fifo}`));
    } finally {
      unlinkSync(`/dev/shm/${fifo}`);
    }
    const name = testName("seg-target");
    const link = testName("seg-link");
    using seg = SharedMemory.create({ size: 64, name });
    symlinkSync(`/dev/shm/${name}`, `/dev/shm/${link}`);
    try {
      assert.throws(() => SharedMemory.open(link), { code: "EPROTO" });
    } finally {
      unlinkSync(`/dev/shm/${link}`);
    }
    SharedMemory.open(name, { anyOwner: true }).close();
    SharedMemory.open(name, {}).close();
    assert.throws(() => SharedMemory.open(name, 1 as never), h.ipc.IpcTypeError);
    assert.throws(() => SharedMemory.open(name, { anyOwner: 1 as never }), /anyOwner must be a boolean/);
    assert.throws(() => SharedMemory.fromFd(seg.fd, null as never), h.ipc.IpcTypeError);
    if (process.getuid?.() === 0) {
      chownSync(`/dev/shm/${name}`, 65534, 65534);
      assert.throws(() => SharedMemory.open(name), { code: "EOWNER", message: /uid 65534.*anyOwner/ });
      assert.throws(() => SharedMemory.fromFd(seg.fd), { code: "EOWNER" });
      SharedMemory.fromFd(seg.fd, { anyOwner: true }).close();
    }
    seg.unlink();
  });
}
