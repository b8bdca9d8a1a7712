/**
 * Errors. Every error libipc throws is recognized by `instanceof IpcError` and carries `code` (such
 * as "EEXIST"), `errno` (the negative libipc result code) and `op` (the operation, such as
 * "SharedMemory.open"); its message names the value that was wrong and the limit it broke.
 * Argument errors are thrown before any native call, as `IpcTypeError` (a TypeError) or
 * `IpcRangeError` (a RangeError), so they are also what plain JS expects.
 *
 * @module
 */

import { RESULT_CODES, type ResultCode } from "./abi.ts";

const brand: unique symbol = Symbol.for("libipc.IpcError");

/** The name of a result code, or "EUNKNOWN" for a code this binding does not know. */
export type ErrorCode = ResultCode | "EUNKNOWN";

function errnoOf(code: ErrorCode): number {
  return typeof code === "string" && Object.hasOwn(RESULT_CODES, code) ? RESULT_CODES[code as ResultCode] : 0;
}

/** `value` as message text; never throws, since an error's constructor must not. */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}

/** An operation failed. */
export class IpcError extends Error {
  /** The result code's name, such as "ETIMEDOUT". */
  readonly code: ErrorCode;
  /** The libipc result code, a negative number. */
  readonly errno: number;
  /** The operation that failed, such as "SharedMemory.create". */
  readonly op: string;

  /** `errno` overrides the code's number: the raw result of a code this binding does not know. */
  constructor(op: string, code: ErrorCode, message: string, options?: ErrorOptions & { errno?: number }) {
    super(`${text(op)}: ${text(message)} (${text(code)})`, options);
    this.name = "IpcError";
    this.code = code;
    this.errno = options?.errno ?? errnoOf(code);
    this.op = op;
  }

  /** True for every error libipc throws, including IpcTypeError and IpcRangeError. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && brand in value;
  }
}

/** An argument had the wrong type. Also a TypeError. */
export class IpcTypeError extends TypeError {
  readonly code: ErrorCode = "EINVAL";
  readonly errno: number = RESULT_CODES.EINVAL;
  readonly op: string;

  constructor(op: string, message: string, options?: ErrorOptions) {
    super(`${text(op)}: ${text(message)} (EINVAL)`, options);
    this.name = "IpcTypeError";
    this.op = op;
  }
}

/** An argument was out of its allowed range. Also a RangeError. */
export class IpcRangeError extends RangeError {
  readonly code: ErrorCode;
  readonly errno: number;
  readonly op: string;

  constructor(op: string, code: ErrorCode, message: string) {
    super(`${text(op)}: ${text(message)} (${text(code)})`);
    this.name = "IpcRangeError";
    this.code = code;
    this.errno = errnoOf(code);
    this.op = op;
  }
}

for (const cls of [IpcError, IpcTypeError, IpcRangeError]) {
  Object.defineProperty(cls.prototype, brand, { value: true });
}

const codeNames = new Map<number, ResultCode>(
  Object.entries(RESULT_CODES).map(([name, value]) => [value, name as ResultCode]),
);

/** The name of result code `rc`. */
export function codeName(rc: number): ErrorCode {
  return codeNames.get(rc) ?? "EUNKNOWN";
}

/**
 * Returns `rc` when it is not an error; otherwise throws an IpcError for `op`. `explain` may turn
 * the code into a message naming the value and the limit; `fallback` (the library's own text) is
 * used when it returns undefined.
 */
export function check(
  op: string,
  rc: number,
  fallback: (rc: number) => string,
  explain?: (code: ErrorCode) => string | undefined,
): number {
  if (rc >= 0) return rc;
  const code = codeName(rc);
  throw new IpcError(op, code, explain?.(code) ?? `${fallback(rc)} (result ${rc})`, { errno: rc });
}

/**
 * Checks that `value` is an integer in [min, max]; throws IpcTypeError or IpcRangeError. Returns it
 * with -0 turned into 0: -0 === 0 in JS, so it is accepted, but Deno's FFI refuses -0 as an integer
 * argument, so callers pass on the returned value, never `value` itself.
 */
export function checkInteger(op: string, what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number") {
    throw new IpcTypeError(op, `${what} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new IpcRangeError(op, "EINVAL", `${what} must be an integer of at least ${min}, got ${value}`);
  }
  if (value > max) {
    throw new IpcRangeError(op, "ERANGE", `${what} ${value} exceeds the limit of ${max}`);
  }
  return value + 0;
}

/** A short description of a value for messages. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}

/**
 * `options` as an object to read fields from: {} when undefined, IpcTypeError for anything else that
 * is not an object (null included). `example` shows a valid one in the message.
 */
export function optionsOf<T extends object>(op: string, options: T | undefined, example: string): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null) {
    throw new IpcTypeError(op, `options must be an object such as ${example}, got ${describe(options)}`);
  }
  return options;
}

/** Checks that `value` is a function; throws IpcTypeError naming `what`. */
export function checkFunction<F>(op: string, what: string, value: F): F {
  if (typeof value !== "function") throw new IpcTypeError(op, `${what} must be a function, got ${describe(value)}`);
  return value;
}
