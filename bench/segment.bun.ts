/** Segment life-cycle cost from Bun; see segment.ts. */
import * as ipc from "../bun.ts";
import { segmentBench } from "./segment.ts";

segmentBench(ipc, "Bun", process.pid);
