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
