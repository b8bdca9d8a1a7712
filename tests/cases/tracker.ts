/**
 * The tracker and segment listing within one process: tracking follows create, `Tracker.track`,
 * `untrack` and `unlink`; status reports it; every bad input is an IpcError naming the value and the
 * limit; `inspect`, `list` and `unlinkDead` describe and keep a live process's segments. (That the
 * tracker removes names after a SIGKILL is tests/mp/cleanup.ts and tests/c/test_tracker.c.)
 */

import assert from "node:assert/strict";
import { existsSync, unlinkSync, writeFileSync } from "node:fs";
import process from "node:process";
import type { Harness } from "../harness.ts";
import { testName } from "../harness.ts";

export default function tracker(h: Harness): void {
  const { SharedMemory, Tracker, IpcError, Semaphore, Mutex, SharedHeap } = h.ipc;

  function fails(fn: () => unknown, code: string, name: string, op: RegExp, text?: RegExp): void {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof IpcError, `not an IpcError: ${e}`);
      const err = e as Error & { code: string; op: string };
      assert.equal(err.code, code, err.message);
      assert.equal(err.name, name, err.message);
      assert.match(err.op, op);
      if (text) assert.match(err.message, text);
      return true;
    });
  }

  h.test("tracker: create with track: true registers; unlink and untrack unregister; stop keeps names", () => {
    Tracker.stop();
    assert.deepEqual(Tracker.status(), { pid: null, names: 0, all: false });
    const seg = SharedMemory.create({ size: 64, name: true, track: true });
    const sem = Semaphore.create({ name: testName("trs"), track: true });
    const mutex = Mutex.create({ name: true, track: true });
    const heap = SharedHeap.create({ size: 1 << 20, name: true, track: true });
    const anonymous = SharedMemory.create({ size: 64, track: true }); // nothing to track
    const status = Tracker.status();
    try {
      assert.ok(status.pid !== null && status.pid > 0);
      assert.equal(status.names, 4);
      assert.equal(status.all, false);
      seg.unlink();
      assert.equal(Tracker.status().names, 3);
      assert.equal(Tracker.untrack(sem.name!), true);
      assert.equal(Tracker.untrack(sem.name!), false);
      Tracker.track(sem.name!);
      Tracker.track(sem.name!); // twice is fine
      assert.equal(Tracker.status().names, 3);
      // Starting again keeps the helper and sets `all`.
      assert.deepEqual(Tracker.start({ all: true }), { ...status, names: 3, all: true });
      const untracked = SharedMemory.create({ size: 64, name: true }); // tracked anyway: all
      assert.equal(Tracker.status().names, 4);
      untracked.unlink();
      untracked.close();
    } finally {
      Tracker.stop();
      for (const name of [sem.name!, mutex.name!, heap.memory.name!]) SharedMemory.unlink(name);
      for (const object of [seg, sem, mutex, heap, anonymous]) object.close();
    }
    assert.deepEqual(Tracker.status(), { pid: null, names: 0, all: false });
  });

  h.test("tracker: bad inputs are IpcErrors that name the value", () => {
    fails(() => Tracker.start({ all: "yes" } as never), "EINVAL", "IpcTypeError", /^Tracker\.start$/, /all must be/);
    fails(() => Tracker.start(7 as never), "EINVAL", "IpcTypeError", /^Tracker\.start$/);
    fails(
      () => Tracker.start({ helper: "/nonexistent/libipc-tracker" }),
      "ENOENT",
      "IpcError",
      /^Tracker\.start$/,
      /"\/nonexistent\/libipc-tracker" does not exist/,
    );
    fails(() => Tracker.start({ helper: "" }), "EINVAL", "IpcError", /^Tracker\.start$/, /empty/);
    fails(() => Tracker.start({ helper: "a\0b" }), "EINVAL", "IpcError", /^Tracker\.start$/, /NUL/);
    fails(() => Tracker.start({ helper: "/x".repeat(3000) }), "ENAMETOOLONG", "IpcError", /^Tracker\.start$/, /4095/);
    fails(
      () => Tracker.start({ helper: "/bin/true" }),
      "EPROTO",
      "IpcError",
      /^Tracker\.start$/,
      /did not answer as a libipc tracker/,
    );
    assert.equal(Tracker.status().pid, null);
    fails(() => Tracker.track(42 as never), "EINVAL", "IpcTypeError", /^Tracker\.track$/);
    fails(() => Tracker.track("bad name"), "EINVAL", "IpcError", /^Tracker\.track$/, /is invalid/);
    fails(() => Tracker.track("a".repeat(40)), "ENAMETOOLONG", "IpcError", /^Tracker\.track$/, /the limit is 31/);
    fails(() => Tracker.track(testName("none")), "ENOENT", "IpcError", /^Tracker\.track$/, /no segment named/);
    const plain = testName("trplain");
    writeFileSync(`/dev/shm/${plain}`, "x".repeat(300));
    try {
      fails(() => Tracker.track(plain), "EPROTO", "IpcError", /^Tracker\.track$/, /not a libipc segment/);
      assert.equal(Tracker.untrack(plain), false);
    } finally {
      unlinkSync(`/dev/shm/${plain}`);
    }
    fails(
      () => SharedMemory.create({ size: 64, name: true, track: 1 as never }),
      "EINVAL",
      "IpcTypeError",
      /^SharedMemory\.create$/,
      /track must be a boolean/,
    );
    fails(() => Semaphore.create({ track: "x" as never }), "EINVAL", "IpcTypeError", /^Semaphore\.create$/);
    fails(() => Mutex.create({ track: null as never }), "EINVAL", "IpcTypeError", /^Mutex\.create$/);
    Tracker.stop();
  });

  h.test("segments: inspect, list and unlinkDead describe and keep a live process's segments", () => {
    using seg = SharedMemory.create({ size: 1000, name: true, mode: 0o640 });
    using sem = Semaphore.create({ name: testName("insp") });
    try {
      const info = SharedMemory.inspect(seg.name!);
      assert.deepEqual(info, {
        name: seg.name,
        size: 1000,
        kind: "segment",
        creator: seg.creator,
        alive: true,
        generated: true,
        uid: info.uid,
        mode: 0o640,
      });
      assert.equal(SharedMemory.inspect(sem.name!.slice(1)).kind, "semaphore");
      assert.equal(SharedMemory.inspect(sem.name!).generated, false);
      const names = SharedMemory.list();
      assert.ok(names.includes(seg.name!) && names.includes(sem.name!), names.join(" "));
      assert.equal(SharedMemory.unlinkDead(seg.name!), false);
      assert.equal(SharedMemory.unlinkDead(sem.name!), false);
      assert.ok(existsSync(`/dev/shm${seg.name}`));
      fails(() => SharedMemory.inspect(testName("none")), "ENOENT", "IpcError", /^SharedMemory\.inspect$/);
      fails(() => SharedMemory.unlinkDead("bad name"), "EINVAL", "IpcError", /^SharedMemory\.unlinkDead$/);
      const plain = testName("lsplain");
      writeFileSync(`/dev/shm/${plain}`, "x".repeat(300));
      try {
        assert.ok(!SharedMemory.list().includes(`/${plain}`));
        fails(() => SharedMemory.inspect(plain), "EPROTO", "IpcError", /^SharedMemory\.inspect$/);
        fails(() => SharedMemory.unlinkDead(plain), "EPROTO", "IpcError", /^SharedMemory\.unlinkDead$/);
        assert.ok(existsSync(`/dev/shm/${plain}`));
      } finally {
        unlinkSync(`/dev/shm/${plain}`);
      }
      // A count, or null where LIBIPC_NO_SWEEP turned the sweep off (scripts/test.mjs does).
      const noSweep = process.env.LIBIPC_NO_SWEEP;
      const sweeps = noSweep === undefined || noSweep === "" || noSweep === "0";
      assert.equal(typeof h.ipc.libraryInfo().sweptOnLoad, sweeps ? "number" : "object");
    } finally {
      seg.unlink();
      sem.memory.unlink();
    }
  });
}
