/** Runs the single-process test cases under `deno test`. */
import { cases } from "./cases/index.ts";
import { harness } from "./support/deno_harness.ts";

for (const register of cases) register(harness);
