/** The single-process test cases, in the order they run. */
import type { Harness } from "../harness.ts";
import abi from "./abi.ts";
import errors from "./errors.ts";
import load from "./load.ts";
import mutex from "./mutex.ts";
import segment from "./segment.ts";
import segmentInputs from "./segment_inputs.ts";
import sync from "./sync.ts";
import heap from "./heap.ts";
import chan from "./chan.ts";
import channels from "./channels.ts";
import tracker from "./tracker.ts";
import processCases from "./process.ts";
import handoff from "./handoff.ts";
import fuzzArgs from "./fuzz_args.ts";
import denoPermissions from "./deno_permissions.ts";
import unlink from "./unlink.ts";
import denoJsr from "./deno_jsr.ts";
import cli from "./cli.ts";

export const cases: ((h: Harness) => void)[] = [
  abi,
  errors,
  load,
  segment,
  segmentInputs,
  mutex,
  sync,
  heap,
  chan,
  channels,
  tracker,
  processCases,
  handoff,
  fuzzArgs,
  unlink,
  denoPermissions,
  denoJsr,
  cli,
];
