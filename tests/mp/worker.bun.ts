/** The Bun worker of tests/mp/process.ts; see worker.ts. */
import * as ipc from "../../bun.ts";
import { work } from "./worker.ts";

process.exitCode = await work(ipc, process.argv.slice(2));
