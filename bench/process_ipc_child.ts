/**
 * The Bun.spawn ipc peer's child for the process benchmark (bench/process.bun.ts): each message from
 * the parent (`process.send` channel, "advanced" serialization) is one chunk, `{ id, name, items }`;
 * it answers `{ id, out }` with the function of bench/process_work.ts applied to every item, or
 * `{ id, error }`. It exits when the channel closes.
 */
import process from "node:process";
import * as work from "./process_work.ts";
import type { Chunk } from "./process.ts";

process.on("message", (data: Chunk) => {
  try {
    const fn = (work as Record<string, (item: never) => unknown>)[data.name];
    process.send!({ id: data.id, out: data.items.map((item) => fn(item as never)) });
  } catch (error) {
    process.send!({ id: data.id, error: String(error) });
  }
});
process.on("disconnect", () => process.exit(0));
