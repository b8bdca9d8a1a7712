/**
 * The functions the process benchmark (bench/process.ts) runs: in a libipc Pool, in isolate, in the
 * peers' workers (process_worker.ts, process_ipc_child.ts), in process_print.ts and serially. A plain
 * module: no libipc import, no runtime-specific global, as a user's module would be.
 */

/** isolate's example: one small number in, one out. */
export function times10(value: number): number {
  return value * 10;
}

/** A cheap item: a few integer operations on one number. */
export function mix(x: number): number {
  return (Math.imul(x ^ (x >>> 7), 0x9e3779b1) >>> 0) % 1_000_003;
}

/** A large item: the sum of the bytes, mod 2^32. */
export function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]) >>> 0;
  return sum;
}

/**
 * An allocation-heavy item: 200 small records (an object, a template string and an array of two
 * strings each), grouped by tag in a Map, 20 of them serialized to JSON; reduced to one number, so
 * that everything it allocated is garbage once it returns.
 */
export function allocHeavy(seed: number): number {
  const rows: { id: number; name: string; tags: string[]; score: number }[] = [];
  for (let i = 0; i < 200; i++) {
    const name = `item-${seed}-${i}`;
    rows.push({ id: seed * 1000 + i, name, tags: [name.slice(0, 6 + (i % 3)), String(i % 7)], score: (seed ^ i) / 3 });
  }
  const byTag = new Map<string, number>();
  for (const row of rows) {
    for (const tag of row.tags) byTag.set(tag, (byTag.get(tag) ?? 0) + row.score);
  }
  let acc = JSON.stringify(rows.slice(0, 20)).length;
  for (const value of byTag.values()) acc += value;
  return Math.round(acc) >>> 0;
}
