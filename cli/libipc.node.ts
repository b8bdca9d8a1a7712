/** `libipc` under Node 22.18 or later (TypeScript stripped): `node cli/libipc.node.ts ls`. See libipc.ts. */
import { main } from "./libipc.ts";

// Before the library loads: `ls` shows dead names, and only `gc` removes them.
process.env.LIBIPC_NO_SWEEP = "1";
const ipc = await import("../node.ts");
process.exitCode = main(ipc, process.argv.slice(2), console.log, console.error);
