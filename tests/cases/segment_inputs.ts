/** Every bad input to SharedMemory gets its own IpcError, thrown before or by native code, never a crash. */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import type { Harness } from "../harness.ts";
import { testName } from "../harness.ts";

export default function segmentInputs(h: Harness): void {
  const { SharedMemory, IpcError, SEGMENT_SIZE_MAX } = h.ipc;

  /** Asserts `fn` throws a libipc error with `code`, of class `name`, whose message contains `text`. */
  function fails(fn: () => unknown, code: string, name: string, text?: RegExp): void {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof IpcError, `not an IpcError: ${e}`);
      const err = e as Error & { code: string; errno: number; op: string };
      assert.equal(err.code, code, err.message);
      assert.equal(err.name, name, err.message);
      assert.equal(err.errno, h.ipc.RESULT_CODES[code as keyof typeof h.ipc.RESULT_CODES]);
      assert.match(err.op, /^SharedMemory\./);
      if (text) assert.match(err.message, text);
      return true;
    });
  }

  h.test("segment inputs: sizes that are not positive integers, or beyond the limit", () => {
    const create = (size: unknown) => () => SharedMemory.create({ size } as { size: number });
    fails(create(0), "EINVAL", "IpcRangeError", /size must be an integer of at least 1, got 0/);
    fails(create(-1), "EINVAL", "IpcRangeError", /got -1/);
    fails(create(NaN), "EINVAL", "IpcRangeError", /got NaN/);
    fails(create(1.5), "EINVAL", "IpcRangeError", /got 1.5/);
    fails(create(Infinity), "EINVAL", "IpcRangeError");
    fails(create("10"), "EINVAL", "IpcTypeError", /size must be a number, got "10"/);
    fails(create(undefined), "EINVAL", "IpcTypeError");
    fails(create(SEGMENT_SIZE_MAX + 1), "ERANGE", "IpcRangeError", /exceeds the limit of 140737488355328/);
    fails(() => SharedMemory.create(null as unknown as { size: number }), "EINVAL", "IpcTypeError");
  });

  h.test("segment inputs: a size larger than the system can hold names the limit", () => {
    fails(() => SharedMemory.create({ size: 2 ** 46 }), "ENOSPC", "IpcError", /more than the \d+ bytes RAM plus swap/);
    fails(
      () => SharedMemory.create({ size: 2 ** 46, name: true }),
      "ENOSPC",
      "IpcError",
      /more than the \d+ bytes \/dev\/shm/,
    );
  });

  h.test("segment inputs: bad names", () => {
    const open = (name: unknown) => () => SharedMemory.open(name as string);
    fails(open(""), "EINVAL", "IpcError", /is invalid/);
    fails(open("/"), "EINVAL", "IpcError");
    fails(open("a/b"), "EINVAL", "IpcError");
    fails(open("//a"), "EINVAL", "IpcError");
    fails(open("café"), "EINVAL", "IpcError");
    fails(open(".."), "EINVAL", "IpcError");
    fails(open("ipc.fake"), "EINVAL", "IpcError");
    fails(open("a".repeat(31)), "ENAMETOOLONG", "IpcError", /is 32 bytes with its leading "\/"; the limit is 31/);
    fails(open("a\0b"), "EINVAL", "IpcError", /contains a NUL/);
    fails(open(42), "EINVAL", "IpcTypeError", /name must be a string/);
    fails(() => SharedMemory.create({ size: 8, name: 7 as unknown as string }), "EINVAL", "IpcTypeError");
    fails(() => SharedMemory.create({ size: 8, name: "x".repeat(40) }), "ENAMETOOLONG", "IpcError");
    fails(() => SharedMemory.create({ size: 8, mode: 0o1000 }), "ERANGE", "IpcRangeError");
    fails(() => SharedMemory.create({ size: 8, reserve: 1 as unknown as boolean }), "EINVAL", "IpcTypeError");
  });

  h.test("segment inputs: opening a missing name, and creating an existing one", () => {
    fails(() => SharedMemory.open(testName("missing")), "ENOENT", "IpcError", /no segment named/);
    const name = testName("exists");
    using seg = SharedMemory.create({ size: 8, name });
    try {
      fails(() => SharedMemory.create({ size: 8, name }), "EEXIST", "IpcError", /already exists/);
    } finally {
      seg.unlink();
    }
    fails(() => SharedMemory.unlink(name), "ENOENT", "IpcError");
    using anon = SharedMemory.create({ size: 8 });
    fails(() => anon.unlink(), "EINVAL", "IpcError", /anonymous/);
  });

  h.test("segment inputs: a plain file in /dev/shm is refused, and never unlinked", () => {
    const name = testName("plain");
    const path = `/dev/shm/${name}`;
    writeFileSync(path, "hello, I am not a segment".repeat(10), { mode: 0o600 });
    try {
      fails(() => SharedMemory.open(name), "EPROTO", "IpcError", /not a libipc segment/);
      fails(() => SharedMemory.unlink(name), "EPROTO", "IpcError");
      assert.ok(existsSync(path));
      writeFileSync(path, "");
      fails(() => SharedMemory.open(name), "EPROTO", "IpcError");
    } finally {
      unlinkSync(path);
    }
  });

  h.test("segment inputs: a segment of another ABI version, and a damaged or truncated one", () => {
    const name = testName("abi");
    const path = `/dev/shm/${name}`;
    const seg = SharedMemory.create({ size: 64, name });
    const image = readFileSync(path);
    seg.unlink();
    seg.close();
    const other = Buffer.from(image);
    other.writeUInt32LE(999, 8); // abi_version
    writeFileSync(path, other, { mode: 0o600 });
    try {
      fails(() => SharedMemory.open(name), "EVERSION", "IpcError", /another ABI version/);
      const damaged = Buffer.from(image);
      damaged.writeUInt32LE(damaged.readUInt32LE(24) + 1, 24); // size_bytes, checksum now wrong
      writeFileSync(path, damaged);
      fails(() => SharedMemory.open(name), "EPROTO", "IpcError");
      writeFileSync(path, image.subarray(0, 150)); // header intact, data cut short
      fails(() => SharedMemory.open(name), "EPROTO", "IpcError", /truncated/);
      writeFileSync(path, image);
      using ok = SharedMemory.open(name);
      assert.equal(ok.size, 64);
    } finally {
      unlinkSync(path);
    }
  });

  h.test("segment inputs: bad fds and bad views", () => {
    fails(() => SharedMemory.fromFd(-1), "EINVAL", "IpcRangeError");
    fails(() => SharedMemory.fromFd(1.5), "EINVAL", "IpcRangeError");
    fails(() => SharedMemory.fromFd(987654), "EINVAL", "IpcError", /not an open file descriptor/);
    const file = openSync(`${h.paths.root}/package.json`, "r");
    try {
      fails(() => SharedMemory.fromFd(file), "EPROTO", "IpcError");
    } finally {
      closeSync(file);
    }
    using seg = SharedMemory.create({ size: 100 });
    fails(
      () => seg.view(Int32Array, 2),
      "EALIGN",
      "IpcRangeError",
      /not a multiple of 4, the element size of Int32Array/,
    );
    fails(
      () => seg.view(Float64Array, 96, 1),
      "ERANGE",
      "IpcRangeError",
      /end at byte 104, past the segment's 100 bytes/,
    );
    fails(() => seg.bytes(101), "ERANGE", "IpcRangeError");
    fails(() => seg.bytes(-1), "EINVAL", "IpcRangeError");
    fails(() => seg.bytes(0, 101), "ERANGE", "IpcRangeError");
    fails(() => seg.view(Object as never), "EINVAL", "IpcTypeError");
    assert.equal(seg.bytes(100).length, 0);
  });
}
