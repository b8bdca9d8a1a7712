/** Mutex benchmarks from Bun; see mutex.ts. */
import { dlopen, FFIType, type Pointer, ptr } from "bun:ffi";
import * as ipc from "../bun.ts";
import { mutexBench } from "./mutex.ts";

const libc = dlopen("libc.so.6", {
  pthread_mutex_lock: { args: [FFIType.ptr], returns: FFIType.i32 },
  pthread_mutex_unlock: { args: [FFIType.ptr], returns: FFIType.i32 },
});

await mutexBench(ipc, "Bun", process.argv.slice(2), (view) => {
  const p = (ptr(view) + 16) as Pointer; // the pthread_mutex_t inside the libipc mutex (zig/mutex.zig)
  const { pthread_mutex_lock: lock, pthread_mutex_unlock: unlock } = libc.symbols;
  return () => {
    lock(p);
    unlock(p);
  };
});
