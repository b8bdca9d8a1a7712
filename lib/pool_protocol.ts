/**
 * The messages between `Pool` (lib/pool.ts) and its workers (lib/pool_worker.ts), msgpack arrays:
 *
 * - parent → worker: `[id, name, args, TASK_CALL]` or `[id, name, items, TASK_CHUNK]`
 * - worker → parent: `[0, ANSWER_READY, pid]` once the module loaded, or `[0, ANSWER_FAILED, error]`;
 *   then per task in order `[id, ANSWER_OK, value]` (a chunk: the values), or
 *   `[id, ANSWER_THREW, error]` (a chunk: `[id, ANSWER_THREW, error, index of the item]`)
 *
 * @module
 */

/** A call: `name(...args)`. */
export const TASK_CALL = 0;
/** A chunk of a map: `name(item)` for each item. */
export const TASK_CHUNK = 1;
/** The task returned. */
export const ANSWER_OK = 0;
/** The task threw. */
export const ANSWER_THREW = 1;
/** The worker loaded the module and takes tasks. */
export const ANSWER_READY = 2;
/** The worker could not load the module and exits. */
export const ANSWER_FAILED = 3;

/**
 * A chunk's items or results as they travel: a Float64Array when every one is a number (it holds any
 * JS number exactly, -0 and NaN included, and crosses as one copy instead of a number at a time,
 * about ten times faster), else the array itself.
 */
export function packNumbers(values: unknown[]): unknown[] | Float64Array {
  if (values.length === 0) return values;
  const numbers = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== "number") return values;
    numbers[i] = value;
  }
  return numbers;
}

/** Whether a chunk's payload as it arrived is one (an array, or numbers as a Float64Array). */
export function isChunkPayload(value: unknown): value is unknown[] | Float64Array {
  return Array.isArray(value) || value instanceof Float64Array;
}
