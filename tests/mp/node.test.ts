/**
 * Runs the multi-process test cases with Node as the parent. Its Node children run the TypeScript
 * sources, so this runs from the sources too, under a Node that strips types (22.18 or later: the
 * devDependency's Node 26 in scripts/test.mjs, step mp-node).
 */
import { cases } from "./index.ts";
import { harness } from "../support/node_harness.ts";

for (const register of cases) register(harness);
