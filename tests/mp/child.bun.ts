/** A Bun participant for the multi-process tests; see child.ts. */
import * as ipc from "../../bun.ts";
import { main } from "./child.ts";

process.exitCode = await main(ipc, process.argv.slice(2));
