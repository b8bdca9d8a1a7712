/**
 * Names of shared objects: explanations for name errors, and generated unique names. The rules
 * themselves live in native code (zig/name.zig) so that every language applies the same ones.
 *
 * @module
 */

import { NAME_MAX } from "./abi.ts";
import { checked } from "./call.ts";
import { describe, type ErrorCode } from "./errors.ts";
import { native } from "./native.ts";

const encoder = new TextEncoder();

/** The message for a name error, or undefined if `code` is not one. */
export function explainName(code: ErrorCode, name: unknown): string | undefined {
  if (code === "ENAMETOOLONG" && typeof name === "string") {
    const bytes = encoder.encode(name.startsWith("/") ? name : "/" + name).length;
    return `name ${describe(name)} is ${bytes} bytes with its leading "/"; the limit is ${NAME_MAX}`;
  }
  if (code === "EINVAL" && typeof name === "string") {
    return `name ${describe(name)} is invalid: a name is an optional "/" and 1 to ${NAME_MAX - 1} ` +
      `characters of A-Z a-z 0-9 . _ - (the first not "." or "-"); "ipc." starts only generated names`;
  }
  return undefined;
}

/**
 * A fresh name carrying this process's pid and start time, such as "/ipc.2a3f.1x9k2b.0d8s7q1m".
 * Only this process may create an object with it, and a sweep removes it after this process dies.
 */
export function uniqueName(): string {
  const buf = new Uint8Array(NAME_MAX + 1);
  checked("uniqueName", native().symbols.ipc_name_generate(buf, buf.length));
  return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
}
