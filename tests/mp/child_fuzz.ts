/**
 * The TS half of the open fuzzer and of the second-user test (tests/mp/fuzz_open.ts, second_user.ts):
 *   fuzz <list file> [--destructive]   open each /dev/shm name of the list through every open path
 *                                      (SharedMemory and every class, by name and by fd, inspect,
 *                                      list; with --destructive unlinkDead and unlink too), call the
 *                                      cheap operations of what opened, print "ok <files> <opens>"
 *   probe <name>                       print one line "<path> <OK|code>" per open path of one name
 * Only results matter: any IpcError is fine; a plain Error (not an IpcError) is printed as
 * "plain <path> <name> <message>" and makes the exit code 1. Before each file the name goes to
 * stderr ("@ name"), so that the parent can say which file a crash or a hang happened on.
 */

import { closeSync, lstatSync, openSync, readFileSync } from "node:fs";
import type { IpcModule } from "../harness.ts";

type Closable = { close(): void };

/** The open paths by name: each opens with `anyOwner` as given and runs the object's cheap calls. */
function namedPaths(ipc: IpcModule): [string, (name: string, anyOwner: boolean) => Closable][] {
  const o = (anyOwner: boolean) => ({ anyOwner });
  return [
    ["SharedMemory", (n, a) => {
      const m = ipc.SharedMemory.open(n, o(a));
      if (m.size > 0) void (m.bytes(0, 1)[0] + m.bytes(m.size - 1, 1)[0]);
      return m;
    }],
    ["Mutex", (n, a) => {
      const m = ipc.Mutex.open(n, o(a));
      if (m.tryLock() !== null) m.unlock();
      return m;
    }],
    ["Semaphore", (n, a) => {
      const s = ipc.Semaphore.open(n, o(a));
      void s.value;
      if (s.tryAcquire()) s.release();
      return s;
    }],
    ["Event", (n, a) => {
      const e = ipc.Event.open(n, o(a));
      e.isSet();
      e.tryWait();
      return e;
    }],
    ["Condition", (n, a) => {
      const c = ipc.Condition.open(n, o(a));
      c.notify();
      return c;
    }],
    ["Barrier", (n, a) => {
      const b = ipc.Barrier.open(n, o(a));
      void b.waiting;
      void b.broken;
      return b;
    }],
    ["RwLock", (n, a) => {
      const r = ipc.RwLock.open(n, o(a));
      if (r.tryReadLock() !== null) r.readUnlock();
      if (r.tryWriteLock() !== null) r.writeUnlock();
      void r.readers;
      return r;
    }],
    ["SharedHeap", (n, a) => {
      const h = ipc.SharedHeap.open(n, o(a));
      h.check();
      return h;
    }],
    ["Chan", (n, a) => {
      const c = ipc.Chan.open(n, o(a));
      void c.queued;
      c.tryRecv();
      return c;
    }],
    ["MVar", (n, a) => {
      const m = ipc.MVar.open(n, o(a));
      void m.full;
      m.tryRead();
      return m;
    }],
    ["Pipe", (n, a) => {
      const p = ipc.Pipe.open(n, o(a));
      void p.readable;
      return p;
    }],
    ["Duplex", (n, a) => {
      const d = ipc.Duplex.open(n, o(a));
      d.tryRecv();
      return d;
    }],
    ["SharedValue", (n, a) => {
      const v = ipc.SharedValue.open(n, { ...o(a), codec: "bytes" });
      v.load();
      return v;
    }],
  ];
}

function fdPaths(ipc: IpcModule): [string, (fd: number) => Closable][] {
  return [
    ["SharedMemory.fromFd", (fd) => ipc.SharedMemory.fromFd(fd)],
    ["SharedMemory.fromFd any", (fd) => ipc.SharedMemory.fromFd(fd, { anyOwner: true })],
    ["Mutex.fromFd", (fd) => ipc.Mutex.fromFd(fd, { anyOwner: true })],
    ["SharedHeap.fromFd", (fd) => {
      const h = ipc.SharedHeap.fromFd(fd, { anyOwner: true });
      h.check();
      return h;
    }],
    ["Chan.fromFd", (fd) => {
      const c = ipc.Chan.fromFd(fd, { anyOwner: true });
      c.tryRecv();
      return c;
    }],
  ];
}

