/** Runs the single-process test cases under `node --test` (compiled first: scripts/node_test.mjs). */
import { cases } from "./cases/index.ts";
import type { Harness } from "./harness.ts";
import { harness } from "./support/node_harness.ts";

// See node_harness.ts: the cases take `runtime` as a label only.
for (const register of cases) register(harness as unknown as Harness);
