/**
 * The TS layer assumes nothing POSIX-only where processes meet (issue 20 item 1): how an anonymous
 * segment reaches a child is the Native adapter's `handoff` (lib/handoff.ts), exercised here with a
 * fake Windows handoff bound over the real library — the handle goes in LIBIPC_SHARED, never in
 * stdio, and is inheritable only around the spawn — and with the real one (ipc_fd_inherit clears
 * close-on-exec on Linux where Windows sets HANDLE_FLAG_INHERIT), plus the POSIX path, the child's refusal of the
 * other OS's way, signals Windows cannot send, and Windows crash codes. And a review kept by a test:
 * lib/'s code (comments aside) checks no OS and names no POSIX-only path.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import type { Readable } from "node:stream";
import { fdHandoff, handleHandoff, handoffFor, placeOf, stdioTail } from "../../lib/handoff.ts";
import { type Native, native, rebind } from "../../lib/native.ts";
import { ChildProcess, describeShared, parseShared, shared } from "../../lib/process.ts";
import { howItDied, killedBySystem, moduleUrl } from "../../lib/remote_call.ts";
import type { Harness } from "../harness.ts";

function fails(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Runs `fn` with the real binding's adapter but `handoff` swapped, and puts the adapter back after. */
async function withHandoff<T>(handoff: Native["handoff"], fn: () => T | Promise<T>): Promise<T> {
  const original = native();
  rebind({ ...original, handoff });
  try {
    return await fn();
  } finally {
    rebind(original);
  }
}

async function readAll(stream: Readable): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
  return text;
}

