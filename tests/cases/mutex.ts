/**
 * Mutex in one process: the lock forms, guards, standalone and in-segment mutexes, and a clear
 * error for every misuse (closed, misaligned, out of range, uninitialized, wrong kind, bad options,
 * unlock without holding).
 */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";
import { testName } from "../harness.ts";

export default function mutexCase(h: Harness): void {
  const { Mutex, SharedMemory, IpcError } = h.ipc;

  h.test("mutex: lockSync, tryLock, lock and unlock on a standalone anonymous mutex", async () => {
    using m = Mutex.create();
    assert.equal(m.name, null);
    assert.deepEqual(m.lockSync(), { ownerDied: false });
    assert.ok(m.state.holder > 0);
    assert.throws(() => m.lockSync(), { name: "IpcError", code: "EDEADLK" });
    assert.throws(() => m.tryLock(), { code: "EDEADLK" });
    await assert.rejects(m.lock(), { code: "EDEADLK" });
    m.unlock();
    assert.equal(m.state.holder, 0);
    assert.throws(
      () => m.unlock(),
      (e) => e instanceof IpcError && e.code === "EPERM" && /does not hold/.test(e.message),
    );
    assert.deepEqual(m.tryLock(), { ownerDied: false });
    m.unlock();
    assert.deepEqual(await m.lock({ timeout: 100 }), { ownerDied: false });
    m.unlock();
    assert.deepEqual(m.lockSync({ timeout: 0 }), { ownerDied: false });
    assert.throws(() => m.consistent(), { code: "EINVAL" });
    m.unlock();
    assert.throws(() => m.consistent(), { code: "EPERM" });
  });

  h.test("mutex: guards unlock at the end of a using block, once", async () => {
    using m = Mutex.create();
    {
      using g = await m.acquire();
      assert.equal(g.ownerDied, false);
      assert.ok(m.state.holder > 0);
    }
    assert.equal(m.state.holder, 0);
    {
      using g = m.acquireSync({ timeout: 10 });
      g.release();
      assert.equal(m.state.holder, 0);
    }
    assert.equal(m.state.holder, 0);
  });

  h.test("mutex: named standalone mutexes open by name; a plain segment is refused with EKIND", () => {
    const name = testName("mtx");
    using a = Mutex.create({ name });
    try {
      assert.equal(a.name, `/${name}`);
      using b = Mutex.open(name);
      b.lockSync();
      assert.throws(() => a.tryLock(), { code: "EDEADLK" }); // the same thread, through another handle
      b.unlock();
      assert.throws(() => Mutex.create({ name }), { code: "EEXIST" });
      using plain = SharedMemory.create({ size: 64, name: testName("plain") });
      try {
        assert.throws(() => Mutex.open(plain.name!), { code: "EKIND" });
      } finally {
        plain.unlink();
      }
      assert.throws(() => Mutex.open(testName("none")), { code: "ENOENT" });
    } finally {
      SharedMemory.unlink(name);
    }
  });

  h.test("mutex: thousands in one segment; offsets are checked before any native call", () => {
    using seg = SharedMemory.create({ size: 64 * 1024 });
    const mutexes = Array.from({ length: 1024 }, (_, i) => Mutex.init(seg, i * 64));
    for (const m of mutexes) m.lockSync();
    for (const m of mutexes) m.unlock();
    const again = Mutex.at(seg, 64 * 1023);
    assert.equal(again.offset, 64 * 1023);
    assert.deepEqual(again.tryLock(), { ownerDied: false });
    assert.equal(mutexes[1023].state.holder > 0, true);
    again.unlock();
    assert.throws(() => Mutex.at(seg, 4), { name: "IpcRangeError", code: "EALIGN" });
    assert.throws(() => Mutex.at(seg, 64 * 1024 - 32), { name: "IpcRangeError", code: "ERANGE" });
    assert.throws(() => Mutex.init(seg, -8), { name: "IpcRangeError", code: "EINVAL" });
    assert.throws(() => Mutex.at(seg, 1.5), { name: "IpcRangeError" });
    assert.throws(() => Mutex.at(seg, "0" as unknown as number), { name: "IpcTypeError" });
    assert.throws(() => Mutex.at({} as never, 0), { name: "IpcTypeError" });
    using fresh = SharedMemory.create({ size: 4096 });
    assert.throws(
      () => Mutex.at(fresh, 128),
      (e) => e instanceof IpcError && e.code === "EPROTO" && /offset 128/.test(e.message),
    );
  });

  h.test("mutex: a mutex of the other lock protocol (glibc's vs musl's) is refused with a clear ENOTSUP", () => {
    using seg = SharedMemory.create({ size: 4096 });
    Mutex.init(seg, 0).close();
    // The layout tag (zig/mutex.zig: u32 at 4) names the protocol that made the mutex: the kernel-list
    // one is (2 << 16) | 32, the owner-recording one (3 << 16) | 0x4f. Write the one this build is not.
    const words = seg.view(Uint32Array, 0, 2);
    const robust = (2 << 16) | 32;
    const owner = (3 << 16) | 0x4f;
    assert.ok(words[1] === robust || words[1] === owner, `layout tag ${words[1]}`);
    words[1] = words[1] === robust ? owner : robust;
    assert.throws(
      () => Mutex.at(seg, 0),
      (e) =>
        e instanceof IpcError && e.code === "ENOTSUP" && /other lock protocol/.test(e.message) &&
        /musl/.test(e.message),
    );
  });

  h.test("mutex: closed mutexes and segments give ECLOSED; options are validated", async () => {
    const seg = SharedMemory.create({ size: 4096 });
    const m = Mutex.init(seg, 0);
    assert.throws(() => m.lockSync({ timeout: -1 }), { name: "IpcRangeError" });
    assert.throws(() => m.lockSync({ timeout: "1" as unknown as number }), { name: "IpcTypeError" });
    assert.throws(() => m.lockSync(5 as never), { name: "IpcTypeError" });
    await assert.rejects(m.lock({ signal: {} as AbortSignal }), { name: "IpcTypeError" });
    await assert.rejects(m.lock({ timeout: NaN }), { name: "IpcRangeError" });
    m.lockSync();
    assert.throws(
      () => m.close(),
      (e) => e instanceof IpcError && e.code === "EBUSY" && /unlock it first/.test(e.message),
    );
    assert.throws(() => seg.close(), { code: "EBUSY" });
    assert.equal(seg.closed, false);
    assert.equal(m.closed, false);
    m.unlock();
    m.close();
    m.close();
    assert.equal(m.closed, true);
    assert.throws(() => m.lockSync(), { code: "ECLOSED" });
    assert.throws(() => m.tryLock(), { code: "ECLOSED" });
    assert.throws(() => m.unlock(), { code: "ECLOSED" });
    assert.throws(() => m.state, { code: "ECLOSED" });
    await assert.rejects(m.lock(), { code: "ECLOSED" });
    const n = Mutex.at(seg, 0);
    seg.close();
    assert.equal(n.closed, true);
    assert.throws(() => n.lockSync(), { code: "ECLOSED" });
    assert.throws(() => Mutex.at(seg, 0), { code: "ECLOSED" });
  });
}
