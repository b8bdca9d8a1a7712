/** `libipc` under Deno: `deno run --allow-ffi --allow-read --allow-env cli/libipc.deno.ts ls`. See libipc.ts. */
import { main } from "./libipc.ts";

// Before the library loads: `ls` shows dead names, and only `gc` removes them.
Deno.env.set("LIBIPC_NO_SWEEP", "1");
const ipc = await import("../mod.ts");
Deno.exitCode = main(ipc, Deno.args, console.log, console.error);
