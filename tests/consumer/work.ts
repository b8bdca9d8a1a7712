/** The module parent.ts runs in isolate children: one exported function. */
export function double(x: number): number {
  return x * 2;
}
