/**
 * Semaphore, Event, Condition, Barrier and RwLock in one process: every form (Sync, try, Promise,
 * guards), standalone and in-segment objects, and a clear error for each misuse the issue names
 * (negative or zero counts, release beyond the maximum, waiting on a condition without holding its
 * mutex, zero parties) and for closed, misplaced or wrong-kind objects.
 */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";

export default function syncCase(h: Harness): void {
  const { Semaphore, Event, Condition, Barrier, RwLock, Mutex, SharedMemory } = h.ipc;

  h.test("semaphore: acquire, release, bounds, guards and async forms", async () => {
    using s = Semaphore.create({ value: 2, max: 3 });
    assert.equal(s.value, 2);
    assert.equal(s.max, 3);
    s.acquireSync();
    assert.equal(s.tryAcquire(), true);
    assert.equal(s.tryAcquire(), false);
    assert.throws(
      () => s.acquireSync(1, { timeout: 5 }),
      (e: Error & { code?: string }) =>
        e.code === "ETIMEDOUT" && /value now 0/.test(e.message) && /no owner/.test(e.message),
    );
    s.release(3);
    assert.equal(s.value, 3);
    assert.throws(
      () => s.release(),
      (e: Error & { code?: string }) => e.code === "ERANGE" && /maximum of 3/.test(e.message),
    );
    assert.equal(s.value, 3);
    await s.acquire(3, { timeout: 100 });
    await assert.rejects(s.acquire(1, { timeout: 5 }), { code: "ETIMEDOUT" });
    const pending = s.acquire(2);
    s.release(1);
    s.release(1);
    await pending;
    assert.equal(s.value, 0);
    s.release(1);
    {
      using g = s.guardSync();
      assert.equal(s.value, 0);
      g.release();
    }
    {
      using _g = await s.guard(1);
      assert.equal(s.value, 0);
    }
    assert.equal(s.value, 1);
    const controller = new AbortController();
    s.acquireSync();
    const aborted = s.acquire(1, { signal: controller.signal });
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    s.release();
    assert.equal(s.value, 1);
  });

  h.test("semaphore: bad counts and options are clear errors", () => {
    using s = Semaphore.create({ value: 0, max: 2 });
    assert.throws(() => s.release(-1), { name: "IpcRangeError", code: "EINVAL" });
    assert.throws(() => s.release(0), { code: "EINVAL" });
    assert.throws(
      () => s.acquireSync(3),
      (e: Error & { code?: string }) => e.code === "ERANGE" && /limit of 2/.test(e.message),
    );
    assert.throws(() => s.tryAcquire(1.5), { code: "EINVAL" });
    assert.throws(() => s.tryAcquire(Number.NaN), { code: "EINVAL" });
    assert.throws(() => s.acquireSync(1, { timeout: -1 }), { code: "EINVAL" });
    assert.throws(() => Semaphore.create({ value: 3, max: 2 }), { code: "ERANGE" });
    assert.throws(() => Semaphore.create({ value: -1 }), { code: "EINVAL" });
    assert.throws(() => Semaphore.create({ max: 0 }), { code: "EINVAL" });
    s.close();
    assert.throws(() => s.value, { code: "ECLOSED" });
  });

  h.test("semaphore: in a segment, found by another handle; wrong kinds and offsets refused", () => {
    using m = SharedMemory.create({ size: 256 });
    const a = Semaphore.init(m, 64, { value: 0 });
    const b = Semaphore.at(m, 64);
    a.release(5);
    assert.equal(b.value, 5);
    assert.throws(() => Semaphore.at(m, 4), { code: "EALIGN" });
    assert.throws(() => Semaphore.at(m, 224), { code: "ERANGE" });
    assert.throws(() => Semaphore.at(m, 128), { code: "EPROTO" });
    using named = Semaphore.create({ name: true });
    using opened = Semaphore.open(named.name!);
    opened.release();
    assert.equal(named.value, 2);
    assert.throws(() => Event.open(named.name!), { code: "EKIND" });
    SharedMemory.unlink(named.name!);
  });

  h.test("event: manual and auto reset, sync and async waits", async () => {
    using e = Event.create();
    assert.equal(e.autoReset, false);
    assert.equal(e.isSet(), false);
    assert.equal(e.waitSync({ timeout: 2 }), false);
    assert.equal(await e.wait({ timeout: 2 }), false);
    const waiting = e.wait();
    e.set();
    assert.equal(await waiting, true);
    assert.equal(e.isSet(), true);
    assert.equal(e.waitSync(), true);
    assert.equal(e.tryWait(), true);
    e.clear();
    assert.equal(e.tryWait(), false);

    // A set cleared again at once still releases the waits in progress (Python's Event.wait).
    const pulsed = [e.wait({ timeout: 5000 }), e.wait({ timeout: 5000 })];
    e.set();
    e.clear();
    assert.deepEqual(await Promise.all(pulsed), [true, true]);
    assert.equal(e.isSet(), false);

    using a = Event.create({ autoReset: true });
    assert.equal(a.autoReset, true);
    a.set();
    a.set();
    assert.equal(a.tryWait(), true);
    assert.equal(a.tryWait(), false);
    // One set releases exactly one of two waiters; the other times out.
    const both = [a.wait({ timeout: 200 }), a.wait({ timeout: 200 })];
    a.set();
    assert.deepEqual((await Promise.all(both)).sort(), [false, true]);
    assert.equal(a.isSet(), false);
    assert.throws(() => Event.create({ autoReset: 1 as unknown as boolean }), { name: "IpcTypeError" });
  });

  h.test("condition: waitFor with a predicate, notify, timeouts, and waiting without the mutex", async () => {
    using c = Condition.create();
    const m = c.mutex;
    assert.throws(
      () => c.waitSync(),
      (e: Error & { code?: string }) => e.code === "EPERM" && /does not hold/.test(e.message),
    );
    await assert.rejects(c.wait(), { code: "EPERM" });
    m.lockSync();
    assert.equal(c.waitSync({ timeout: 2 }), false);
    assert.ok(m.state.holder > 0, "the mutex is held again after a timed-out wait");
    assert.equal(await c.wait({ timeout: 2 }), false);
    assert.ok(m.state.holder > 0);
    let ready = false;
    setTimeout(() => {
      m.lockSync();
      ready = true;
      c.notify();
      m.unlock();
    }, 5);
    // The notifier locks the mutex on this thread: wait() must have released it meanwhile.
    assert.equal(await c.waitFor(() => ready, { timeout: 5000 }), true);
    assert.equal(c.waitForSync(() => ready), true);
    assert.equal(c.waitForSync(() => 0, { timeout: 3 }), 0);
    m.unlock();

    using memory = SharedMemory.create({ size: 256 });
    const mutex = Mutex.init(memory, 0);
    const placed = Condition.init(memory, 64, mutex);
    assert.equal(Condition.at(memory, 64, mutex).offset, 64);
    assert.throws(() => Condition.init(memory, 64, {} as never), { name: "IpcTypeError" });
    placed.notifyAll();
    assert.throws(() => placed.notify(-1), { code: "EINVAL" });
  });

  h.test("barrier: a single party passes; timeouts break it; reset, abort, bad parties", async () => {
    using one = Barrier.create({ parties: 1 });
    assert.equal(one.waitSync(), 0);
    assert.equal(await one.wait(), 0);
    using b = Barrier.create({ parties: 2 });
    assert.equal(b.parties, 2);
    assert.throws(
      () => b.waitSync({ timeout: 5 }),
      (e: Error & { code?: string }) => e.code === "ETIMEDOUT" && /broken/.test(e.message),
    );
    assert.equal(b.broken, true);
    assert.throws(() => b.waitSync(), { code: "EBROKEN" });
    await assert.rejects(b.wait(), { code: "EBROKEN" });
    b.reset();
    assert.equal(b.broken, false);
    const waiting = b.wait();
    assert.equal(b.waiting, 1);
    const index = await b.wait();
    assert.deepEqual([await waiting, index].sort(), [0, 1]);
    const broken = b.wait();
    b.abort();
    await assert.rejects(broken, { code: "EBROKEN" });
    b.reset();
    const reset = b.wait();
    b.reset();
    await assert.rejects(reset, { code: "EBROKEN" });
    await assert.rejects(b.wait({ timeout: 5 }), { code: "ETIMEDOUT" });
    b.reset();
    assert.throws(() => Barrier.create({ parties: 0 }), { code: "EINVAL" });
    assert.throws(() => Barrier.create({ parties: 65536 }), { code: "ERANGE" });
    assert.throws(() => Barrier.create({} as never), { name: "IpcTypeError" });
  });

  h.test("rwlock: shared readers, exclusive writer, guards, misuse", async () => {
    using rw = RwLock.create();
    assert.deepEqual(rw.readLockSync(), { ownerDied: false });
    assert.deepEqual(await rw.readLock(), { ownerDied: false });
    assert.equal(rw.readers, 2);
    assert.throws(() => rw.writeLockSync(), { code: "EDEADLK" });
    assert.throws(() => rw.tryWriteLock(), { code: "EDEADLK" });
    assert.throws(() => rw.close(), { code: "EBUSY" });
    rw.readUnlock();
    rw.readUnlock();
    assert.throws(
      () => rw.readUnlock(),
      (e: Error & { code?: string }) => e.code === "EPERM" && /no read lock/.test(e.message),
    );
    assert.deepEqual(await rw.writeLock({ timeout: 100 }), { ownerDied: false });
    assert.throws(() => rw.tryReadLock(), { code: "EDEADLK" });
    assert.throws(() => rw.readLockSync(), { code: "EDEADLK" });
    await assert.rejects(rw.writeLock(), { code: "EDEADLK" });
    assert.throws(() => rw.consistent(), { code: "EINVAL" });
    rw.writeUnlock();
    assert.throws(() => rw.writeUnlock(), { code: "EPERM" });
    {
      using _r = rw.readSync();
      assert.equal(rw.readers, 1);
    }
    {
      using _w = await rw.write();
      assert.equal(rw.readers, 0);
    }
    assert.notEqual(rw.tryWriteLock(), null);
    rw.writeUnlock();
    using memory = SharedMemory.create({ size: 4096 });
    assert.throws(() => RwLock.init(memory, 8), { code: "EALIGN" });
    assert.throws(() => RwLock.init(memory, 2048), { code: "ERANGE" });
    const placed = RwLock.init(memory, 64);
    assert.equal(RwLock.at(memory, 64).readers, 0);
    placed.readLockSync();
    placed.readUnlock();
  });
}
