/**
 * The cleanup commands of the TypeScript participant (same arguments as tests/c/child_cleanup.c):
 *   cleanup work <name>    create a tracked segment with a generated name (the tracker starts with
 *                          it), a tracked segment called <name> and a tracked Chan called <name>c,
 *                          print the three names on one line, then work on them until killed
 *   cleanup leave <name>   create an untracked segment with a generated name and one called <name>,
 *                          print both names, and exit without unlinking them
 *   cleanup loaded         print how many names the sweep at load removed ("null": turned off)
 */

import type { IpcModule } from "../harness.ts";

export async function cleanupCommand(ipc: IpcModule, args: string[]): Promise<number> {
  const [command, name] = args;
  if (command === "work" && name !== undefined) {
    const generated = ipc.SharedMemory.create({ size: 4096, name: true, track: true });
    const named = ipc.SharedMemory.create({ size: 4096, name, track: true });
    const chan = ipc.Chan.create({ name: `${name}c`, capacity: 4096, track: true });
    console.log(`${generated.name} ${named.name} ${chan.name}`);
    const bytes = named.bytes();
    let i = 0;
    // A workload the kill interrupts: writes to the segment and messages through the channel.
    setInterval(() => {
      for (let k = 0; k < 100; k++, i++) {
        bytes[i % bytes.length] = i & 0xff;
        chan.trySend(bytes.subarray(0, 16));
        chan.tryRecv();
      }
    }, 1);
    await new Promise(() => {}); // until killed
  }
  if (command === "leave" && name !== undefined) {
    const generated = ipc.SharedMemory.create({ size: 4096, name: true });
    const named = ipc.SharedMemory.create({ size: 4096, name });
    console.log(`${generated.name} ${named.name}`);
    return 0;
  }
  if (command === "loaded") {
    console.log(String(ipc.libraryInfo().sweptOnLoad));
    return 0;
  }
  console.error(`usage: cleanup work|leave <name>, cleanup loaded, got ${args.join(" ")}`);
  return 64;
}
