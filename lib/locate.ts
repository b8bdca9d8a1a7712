/**
 * Finding the native library, for every runtime: the paths to try, in order, and a loader whose error
 * lists each path with the reason it failed.
 *
 * The order: `LIBIPC_PATH` alone when it is set (a bad value is an error, never a silent fallback to
 * another copy), else the platform package (`@libipc/<os>-<cpu>[-<libc>]`, an optional dependency that
 * npm, Bun and Deno install only where its os/cpu/libc fields match; on Linux, when both the glibc and
 * the musl package are there, as in a node_modules copied between images, the one of this process's
 * libc first), else a local build
 * (`zig-out/lib` at the root of this package or checkout), else the library beside this module (a
 * `bun build` bundle with libipc.so copied next to it). The tracker's helper, `libipc-tracker`, is
 * found by the library itself beside the file it was loaded from, so every place listed here holds
 * both.
 *
 * Nothing here touches the file system: a candidate is tried by opening it, so Deno needs no read
 * permission, and the reason in the error is the runtime's own.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The environment variable that names the library to load; when set, nothing else is tried. */
export const PATH_ENV = "LIBIPC_PATH";

/** Where a candidate comes from, and the path to open or why there is none. */
export interface Candidate {
  /** "LIBIPC_PATH", the platform package's name, "local build" or "beside the module". */
  readonly source: string;
  /** The file to open; null when the source gave no path (`reason` says why). */
  readonly path: string | null;
  /** Why there is no path (a platform package that is not installed, say). */
  readonly reason?: string;
}

/** What the search needs to know about this process. */
export interface LocateOptions {
  /** The value of LIBIPC_PATH (undefined when unset or unreadable). */
  readonly envPath: string | undefined;
  /** The OS in Node's words ("linux", "darwin", "win32") or Deno's ("windows"). */
  readonly os: string;
  /** The CPU in Node's words ("x64", "arm64") or Deno's ("x86_64", "aarch64"). */
  readonly cpu: string;
  /**
   * Resolves a module specifier to a URL or path, throwing when it cannot; default: this module's
   * `import.meta.resolve`.
   */
  readonly resolve?: (specifier: string) => string;
  /** The URL of this module (tests pass another to place a package); default `import.meta.url`. */
  readonly moduleUrl?: string;
  /**
   * This process's C library on Linux, "glibc" or "musl" (undefined: unknown); asked only when both
   * Linux packages are installed, since finding out can cost tens of milliseconds (Node's report).
   */
  readonly libc?: () => string | undefined;
}

/** The library's file name on `os`. */
export function libraryFile(os: string): string {
  const name = nodeOs(os);
  return name === "win32" ? "ipc.dll" : name === "darwin" ? "libipc.dylib" : "libipc.so";
}

/**
 * The platform packages that may hold this platform's library, most likely first: on Linux the one
 * for `libc` ("glibc" or "musl"; unknown: glibc), then the other (the package manager installs only
 * the one whose `libc` matches, but a node_modules can be copied to another system).
 */
export function platformPackages(os: string, cpu: string, libc?: string): string[] {
  const base = `@libipc/${nodeOs(os)}-${nodeCpu(cpu)}`;
  if (nodeOs(os) !== "linux") return [base];
  return libc === "musl" ? [`${base}-musl`, `${base}-gnu`] : [`${base}-gnu`, `${base}-musl`];
}

/**
 * The C library of this Linux process from Node's diagnostic report header (`process.report.getReport()`
 * in Node and Bun): glibc reports `glibcVersionRuntime`, musl does not. Undefined when there is no
 * report.
 */
export function libcFromReport(report: unknown): string | undefined {
  const header = (report as { header?: { glibcVersionRuntime?: unknown } } | undefined)?.header;
  if (header === undefined || header === null) return undefined;
  return typeof header.glibcVersionRuntime === "string" ? "glibc" : "musl";
}

