/** Process benchmarks from Bun, with the Bun.spawn peers; see process.ts. */
import { fileURLToPath } from "node:url";
import * as ipc from "../bun.ts";
import { type ChunkReply, LanePool, processBench } from "./process.ts";

const child = fileURLToPath(new URL("./process_ipc_child.ts", import.meta.url));

await processBench(ipc, "Bun", [process.execPath], process.argv.slice(2), {
  spawnStdout: {
    tool: "Bun Bun.spawn, result on stdout",
    async run(argv) {
      const sub = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
      const text = await new Response(sub.stdout).text();
      const code = await sub.exited;
      if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
      return text;
    },
  },
  ipcPool: {
    tool: "Bun Bun.spawn ipc children",
    create: (size) =>
      new LanePool(size, (deliver) => {
        let closing = false;
        const sub = Bun.spawn([process.execPath, child], {
          stdio: ["ignore", "inherit", "inherit"],
          serialization: "advanced",
          ipc: (message) => deliver(message as ChunkReply),
        });
        sub.exited.then((code) => {
          if (!closing) deliver({ id: -1, error: `an ipc child (pid ${sub.pid}) exited early (${code})` });
        });
        return {
          post: (chunk) => sub.send(chunk),
          async close() {
            closing = true;
            sub.kill();
            await sub.exited;
          },
        };
      }),
  },
});
