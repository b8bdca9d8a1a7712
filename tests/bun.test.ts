/** Runs the single-process test cases under `bun test`. */
import { cases } from "./cases/index.ts";
import { harness } from "./support/bun_harness.ts";

for (const register of cases) register(harness);
