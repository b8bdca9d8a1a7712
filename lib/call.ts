/**
 * Small helpers every class uses to call into libipc: C strings, pointer out-parameters, and
 * result checking with the library's own error texts.
 *
 * @module
 */

import { check, describe, type ErrorCode, IpcError, IpcTypeError } from "./errors.ts";
import { native, type Pointer } from "./native.ts";

const encoder = new TextEncoder();
const texts = new Map<number, string>();

/** The library's description of result code `rc`. */
export function strerror(rc: number): string {
  let text = texts.get(rc);
  if (text === undefined) {
    const pointer = native().symbols.ipc_strerror(rc);
    text = pointer === null ? "unknown result code" : native().cstring(pointer);
    texts.set(rc, text);
  }
  return text;
}

/** Throws an IpcError for `op` unless `rc` is a success; returns `rc`. */
export function checked(op: string, rc: number, explain?: (code: ErrorCode) => string | undefined): number {
  return check(op, rc, strerror, explain);
}

/** `value` as a NUL-terminated UTF-8 C string. A string with a NUL inside is refused. */
export function cString(op: string, what: string, value: unknown): Uint8Array {
  if (typeof value !== "string") throw new IpcTypeError(op, `${what} must be a string, got ${describe(value)}`);
  if (value.includes("\0")) {
    throw new IpcError(op, "EINVAL", `${what} ${describe(value)} contains a NUL character`);
  }
  return encoder.encode(value + "\0");
}

/** A one-pointer out-parameter cell, and the pointer the call stored in it. */
export function pointerOut(): BigUint64Array {
  return new BigUint64Array(1);
}

/** The non-null pointer a successful call stored in `cell`. */
export function takePointer(op: string, cell: BigUint64Array): Pointer {
  const pointer = native().readPointer(cell);
  if (pointer === null) throw new IpcError(op, "EIO", "libipc reported success but returned no handle");
  return pointer;
}
