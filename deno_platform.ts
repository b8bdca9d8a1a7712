/**
 * The native library for a mod.ts loaded from JSR (or any URL other than a file): this platform's npm
 * package, `@libipc/<os>-<cpu>[-<libc>]`, which holds the library (and on Linux libipc-tracker) at its
 * root, fetched through Deno's own npm support into its cache. JSR ships TypeScript only; with this, `import … from
 * "jsr:@libipc/libipc"` finds the library without LIBIPC_PATH.
 *
 * mod.ts imports this module only when it was not loaded from a file: every import below is a literal
 * `npm:` specifier, which Deno fetches as soon as the module enters the module graph (even before the
 * import runs), and a checkout or an npm install must not reach for the network at every start. From
 * JSR, the first start therefore fetches the 8 platform packages into Deno's cache (a few MB in all),
 * not only this platform's; later starts read the cache.
 *
 * The specifiers name this package's exact version (tests/cases/abi.ts checks it against package.json),
 * so a JSR release loads the library built with it. The manifest is imported as JSON: that brings the
 * package into Deno's npm cache, after which `import.meta.resolve` gives the cache's file URL of
 * any file in it.
 *
 * @module
 */

// deno-lint-ignore-file no-import-prefix -- a release's own version of the npm package, fetched only from JSR

/** This platform's package: its name, and where Deno's npm cache holds its manifest (or why it does not). */
export type PlatformPackage = { name: string; manifest: string } | { name: string; reason: string };

// One entry per platform package (scripts/package.mjs `platforms`), keyed by Deno's words: Deno.build.os,
// Deno.build.arch and, for musl, Deno.build.env.
const packages: Record<string, { name: string; fetch(): Promise<unknown>; manifest(): string }> = {
  "linux x86_64": {
    name: "@libipc/linux-x64-gnu",
    fetch: () => import("npm:@libipc/linux-x64-gnu@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/linux-x64-gnu@0.1.0/package.json"),
  },
  "linux aarch64": {
    name: "@libipc/linux-arm64-gnu",
    fetch: () => import("npm:@libipc/linux-arm64-gnu@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/linux-arm64-gnu@0.1.0/package.json"),
  },
  "linux x86_64 musl": {
    name: "@libipc/linux-x64-musl",
    fetch: () => import("npm:@libipc/linux-x64-musl@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/linux-x64-musl@0.1.0/package.json"),
  },
  "linux aarch64 musl": {
    name: "@libipc/linux-arm64-musl",
    fetch: () => import("npm:@libipc/linux-arm64-musl@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/linux-arm64-musl@0.1.0/package.json"),
  },
  "darwin x86_64": {
    name: "@libipc/darwin-x64",
    fetch: () => import("npm:@libipc/darwin-x64@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/darwin-x64@0.1.0/package.json"),
  },
  "darwin aarch64": {
    name: "@libipc/darwin-arm64",
    fetch: () => import("npm:@libipc/darwin-arm64@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/darwin-arm64@0.1.0/package.json"),
  },
  "windows x86_64": {
    name: "@libipc/win32-x64",
    fetch: () => import("npm:@libipc/win32-x64@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/win32-x64@0.1.0/package.json"),
  },
  "windows aarch64": {
    name: "@libipc/win32-arm64",
    fetch: () => import("npm:@libipc/win32-arm64@0.1.0/package.json", { with: { type: "json" } }),
    manifest: () => import.meta.resolve("npm:@libipc/win32-arm64@0.1.0/package.json"),
  },
};

/**
 * Fetches this platform's package (`os`, `arch` and `env` in Deno's words: Deno.build.os, Deno.build.arch,
 * Deno.build.env, whose "musl" picks the musl package on Linux) and
 * returns the file URL of its package.json in Deno's npm cache; the library is beside it. Never throws:
 * an unknown platform or a failed fetch (offline, a registry without the package) is a reason, which
 * the loader's error lists with the other candidates.
 */
export async function platformPackage(
  os: string,
  arch: string,
  env?: string,
): Promise<PlatformPackage | undefined> {
  const entry = packages[`${os} ${arch}${os === "linux" && env === "musl" ? " musl" : ""}`];
  if (entry === undefined) return undefined;
  try {
    await entry.fetch();
  } catch (error) {
    return { name: entry.name, reason: `could not be fetched from npm (${(error as Error).message.split("\n")[0]})` };
  }
  const manifest = entry.manifest();
  if (!manifest.startsWith("file:")) {
    return { name: entry.name, reason: `Deno resolved it to ${manifest}, not a file in its npm cache` };
  }
  return { name: entry.name, manifest };
}
