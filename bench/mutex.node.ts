/** Mutex benchmarks from Node (koffi); see mutex.ts. Runs from source: Node 22.18 or later. */
import koffi from "koffi";
import * as ipc from "../node.ts";
import { mutexBench } from "./mutex.ts";

const libc = koffi.load("libc.so.6");
const f = (decl: string) => libc.func(decl) as (...args: unknown[]) => number;
const attrInit = f("int pthread_mutexattr_init(void *attr)");
const attrType = f("int pthread_mutexattr_settype(void *attr, int type)");
const attrShared = f("int pthread_mutexattr_setpshared(void *attr, int shared)");
const attrRobust = f("int pthread_mutexattr_setrobust(void *attr, int robust)");
const init = f("int pthread_mutex_init(void *mutex, void *attr)");
const lock = f("int pthread_mutex_lock(void *mutex)");
const unlock = f("int pthread_mutex_unlock(void *mutex)");

await mutexBench(ipc, "Node", process.argv.slice(2), (view) => {
  const attr = new Uint8Array(16);
  // The mutex's address, as a koffi pointer: the view is over segment memory, so it never moves.
  const p = koffi.address(view);
  // PTHREAD_MUTEX_ERRORCHECK 2, PTHREAD_PROCESS_SHARED 1, PTHREAD_MUTEX_ROBUST 1
  if (attrInit(attr) || attrType(attr, 2) || attrShared(attr, 1) || attrRobust(attr, 1) || init(p, attr)) {
    throw new Error("pthread_mutex_init failed");
  }
  return () => {
    lock(p);
    unlock(p);
  };
});
