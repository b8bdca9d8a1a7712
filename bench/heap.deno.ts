/** Shared heap benchmark from Deno; see heap.ts. */
import * as ipc from "../mod.ts";
import { heapBench } from "./heap.ts";

heapBench(ipc, "Deno", Deno.args);
