/** The child of parent.ts: takes the shared Mutex (held by the parent until both children run) and sends its pid. */
import { type Chan, type Mutex, shared } from "libipc";
import process from "node:process";

const [mutex, jobs] = shared<[Mutex, Chan<number>]>();
mutex.lockSync({ timeout: 60_000 });
try {
  jobs.sendSync(process.pid, { timeout: 60_000 });
} finally {
  mutex.unlock();
}
