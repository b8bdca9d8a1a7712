/** The error classes: one `instanceof IpcError` for every libipc error, with code, errno and op. */

import assert from "node:assert/strict";
import type { Harness } from "../harness.ts";

export default function errors(h: Harness): void {
  const { IpcError, IpcRangeError, IpcTypeError, RESULT_CODES } = h.ipc;

  h.test("errors: IpcError carries code, errno and op, and says them in its message", () => {
    const e = new IpcError("Thing.do", "ETIMEDOUT", "waited 5 ms");
    assert.ok(e instanceof Error);
    assert.ok(e instanceof IpcError);
    assert.equal(e.name, "IpcError");
    assert.equal(e.code, "ETIMEDOUT");
    assert.equal(e.errno, RESULT_CODES.ETIMEDOUT);
    assert.equal(e.op, "Thing.do");
    assert.equal(e.message, "Thing.do: waited 5 ms (ETIMEDOUT)");
    assert.ok(!(e instanceof RangeError));
  });

  h.test("errors: argument errors are both IpcErrors and the standard JS error types", () => {
    const r = new IpcRangeError("Thing.do", "ERANGE", "too big");
    assert.ok(r instanceof RangeError && r instanceof IpcError);
    assert.equal(r.errno, RESULT_CODES.ERANGE);
    const t = new IpcTypeError("Thing.do", "not a number");
    assert.ok(t instanceof TypeError && t instanceof IpcError);
    assert.equal(t.code, "EINVAL");
    assert.ok(!(new RangeError("x") instanceof IpcError));
    assert.ok(!((null as unknown) instanceof IpcError));
  });

  h.test("errors: result codes are distinct negative numbers, with the two documented non-errors", () => {
    const values = Object.values(RESULT_CODES);
    assert.equal(new Set(values).size, values.length);
    for (const [name, value] of Object.entries(RESULT_CODES)) {
      if (name === "OK") assert.equal(value, 0);
      else if (name === "OWNER_DIED") assert.equal(value, 1);
      else assert.ok(value < 0, name);
    }
  });
}
