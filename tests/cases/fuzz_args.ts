/**
 * A generated argument fuzz of the public TS API (issue 16): every public function and method, on a
 * live object and on a closed one, is called with each value of a seeded list of bad arguments in
 * every position and in every field of its options; a call may succeed or throw, but every throw
 * (or rejection) must be an IpcError, and nothing may hang. The one other error accepted is the
 * fuzzer's own `Hostile` error, thrown by a getter or toString of the value itself and passed on
 * unchanged (a library must not swallow what the caller's code throws).
 *
 * Calls that would legitimately wait forever are never made: a blocking form gets `{ timeout: 1 }`,
 * and a bad value in its options position that would mean "no timeout" (undefined, or an object
 * without `timeout`) is skipped for that one call, never the method; likewise a spawn that would
 * really start a child. Every method that reflection finds must have a spec here (or be listed as
 * internal), so a new method cannot be left out.
 */

import assert from "node:assert/strict";
import type { Harness, IpcModule } from "../harness.ts";

/** Thrown by the hostile values themselves: the caller's own exception, passed on unchanged. */
class Hostile extends Error {}

/** Methods that are on the prototypes but not public (TS `protected`, or the Dependent protocol). */
const internal = new Set([
  "constructor",
  "label",
  "handle",
  "cancelPending",
  "encode",
  "plainBytes",
  "decode",
  "decodeKept",
  "sendFailed",
  "sendSyncBytes",
  "trySendBytes",
  "sendBytes",
  "recvFailed",
  "scratch",
  "recvSyncBytes",
  "tryRecvBytes",
  "recvBytes",
  "swapSyncBytes",
  "swapBytes",
  "timedOut",
  "owned",
]);

/** The seeded list of bad values: the same list, in the same order, on every run. */
function badValues(): { label: string; value: unknown }[] {
  // structuredClone detaches what it transfers in every runtime (Node 20 has no ArrayBuffer.transfer).
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  const detachedView = new Uint8Array(new ArrayBuffer(16));
  structuredClone(detachedView.buffer, { transfer: [detachedView.buffer] });
  const throwing = (): never => {
    throw new Hostile("hostile");
  };
  const proxy = new Proxy({}, { get: throwing, has: throwing, ownKeys: throwing, getOwnPropertyDescriptor: throwing });
  const getters = {
    get timeout(): never {
      return throwing();
    },
    get name(): never {
      return throwing();
    },
    get size(): never {
      return throwing();
    },
    toString: throwing,
    valueOf: throwing,
  };
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  return [
    { label: "undefined", value: undefined },
    { label: "null", value: null },
    { label: "NaN", value: NaN },
    { label: "-0", value: -0 },
    { label: "-1", value: -1 },
    { label: "1.5", value: 1.5 },
    { label: "2**53", value: 2 ** 53 },
    { label: "Infinity", value: Infinity },
    { label: "-Infinity", value: -Infinity },
    { label: '""', value: "" },
    { label: '"x"', value: "x" },
    { label: '"\\0"', value: "a\0b" },
    { label: "{}", value: {} },
    { label: "[]", value: [] },
    { label: "Symbol()", value: Symbol("fuzz") },
    { label: "1n", value: 1n },
    { label: "-1n", value: -1n },
    { label: "true", value: true },
    { label: "detached ArrayBuffer", value: detached },
    { label: "view of a detached buffer", value: detachedView },
    { label: "64 KiB Uint8Array", value: new Uint8Array(1 << 16) },
    { label: "function", value: () => 1 },
    { label: "throwing Proxy", value: proxy },
    { label: "object with throwing getters", value: getters },
    { label: "{ big: [1n] }", value: { big: [1n] } },
    { label: "circular object", value: circular },
  ];
}

/** How one function or method is called: good arguments, and which of them is a blocking call's options. */
interface Spec {
  good: unknown[];
  /** Index of the `{ timeout }` options of a call that can wait forever (or start a child). */
  block?: number;
  /** What stops the blocking call in time: `{ timeout }`, or an aborted `{ signal }` for a spawn. Default "timeout". */
  stopper?: "timeout" | "signal";
  /** Combinations that would start real work (a Pool's workers): skipped, and counted. */
  skip?: (args: unknown[]) => boolean;
}

