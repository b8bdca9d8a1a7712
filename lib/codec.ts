/**
 * Codecs: how JS values become the bytes of a message and back. "bytes" passes Uint8Arrays through;
 * "json" is UTF-8 JSON; "msgpack" is MessagePack (lib/msgpack.ts). Each gives the same bytes in
 * every runtime.
 *
 * @module
 */

import { describe, IpcError, IpcTypeError } from "./errors.ts";
import { msgpackCodec } from "./msgpack.ts";

/** Turns values of type T into bytes and back. */
export interface Codec<T> {
  /** The bytes of `value`; they may be a view the codec reuses on its next call. */
  encode(value: T, op: string): Uint8Array;
  /** The value in `bytes`; `transient`: the bytes will be overwritten, so keep a copy if needed. */
  decode(bytes: Uint8Array, transient: boolean, op: string): T;
}

/** Uint8Array in and out; a received message is a copy the caller owns. */
export const bytesCodec: Codec<Uint8Array> = {
  encode(value: Uint8Array, op: string): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new IpcTypeError(
        op,
        `a message must be a Uint8Array (or give the channel a codec), got ${describe(value)}`,
      );
    }
    return checkBytes(op, "a message", value);
  },
  decode(bytes: Uint8Array, transient: boolean, op: string): Uint8Array {
    checkBytes(op ?? "bytesCodec.decode", "bytes", bytes);
    return transient ? bytes.slice() : bytes;
  },
};

/**
 * Whether `buffer` is detached (transferred, or a segment view after `close()`). Node 20 has no
 * `ArrayBuffer.prototype.detached`; a view over a detached buffer cannot be made in any runtime.
 */
export function isDetached(buffer: ArrayBufferLike): boolean {
  const known = (buffer as { detached?: boolean }).detached;
  if (typeof known === "boolean") return known;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** `bytes`, checked to be a Uint8Array whose buffer is not detached (a detached view reads as empty). */
export function checkBytes(op: string, what: string, bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new IpcTypeError(op, `${what} must be a Uint8Array, got ${describe(bytes)}`);
  }
  if (isDetached(bytes.buffer)) {
    throw new IpcTypeError(op, `${what} is a view of a detached ArrayBuffer (transferred or closed)`);
  }
  return bytes;
}

/** Where an encoder failed in a value, and what it found there. */
interface Unencodable {
  /** Such as "value.items[3].id". */
  path: string;
  /** Such as "a bigint", "a circular reference". */
  what: string;
}

/** The most nodes `findUnencodable` visits: it runs only after a failure, but a value may be huge. */
const findLimit = 1_000_000;

/**
 * The first place in `value` that `reject` refuses (it returns what it found there), or a cycle,
 * found depth-first in the order encoders walk a value. Runs only after an encoder has failed, so it
 * costs nothing on success; `json` applies toJSON as JSON.stringify does. Returns undefined when
 * nothing is found (or the value throws while it is walked: the caller then reports the original).
 */
export function findUnencodable(
  value: unknown,
  reject: (value: unknown) => string | undefined,
  json: boolean,
): Unencodable | undefined {
  const ancestors = new Set<object>();
  let visited = 0;
  const walk = (node: unknown, key: string, path: string): Unencodable | undefined => {
    if (++visited > findLimit) return undefined;
    if (
      json && typeof node === "object" && node !== null && typeof (node as { toJSON?: unknown }).toJSON === "function"
    ) {
      node = (node as { toJSON(key: string): unknown }).toJSON(key);
    }
    const what = reject(node);
    if (what !== undefined) return { path, what };
    if (typeof node !== "object" || node === null) return undefined;
    if (ancestors.has(node)) return { path, what: "a circular reference" };
    if (ArrayBuffer.isView(node) || node instanceof ArrayBuffer) return undefined;
    ancestors.add(node);
    try {
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          const found = walk(node[i], String(i), `${path}[${i}]`);
          if (found !== undefined) return found;
        }
      } else if (node instanceof Map) {
        for (const [k, v] of node) {
          const found = walk(k, "", `${path} (a Map key)`) ?? walk(v, "", `${path}.get(${describe(k)})`);
          if (found !== undefined) return found;
        }
      } else if (node instanceof Set) {
        let i = 0;
        for (const v of node) {
          const found = walk(v, "", `${path} (Set entry ${i++})`);
          if (found !== undefined) return found;
        }
      } else {
        for (const k of Object.keys(node)) {
          const step = /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
          const found = walk((node as Record<string, unknown>)[k], k, path + step);
          if (found !== undefined) return found;
        }
      }
    } finally {
      ancestors.delete(node);
    }
    return undefined;
  };
  try {
    return walk(value, "", "value");
  } catch {
    return undefined;
  }
}