export default function handoffCases(h: Harness): void {
  const { SharedMemory, spawn } = h.ipc;

  h.test("handoff: with handles, spawn names the handle in LIBIPC_SHARED, not in stdio, inheritable only meanwhile", async () => {
    using seg = SharedMemory.create({ size: 4096 });
    using named = SharedMemory.create({ size: 4096, name: true });
    const calls: [number, boolean][] = [];
    const fake = {
      kind: "handle" as const,
      inheritable: (fd: number, inherit: boolean): void => void calls.push([fd, inherit]),
      closeInherited: (): void => {},
    };
    try {
      const env = await withHandoff(fake, async () => {
        assert.deepEqual(stdioTail([seg, named]), []);
        assert.deepEqual(placeOf(seg, 0), { kind: "handle", number: seg.fd });
        assert.equal(placeOf(named, 1), null);
        // A native child that prints its environment: what a Windows child would read.
        const child = await spawn("/usr/bin/env", {
          runtime: "native",
          share: [seg, named],
          stdio: ["ignore", "pipe", "inherit"],
        });
        assert.deepEqual(calls, [[seg.fd, true], [seg.fd, false]], "inheritable during the spawn call only");
        const out = await readAll(child.stdout!);
        assert.deepEqual(await child.exited, { code: 0, signal: null });
        return out.split("\n").find((line) => line.startsWith("LIBIPC_SHARED="));
      });
      assert.equal(env, `LIBIPC_SHARED=1;SharedMemory handle:${seg.fd} 0 at;SharedMemory name:${named.name} 0 at`);
      const parsed = parseShared(env!.slice("LIBIPC_SHARED=".length));
      assert.deepEqual(parsed[0].where, { handle: seg.fd });

      // A spawn that cannot start still makes the handle not inheritable again.
      calls.length = 0;
      await withHandoff(fake, async () => {
        await assert.rejects(spawn("/nonexistent/libipc-child", { runtime: "native", share: [seg] }));
      });
      assert.deepEqual(calls, [[seg.fd, true], [seg.fd, false]]);
    } finally {
      named.unlink();
    }
  });

  h.test("handoff: the handle handoff marks the segment through ipc_fd_inherit, only during the spawn", async () => {
    assert.equal(handoffFor("win32"), handleHandoff);
    assert.equal(handoffFor("windows"), handleHandoff);
    assert.equal(handoffFor("linux"), fdHandoff);
    assert.equal(handoffFor("darwin"), fdHandoff);
    using seg = SharedMemory.create({ size: 4096 });
    // On Linux ipc_fd_inherit clears close-on-exec (O_CLOEXEC, octal 02000000 in the fd's "flags:"
    // line of /proc/self/fdinfo) where Windows sets HANDLE_FLAG_INHERIT: the same call, seen here.
    const inherits = (): boolean => {
      const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${seg.fd}`, "utf8"))![1];
      return (parseInt(flags, 8) & 0o2000000) === 0;
    };
    assert.equal(inherits(), false, "segments are created not inheritable");
    handleHandoff.inheritable(seg.fd, true);
    assert.equal(inherits(), true);
    handleHandoff.inheritable(seg.fd, false);
    assert.equal(inherits(), false);
    let during: boolean | undefined;
    const spy = {
      ...handleHandoff,
      inheritable: (fd: number, inherit: boolean): void => {
        if (!inherit) during = inherits();
        handleHandoff.inheritable(fd, inherit);
      },
    };
    await withHandoff(spy, async () => {
      const child = await spawn("/usr/bin/true", { runtime: "native", share: [seg] });
      assert.deepEqual(await child.exited, { code: 0, signal: null });
    });
    assert.equal(during, true, "inheritable while the child was started");
    assert.equal(inherits(), false, "and not after");
    // A value that names nothing is an IpcError, never a crash; closing one is best effort.
    fails(() => handleHandoff.inheritable(-1, true), "EINVAL", /handle -1 inheritable: it names no open handle/);
    fails(() => handleHandoff.inheritable(0x7fff_fff0, false), "EINVAL", /not inheritable/);
    handleHandoff.closeInherited(-1);
  });

  h.test("handoff: with fds, anonymous segments take stdio slots 3, 4, ... and named ones keep their slot", () => {
    using seg = SharedMemory.create({ size: 4096 });
    using other = SharedMemory.create({ size: 4096 });
    using named = SharedMemory.create({ size: 4096, name: true });
    try {
      assert.equal(native().handoff?.kind ?? fdHandoff.kind, "fd");
      assert.deepEqual(stdioTail([seg, named, other]), [seg.fd, "ignore", other.fd]);
      assert.deepEqual(placeOf(other, 2), { kind: "fd", number: 5 });
      assert.match(
        describeShared("spawn", [seg, named, other]).text,
        /^1;SharedMemory fd:3 0 at;.*;SharedMemory fd:5 0 at$/,
      );
    } finally {
      named.unlink();
    }
  });

  h.test("handoff: the child refuses a segment passed the other OS's way, and a handle out of range", () => {
    fails(() => parseShared("1;SharedMemory handle:0 0 at"), "EPROTO", /handle 0 is outside 1\.\.2147483647/);
    fails(() => parseShared("1;SharedMemory handle:2147483648 0 at"), "EPROTO", /outside/);
    fails(() => parseShared("1;SharedMemory handle:x 0 at"), "EPROTO", /must be fd:N, handle:N or name:NAME/);
    assert.deepEqual(parseShared("1;Mutex handle:1234 0 own")[0].where, { handle: 1234 });
    const saved = process.env.LIBIPC_SHARED;
    process.env.LIBIPC_SHARED = "1;SharedMemory handle:1234 0 at";
    try {
      fails(() => shared(), "EPROTO", /entry 0 .*passed by handle, but this process receives them by fd/);
    } finally {
      if (saved === undefined) delete process.env.LIBIPC_SHARED;
      else process.env.LIBIPC_SHARED = saved;
    }
  });

  h.test("handoff: lib/ checks no OS itself and names no POSIX-only path (the adapter's data says)", () => {
    // Each pattern, and why it does not belong in lib/ (DEVELOPERS.md, "Windows and the TS layer").
    const banned: [RegExp, string][] = [
      [/process\.platform|Deno\.build|navigator\.platform/, "an OS check: make it data in Native"],
      [/["'`]\/(dev|proc|tmp)\//, "a POSIX-only path"],
      [/closeSync\(/, "closing an inherited fd: Windows passes handles (Native.handoff.closeInherited)"],
      [/process\.kill\(/, "signals to a pid: liveness is the library's (ipc_* process identity)"],
    ];
    const allowed = new Set([
      // The POSIX half of the handoff itself.
      "handoff.ts: closing an inherited fd: Windows passes handles (Native.handoff.closeInherited)",
      // Message text only (ENOSPC, EBUSY of list): where Linux keeps named segments.
      "segment.ts: a POSIX-only path",
    ]);
    const dir = `${h.paths.root}/lib`;
    const found: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      // Comments may name /dev/shm or SIGKILL; code may not. Strings keep their "//" (file:// URLs).
      const code = readFileSync(`${dir}/${file}`, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(
        /(^|[^:"'`])\/\/.*$/gm,
        "$1",
      );
      for (const [pattern, why] of banned) {
        if (pattern.test(code) && !allowed.has(`${file}: ${why}`)) {
          found.push(`lib/${file}: ${why}`);
        }
      }
    }
    assert.deepEqual(found, []);
  });

  h.test("handoff: a signal the OS cannot send is ENOTSUP, and a Windows crash code reads as a crash", () => {
    const noSuchSignal = {
      kill(): boolean {
        throw Object.assign(new Error("kill ENOSYS"), { code: "ENOSYS" });
      },
    };
    const child = new ChildProcess(noSuchSignal as never, new Promise(() => {}));
    fails(() => child.kill("SIGHUP"), "ENOTSUP", /cannot send "SIGHUP"/);

    assert.match(howItDied({ code: 0xc0000005, signal: null }), /code 0xC0000005 .*access violation/);
    assert.match(howItDied({ code: -1073741819, signal: null }), /code 0xC0000005 /);
    assert.match(howItDied({ code: 0xc00000fd, signal: null }), /stack overflow/);
    assert.equal(howItDied({ code: 3, signal: null }), "exited with code 3 before returning");
    assert.equal(killedBySystem({ code: 0xc0000409, signal: null }), true);
    assert.equal(killedBySystem({ code: 1, signal: null }), false);
    assert.equal(killedBySystem({ code: null, signal: "SIGKILL" }), true);
    assert.equal(moduleUrl("isolate", "/srv/a b/job.ts"), "file:///srv/a%20b/job.ts");
  });
}
