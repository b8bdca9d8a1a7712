/** Runs the multi-process test cases with Deno as the parent. */
import { cases } from "./index.ts";
import { harness } from "../support/deno_harness.ts";

for (const register of cases) register(harness);
