/** Segment life-cycle cost from Deno; see segment.ts. */
import * as ipc from "../mod.ts";
import { segmentBench } from "./segment.ts";

segmentBench(ipc, "Deno", Deno.pid);
