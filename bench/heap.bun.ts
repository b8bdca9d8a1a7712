/** Shared heap benchmark from Bun; see heap.ts. */
import * as ipc from "../bun.ts";
import { heapBench } from "./heap.ts";

heapBench(ipc, "Bun", process.argv.slice(2));
