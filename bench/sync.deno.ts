/** Semaphore, Condition and RwLock benchmarks from Deno; see sync.ts. */
import * as ipc from "../mod.ts";
import { syncBench } from "./sync.ts";

await syncBench(ipc, "Deno", [Deno.execPath(), "run", "--allow-all", import.meta.filename!], Deno.args);
