/** The Deno side of tests/mp/pool_idle.ts. */
import * as ipc from "../../mod.ts";
import { run } from "./pool_idle.ts";

await run(ipc, Deno.args[0]);
