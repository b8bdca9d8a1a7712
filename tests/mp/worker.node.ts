/** The Node worker of tests/mp/process.ts and node.ts; see worker.ts. Runs from source: Node 22.18 or later. */
import * as ipc from "../../node.ts";
import { work } from "./worker.ts";

process.exitCode = await work(ipc, process.argv.slice(2));