/** The paths to try, in order; see the module comment. */
export function libraryCandidates(options: LocateOptions): Candidate[] {
  if (options.envPath !== undefined && options.envPath !== "") {
    return [{ source: PATH_ENV, path: options.envPath }];
  }
  const file = libraryFile(options.os);
  const resolve = options.resolve ?? ((specifier: string): string => import.meta.resolve(specifier));
  let candidates: Candidate[] = [];
  for (const name of platformPackages(options.os, options.cpu)) {
    let manifest: string;
    try {
      manifest = resolve(`${name}/package.json`);
    } catch (error) {
      candidates.push({ source: name, path: null, reason: `not installed (${messageOf(error)})` });
      continue;
    }
    candidates.push({ source: name, path: join(dirOf(toPath(manifest)), file) });
  }
  if (candidates.filter((c) => c.path !== null).length > 1 && options.libc !== undefined) {
    const found = candidates;
    const order = platformPackages(options.os, options.cpu, options.libc());
    candidates = order.map((name) => found.find((c) => c.source === name)!);
  }
  const here = options.moduleUrl ?? import.meta.url;
  if (!here.startsWith("file:")) {
    candidates.push({ source: "local build", path: null, reason: `this module was loaded from ${here}` });
    return candidates;
  }
  const moduleDir = dirOf(fileURLToPath(here));
  candidates.push({ source: "local build", path: join(packageRoot(moduleDir), "zig-out", "lib", file) });
  candidates.push({ source: "beside the module", path: join(moduleDir, file) });
  return candidates;
}

/**
 * Tries each candidate with `open` and returns the first that loads. When none does, the error lists
 * every candidate with its reason and says how to fix it; `note` adds a runtime's own hint (a
 * permission it lacks).
 */
export function loadFirst<T>(
  candidates: readonly Candidate[],
  open: (path: string) => T,
  note = "",
): { path: string; library: T } {
  const failures: string[] = [];
  let lastError: unknown;
  for (const candidate of candidates) {
    if (candidate.path === null) {
      failures.push(`  ${candidate.source}: ${candidate.reason ?? "no path"}`);
      continue;
    }
    try {
      return { path: candidate.path, library: open(candidate.path) };
    } catch (error) {
      lastError = error;
      failures.push(`  ${candidate.source}: ${candidate.path}: ${messageOf(error)}`);
    }
  }
  const fix = candidates.length === 1 && candidates[0]?.source === PATH_ENV
    ? `${PATH_ENV} is used alone when set: point it at a libipc library of this version, or unset it to use ` +
      `the platform package or a local build.`
    : `Install the package for this platform (npm installs the matching @libipc/* optional dependency; it ` +
      `was left out if optional dependencies were omitted), build it from a checkout (\`npm install\` or ` +
      `\`node scripts/zig.mjs build\`), or set ${PATH_ENV} to the path of ${libraryFile("linux")} or its ` +
      `equivalent.`;
  throw new Error(`libipc: could not load the native library. Tried:\n${failures.join("\n")}\n${fix}${note}`, {
    cause: lastError,
  });
}

/**
 * The root of this package or checkout, given the directory of this module: lib/ sits at the root
 * in a checkout and under dist/ in the built package.
 */
export function packageRoot(moduleDir: string): string {
  const parent = dirOf(moduleDir);
  return baseOf(parent) === "dist" ? dirOf(parent) : parent;
}

function nodeOs(os: string): string {
  return os === "windows" ? "win32" : os;
}

function nodeCpu(cpu: string): string {
  return cpu === "x86_64" ? "x64" : cpu === "aarch64" ? "arm64" : cpu;
}

function toPath(urlOrPath: string): string {
  return urlOrPath.startsWith("file:") ? fileURLToPath(urlOrPath) : urlOrPath;
}

function separator(path: string): string {
  return path.includes("\\") && !path.includes("/") ? "\\" : "/";
}

function dirOf(path: string): string {
  const sep = separator(path);
  const at = path.lastIndexOf(sep);
  return at <= 0 ? (at === 0 ? sep : ".") : path.slice(0, at);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf(separator(path)) + 1);
}

function join(...parts: string[]): string {
  const sep = separator(parts[0] ?? "");
  return parts.join(sep);
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // A resolver's message can span lines (Bun lists the directories it searched): the first says enough.
  return text.split("\n")[0] ?? text;
}

/**
 * The URL of another of libipc's own modules, `relative` spelled with ".ts" as in the sources: the
 * same module compiled to ".js" when `base` (the caller's `import.meta.url`) is compiled, as in the npm
 * package's dist/. Child runners (isolate, Pool workers) are started from these URLs.
 */
export function ownModule(relative: string, base: string): URL {
  const compiled = /\.[cm]?js$/.test(new URL(base).pathname);
  return new URL(compiled ? relative.replace(/\.ts$/, ".js") : relative, base);
}
