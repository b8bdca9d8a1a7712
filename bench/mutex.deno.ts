/** Mutex benchmarks from Deno; see mutex.ts. */
import * as ipc from "../mod.ts";
import { mutexBench } from "./mutex.ts";

const libc = Deno.dlopen("libc.so.6", {
  pthread_mutexattr_init: { parameters: ["buffer"], result: "i32" },
  pthread_mutexattr_settype: { parameters: ["buffer", "i32"], result: "i32" },
  pthread_mutexattr_setpshared: { parameters: ["buffer", "i32"], result: "i32" },
  pthread_mutexattr_setrobust: { parameters: ["buffer", "i32"], result: "i32" },
  pthread_mutex_init: { parameters: ["pointer", "buffer"], result: "i32" },
  pthread_mutex_lock: { parameters: ["pointer"], result: "i32" },
  pthread_mutex_unlock: { parameters: ["pointer"], result: "i32" },
});

await mutexBench(ipc, "Deno", Deno.args, (view) => {
  const s = libc.symbols;
  const attr = new Uint8Array(16);
  const p = Deno.UnsafePointer.of(view)!;
  // PTHREAD_MUTEX_ERRORCHECK 2, PTHREAD_PROCESS_SHARED 1, PTHREAD_MUTEX_ROBUST 1
  if (
    s.pthread_mutexattr_init(attr) || s.pthread_mutexattr_settype(attr, 2) ||
    s.pthread_mutexattr_setpshared(attr, 1) || s.pthread_mutexattr_setrobust(attr, 1) || s.pthread_mutex_init(p, attr)
  ) throw new Error("pthread_mutex_init failed");
  const { pthread_mutex_lock: lock, pthread_mutex_unlock: unlock } = s;
  return () => {
    lock(p);
    unlock(p);
  };
});