class Run {
  opens = 0;
  plain: string[] = [];
  readonly ipc: IpcModule;
  readonly report?: (path: string, result: string) => void;
  // No parameter properties: Node strips types only, and runs this file (child.node.ts).
  constructor(ipc: IpcModule, report?: (path: string, result: string) => void) {
    this.ipc = ipc;
    this.report = report;
  }

  /** Runs one open path; an IpcError is a result, anything else is recorded as a failure. */
  try(path: string, name: string, fn: () => Closable | unknown): void {
    this.opens += 1;
    try {
      const opened = fn();
      if (opened !== null && typeof opened === "object" && "close" in opened) (opened as Closable).close();
      this.report?.(path, "OK");
    } catch (error) {
      if (error instanceof this.ipc.IpcError) {
        this.report?.(path, (error as { code: string }).code);
        return;
      }
      this.plain.push(`plain ${path} ${name} ${error instanceof Error ? error.stack : String(error)}`);
      this.report?.(path, "PLAIN");
    }
  }
}

function openAll(run: Run, name: string, destructive: boolean): void {
  const ipc = run.ipc;
  for (const [path, open] of namedPaths(ipc)) {
    // The classes accept any owner so that they reach the header of a file chowned to another user.
    run.try(`${path}.open`, name, () => open(name, path !== "SharedMemory"));
  }
  run.try("SharedMemory.open any", name, () => ipc.SharedMemory.open(name, { anyOwner: true }));
  let fd = -1;
  try {
    const stat = lstatSync(`/dev/shm${name}`);
    // O_RDWR: opening a FIFO read-write never blocks on Linux, so the child cannot hang here.
    if (stat.isFile() || stat.isFIFO() || stat.isSymbolicLink()) fd = openSync(`/dev/shm${name}`, "r+");
  } catch {
    fd = -1;
  }
  if (fd >= 0) {
    for (const [path, open] of fdPaths(ipc)) run.try(path, name, () => open(fd));
    closeSync(fd);
  }
  run.try("SharedMemory.inspect", name, () => ipc.SharedMemory.inspect(name));
  if (destructive) {
    run.try("SharedMemory.unlinkDead", name, () => ipc.SharedMemory.unlinkDead(name));
    run.try("SharedMemory.unlink", name, () => ipc.SharedMemory.unlink(name));
  }
}

export function fuzzCommand(ipc: IpcModule, args: string[]): number {
  if (args[0] === "probe") {
    const run = new Run(ipc, (path, result) => console.log(`${path} ${result}`));
    openAll(run, args[1], args[2] === "--destructive");
    run.try("SharedMemory.list", args[1], () => ipc.SharedMemory.list());
    run.try("SharedMemory.sweep", args[1], () => ipc.SharedMemory.sweep());
    for (const line of run.plain) console.log(line);
    return run.plain.length === 0 ? 0 : 1;
  }
  if (args[0] !== "fuzz") throw new Error(`unknown fuzz command ${args.join(" ")}`);
  const names = readFileSync(args[1], "utf8").split("\n").filter((n) => n !== "");
  const run = new Run(ipc);
  run.try("SharedMemory.list", "-", () => ipc.SharedMemory.list());
  for (const name of names) {
    console.error(`@ ${name}`);
    openAll(run, name, args[2] === "--destructive");
  }
  run.try("SharedMemory.sweep", "-", () => ipc.SharedMemory.sweep());
  for (const line of run.plain) console.log(line);
  console.log(`ok ${names.length} ${run.opens}`);
  return run.plain.length === 0 ? 0 : 1;
}
