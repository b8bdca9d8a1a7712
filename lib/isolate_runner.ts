/**
 * The child side of `isolate` (lib/isolate.ts), run as `<runtime> isolate_runner.ts <binding URL> <fd>`
 * with the call's Duplex at `fd` (fd 3, or an inherited handle's value: lib/handoff.ts) and a pipe from the parent as stdin. It loads the binding (bun.ts
 * or mod.ts, which binds libipc for this runtime), reads `{ module, name, args }`, awaits
 * `module[name](...args)`, sends the answer and exits. What it reads is input: a malformed job is
 * answered with an error, never run.
 *
 * @module
 */

import process from "node:process";
import { connectToParent } from "./child_runner.ts";
import { remoteError } from "./remote_call.ts";

type Job = { module: string; name: string; args: unknown[] };

const { ipc, duplex } = await connectToParent(process.argv[2] ?? "", Number(process.argv[3]));
let answer: unknown;
try {
  const job = duplex.tryRecv() as Job | undefined;
  if (
    typeof job !== "object" || job === null || typeof job.module !== "string" || typeof job.name !== "string" ||
    !Array.isArray(job.args)
  ) {
    throw new ipc.IpcError("isolate", "EPROTO", `the parent sent no call, or a malformed one: ${typeof job}`);
  }
  const module = await import(job.module);
  const fn = module[job.name];
  if (typeof fn !== "function") {
    // Named IpcError with a code: the parent rebuilds it as an IpcError (remote_call.ts rebuildError).
    const message = `${job.module} exports no function named ${JSON.stringify(job.name)} (${typeof fn})`;
    throw Object.assign(new Error(message), { name: "IpcError", code: "ENOENT" });
  }
  answer = { ok: true, value: await fn(...job.args) };
} catch (error) {
  answer = { ok: false, error: remoteError(error) };
}
try {
  duplex.sendSync(answer, { timeout: 0 });
} catch (error) {
  // Too large for the channel (ERANGE), or not encodable: say so instead.
  const sent = remoteError(error);
  if (sent.code === "ERANGE") sent.message += "; pass a larger capacity to isolate({ module, capacity }, ...)";
  duplex.sendSync({ ok: false, error: sent }, { timeout: 0 });
}
duplex.close();
process.exit(0);
