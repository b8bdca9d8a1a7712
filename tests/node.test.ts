/** Runs the single-process test cases under `node --test` (compiled first: scripts/node_test.mjs). */
import { cases } from "./cases/index.ts";
import { harness } from "./support/node_harness.ts";

for (const register of cases) register(harness);
