// `libipc ls` and `libipc gc` run by the Node running this file, as `npx libipc` runs them: the package's bin
// (node_modules/.bin/libipc, whose `#!/usr/bin/env node` finds this Node first on a PATH that holds no Bun or Deno).
// ls must list a live segment of this process and a dead one left by a child that exited; `gc --all-dead` must remove
// the dead one and keep the live one. Only a real listing of /dev/shm by the installed package can say that.
//
//   <node> cli.mjs         from the consumer project (scripts/consumer.mjs)

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SharedMemory } from "libipc";

const shmPath = (name) => `/dev/shm/${name.slice(1)}`;
// Short: a name has at most 31 bytes (macOS's limit, kept everywhere).
const tag = `${process.pid.toString(36)}.${(Date.now() % 2 ** 30).toString(36)}`;
const deadName = `/clidead.${tag}`;

// A PATH whose `node` is this one, and with no Bun or Deno: the command cannot run anywhere but here.
const bin = mkdtempSync(join(tmpdir(), "libipc-cli-path-"));
symlinkSync(process.execPath, join(bin, "node"));
const PATH = [bin, "/usr/bin", "/bin"].join(":");
for (const dir of ["/usr/bin", "/bin"]) {
  for (const other of ["bun", "deno"]) assert.ok(!existsSync(join(dir, other)), `${dir}/${other} is on the PATH`);
}
const env = { ...process.env, PATH };
delete env.LIBIPC_RUNTIME;

function libipc(...args) {
  const result = spawnSync(join("node_modules", ".bin", "libipc"), args, { encoding: "utf8", env, timeout: 120_000 });
  assert.equal(result.status, 0, `libipc ${args.join(" ")}: exit ${result.status ?? result.signal}\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

// The child exits without unlinking its untracked segment: its name stays, with a dead creator.
const child = spawnSync(process.execPath, [
  "--input-type=module",
  "-e",
  `import { SharedMemory } from "libipc"; SharedMemory.create({ size: 4096, name: ${JSON.stringify(deadName)} });`,
], { encoding: "utf8", timeout: 120_000 });
assert.equal(child.status, 0, child.stderr);
assert.ok(existsSync(shmPath(deadName)), `${deadName} is not in /dev/shm`);

const live = SharedMemory.create({ size: 8192, name: `/clilive.${tag}` });
try {
  const rows = libipc("ls", "--json");
  const row = (name) => rows.find((r) => r.name === name);
  assert.deepEqual(
    { ...row(live.name), pid: undefined },
    { name: live.name, size: 8192, kind: "segment", pid: undefined, state: "alive", generated: false },
  );
  assert.equal(row(live.name).pid, process.pid);
  assert.equal(row(deadName)?.state, "dead", `ls --json listed ${JSON.stringify(row(deadName))} for ${deadName}`);

  const gc = libipc("gc", "--all-dead", "--json");
  assert.ok(gc.removed.includes(deadName), `gc removed ${JSON.stringify(gc.removed)}, not ${deadName}`);
  assert.ok(!existsSync(shmPath(deadName)), `${deadName} is still in /dev/shm`);
  assert.ok(existsSync(shmPath(live.name)), "gc removed a live process's segment");
} finally {
  live.unlink();
  live.close();
  if (existsSync(shmPath(deadName))) SharedMemory.unlink(deadName);
  rmSync(bin, { recursive: true, force: true });
}
console.log(`consumer: libipc ls and gc under node ${process.versions.node} from node_modules`);
