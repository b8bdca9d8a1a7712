/** Semaphore, Condition and RwLock benchmarks from Bun; see sync.ts. */
import * as ipc from "../bun.ts";
import { syncBench } from "./sync.ts";

await syncBench(ipc, "Bun", [process.execPath, import.meta.filename], process.argv.slice(2));
