/** The Node side of tests/mp/pool_idle.ts. Runs from source: Node 22.18 or later. */
import * as ipc from "../../node.ts";
import { run } from "./pool_idle.ts";

await run(ipc, process.argv[2]);
