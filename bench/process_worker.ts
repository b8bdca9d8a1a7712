/**
 * The peers' worker thread for the process benchmark (bench/process.ts): a Web Worker in Bun and in
 * Deno. Each message is one chunk, `{ id, name, items }`; it answers `{ id, out }` with the function
 * of bench/process_work.ts applied to every item, or `{ id, error }`.
 */
import * as work from "./process_work.ts";
import type { Chunk, ChunkReply } from "./process.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: { data: Chunk }) => void) | null;
  postMessage(message: ChunkReply): void;
};

scope.onmessage = ({ data }) => {
  try {
    const fn = (work as Record<string, (item: never) => unknown>)[data.name];
    scope.postMessage({ id: data.id, out: data.items.map((item) => fn(item as never)) });
  } catch (error) {
    scope.postMessage({ id: data.id, error: String(error) });
  }
};
