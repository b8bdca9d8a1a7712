/**
 * A worker of `Pool` (lib/pool.ts), run as `<runtime> pool_worker.ts <binding URL> <module URL> <fd>`
 * with its Duplex at `fd` (after the fds of the segments the pool shares, which the module gets from
 * `shared()`; on Windows an inherited handle's value: lib/handoff.ts) and a pipe from the parent as stdin. It loads the binding and the module, says
 * it is ready, then runs tasks in the order they come and answers each:
 *
 * - `[id, name, args, TASK_CALL]` → `[id, ANSWER_OK, value]` or `[id, ANSWER_THREW, error]`
 * - `[id, name, items, TASK_CHUNK]` → `[id, ANSWER_OK, values]` or `[id, ANSWER_THREW, error, index]`
 *
 * It exits when the parent ends the channel (retired, or the pool closes) or its stdin closes (the
 * parent died). What it reads is input: a malformed task ends the worker rather than running.
 *
 * @module
 */

import process from "node:process";
import { connectToParent } from "./child_runner.ts";
import {
  ANSWER_FAILED,
  ANSWER_OK,
  ANSWER_READY,
  ANSWER_THREW,
  isChunkPayload,
  packNumbers,
  TASK_CALL,
  TASK_CHUNK,
} from "./pool_protocol.ts";
import { remoteError } from "./remote_call.ts";

const { duplex } = await connectToParent(process.argv[2] ?? "", Number(process.argv[4]));

/** Sends an answer; one too large for the channel (or not encodable) becomes an error answer. */
async function answer(message: unknown[]): Promise<void> {
  let reply = message;
  try {
    if (duplex.trySend(reply)) return;
  } catch (error) {
    const sent = remoteError(error);
    if (sent.code === "ERANGE") sent.message += "; pass a larger capacity to new Pool({ capacity })";
    reply = [message[0], ANSWER_THREW, sent];
    if (duplex.trySend(reply)) return;
  }
  await duplex.send(reply);
}

let module: Record<string, unknown>;
try {
  module = await import(process.argv[3] ?? "");
} catch (error) {
  await answer([0, ANSWER_FAILED, remoteError(error)]);
  process.exit(1);
}
await answer([0, ANSWER_READY, process.pid]);

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * The next task: the worker first waits blocking for up to `blockMs` (a task that comes meanwhile
 * costs a wake-up of this thread, not one of the event loop through a waiter thread: about a third of
 * an exec's round trip), then without blocking, so that an idle worker's own timers and I/O still run.
 */
const blockMs = 1;
async function nextTask(): Promise<unknown> {
  const task = duplex.tryRecv();
  if (task !== undefined) return task;
  try {
    return duplex.recvSync({ timeout: blockMs });
  } catch (error) {
    if ((error as { code?: string }).code !== "ETIMEDOUT") throw error;
  }
  return await duplex.recv();
}

while (true) {
  const task = await nextTask();
  if (task === undefined) break; // the parent ended the channel
  if (
    !Array.isArray(task) || task.length !== 4 || typeof task[0] !== "number" || typeof task[1] !== "string" ||
    (task[3] !== TASK_CALL && task[3] !== TASK_CHUNK) ||
    !(task[3] === TASK_CALL ? Array.isArray(task[2]) : isChunkPayload(task[2]))
  ) {
    process.stderr.write(`libipc Pool worker ${process.pid}: a malformed task; exiting\n`);
    process.exit(71);
  }
  const [id, name, payload, kind] = task as [number, string, unknown[], number];
  const fn = module[name];
  if (typeof fn !== "function") {
    // Named IpcError with a code: the parent rebuilds it as an IpcError (remote_call.ts rebuildError).
    const message = `${process.argv[3]} exports no function named ${JSON.stringify(name)} (${typeof fn})`;
    await answer([id, ANSWER_THREW, { name: "IpcError", message, code: "ENOENT" }]);
    continue;
  }
  if (kind === TASK_CALL) {
    try {
      let value = fn(...payload);
      if (isThenable(value)) value = await value;
      await answer([id, ANSWER_OK, value]);
    } catch (error) {
      await answer([id, ANSWER_THREW, remoteError(error)]);
    }
    continue;
  }
  const values = new Array(payload.length);
  let index = 0;
  try {
    for (; index < payload.length; index++) {
      let value = fn(payload[index]);
      if (isThenable(value)) value = await value;
      values[index] = value;
    }
  } catch (error) {
    await answer([id, ANSWER_THREW, remoteError(error), index]);
    continue;
  }
  await answer([id, ANSWER_OK, packNumbers(values)]);
}
duplex.close();
process.exit(0);
