/** Chan benchmarks from Node (koffi); see chan.ts. Runs from source: Node 22.18 or later. */
import * as ipc from "../node.ts";
import { chanBench } from "./chan.ts";

await chanBench(ipc, "Node", [process.execPath, import.meta.filename], process.argv.slice(2));
