/** The multi-process test cases, in the order they run. */
import type { Harness } from "../harness.ts";
import load from "./load.ts";
import mutex from "./mutex.ts";
import segment from "./segment.ts";
import sync from "./sync.ts";
import heap from "./heap.ts";
import chan from "./chan.ts";
import cleanup from "./cleanup.ts";
import processes from "./process.ts";
import pool from "./pool.ts";
import kill from "./kill.ts";
import fuzzOpen from "./fuzz_open.ts";
import secondUser from "./second_user.ts";
import node from "./node.ts";

export const cases: ((h: Harness) => void)[] = [
  segment,
  mutex,
  sync,
  heap,
  chan,
  load,
  cleanup,
  processes,
  pool,
  kill,
  fuzzOpen,
  secondUser,
  node,
];
