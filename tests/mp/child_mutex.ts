/**
 * The mutex commands of the TypeScript participant (same arguments as tests/c/child_mutex.c). The
 * segment holds a mutex at `offset` and, for "sum", a 64-bit sum at offset + 64:
 *   mutex sum <segment> <offset> <i> <sync|async>   print "ready", then 99 times: lock, add
 *                                                   i*j - i + i^4 (j = 1..99), unlock; print "done"
 *   mutex hold <segment> <offset>                   lock, print "locked", wait to be killed
 *   mutex lock <segment> <offset> <sync|async>      print "waiting", lock, print "acquired
 *                                                   <ownerDied 0|1> <now ns>", repair, unlock
 *   mutex exit <segment> <offset>                   (held elsewhere) a lock that times out and one
 *                                                   cancelled by close(); print "ok" and end: the
 *                                                   process must then exit by itself
 */

import type { IpcModule } from "../harness.ts";

export async function mutexCommand(ipc: IpcModule, args: string[]): Promise<number> {
  const [command, segmentName, offsetText, arg] = args;
  const seg = ipc.SharedMemory.open(segmentName);
  const offset = Number(offsetText);
  const m = ipc.Mutex.at(seg, offset);
  switch (command) {
    case "sum": {
      const i = Number(arg);
      const mode = args[4];
      const total = seg.view(BigUint64Array, offset + ipc.MUTEX_SIZE, 1);
      console.log("ready");
      for (let j = 1; j <= 99; j++) {
        if (mode === "async") await m.lock();
        else m.lockSync();
        total[0] += BigInt(i * j - i + i ** 4);
        m.unlock();
      }
      console.log("done");
      seg.close();
      return 0;
    }
    case "hold":
      m.lockSync();
      console.log("locked");
      await new Promise(() => setInterval(() => {}, 1 << 30));
      return 0;
    case "lock": {
      console.log("waiting");
      const state = arg === "async" ? await m.lock() : m.lockSync();
      const at = ipc.now();
      console.log(`acquired ${state.ownerDied ? 1 : 0} ${at}`);
      if (state.ownerDied) m.consistent();
      m.unlock();
      seg.close();
      return 0;
    }
    case "exit": {
      const timedOut = await m.lock({ timeout: 30 }).then(() => "locked", (e) => e.code);
      const pending = m.lock();
      m.close();
      const closed = await pending.then(() => "locked", (e) => e.code);
      if (timedOut !== "ETIMEDOUT" || closed !== "ECLOSED") {
        console.log(`unexpected ${timedOut} ${closed}`);
        return 1;
      }
      console.log("ok");
      seg.close();
      return 0;
    }
    default:
      console.error(`unknown command mutex ${args.join(" ")}`);
      return 64;
  }
}
