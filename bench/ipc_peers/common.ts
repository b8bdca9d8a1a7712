/** Cases, sizes and statistics shared by the Bun message-passing peers (node_ipc.mjs keeps its own copy). */
import type { Measurement } from "../report.ts";

/** Round trips: measured ones after the warm-up ones. */
export const WARM = 2_000;
export const ROUNDS = 20_000;

/** Throughput: seconds the timed phase aims at, judged from the warm-up's rate. */
export const TARGET_SECONDS = 1.5;

export interface RoundTrip {
  kind: "roundtrip";
}

export interface Throughput {
  kind: "throughput";
  name: string;
  unit: "M msg/s" | "GB/s";
  /** Bytes per message. */
  size: number;
  /** Untimed messages first; their rate sizes the timed phase. */
  warm: number;
  /** Most messages timed. */
  max: number;
  /** Messages timed when given on the command line, else chosen by countFor(). */
  count?: number;
  /** Messages per credit, for the IPC channels that never push back; every count is a multiple. */
  batch: number;
}

export type Case = RoundTrip | Throughput;

export const CASES: Record<string, Case> = {
  "roundtrip": { kind: "roundtrip" },
  "throughput-64": {
    kind: "throughput",
    name: "throughput, 64 B messages, 1->1",
    unit: "M msg/s",
    size: 64,
    warm: 65_536,
    max: 8_388_608,
    batch: 4096,
  },
  "throughput-64k": {
    kind: "throughput",
    name: "throughput, 64 KiB messages, 1->1",
    unit: "GB/s",
    size: 65_536,
    warm: 1_024,
    max: 131_072,
    batch: 16,
  },
};

/** Looks up a case by its command-line name, with an optional number of timed messages. */
export function caseOf(args: string[], usage: string): Case {
  const c = CASES[args[0]];
  if (c === undefined) throw new Error(`usage: ${usage} ${Object.keys(CASES).join("|")} [messages]`);
  if (c.kind === "throughput" && args[1] !== undefined) {
    return { ...c, count: Math.max(1, Math.round(Number(args[1]) / c.batch)) * c.batch };
  }
  return c;
}

/** Messages to time: about TARGET_SECONDS at the warm-up's rate, whole batches, at most c.max. */
export function countFor(c: Throughput, warmSeconds: number): number {
  if (c.count !== undefined) return c.count;
  const wanted = (c.warm / warmSeconds) * TARGET_SECONDS;
  return Math.min(c.max, Math.max(8, Math.round(wanted / c.batch)) * c.batch);
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

export function throughputRow(c: Throughput, count: number, tool: string, seconds: number, note: string): Measurement {
  const value = c.unit === "GB/s" ? (count * c.size) / seconds / 1e9 : count / seconds / 1e6;
  return { case: c.name, tool, unit: c.unit, value, peer: true, note: `${note}; ${count} messages timed` };
}
