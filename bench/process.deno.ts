/** Process benchmarks from Deno; see process.ts. */
import * as ipc from "../mod.ts";
import { processBench } from "./process.ts";

await processBench(ipc, "Deno", [Deno.execPath(), "run", "--allow-all"], Deno.args);
