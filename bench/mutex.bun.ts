/** Mutex benchmarks from Bun; see mutex.ts. */
import { dlopen, FFIType, type Pointer, ptr } from "bun:ffi";
import * as ipc from "../bun.ts";
import { mutexBench } from "./mutex.ts";

const libc = dlopen("libc.so.6", {
  pthread_mutexattr_init: { args: [FFIType.ptr], returns: FFIType.i32 },
  pthread_mutexattr_settype: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pthread_mutexattr_setpshared: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pthread_mutexattr_setrobust: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  pthread_mutex_init: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  pthread_mutex_lock: { args: [FFIType.ptr], returns: FFIType.i32 },
  pthread_mutex_unlock: { args: [FFIType.ptr], returns: FFIType.i32 },
});

await mutexBench(ipc, "Bun", process.argv.slice(2), (view) => {
  const s = libc.symbols;
  const attr = new Uint8Array(16);
  const p = ptr(view) as Pointer;
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
