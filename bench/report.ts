/** What every benchmark program prints: one JSON line per measured case. */

export interface Measurement {
  /** What was measured, the same words for every tool measuring it. */
  case: string;
  /** Who measured: language, library and mechanism, such as "Bun libipc". */
  tool: string;
  unit: string;
  value: number;
  /** True for a peer (not libipc) that the case compares against. */
  peer?: boolean;
  note?: string;
}

export function report(m: Measurement): void {
  console.log(JSON.stringify(m));
}

/** Runs `body` `iterations` times after a warm-up and returns nanoseconds per iteration. */
export function timeNs(iterations: number, body: (i: number) => void): number {
  const warm = Math.min(iterations, 100_000);
  for (let i = 0; i < warm; i++) body(i);
  const start = performance.now();
  for (let i = 0; i < iterations; i++) body(i);
  return ((performance.now() - start) * 1e6) / iterations;
}
