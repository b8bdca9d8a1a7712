/** The Bun side of tests/mp/pool_idle.ts. */
import * as ipc from "../../bun.ts";
import { run } from "./pool_idle.ts";

await run(ipc, process.argv[2]);