/** A value that, put where a blocking call's options go, would leave it without its `stopper`. */
function meansForever(value: unknown, hostile: unknown, stopper: "timeout" | "signal" = "timeout"): boolean {
  if (value === undefined) return true;
  if (typeof value !== "object" || value === null || value === hostile) return false;
  return !(stopper in value) && !("signal" in value);
}

const trace = typeof process !== "undefined" && process.env.FUZZ_TRACE === "1";
const timing = typeof process !== "undefined" && process.env.FUZZ_TRACE === "2";

export default function fuzzArgs(h: Harness): void {
  const ipc = h.ipc;

  h.test("fuzz: codec failures name the value's type and where in the value they failed", () => {
    const { Chan, IpcTypeError, jsonCodec, msgpackCodec } = ipc;
    const items = [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4n }];
    assert.throws(() => jsonCodec.encode({ items }, "op"), (e: unknown) => {
      assert.ok(e instanceof IpcTypeError, String(e));
      assert.match((e as Error).message, /JSON codec cannot encode a bigint at value\.items\[3\]\.id/);
      return true;
    });
    const circular: Record<string, unknown> = { list: [1] };
    (circular.list as unknown[]).push({ back: circular });
    assert.throws(() => jsonCodec.encode(circular, "op"), /a circular reference at value\.list\[1\]\.back/);
    assert.throws(() => msgpackCodec.encode({ "a key": [Symbol("s")] }, "op"), /a symbol at value\["a key"\]\[0\]/);
    assert.throws(() => msgpackCodec.encode({ deep: circular }, "op"), /a circular reference at value\.deep\.list/);
    // The codec's message reaches the caller of send, with the channel's operation.
    using chan = Chan.create<unknown>({ capacity: 4096, codec: "json" });
    assert.throws(
      () => chan.trySend({ when: 1n }),
      /Chan\.trySend: the JSON codec cannot encode a bigint at value\.when/,
    );
    // What the caller's own code throws (toJSON here) is passed on unchanged.
    const own = new Error("mine");
    assert.throws(() =>
      chan.trySend({
        toJSON: () => {
          throw own;
        },
      }), (e: unknown) => e === own);
  });

  h.test("fuzz: -0 where an integer is expected is taken as 0, never passed on to the FFI as -0", () => {
    const { Semaphore, SharedMemory, setSpin, spin } = ipc;
    const before = spin();
    setSpin(-0);
    assert.equal(spin(), 0);
    setSpin(before);
    using sem = Semaphore.create({ value: -0, mode: -0 });
    assert.equal(sem.value, 0);
    using memory = SharedMemory.create({ size: 64, mode: -0 });
    assert.ok(Object.is(memory.bytes(-0, 4).byteOffset, 0));
    // fd 0 is not a segment: a clear IpcError, not the FFI's TypeError.
    assert.throws(() => SharedMemory.fromFd(-0), (e: unknown) => e instanceof ipc.IpcError);
  });
  h.test("fuzz: every public method throws only IpcErrors for bad arguments, live and closed", async () => {
    const bad = badValues();
    const hostile = bad.find((b) => b.label === "throwing Proxy")!.value;
    const offenders: string[] = [];
    let calls = 0;
    let skipped = 0;
    const aborted = AbortSignal.abort(new ipc.IpcError("fuzz", "ECANCELED", "aborted before starting"));

    const label = (a: unknown): string | undefined => bad.find((b) => Object.is(b.value, a))?.label;
    /** The arguments, naming the bad value (in an options object too). */
    const show = (args: unknown[]): string =>
      args.map((a) => {
        const known = label(a);
        if (known !== undefined) return known;
        if (typeof a === "object" && a !== null && Object.getPrototypeOf(a) === Object.prototype) {
          const key = Object.keys(a).find((k) => label((a as Record<string, unknown>)[k]) !== undefined);
          if (key !== undefined) return `{ ${key}: ${label((a as Record<string, unknown>)[key])}, … }`;
        }
        return safeShow(a);
      }).join(", ");

    /** Closes, releases or unlinks whatever a successful call returned, so nothing leaks. */
    const ours = new Set<unknown>(Object.values(ipc).filter((v) => typeof v === "function"));
    const cleanup = (result: unknown, created: boolean): void => {
      if (typeof result !== "object" || result === null || bad.some((b) => b.value === result)) return;
      // Only libipc's own objects: a stream from Pipe.readable has a close() of another meaning.
      if (!ours.has(Object.getPrototypeOf(result)?.constructor)) return;
      const r = result as Record<string, unknown>;
      let name: unknown;
      try {
        name = r.name ?? (r.memory as { name?: unknown } | undefined)?.name;
      } catch { /* closed */ }
      for (const method of ["release", "close"]) {
        if (typeof r[method] === "function" && !(result instanceof ipc.Pool)) {
          try {
            (r[method] as () => void)();
          } catch { /* a held mutex: unlocked below by the caller's own cleanup */ }
        }
      }
      if (created && typeof name === "string") {
        try {
          ipc.SharedMemory.unlink(name);
        } catch { /* already gone */ }
      }
    };

    const record = (what: string, args: unknown[], error: unknown): void => {
      if (error instanceof ipc.IpcError || error instanceof Hostile) return;
      offenders.push(`${what}(${show(args)}): ${error instanceof Error ? `${error.name}: ${error.message}` : error}`);
    };

    /** One call: its result is cleaned up, its throw or rejection checked; a hang is an offender. */
    const call = async (what: string, args: unknown[], fn: () => unknown, created: boolean): Promise<void> => {
      calls++;
      if (trace) console.log(what, show(args));
      const started = performance.now();
      try {
        await callOnce(what, args, fn, created);
      } finally {
        const ms = performance.now() - started;
        if (timing && ms > 50) console.log(`slow: ${what}(${show(args)}): ${Math.round(ms)} ms`);
      }
    };
    const callOnce = async (what: string, args: unknown[], fn: () => unknown, created: boolean): Promise<void> => {
      let result: unknown;
      try {
        result = fn();
      } catch (error) {
        record(what, args, error);
        return;
      }
      // An async generator (Pool.imap) checks its arguments when it is first advanced.
      if (
        typeof result === "object" && result !== null && Symbol.asyncIterator in result &&
        typeof (result as AsyncGenerator).next === "function" && !ours.has(Object.getPrototypeOf(result)?.constructor)
      ) {
        const generator = result as AsyncGenerator;
        result = generator.next().finally(() => generator.return(undefined));
      }
      if (result instanceof Promise) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const hang = new Promise<"hang">((resolve) => {
          timer = setTimeout(() => resolve("hang"), 20_000);
        });
        try {
          const settled = await Promise.race([result, hang]);
          if (settled === "hang") offenders.push(`${what}(${show(args)}): did not settle within 20 s`);
          else cleanup(settled, created);
        } catch (error) {
          record(what, args, error);
        } finally {
          clearTimeout(timer);
        }
        return;
      }
      cleanup(result, created);
    };

    /** Every generated argument list of `spec`: each bad value in each position and each options field. */
    const argLists = (spec: Spec): unknown[][] => {
      const lists: unknown[][] = [];
      for (let i = 0; i <= spec.good.length; i++) {
        const good = spec.good[i];
        for (const { value } of bad) {
          if (i === spec.block && meansForever(value, hostile, spec.stopper)) {
            skipped++;
            continue;
          }
          const args = spec.good.slice();
          args[i] = value;
          if (spec.skip?.(args)) skipped++;
          else lists.push(args);
        }
        if (typeof good === "object" && good !== null && !Array.isArray(good) && !(good instanceof ipc.SharedMemory)) {
          for (const key of Object.keys(good)) {
            for (const { value } of bad) {
              if (
                i === spec.block && (key === "timeout" || key === "signal") &&
                meansForever(value, hostile, spec.stopper)
              ) {
                skipped++;
                continue;
              }
              const args = spec.good.slice();
              args[i] = { ...good, [key]: value };
              if (spec.skip?.(args)) skipped++;
              else lists.push(args);
            }
          }
        }
      }
      return lists;
    };

    const fuzzFunction = async (what: string, fn: (...args: unknown[]) => unknown, spec: Spec, created = false) => {
      const started = performance.now();
      for (const args of argLists(spec)) await call(what, args, () => fn(...args), created);
      if (timing) console.log(`${what}: ${Math.round(performance.now() - started)} ms`);
    };

    /** Public methods and getters of `object`'s class, found by reflection. */
    const publicNames = (object: object): { methods: string[]; getters: string[] } => {
      const methods = new Set<string>();
      const getters = new Set<string>();
      for (let p = Object.getPrototypeOf(object); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const name of Object.getOwnPropertyNames(p)) {
          if (internal.has(name) || methods.has(name) || getters.has(name)) continue;
          const d = Object.getOwnPropertyDescriptor(p, name)!;
          if (d.get !== undefined) getters.add(name);
          else if (typeof d.value === "function") methods.add(name);
        }
      }
      return { methods: [...methods], getters: [...getters] };
    };

    /** Fuzzes every public method of a live object, then of the same object closed. */
    const fuzzObject = async <T extends object>(
      className: string,
      make: () => T,
      specs: Record<string, Spec>,
      tidy: (object: T) => void = () => {},
    ) => {
      // `closeCheck` (the Dependent protocol) is public on every object that lives in a segment.
      specs = { closeCheck: { good: [] }, ...specs };
      const live = make();
      const { methods, getters } = publicNames(live);
      const missing = methods.filter((m) => specs[m] === undefined);
      assert.deepEqual(missing, [], `${className}: methods without a fuzz spec`);
      for (const state of ["live", "closed"]) {
        const object = live as Record<string, unknown>;
        for (const getter of getters) {
          await call(`${className}.${getter} (${state})`, [], () => object[getter], false);
        }
        for (const method of methods) {
          if (method === "close" && state === "live") continue;
          const fn = object[method] as (...args: unknown[]) => unknown;
          await fuzzFunction(`${className}.${method} (${state})`, (...args) => fn.apply(live, args), specs[method]);
          tidy(live);
        }
        if (state === "live" && typeof object.close === "function") {
          tidy(live);
          await call(`${className}.close`, [], () => (live as unknown as { close(): unknown }).close(), false);
        }
      }
    };

    const t = { timeout: 1 };
    const at = { timeout: 1, signal: new AbortController().signal };
    const sync = (...good: unknown[]): Spec => ({ good: [...good, t], block: good.length });
    const async_ = (...good: unknown[]): Spec => ({ good: [...good, at], block: good.length });
    const plain = (...good: unknown[]): Spec => ({ good });
    const bytes = new Uint8Array([1, 2, 3]);

    // Free functions and statics that need no object.
    const spinBefore = ipc.spin();
    await fuzzFunction("setSpin", ipc.setSpin as never, plain(1000));
    ipc.setSpin(spinBefore);
    await fuzzFunction("spin", ipc.spin as never, plain());
    await fuzzFunction("now", ipc.now as never, plain());
    await fuzzFunction("uniqueName", ipc.uniqueName as never, plain());
    await fuzzFunction("libraryInfo", ipc.libraryInfo as never, plain());
    for (
      const [name, codec, good] of [
        ["bytesCodec", ipc.bytesCodec, bytes],
        ["jsonCodec", ipc.jsonCodec, { a: 1 }],
        ["msgpackCodec", ipc.msgpackCodec, { a: 1 }],
      ] as const
    ) {
      const c = codec as unknown as { encode(...a: unknown[]): unknown; decode(...a: unknown[]): unknown };
      await fuzzFunction(`${name}.encode`, (...a) => c.encode(...a), plain(good, "fuzz"));
      const encoded = (c.encode(good, "fuzz") as Uint8Array).slice();
      await fuzzFunction(`${name}.decode`, (...a) => c.decode(...a), plain(encoded, false, "fuzz"));
    }
    const S = ipc.SharedMemory;
    await fuzzFunction(
      "SharedMemory.create",
      S.create as never,
      plain({ size: 64, name: false, mode: 0o600, reserve: false, track: false }),
      true,
    );
    for (const m of ["open", "unlink", "inspect", "unlinkDead"] as const) {
      await fuzzFunction(`SharedMemory.${m}`, S[m] as never, plain("ipctest-fuzz-absent"));
    }
    for (const m of ["sweep", "uniqueName", "list"] as const) {
      await fuzzFunction(`SharedMemory.${m}`, S[m] as never, plain());
    }
    const trackerBefore = ipc.Tracker.status();
    await fuzzFunction("Tracker.start", ipc.Tracker.start as never, plain({ all: false }));
    await fuzzFunction("Tracker.track", ipc.Tracker.track as never, plain("ipctest-fuzz-absent"));
    await fuzzFunction("Tracker.untrack", ipc.Tracker.untrack as never, plain("ipctest-fuzz-absent"));
    await fuzzFunction("Tracker.status", ipc.Tracker.status as never, plain());
    if (trackerBefore.pid === null) await fuzzFunction("Tracker.stop", ipc.Tracker.stop as never, plain());
    await fuzzFunction("shared", ipc.shared as never, plain());
    // The child would start only past every check: an aborted signal stops it right there.
    await fuzzFunction("spawn", ipc.spawn as never, {
      good: ["/ipctest-fuzz-absent.ts", {
        signal: aborted,
        args: [],
        stdio: ["ignore", "ignore", "ignore"],
        env: {},
        cwd: "/",
        share: [],
        runtime: "bun",
      }],
      block: 1,
      stopper: "signal",
    });
    await fuzzFunction("isolate", ipc.isolate as never, {
      good: [
        { module: "/ipctest-fuzz-absent.ts", signal: aborted, timeout: 1000, capacity: 4096, runtime: "bun" },
        "f",
        1,
      ],
      block: 0,
      stopper: "signal",
    });
    await fuzzFunction("new Pool", (o) => new ipc.Pool(o as never), {
      // Its workers start only when every check passed and `runtime` is valid: never here.
      good: [{
        module: "/ipctest-fuzz-absent.ts",
        size: 1,
        maxTasksPerWorker: 1,
        retries: 0,
        capacity: 4096,
        onWorkerExit: () => {},
        env: {},
        share: [],
        runtime: "none",
      }],
      skip: ([o]) => typeof o === "object" && o !== null && o !== hostile && "runtime" in o && o.runtime === undefined,
    });
    for (const E of [ipc.IpcError, ipc.IpcRangeError, ipc.IpcTypeError]) {
      await fuzzFunction(
        `new ${E.name}`,
        (...a) => new (E as never as new (...a: unknown[]) => unknown)(...a),
        plain("fuzz", "EINVAL", "message"),
      );
    }

    // Objects, each small and anonymous; statics fuzzed with a live object of the kind as the good argument.
    const memory = S.create({ size: 1 << 16 });
    const mutexMem = ipc.Mutex.create();

    const statics = async (className: string, cls: Record<string, unknown>, specs: Record<string, Spec>) => {
      for (const [m, spec] of Object.entries(specs)) {
        await fuzzFunction(
          `${className}.${m}`,
          (...a) => (cls[m] as (...a: unknown[]) => unknown)(...a),
          spec,
          m === "create",
        );
      }
    };

    // SharedMemory.
    await fuzzObject("SharedMemory", () => S.create({ size: 4096 }), {
      view: plain(Uint8Array, 0, 4),
      bytes: plain(0, 4),
      dataView: plain(0, 4),
      unlink: plain(),
      close: plain(),
    });
    await statics("SharedMemory", S as never, { fromFd: plain(memory.fd) });

    // Mutex and its guard.
    const unlockAll = (m: ReturnType<IpcModule["Mutex"]["create"]>) => {
      try {
        while (!m.closed) m.unlock();
      } catch { /* not held */ }
    };
    await fuzzObject("Mutex", () => ipc.Mutex.create(), {
      lockSync: sync(),
      tryLock: plain(),
      lock: async_(),
      acquire: async_(),
      acquireSync: sync(),
      unlock: plain(),
      consistent: plain(),
      closeCheck: plain(),
      close: plain(),
    }, unlockAll);
    await statics("Mutex", ipc.Mutex as never, {
      create: plain({ name: false, mode: 0o600, track: false }),
      open: plain("ipctest-fuzz-absent"),
      fromFd: plain(mutexMem.memory.fd),
      init: plain(memory, 0),
      at: plain(memory, 0),
    });
    {
      const m = ipc.Mutex.create();
      await fuzzObject("MutexGuard", () => m.acquireSync(), { release: plain() });
      unlockAll(m);
      m.close();
    }

    // Semaphore, Event, Condition, Barrier, RwLock.
    await fuzzObject("Semaphore", () => ipc.Semaphore.create({ value: 1, max: 4 }), {
      acquireSync: sync(1),
      tryAcquire: plain(1),
      acquire: async_(1),
      guard: async_(1),
      guardSync: sync(1),
      release: plain(1),
      close: plain(),
    });
    {
      const s = ipc.Semaphore.create({ value: 1, max: 4 });
      await statics("Semaphore", ipc.Semaphore as never, {
        create: plain({ name: false, mode: 0o600, track: false, value: 1, max: 4 }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(s.memory.fd),
        init: plain(memory, 64, { value: 1, max: 4 }),
        at: plain(memory, 64),
      });
      await fuzzObject("SemaphoreGuard", () => s.guardSync(1, { timeout: 1 }), { release: plain() });
      s.close();
    }
    await fuzzObject("Event", () => ipc.Event.create(), {
      set: plain(),
      clear: plain(),
      isSet: plain(),
      tryWait: plain(),
      waitSync: sync(),
      wait: async_(),
      close: plain(),
    });
    {
      const e = ipc.Event.create();
      await statics("Event", ipc.Event as never, {
        create: plain({ name: false, mode: 0o600, track: false, autoReset: false }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(e.memory.fd),
        init: plain(memory, 128, { autoReset: false }),
        at: plain(memory, 128),
      });
      e.close();
    }
    await fuzzObject("Condition", () => ipc.Condition.create(), {
      waitSync: sync(),
      wait: async_(),
      waitForSync: sync(() => true),
      waitFor: async_(() => true),
      notify: plain(1),
      notifyAll: plain(),
      close: plain(),
    });
    {
      const c = ipc.Condition.create();
      const m = ipc.Mutex.init(memory, 256);
      await statics("Condition", ipc.Condition as never, {
        create: plain({ name: false, mode: 0o600, track: false }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(c.memory.fd),
        init: plain(memory, 320, m),
        at: plain(memory, 320, m),
      });
      c.close();
      m.close();
    }
    await fuzzObject("Barrier", () => ipc.Barrier.create({ parties: 1 }), {
      waitSync: sync(),
      wait: async_(),
      abort: plain(),
      reset: plain(),
      close: plain(),
    });
    {
      const b = ipc.Barrier.create({ parties: 1 });
      await statics("Barrier", ipc.Barrier as never, {
        create: plain({ name: false, mode: 0o600, track: false, parties: 1 }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(b.memory.fd),
        init: plain(memory, 384, { parties: 1 }),
        at: plain(memory, 384),
      });
      b.close();
    }
    const rwTidy = (r: ReturnType<IpcModule["RwLock"]["create"]>) => {
      for (const f of [() => r.readUnlock(), () => r.writeUnlock()]) {
        for (let i = 0; i < 64; i++) {
          try {
            f();
          } catch {
            break;
          }
        }
      }
    };
    await fuzzObject("RwLock", () => ipc.RwLock.create(), {
      readLockSync: sync(),
      tryReadLock: plain(),
      readLock: async_(),
      readUnlock: plain(),
      writeLockSync: sync(),
      tryWriteLock: plain(),
      writeLock: async_(),
      writeUnlock: plain(),
      read: async_(),
      readSync: sync(),
      write: async_(),
      writeSync: sync(),
      consistent: plain(),
      closeCheck: plain(),
      close: plain(),
    }, rwTidy);
    {
      const r = ipc.RwLock.create();
      await statics("RwLock", ipc.RwLock as never, {
        create: plain({ name: false, mode: 0o600, track: false }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(r.memory.fd),
        init: plain(memory, 4096),
        at: plain(memory, 4096),
      });
      await fuzzObject("RwLockGuard", () => r.readSync({ timeout: 1 }), { release: plain() });
      rwTidy(r);
      r.close();
    }

    // SharedHeap.
    const heapSpecs: Record<string, Spec> = {
      malloc: plain(16, { alignment: 16 }),
      calloc: plain(1, 16),
      realloc: plain(0, 16),
      free: plain(0),
      usableSize: plain(0),
      roundUp: plain(16),
      view: plain(0, Uint8Array, 1),
      root: plain("r", 16),
      removeRoot: plain("r"),
      check: plain(),
      createArena: plain(),
      openArena: plain(1),
      reapArenas: plain(),
      closeCheck: plain(),
      close: plain(),
    };
    // Each method gets a live block for its handle arguments (free and realloc use theirs up).
    const freshBlock = (heap: ReturnType<IpcModule["SharedHeap"]["create"]>) => {
      if (heap.closed) return;
      const block = heap.malloc(16);
      for (const m of ["realloc", "free", "usableSize", "view"]) heapSpecs[m].good[0] = block;
      heapSpecs.openArena.good[0] = heap.createArena().id;
    };
    await fuzzObject(
      "SharedHeap",
      () => {
        const heap = ipc.SharedHeap.create({ size: 1 << 20 });
        freshBlock(heap);
        return heap;
      },
      heapSpecs,
      freshBlock,
    );
    {
      const heap = ipc.SharedHeap.create({ size: 1 << 20 });
      await statics("SharedHeap", ipc.SharedHeap as never, {
        create: plain({ name: false, mode: 0o600, track: false, size: 1 << 20 }),
        open: plain("ipctest-fuzz-absent"),
        fromFd: plain(heap.memory.fd),
        attach: plain(heap.memory, false),
      });
      heap.close();
    }

    // The channels, with each codec.
    const messageOptions = { name: false, mode: 0o600, track: false, capacity: 4096, codec: "bytes" };
    for (const codec of ["bytes", "json", "msgpack"] as const) {
      const v = codec === "bytes" ? bytes : { a: [1, 2] };
      await fuzzObject(`Chan<${codec}>`, () => ipc.Chan.create({ capacity: 4096, codec }), {
        sendSync: sync(v),
        trySend: plain(v),
        send: async_(v),
        sendManySync: sync([v]),
        sendPackedSync: sync(bytes, [1, 2]),
        recvSync: sync(),
        tryRecv: plain(),
        recv: async_(),
        recvManySync: sync(4),
        recvViewsSync: sync(4),
        recvBatchSync: sync(4),
        recvViewSync: sync(),
        tryRecvViews: plain(4),
        recvViews: async_(4),
        release: plain(),
        end: plain(),
        close: plain(),
      }, (c) => {
        try {
          c.release();
        } catch { /* no views out */ }
      });
      await fuzzObject(`MVar<${codec}>`, () => ipc.MVar.create({ capacity: 4096, codec }), {
        takeSync: sync(),
        tryTake: plain(),
        take: async_(),
        readSync: sync(),
        tryRead: plain(),
        read: async_(),
        putSync: sync(v),
        tryPut: plain(v),
        put: async_(v),
        swapSync: sync(v),
        swap: async_(v),
        modifySync: sync((x: unknown) => x),
        modify: async_((x: unknown) => x),
        end: plain(),
        close: plain(),
      });
      await fuzzObject(`SharedValue<${codec}>`, () => ipc.SharedValue.create({ capacity: 4096, codec }), {
        store: plain(v),
        load: plain(),
        end: plain(),
        close: plain(),
      });
      await fuzzObject(`Duplex<${codec}>`, () => ipc.Duplex.create({ capacity: 4096, codec }), {
        sendSync: sync(v),
        trySend: plain(v),
        send: async_(v),
        recvSync: sync(),
        tryRecv: plain(),
        recv: async_(),
        end: plain(),
        close: plain(),
      });
    }
    await fuzzObject("Pipe", () => ipc.Pipe.create({ capacity: 4096 }), {
      writeSync: sync(bytes),
      write: async_(bytes),
      readSync: sync(4),
      read: async_(4),
      end: plain(),
      close: plain(),
    });
    {
      const c = ipc.Chan.create({ capacity: 4096 });
      c.sendSync(bytes);
      c.sendSync(bytes);
      await fuzzObject("ViewBatch", () => c.recvBatchSync(4, { timeout: 1 }), { at: plain(0) });
      c.release();
      const mv = ipc.MVar.create({ capacity: 4096 });
      const sv = ipc.SharedValue.create({ capacity: 4096 });
      const p = ipc.Pipe.create({ capacity: 4096 });
      const d = ipc.Duplex.create({ capacity: 4096 });
      let offset = 8192;
      for (
        const [className, cls, fd, createExtra] of [
          ["Chan", ipc.Chan, c.memory.fd, {}],
          ["MVar", ipc.MVar, mv.memory.fd, { value: bytes }],
          ["SharedValue", ipc.SharedValue, sv.memory.fd, { value: bytes }],
          ["Pipe", ipc.Pipe, p.memory.fd, {}],
        ] as const
      ) {
        const createOptions = className === "Pipe"
          ? { name: false, mode: 0o600, track: false, capacity: 4096 }
          : { ...messageOptions, ...createExtra };
        const openOptions = className === "Pipe" ? [] : [{ codec: "bytes" }];
        const initOptions = className === "Pipe" ? { capacity: 64 } : { capacity: 64, codec: "bytes", ...createExtra };
        await statics(className, cls as never, {
          create: plain(createOptions),
          open: plain("ipctest-fuzz-absent", ...openOptions),
          fromFd: plain(fd, ...openOptions),
          init: plain(memory, offset, initOptions),
          at: plain(memory, offset, ...openOptions),
        });
        offset += 4096;
      }
      await statics("Duplex", ipc.Duplex as never, {
        create: plain(messageOptions),
        open: plain("ipctest-fuzz-absent", { codec: "bytes" }),
        fromFd: plain(d.memory.fd, { codec: "bytes" }),
      });
      for (const o of [c, mv, sv, p, d]) o.close();
    }

    // A child (a plain module that exits at once) and a one-worker Pool: their methods too.
    const work = `${h.paths.root}/tests/mp/pool_work.ts`;
    const child = await ipc.spawn(work, { stdio: ["ignore", "ignore", "ignore"] });
    await fuzzObject("ChildProcess", () => child, { kill: plain(0) }, () => {});
    child.kill("SIGKILL");
    await child.exited;
    const pool = new ipc.Pool({ module: work, size: 1 });
    // pid() ignores its arguments: an error here is libipc's, not the worker function's.
    const runs = {
      exec: plain({ name: "pid", timeout: 10_000 }, 1, 2),
      map: plain([1, 2], "pid", { chunkSize: 4096 }),
    };
    await fuzzObject("Pool", () => pool, {
      ...runs,
      imap: runs.map,
      close: plain(),
      terminate: plain(),
    }, () => {});
    await pool.terminate();

    mutexMem.close();
    memory.close();
    h.gc();

    const summary = `${calls} calls, ${skipped} skipped (would wait forever), ${offenders.length} non-IpcErrors`;
    console.log(`fuzz (${h.runtime}): ${summary}`);
    assert.ok(calls >= 5000, `only ${calls} calls`);
    if (trace || timing) { for (const o of offenders) console.log(`offender: ${o}`); }
    const byMethod = new Map<string, number>();
    for (const o of offenders) {
      const method = o.slice(0, o.indexOf("("));
      byMethod.set(method, (byMethod.get(method) ?? 0) + 1);
    }
    const methods = [...byMethod].map(([m, n]) => `${m}: ${n}`).join(", ");
    assert.deepEqual(
      offenders.slice(0, 20),
      [],
      `${summary}; by method: ${methods}; the first 20:\n${offenders.slice(0, 20).join("\n")}`,
    );
  }, { timeoutMs: 600_000 });
}

function safeShow(value: unknown): string {
  try {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
      if (ctor !== "Object") return ctor ?? "object";
      return `{ ${Object.keys(value).join(", ")} }`;
    }
    return typeof value === "bigint" ? `${value}n` : typeof value === "function" ? `fn ${value.name}` : String(value);
  } catch {
    return typeof value;
  }
}
