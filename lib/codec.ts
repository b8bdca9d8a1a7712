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
    if (value instanceof Uint8Array) return value;
    throw new IpcTypeError(op, `a message must be a Uint8Array (or give the channel a codec), got ${describe(value)}`);
  },
  decode(bytes: Uint8Array, transient: boolean): Uint8Array {
    return transient ? bytes.slice() : bytes;
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Where JSON text is encoded (encodeInto a kept buffer: no allocation per message; much faster in Deno). */
let jsonBuffer = new Uint8Array(4096);

/** UTF-8 JSON: what JSON.stringify keeps (no undefined, Map, Uint8Array or bigint). */
export const jsonCodec: Codec<unknown> = {
  encode(value: unknown, op: string): Uint8Array {
    const text = JSON.stringify(value);
    if (text === undefined) throw new IpcTypeError(op, `${describe(value)} has no JSON form`);
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (text.length * 3 > jsonBuffer.byteLength) jsonBuffer = new Uint8Array(text.length * 3);
    const { written } = encoder.encodeInto(text, jsonBuffer);
    return jsonBuffer.subarray(0, written);
  },
  decode(bytes: Uint8Array, _transient: boolean, op: string): unknown {
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
