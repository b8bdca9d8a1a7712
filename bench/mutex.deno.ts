/** Mutex benchmarks from Deno; see mutex.ts. */
import * as ipc from "../mod.ts";
import { mutexBench } from "./mutex.ts";

const libc = Deno.dlopen("libc.so.6", {
  pthread_mutex_lock: { parameters: ["pointer"], result: "i32" },
  pthread_mutex_unlock: { parameters: ["pointer"], result: "i32" },
});

await mutexBench(ipc, "Deno", Deno.args, (view) => {
  // The pthread_mutex_t inside the libipc mutex (zig/mutex.zig).
  const p = Deno.UnsafePointer.offset(Deno.UnsafePointer.of(view)!, 16);
  const { pthread_mutex_lock: lock, pthread_mutex_unlock: unlock } = libc.symbols;
  return () => {
    lock(p);
    unlock(p);
  };
});
