/**
 * The "msgpack" codec: msgpackr (2.1.3, MIT, no required dependencies) configured to be stateless
 * and deterministic, so that Bun, Deno and any other MessagePack reader agree on every message:
 * no record structures shared between messages, and typed arrays kept as typed arrays.
 *
 * Chosen over @msgpack/msgpack, cbor-x, cborg and JSON after measuring them in Bun and Deno on
 * these machines (DEVELOPERS.md): all produced the same bytes in both runtimes; msgpackr decoded
 * fastest in Deno, encodes into a reusable buffer, and round-trips bigint, Date, Set and typed
 * arrays (with `moreTypes`; without it a Float64Array is silently truncated).
 *
 * @module
 */

import { checkBytes, type Codec, encodeWith } from "./codec.ts";
import { IpcError } from "./errors.ts";
import { native, type PackrClass } from "./native.ts";

// The binding imports "msgpackr/pack" (the adapter's `Packr`): the whole pure-JS library (index.js under
// the bun and node conditions) without the entry that loads the optional native string extractor, whose
// load costs ~17 ms at every process start (isolate, Pool workers) and did not decode our messages
// measurably faster. Made at first use: this module is evaluated before the binding calls bind().
let made: InstanceType<PackrClass> | undefined;

function packr(): InstanceType<PackrClass> {
  made ??= new (native().Packr)({ useRecords: false, variableMapSize: true, moreTypes: true, copyBuffers: true });
  return made;
}

/** MessagePack through msgpackr: what structured clone keeps, mostly (Map comes back as an object). */
export const msgpackCodec: Codec<unknown> = {
  encode(value: unknown, op: string): Uint8Array {
    return encodeWith(op, "MessagePack", value, () => packr().pack(value));
  },
  decode(bytes: Uint8Array, _transient: boolean, op: string): unknown {
    checkBytes(op, "bytes", bytes);
    try {
      return packr().unpack(bytes);
    } catch (error) {
      throw new IpcError(op, "EPROTO", `a message is not MessagePack (${(error as Error).message})`);
    }
  },
};
