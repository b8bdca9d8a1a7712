/**
 * The process-wide spin budget of native waits, and the clock every process shares.
 *
 * @module
 */

import { SPIN_NS_MAX } from "./abi.ts";
import { checked } from "./call.ts";
import { checkInteger } from "./errors.ts";
import { native } from "./native.ts";

/**
 * Sets how long waits in this process spin before parking in the kernel, in nanoseconds (0 parks at
 * once; at most SPIN_NS_MAX). Spinning turns a hand-off between processes from tens of microseconds
 * into well under one, at the cost of up to that much CPU time per wait that does not end during it.
 */
export function setSpin(nanoseconds: number): void {
  const ns = checkInteger("setSpin", "nanoseconds", nanoseconds, 0, SPIN_NS_MAX);
  checked("setSpin", native().symbols.ipc_spin_set(ns));
}

/** The spin budget of waits in this process, in nanoseconds. */
export function spin(): number {
  return native().symbols.ipc_spin_get();
}

/** CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine. */
export function now(): bigint {
  return native().symbols.ipc_now_ns();
}
