/**
 * mod.ts loaded the way JSR serves it — over HTTP, with no build beside it and no LIBIPC_PATH — finds
 * the native library in this platform's npm package (deno_platform.ts), fetched by Deno into its npm
 * cache, and the tracker helper beside it. JSR and npm are unreachable here, so one local HTTP server
 * plays both: /src/ serves the files deno.json publishes, /npm/ is a registry holding this build as
 * `@libipc/<os>-<cpu>-gnu` and msgpackr from node_modules. Deno runs with a fresh DENO_DIR, so nothing
 * reaches the real registry or the user's cache. Without the platform package on the registry, the load
 * error names it.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Harness } from "../harness.ts";

type Tarball = { name: string; manifest: Record<string, unknown>; bytes: Uint8Array };

export default function denoJsr(h: Harness): void {
  const root = h.paths.root;
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
  const cpu = process.arch === "arm64" ? "arm64" : "x64";
  const platformName = `@libipc/linux-${cpu}-gnu`;

  /** A gzipped npm tarball of `dir` (its files under package/), made by tar. */
  async function pack(dir: string, out: string): Promise<Uint8Array> {
    const exit = await h.spawn(["tar", "czf", out, "--transform", "s,^\\.,package,", "-C", dir, "."]).exited;
    assert.equal(exit.code, 0, exit.stderr);
    return new Uint8Array(readFileSync(out));
  }

  async function tarballs(work: string, withPlatform: boolean): Promise<Tarball[]> {
    const found: Tarball[] = [];
    const msgpackr = join(root, "node_modules", "msgpackr");
    const manifest = JSON.parse(readFileSync(join(msgpackr, "package.json"), "utf8"));
    delete manifest.optionalDependencies; // its native extractor: not needed, and not on this registry
    found.push({ name: "msgpackr", manifest, bytes: await pack(msgpackr, join(work, "msgpackr.tgz")) });
    if (withPlatform) {
      const dir = join(work, "platform");
      mkdirSync(dir);
      const platform = { name: platformName, version, os: ["linux"], cpu: [cpu], libc: ["glibc"] };
      writeFileSync(join(dir, "package.json"), JSON.stringify(platform));
      copyFileSync(join(h.paths.out, "lib", "libipc.so"), join(dir, "libipc.so"));
      copyFileSync(join(h.paths.out, "libexec", "libipc", "libipc-tracker"), join(dir, "libipc-tracker"));
      found.push({ name: platformName, manifest: platform, bytes: await pack(dir, join(work, "platform.tgz")) });
    }
    return found;
  }

  /** The server: /src/<file> from the checkout (what JSR would serve), /npm/ a registry of `packages`. */
  async function serve(packages: Tarball[]): Promise<{ server: Server; base: string }> {
    const published = /^(mod\.ts|deno_platform\.ts|lib\/[a-z_]+\.ts)$/;
    let base = "";
    const server = createServer((request, response) => {
      const url = decodeURIComponent(request.url ?? "");
      if (url.startsWith("/src/") && published.test(url.slice(5))) {
        response.writeHead(200, { "content-type": "application/typescript" });
        response.end(readFileSync(join(root, url.slice(5))));
        return;
      }
      for (const p of packages) {
        const file = `/npm/${p.name}/-/${p.name.split("/").at(-1)}-${p.manifest.version}.tgz`;
        if (url === file) {
          response.writeHead(200, { "content-type": "application/octet-stream" });
          response.end(p.bytes);
          return;
        }
        if (url === `/npm/${p.name}`) {
          const integrity = "sha512-" + createHash("sha512").update(p.bytes).digest("base64");
          const v = p.manifest.version as string;
          const packument = {
            name: p.name,
            "dist-tags": { latest: v },
            versions: { [v]: { ...p.manifest, dist: { tarball: `${base}${file}`, integrity } } },
          };
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify(packument));
          return;
        }
      }
      response.writeHead(404);
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { server, base };
  }

  async function runFromServer(withPlatform: boolean) {
    const work = mkdtempSync(join(tmpdir(), "libipc-jsr-"));
    const { server, base } = await serve(await tarballs(work, withPlatform));
    try {
      writeFileSync(
        join(work, "main.ts"),
        `import { libraryInfo, SharedMemory, Tracker } from "${base}/src/mod.ts";\n` +
          `using seg = SharedMemory.create({ size: 4096, name: true, track: true });\n` +
          `console.log(JSON.stringify({ path: libraryInfo().path, tracker: Tracker.status().pid }));\n`,
      );
      const host = base.slice("http://".length);
      const child = h.spawn(
        [h.paths.deno, "run", "--no-prompt", "--allow-ffi", `--allow-import=${host}`, join(work, "main.ts")],
        {
          env: { DENO_DIR: join(work, "deno"), NPM_CONFIG_REGISTRY: `${base}/npm/`, LIBIPC_PATH: "", NO_COLOR: "1" },
          timeoutMs: 240_000,
        },
      );
      return { exit: await child.exited, denoDir: join(work, "deno") };
    } finally {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections?.();
      rmSync(work, { recursive: true, force: true });
    }
  }

  h.test(
    "deno jsr: deno publish --dry-run passes; its only warnings are the imports of modules named at run time",
    async () => {
      // deno publish takes the package in the working directory.
      const publish = ["sh", "-c", 'cd "$0" && exec "$1" publish --dry-run --allow-dirty', root, h.paths.deno];
      const exit = await h.spawn(publish, {
        env: { NO_COLOR: "1" },
        timeoutMs: 240_000,
      }).exited;
      const output = exit.stdout + exit.stderr;
      assert.equal(exit.code, 0, output);
      assert.doesNotMatch(output, /^error/m);
      const warnings = [...output.matchAll(/^warning\[([a-z-]+)\][^\n]*\n\s*--> ([^:]+):/gm)].map((m) =>
        `${m[1]} ${m[2].slice(root.length + 1)}`
      );
      // The user's module (isolate, Pool), the binding a child runner loads, and deno_platform.ts, which
      // mod.ts imports only when loaded from a URL, and the platform package's manifest that lib/locate.ts
      // resolves (named after this OS and CPU): each is a specifier known only at run time.
      assert.deepEqual(warnings.sort(), [
        "unanalyzable-dynamic-import lib/child_runner.ts",
        "unanalyzable-dynamic-import lib/isolate_runner.ts",
        "unanalyzable-dynamic-import lib/pool_worker.ts",
        "unanalyzable-dynamic-import mod.ts",
        "unanalyzable-import-meta-resolve lib/locate.ts",
      ]);
      assert.match(output, /deno_platform\.ts/); // published
    },
    { timeoutMs: 300_000 },
  );

  h.test("deno jsr: mod.ts served over HTTP loads libipc from the platform npm package, tracker included", async () => {
    const { exit, denoDir } = await runFromServer(true);
    assert.equal(exit.code, 0, exit.stderr);
    const out = JSON.parse(exit.stdout.trim().split("\n").at(-1) ?? "");
    assert.ok(out.path.startsWith(denoDir), `loaded ${out.path}, not from ${denoDir}`);
    assert.match(out.path, new RegExp(`${platformName.replace("/", ".")}.*/libipc\\.so$`));
    assert.ok(out.tracker > 0, "the tracker helper beside the library did not start");
  }, { timeoutMs: 300_000 });

  h.test("deno jsr: without the platform package on the registry, the load error names it", async () => {
    const { exit } = await runFromServer(false);
    assert.notEqual(exit.code, 0);
    assert.match(exit.stderr, new RegExp(`${platformName} could not be fetched from npm`));
  }, { timeoutMs: 300_000 });
}
