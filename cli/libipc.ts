/**
 * The `libipc` command: `ls` lists the libipc segments in /dev/shm with their creator and whether it
 * still runs; `gc` removes the names of segments whose creator has died. Written once against the
 * library's public API; libipc.bun.ts and libipc.deno.ts run it, and libipc.mjs (the npm `bin`)
 * picks a runtime. Every header is read and validated by the native library, never trusted. The
 * entries turn the startup sweep off (LIBIPC_NO_SWEEP), so that `ls` shows dead names and only `gc`
 * removes them.
 *
 * @module
 */

import type * as Ipc from "../lib/index.ts";

type IpcModule = typeof Ipc;

/** Exit codes. */
export const OK = 0;
export const FAILED = 1;
export const USAGE = 2;

const help = `usage: libipc <command> [options]

Shared-memory segments of libipc (Bun, Deno, C) in /dev/shm.

commands:
  ls [--json]                  list every libipc segment: name, size, kind, creator pid, state
                               (alive, dead, unknown: created in another pid namespace, or the
                               reason it could not be read, such as EVERSION or EACCES)
  gc [--all-dead] [--dry-run] [--json]
                               remove the generated names (/ipc.<pid>.<start>.<random>) of
                               segments whose creator has died; with --all-dead also user-chosen
                               names whose creator has died (by default those are kept: a name
                               chosen by hand may be meant to outlive its creator)
  help                         this text
  --version                    the version of the libipc package (answered by libipc.mjs)

Only this user's segments created in this pid namespace are ever removed, only when the process
that created them is gone (pid and start time), and never a file that is not a libipc segment.
Exit status: 0 done, 1 an operation failed, 2 usage error.
`;

const synopsis = "usage: libipc ls [--json] | gc [--all-dead] [--dry-run] [--json] | help";

interface Row {
  name: string;
  size: number | null;
  kind: string | null;
  pid: number | null;
  state: string;
  generated: boolean;
}

function rows(ipc: IpcModule): Row[] {
  return ipc.SharedMemory.list().sort().map((name) => {
    try {
      const info = ipc.SharedMemory.inspect(name);
      const state = info.alive === null ? "unknown" : info.alive ? "alive" : "dead";
      return { name, size: info.size, kind: info.kind, pid: info.creator.pid, state, generated: info.generated };
    } catch (error) {
      // Gone meanwhile, another ABI version, another user's, damaged: say which.
      const code = error instanceof ipc.IpcError ? (error as { code: string }).code : String(error);
      return { name, size: null, kind: null, pid: null, state: code, generated: name.startsWith("/ipc.") };
    }
  });
}

function table(lines: string[][]): string {
  const widths = lines[0].map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  return lines.map((line) => line.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function list(ipc: IpcModule, json: boolean, print: (text: string) => void): number {
  const all = rows(ipc);
  if (json) {
    print(JSON.stringify(all));
    return OK;
  }
  if (all.length === 0) {
    print("no libipc segments in /dev/shm");
    return OK;
  }
  const header = ["NAME", "SIZE", "KIND", "CREATOR", "STATE"];
  print(table([
    header,
    ...all.map((r) => [r.name, r.size === null ? "-" : String(r.size), r.kind ?? "-", String(r.pid ?? "-"), r.state]),
  ]));
  const dead = all.filter((r) => r.state === "dead");
  if (dead.length > 0) {
    const generated = dead.filter((r) => r.generated).length;
    print(
      `\n${dead.length} dead: \`libipc gc\` removes the ${generated} generated name(s)` +
        (dead.length > generated ? `, \`libipc gc --all-dead\` also the ${dead.length - generated} other(s)` : ""),
    );
  }
  return OK;
}

function collect(ipc: IpcModule, allDead: boolean, dryRun: boolean, json: boolean, print: (text: string) => void) {
  const removed: Row[] = [];
  const kept: Row[] = [];
  let failed = 0;
  for (const row of rows(ipc)) {
    if (row.state !== "dead") continue;
    if (!row.generated && !allDead) {
      kept.push(row);
      continue;
    }
    if (dryRun) {
      removed.push(row);
      continue;
    }
    try {
      // Checks again, just before the unlink: the header must still name a dead creator.
      if (ipc.SharedMemory.unlinkDead(row.name)) removed.push(row);
    } catch (error) {
      if (error instanceof ipc.IpcError && (error as { code: string }).code === "ENOENT") continue;
      failed += 1;
      print(`libipc gc: ${row.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (json) {
    print(JSON.stringify({ removed: removed.map((r) => r.name), kept: kept.map((r) => r.name), dryRun }));
  } else {
    for (const r of removed) {
      print(`${dryRun ? "would remove" : "removed"} ${r.name} (${r.kind}, ${r.size} bytes, creator ${r.pid})`);
    }
    print(`${dryRun ? "would remove" : "removed"} ${removed.length} name(s)`);
    if (kept.length > 0) {
      print(`kept ${kept.length} user-chosen name(s) whose creator died: ${kept.map((r) => r.name).join(" ")}`);
      print("(libipc gc --all-dead removes them too)");
    }
  }
  return failed > 0 ? FAILED : OK;
}

/**
 * Runs the command line `args` (without the program name); `print` writes a line to stdout and
 * `printError` to stderr. Returns the exit status.
 */
export function main(
  ipc: IpcModule,
  args: readonly string[],
  print: (text: string) => void,
  printError: (text: string) => void,
): number {
  const [command, ...rest] = args;
  const flags = new Set(rest);
  const allowed: Record<string, string[]> = { ls: ["--json"], gc: ["--all-dead", "--dry-run", "--json"] };
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    (command === undefined ? printError : print)(help);
    return command === undefined ? USAGE : OK;
  }
  const known = allowed[command];
  const unknown = rest.filter((flag) => !known?.includes(flag));
  if (known === undefined || unknown.length > 0 || flags.size !== rest.length) {
    printError(
      (known === undefined
        ? `libipc: unknown command ${JSON.stringify(command)}`
        : `libipc ${command}: unknown or repeated option(s) ${unknown.join(" ")}`) + `\n${synopsis}`,
    );
    return USAGE;
  }
  try {
    if (command === "ls") return list(ipc, flags.has("--json"), print);
    return collect(ipc, flags.has("--all-dead"), flags.has("--dry-run"), flags.has("--json"), print);
  } catch (error) {
    printError(`libipc ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return FAILED;
  }
}
