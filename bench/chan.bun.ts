/** Chan benchmarks from Bun; see chan.ts. */
import * as ipc from "../bun.ts";
import { chanBench } from "./chan.ts";

await chanBench(ipc, "Bun", [process.execPath, import.meta.filename], process.argv.slice(2));
