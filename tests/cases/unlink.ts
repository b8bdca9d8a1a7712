/**
 * Every named class removes its own names: `X.unlink(name)` after `X.create({ name })` frees the name
 * (a new create with it succeeds) while open handles keep working; a name holding another kind of object
 * is refused with EKIND and stays; a missing name is ENOENT.
 */

import assert from "node:assert/strict";
import { type Harness, testName } from "../harness.ts";

type Named = { close(): void; [Symbol.dispose](): void };
type NamedClass = {
  create(options: { name: string }): Named;
  unlink(name: string): void;
};

export default function unlinkCases(h: Harness): void {
  const {
    Barrier,
    Chan,
    Condition,
    Duplex,
    Event,
    Mutex,
    MVar,
    Pipe,
    RwLock,
    Semaphore,
    SharedHeap,
    SharedMemory,
    SharedValue,
  } = h.ipc;

  const classes: [string, NamedClass][] = [
    ["Mutex", Mutex],
    ["Semaphore", Semaphore],
    ["Event", Event],
    ["Condition", Condition],
    ["Barrier", { create: (o) => Barrier.create({ ...o, parties: 2 }), unlink: (n) => Barrier.unlink(n) }],
    ["RwLock", RwLock],
    ["SharedHeap", { create: (o) => SharedHeap.create({ ...o, size: 1 << 20 }), unlink: (n) => SharedHeap.unlink(n) }],
    ["Chan", Chan as unknown as NamedClass],
    ["MVar", MVar as unknown as NamedClass],
    ["Pipe", Pipe],
    ["SharedValue", SharedValue as unknown as NamedClass],
    ["Duplex", Duplex as unknown as NamedClass],
  ];

  for (const [label, cls] of classes) {
    h.test(`unlink: ${label}.unlink removes the name; the open handle keeps working; the name is free again`, () => {
      const name = testName(`ul${label}`);
      using first = cls.create({ name });
      cls.unlink(name);
      assert.throws(() => SharedMemory.inspect(name), (e: Error & { code?: string }) => e.code === "ENOENT");
      using second = cls.create({ name }); // EEXIST if the name had stayed
      cls.unlink(name);
      assert.ok(first !== second);
    });
  }

  h.test("unlink: a class refuses another kind's name with EKIND and leaves it; a missing name is ENOENT", () => {
    const name = testName("ulkind");
    using _sem = Semaphore.create({ name });
    try {
      assert.throws(() => Mutex.unlink(name), (e: Error & { code?: string }) => {
        assert.equal(e.code, "EKIND", e.message);
        assert.match(e.message, /^Mutex\.unlink: .* holds a semaphore, not a mutex/);
        return true;
      });
      assert.throws(() => Duplex.unlink(name), (e: Error & { code?: string }) => e.code === "EKIND");
      assert.equal(SharedMemory.inspect(name).kind, "semaphore");
    } finally {
      Semaphore.unlink(name);
    }
    assert.throws(() => Semaphore.unlink(name), (e: Error & { code?: string }) => {
      assert.equal(e.code, "ENOENT", e.message);
      assert.match(e.message, /^Semaphore\.unlink: /);
      return true;
    });
    const plain = testName("ulplain");
    using seg = SharedMemory.create({ size: 4096, name: plain });
    try {
      assert.throws(() => Duplex.unlink(plain), (e: Error & { code?: string }) => {
        assert.equal(e.code, "EKIND", e.message);
        assert.match(e.message, /holds no duplex pair/);
        return true;
      });
    } finally {
      seg.unlink();
    }
  });
}
