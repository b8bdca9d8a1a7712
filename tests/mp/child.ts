/**
 * A TypeScript participant for the multi-process tests, run under Bun (child.bun.ts) or Deno
 * (child.deno.ts). It takes the same arguments as the C participant (tests/c/child.c):
 *   segment write <name|fd:N> <offset> <text>   attach, write text and a NUL at offset, print "size N"
 *   segment read <name|fd:N> <offset>           attach, print the NUL-terminated string at offset
 *   segment hold                                create a segment with a generated name, print the
 *                                               name, then wait to be killed
 *   mutex ...                                   see child_mutex.ts
 *   sync ...                                    see child_sync.ts
 *   heap ...                                    see child_heap.ts
 *   chan ...                                    see child_chan.ts
 *   cleanup ...                                 see child_cleanup.ts
 *   kill ...                                    see child_kill.ts
 *   fuzz ...                                    see child_fuzz.ts
 *   info                                        print the loaded library's path
 * Errors print "error <CODE>" and return 2.
 */

import type { IpcModule } from "../harness.ts";
import { mutexCommand } from "./child_mutex.ts";
import { syncCommand } from "./child_sync.ts";
import { heapCommand } from "./child_heap.ts";
import { chanCommand } from "./child_chan.ts";
import { cleanupCommand } from "./child_cleanup.ts";
import { killCommand } from "./child_kill.ts";
import { fuzzCommand } from "./child_fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function main(ipc: IpcModule, args: string[]): Promise<number> {
  const attach = (spec: string) =>
    spec.startsWith("fd:") ? ipc.SharedMemory.fromFd(Number(spec.slice(3))) : ipc.SharedMemory.open(spec);
  try {
    if (args[0] === "mutex") return await mutexCommand(ipc, args.slice(1));
    if (args[0] === "sync") return await syncCommand(ipc, args.slice(1));
    if (args[0] === "heap") return await heapCommand(ipc, args.slice(1));
    if (args[0] === "chan") return await chanCommand(ipc, args.slice(1));
    if (args[0] === "cleanup") return await cleanupCommand(ipc, args.slice(1));
    if (args[0] === "kill") return await killCommand(ipc, args.slice(1));
    if (args[0] === "fuzz") return fuzzCommand(ipc, args.slice(1));
    switch (`${args[0]} ${args[1] ?? ""}`.trim()) {
      case "segment write": {
        using seg = attach(args[2]);
        const text = encoder.encode(args[4] + "\0");
        seg.bytes(Number(args[3]), text.length).set(text);
        console.log(`size ${seg.size}`);
        return 0;
      }
      case "segment read": {
        using seg = attach(args[2]);
        const bytes = seg.bytes(Number(args[3]));
        const end = bytes.indexOf(0);
        console.log(decoder.decode(bytes.slice(0, end < 0 ? bytes.length : end)));
        return 0;
      }
      case "segment hold": {
        const seg = ipc.SharedMemory.create({ size: 4096, name: true });
        console.log(seg.name);
        await new Promise(() => setInterval(() => {}, 1 << 30));
        return 0;
      }
      case "info":
        console.log(ipc.libraryInfo().path);
        return 0;
      default:
        console.error(`unknown command ${args.join(" ")}`);
        return 64;
    }
  } catch (error) {
    if (error instanceof ipc.IpcError) {
      console.log(`error ${(error as { code: string }).code}`);
      return 2;
    }
    throw error;
  }
}
