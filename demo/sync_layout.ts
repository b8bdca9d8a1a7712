/** The demo's synchronization section: where each object lives in its segment. */

/** Byte offsets in the segment; demo/sync.c and demo/deno_part.ts use the same. */
export const syncLayout: Readonly<Record<string, number>> = {
  mutex: 0,
  notEmpty: 64,
  notFull: 128,
  barrier: 192,
  semaphore: 256,
  event: 320,
  count: 384,
  head: 388,
  tail: 392,
  taken: 396,
  inside: 400,
  insideMax: 404,
  sum: 408,
  ring: 512,
  ringSlots: 64,
  rwlock: 832,
  items: 10_000,
};
