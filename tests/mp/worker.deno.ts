/** The Deno worker of tests/mp/process.ts; see worker.ts. */
import * as ipc from "../../mod.ts";
import { work } from "./worker.ts";

Deno.exitCode = await work(ipc, Deno.args);
