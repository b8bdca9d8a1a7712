/**
 * What the kill tests check after a SIGKILL, read from /proc and /dev/shm: whether the processes a
 * test involved (children, grandchildren, tracker helpers) have all exited, and whether /dev/shm still
 * holds names they created. Every wait has a deadline: a hang fails the test instead of stalling it.
 */

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import type { IpcModule } from "../harness.ts";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a failure naming `what` once `ms` milliseconds have passed (a deadline, not a timing assert). */
export async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms (a hang?)`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 10 ms until it returns true; fails naming `what` after `ms` milliseconds. */
export async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not so after ${ms} ms`);
    await sleep(10);
  }
}

/** A process's name, state letter, parent and start time from /proc/<pid>/stat; null once it is gone. */
export function statOf(pid: number): { name: string; state: string; ppid: number; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    return { name, state: fields[0], ppid: Number(fields[1]), start: fields[19] };
  } catch {
    return null;
  }
}

/** The running tracker helpers (`libipc-tracker`) whose parent is `ppid`. */
export function trackersOf(ppid: number): number[] {
  return readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    const s = statOf(pid);
    return s !== null && s.name === "libipc-tracker" && s.ppid === ppid && s.state !== "Z";
  });
}

/**
 * The processes a test involved, each by pid and start time (so a reused pid is not mistaken for
 * one of them). A zombie counts as exited: it runs no code, and an orphan's is reaped by init.
 */
export class Processes {
  readonly #known = new Map<number, { label: string; start: string }>();

  /** Adds a process that runs now (else the test's later "it has exited" would prove nothing). */
  add(pid: number, label: string): void {
    const s = statOf(pid);
    assert.ok(s !== null && s.state !== "Z", `${label} (pid ${pid}) is not running`);
    this.#known.set(pid, { label, start: s.start });
  }

  get pids(): Set<number> {
    return new Set(this.#known.keys());
  }

  /** The labels of those still running. */
  running(): string[] {
    const out: string[] = [];
    for (const [pid, { label, start }] of this.#known) {
      const s = statOf(pid);
      if (s !== null && s.start === start && s.state !== "Z" && s.state !== "X") {
        out.push(`${label} (pid ${pid})`);
      }
    }
    return out;
  }

  /** Waits until every one has exited; fails naming the ones still running after `ms` milliseconds. */
  async exited(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.running().length > 0) {
      if (Date.now() > deadline) assert.fail(`still running after ${ms} ms: ${this.running().join(", ")}`);
      await sleep(10);
    }
  }

  /** SIGKILLs every one still running: the cleanup after a failed test. */
  killAll(): void {
    for (const [pid, { start }] of this.#known) {
      const s = statOf(pid);
      if (s === null || s.start !== start) continue;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

export const shmPath = (name: string): string => `/dev/shm/${name.replace(/^\//, "")}`;

/** The libipc segments in /dev/shm whose creator is one of `pids`. */
export function namesBy(ipc: IpcModule, pids: Set<number>): string[] {
  const out: string[] = [];
  for (const name of ipc.SharedMemory.list()) {
    try {
      if (pids.has(ipc.SharedMemory.inspect(name).creator.pid)) out.push(name);
    } catch {
      // Removed meanwhile, or not readable by us: not one of ours.
    }
  }
  return out;
}

/**
 * Waits until /dev/shm holds none of `names` and no libipc segment created by one of `creators`;
 * fails naming what is left after `ms` milliseconds.
 */
export async function namesGone(ipc: IpcModule, names: string[], creators: Set<number>, ms: number): Promise<void> {
  const left = () => [...new Set([...names.filter((name) => existsSync(shmPath(name))), ...namesBy(ipc, creators)])];
  const deadline = Date.now() + ms;
  while (left().length > 0) {
    if (Date.now() > deadline) assert.fail(`still in /dev/shm after ${ms} ms: ${left().join(" ")}`);
    await sleep(20);
  }
}
