/**
 * Segments across processes and runtimes: attach by name, hand an anonymous segment to a child
 * through an inherited fd, and sweep the generated name of a creator killed with SIGKILL.
 */

import assert from "node:assert/strict";
import { command, type Harness, run } from "../harness.ts";
import * as programs from "./programs.ts";

const slot = 128;

export default function segment(h: Harness): void {
  const { SharedMemory } = h.ipc;
  const other = programs.other(h.runtime);
  const otherLabel = programs.label(other);

  h.test(
    `mp segment: ${h.runtime} creates by name; ${otherLabel} and C attach and see each other's writes`,
    async () => {
      using seg = SharedMemory.create({ size: 4 * slot, name: true });
      const name = seg.name!;
      try {
        const text = (i: number) => {
          const bytes = seg.bytes(i * slot, slot);
          return new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
        };
        new TextEncoder().encodeInto(`${h.runtime} wrote slot 0\0`, seg.bytes(0, slot));
        await run(h, other, ["segment", "write", name, String(slot), `${otherLabel} wrote slot 1`]);
        assert.equal(text(1), `${otherLabel} wrote slot 1`);
        // C reads what the other runtime wrote, then adds its own part; the other runtime reads C's.
        assert.equal(
          (await run(h, programs.c, ["segment", "read", name, String(slot)])).trim(),
          `${otherLabel} wrote slot 1`,
        );
        assert.equal((await run(h, programs.c, ["segment", "read", name, "0"])).trim(), `${h.runtime} wrote slot 0`);
        await run(h, programs.c, ["segment", "write", name, String(2 * slot), "C wrote slot 2"]);
        assert.equal((await run(h, other, ["segment", "read", name, String(2 * slot)])).trim(), "C wrote slot 2");
        assert.equal((await run(h, other, ["segment", "read", name, "0"])).trim(), `${h.runtime} wrote slot 0`);
        const sizeLine = await run(h, programs.c, ["segment", "write", name, String(3 * slot), "C again"]);
        assert.equal(sizeLine.trim(), `size ${4 * slot}`);
        assert.deepEqual([0, 1, 2, 3].map(text), [
          `${h.runtime} wrote slot 0`,
          `${otherLabel} wrote slot 1`,
          "C wrote slot 2",
          "C again",
        ]);
      } finally {
        seg.unlink();
      }
      assert.equal(
        (await run(h, programs.c, ["segment", "read", name, "0"]).catch((e) => String(e))).includes("error ENOENT"),
        true,
      );
    },
    { timeoutMs: 60_000 },
  );

  for (const { label, program } of programs.all) {
    h.test(`mp segment: an anonymous segment reaches a ${label} child as inherited fd 3`, async () => {
      using seg = SharedMemory.create({ size: 1024 });
      new TextEncoder().encodeInto(`from ${h.runtime}\0`, seg.bytes(0, 64));
      const out = await run(h, program, ["segment", "write", "fd:3", "512", `${label} got fd 3`], { fds: [seg.fd] });
      assert.equal(out.trim(), "size 1024");
      const back = seg.bytes(512, 64);
      assert.equal(new TextDecoder().decode(back.subarray(0, back.indexOf(0))), `${label} got fd 3`);
      const read = await run(h, program, ["segment", "read", "fd:3", "0"], { fds: [seg.fd] });
      assert.equal(read.trim(), `from ${h.runtime}`);
    }, { timeoutMs: 60_000 });
  }

  for (const { label, program } of programs.all) {
    h.test(`mp segment: sweep removes the generated name of a ${label} creator killed with SIGKILL`, async () => {
      const child = h.spawn(command(h, program, ["segment", "hold"]));
      const name = await child.line();
      assert.match(name, /^\/ipc\./, `child said ${JSON.stringify(name)}`);
      try {
        SharedMemory.sweep();
        using alive = SharedMemory.open(name); // a live creator's segment survives the sweep
        assert.equal(alive.creator.pid, child.pid);
      } finally {
        child.kill("SIGKILL");
      }
      const exit = await child.exited;
      assert.equal(exit.signal, "SIGKILL");
      assert.ok(SharedMemory.sweep() >= 1);
      assert.throws(() => SharedMemory.open(name), { code: "ENOENT" });
    }, { timeoutMs: 60_000 });
  }
}
