/** Chan benchmarks from Deno; see chan.ts. */
import * as ipc from "../mod.ts";
import { chanBench } from "./chan.ts";

await chanBench(ipc, "Deno", [Deno.execPath(), "run", "--allow-all", import.meta.filename!], Deno.args);
