/** A Node participant for the multi-process tests; see child.ts. Runs from source: Node 22.18 or later. */
import * as ipc from "../../node.ts";
import { main } from "./child.ts";

process.exitCode = await main(ipc, process.argv.slice(2));
