/** Cases, sizes and statistics shared by the Bun message-passing peers (node_ipc.mjs keeps its own copy). */
import type { Measurement } from "../report.ts";

/** Round trips: measured ones after the warm-up ones. */
export const WARM = 2_000;
export const ROUNDS = 20_000;

export interface RoundTrip {
  kind: "roundtrip";
}

export interface Throughput {
  kind: "throughput";
  name: string;
  unit: "M msg/s" | "GB/s";
  /** Bytes per message. */
  size: number;
  /** Messages timed, after `warm` untimed ones. */
  count: number;
  warm: number;
  /** Messages per credit, for the IPC channels that never push back. */
  batch: number;
}

export type Case = RoundTrip | Throughput;

/** Counts sized so that the slowest peer stays within about 3 s; an optional argument overrides them. */
export const CASES: Record<string, Case> = {
  "roundtrip": { kind: "roundtrip" },
  "throughput-64": {
    kind: "throughput",
    name: "throughput, 64 B messages, 1->1",
    unit: "M msg/s",
    size: 64,
    count: 1_048_576,
    warm: 102_400,
    batch: 4096,
  },
  "throughput-64k": {
    kind: "throughput",
    name: "throughput, 64 KiB messages, 1->1",
    unit: "GB/s",
    size: 65_536,
    count: 10_000,
    warm: 1_024,
    batch: 16,
  },
};

/** Looks up a case by its command-line name, with an optional message count in place of the default. */
export function caseOf(args: string[], usage: string): Case {
  const c = CASES[args[0]];
  if (c === undefined) throw new Error(`usage: ${usage} ${Object.keys(CASES).join("|")} [messages]`);
  if (c.kind === "throughput" && args[1] !== undefined) {
    const count = Math.ceil(Number(args[1]) / c.batch) * c.batch;
    return { ...c, count, warm: Math.ceil(count / 10 / c.batch) * c.batch };
  }
  return c;
}

/** p50 and p99 of per-round-trip microseconds. */
export function percentiles(us: Float64Array): [number, number] {
  const sorted = us.slice().sort();
  return [sorted[Math.floor(sorted.length / 2)], sorted[Math.floor(sorted.length * 0.99)]];
}

export function roundTripRows(tool: string, us: Float64Array, note: string): Measurement[] {
  const [p50, p99] = percentiles(us);
  return [
    { case: "round trip, small message, p50", tool, unit: "us", value: p50, peer: true, note },
    { case: "round trip, small message, p99", tool, unit: "us", value: p99, peer: true, note },
  ];
}

export function throughputRow(c: Throughput, tool: string, seconds: number, note: string): Measurement {
  const value = c.unit === "GB/s" ? (c.count * c.size) / seconds / 1e9 : c.count / seconds / 1e6;
  return { case: c.name, tool, unit: c.unit, value, peer: true, note };
}
