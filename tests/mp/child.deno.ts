/** A Deno participant for the multi-process tests; see child.ts. */
import * as ipc from "../../mod.ts";
import { main } from "./child.ts";

Deno.exitCode = await main(ipc, Deno.args);
