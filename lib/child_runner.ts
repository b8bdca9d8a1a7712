/**
 * The start every child runner shares (lib/isolate_runner.ts, lib/pool_worker.ts): exit when the
 * parent dies, load this runtime's binding, and open the Duplex the parent passed.
 *
 * @module
 */

import process from "node:process";
import { handoff } from "./handoff.ts";
import type * as Ipc from "./index.ts";

/**
 * Exits (code 70) once stdin, a pipe whose write end the parent holds, ends: the parent died and
 * nobody waits for answers. Then imports the binding at `bindingUrl` and opens the msgpack Duplex at
 * `fd` (a stdio slot's fd, or an inherited handle's value: lib/handoff.ts), closing that (the Duplex holds its own copy; this one would leak into the child's children).
 */
export async function connectToParent(
  bindingUrl: string,
  fd: number,
): Promise<{ ipc: typeof Ipc; duplex: Ipc.Duplex<unknown> }> {
  process.stdin.on("end", () => process.exit(70));
  process.stdin.on("error", () => process.exit(70));
  process.stdin.resume();
  const ipc = (await import(bindingUrl)) as typeof Ipc;
  const duplex = ipc.Duplex.fromFd<unknown>(fd, { codec: "msgpack" });
  handoff().closeInherited(fd);
  return { ipc, duplex };
}
