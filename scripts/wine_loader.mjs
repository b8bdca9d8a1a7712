// Where Wine's loader is: LIBIPC_WINE, else Debian's wine64 (its loader lives outside PATH, in
// /usr/lib/wine). Shared by the `wine` test step (scripts/wine.mjs) and the bench's Windows rows
// (bench/run.ts, group "windows").

import { existsSync } from "node:fs";

/** The paths looked at, in order. */
export const wineCandidates = [process.env.LIBIPC_WINE, "/usr/lib/wine/wine64", "/usr/bin/wine64", "/usr/bin/wine"]
  .filter(Boolean);

/** The first candidate that exists, or undefined. */
export function findWine() {
  return wineCandidates.find((path) => existsSync(path));
}
