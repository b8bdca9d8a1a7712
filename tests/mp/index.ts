/** The multi-process test cases, in the order they run. */
import type { Harness } from "../harness.ts";
import load from "./load.ts";
import mutex from "./mutex.ts";
import segment from "./segment.ts";
import sync from "./sync.ts";

export const cases: ((h: Harness) => void)[] = [segment, mutex, sync, load];