/**
 * The error to throw when `codec` could not encode `value`: an IpcTypeError naming the type and the
 * place of what it refused, or wrapping the engine's own TypeError or RangeError (with `cause`). An
 * error of another class came from the caller's code (a getter, toJSON) and is thrown unchanged.
 */
function encodeError(
  op: string,
  codec: string,
  value: unknown,
  error: unknown,
  reject: (value: unknown) => string | undefined,
  json: boolean,
): unknown {
  const found = findUnencodable(value, reject, json);
  if (found !== undefined) {
    return new IpcTypeError(op, `the ${codec} codec cannot encode ${found.what} at ${found.path}`, { cause: error });
  }
  // The engine's own errors (a nesting too deep for the stack, say) are TypeError or RangeError.
  const ctor = (error as { constructor?: unknown } | null)?.constructor;
  if (ctor === TypeError || ctor === RangeError) {
    return new IpcTypeError(op, `the ${codec} codec cannot encode ${article(value)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error;
}

/** "an object", "an array", "a Map": the kind of `value` for a message. */
function article(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) {
    const name = Object.prototype.toString.call(value).slice(8, -1);
    return name === "Object" ? "an object" : `a ${name}`;
  }
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

function jsonRejects(value: unknown): string | undefined {
  return typeof value === "bigint" ? "a bigint" : undefined;
}

/** What msgpackr refuses: symbols, and buffers whose memory is gone. */
export function msgpackRejects(value: unknown): string | undefined {
  if (typeof value === "symbol") return "a symbol";
  if (value instanceof ArrayBuffer && isDetached(value)) return "a detached ArrayBuffer";
  if (ArrayBuffer.isView(value) && isDetached(value.buffer)) {
    return "a view of a detached ArrayBuffer";
  }
  return undefined;
}

/** Runs `encode`, turning its failure into the error `encodeError` chooses. */
export function encodeWith<R>(
  op: string,
  codec: "JSON" | "MessagePack",
  value: unknown,
  encode: () => R,
): R {
  try {
    return encode();
  } catch (error) {
    throw codec === "JSON"
      ? encodeError(op, codec, value, error, jsonRejects, true)
      : encodeError(op, codec, value, error, msgpackRejects, false);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Where JSON text is encoded (encodeInto a kept buffer: no allocation per message; much faster in Deno). */
let jsonBuffer = new Uint8Array(4096);

/** UTF-8 JSON: what JSON.stringify keeps (no undefined, Map, Uint8Array or bigint). */
export const jsonCodec: Codec<unknown> = {
  encode(value: unknown, op: string): Uint8Array {
    const text = encodeWith(op, "JSON", value, () => JSON.stringify(value));
    if (text === undefined) throw new IpcTypeError(op, `${describe(value)} has no JSON form`);
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (text.length * 3 > jsonBuffer.byteLength) jsonBuffer = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, jsonBuffer);
    return jsonBuffer.subarray(0, written);
  },
  decode(bytes: Uint8Array, _transient: boolean, op: string): unknown {
    checkBytes(op, "bytes", bytes);
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new IpcError(op, "EPROTO", `a message is not JSON (${(error as Error).message})`);
    }
  },
};

/** The codec an options object names. */
export function codecOf<T>(op: string, codec: "bytes" | "json" | "msgpack" | Codec<T> | undefined): Codec<T> {
  if (codec === undefined || codec === "bytes") return bytesCodec as unknown as Codec<T>;
  if (codec === "json") return jsonCodec as Codec<T>;
  if (codec === "msgpack") return msgpackCodec as Codec<T>;
  if (
    typeof codec === "object" && codec !== null && typeof codec.encode === "function" &&
    typeof codec.decode === "function"
  ) {
    return codec;
  }
  throw new IpcTypeError(op, `codec must be "bytes", "json", "msgpack" or { encode, decode }, got ${describe(codec)}`);
}
