/** Runs the multi-process test cases with Bun as the parent. */
import { cases } from "./index.ts";
import { harness } from "../support/bun_harness.ts";

for (const register of cases) register(harness);
