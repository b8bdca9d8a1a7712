/**
 * A process that uses a Pool and never closes it (tests/mp/pool.ts): an idle pool must not keep it
 * alive, and its workers must exit once it has. Prints the workers' pids, then returns.
 */

import type { IpcModule } from "../harness.ts";

export async function run(ipc: IpcModule, module: string): Promise<void> {
  const pool = new ipc.Pool({ module, size: 2 });
  const answers = await Promise.all([pool.exec("add", 1, 2), pool.map([1, 2, 3], "mix", { chunkSize: 1 })]);
  if (answers[0] !== 3) throw new Error(`add answered ${answers[0]}`);
  console.log(pool.pids.join(" "));
}
