#!/usr/bin/env node
// The Spin models of models/*.pml (see models/README.md): checks that every Zig function a model
// names in a `mirrors:` line is unchanged since the model was last reviewed (its hash), then runs
// every model configuration below and checks its outcome: the fixed protocols verify, and each
// OLD_ variant (the behaviour before issue 15) yields a counterexample, which proves the model can
// fail.
//
//   node scripts/models.mjs             hash check, then every run (needs spin and cc)
//   node scripts/models.mjs --hashes    hash check only
//   node scripts/models.mjs --update    rewrite the hashes in the models from the current Zig code
//
// Speed: every configuration is its own pan.c (the defines select the model), so each is compiled
// once, at -O0 (gcc -O1 costs about 40x the CPU of -O0 on a pan.c, while pan itself needs under a
// second of CPU for the largest state space here), and the binary is kept in
// .zig-cache/models/<hash of the model texts, defines, flags and spin version>, so a later run
// with unchanged models compiles nothing. Runs go in parallel, one per CPU.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const modelsDir = join(root, "models");

// Every run: model, defines, whether Spin must find an error, pan options, and the hash table's
// size (pan -w, log2 of its slots; 20 unless said) for the large state spaces. `-E` (no end-state
// check) where a process may legitimately wait forever (a crashed peer, an MVar left full): there
// the watchdog's assertion is the lost wake-up check.
const runs = [
  { model: "chan.pml", defines: [], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["SMALL"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MANY"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MVAR"], expect: "pass", pan: ["-E"], hash: 22 },
  { model: "chan.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MANY", "CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MVAR", "CRASH", "RECHECK"], expect: "pass", pan: ["-E"], hash: 23 },
  { model: "chan.pml", defines: ["OLD_WAKE"], expect: "fail", pan: ["-E"], defect: 3 },
  { model: "chan.pml", defines: ["SMALL", "OLD_WAKE"], expect: "fail", pan: ["-E"], defect: 3 },
  { model: "chan.pml", defines: ["MANY", "OLD_WAKE"], expect: "fail", pan: ["-E"], defect: 3 },
  { model: "chan.pml", defines: ["MVAR", "OLD_SEEN"], expect: "fail", pan: ["-E"], defect: 1 },
  { model: "chan.pml", defines: ["MVAR", "CRASH", "RECHECK", "OLD_REPAIR"], expect: "fail", pan: ["-E"], defect: 4 },
  { model: "chan.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"], defect: 9 },
  { model: "event.pml", defines: [], expect: "pass", pan: [] },
  { model: "event.pml", defines: ["AUTO"], expect: "pass", pan: [] },
  { model: "event.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "event.pml", defines: ["AUTO", "CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "event.pml", defines: ["OLD_WAIT"], expect: "fail", pan: [], defect: 6 },
  { model: "event.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"], defect: 9 },
  { model: "semaphore.pml", defines: [], expect: "pass", pan: [] },
  { model: "semaphore.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "semaphore.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"], defect: 9 },
  { model: "semaphore.pml", defines: ["OLD_DEKKER"], expect: "fail", pan: [] },
  { model: "mutex.pml", defines: [], expect: "pass", pan: [] },
  { model: "mutex.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"], hash: 22 },
  { model: "mutex.pml", defines: ["OLD_PASS_ON"], expect: "fail", pan: [], defect: 5 },
  { model: "mutex.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"], defect: 9 },
  { model: "owner_mutex.pml", defines: [], expect: "pass", pan: [] },
  { model: "owner_mutex.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "owner_mutex.pml", defines: ["CRASH", "RECHECK", "OLD_TAG"], expect: "fail", pan: ["-E"] },
  { model: "owner_mutex.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"] },
  { model: "owner_mutex.pml", defines: ["CRASH", "RECHECK", "OLD_NOCELL"], expect: "fail", pan: ["-E"] },
];

/** The source of the first `fn name(` or `const name =` declaration in `text`, from the start of
 * its line to its balanced closing brace (braces in strings, chars and comments skipped). */
export function extract(text, name) {
  const re = new RegExp(`^[ \\t]*(?:pub )?(?:(?:inline|noinline|export) )?(?:fn ${name}\\(|const ${name} = )`, "m");
  const match = re.exec(text);
  if (!match) return null;
  let i = text.indexOf("{", match.index);
  // A fn's body brace comes after its parameter list and return type: skip a `{` inside the
  // parameter list's parentheses.
  const paren = text.indexOf("(", match.index);
  if (text.slice(match.index, match.index + match[0].length).includes("fn ")) {
    let depth = 0;
    for (let j = paren; j < text.length; j++) {
      if (text[j] === "(") depth++;
      else if (text[j] === ")" && --depth === 0) {
        i = text.indexOf("{", j);
        break;
      }
    }
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const ch = text[j];
    if (ch === "/" && text[j + 1] === "/") {
      j = text.indexOf("\n", j);
      if (j < 0) return null;
    } else if (ch === '"' || ch === "'") {
      for (j++; j < text.length && text[j] !== ch; j++) if (text[j] === "\\") j++;
    } else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return text.slice(match.index, j + 1);
  }
  return null;
}

const mirrorLine = /mirrors: (\S+) (\S+) sha256:([0-9a-f]{16})/g;

function checkHashes(update) {
  let failures = 0;
  for (const model of readdirSync(modelsDir).filter((f) => f.endsWith(".pml")).sort()) {
    const path = join(modelsDir, model);
    const text = readFileSync(path, "utf8");
    const updated = text.replace(mirrorLine, (line, file, name, hash) => {
      const source = extract(readFileSync(join(root, file), "utf8"), name);
      if (source === null) {
        console.error(
          `models/${model}: ${file} has no function ${name} (renamed or removed?): update the model's mirrors line`,
        );
        failures++;
        return line;
      }
      const now = createHash("sha256").update(source).digest("hex").slice(0, 16);
      if (now !== hash && !update) {
        console.error(
          `${file} ${name} changed: review models/${model} and update its hash with \`node scripts/models.mjs --update\``,
        );
        failures++;
      }
      return `mirrors: ${file} ${name} sha256:${now}`;
    });
    if (update && updated !== text) {
      writeFileSync(path, updated);
      console.log(`models/${model}: hashes updated`);
    }
  }
  return failures;
}

function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Installs Debian's spin when it is missing and this is root with apt (CI); else says why not. */
function ensureSpin() {
  if (have("spin")) return true;
  const root_ = typeof process.getuid === "function" && process.getuid() === 0;
  if (!root_ || !have("apt-get")) {
    console.error(
      "models: spin is not installed and cannot be installed here (needs root and apt-get): install Debian's `spin` package (apt-get install spin)",
    );
    return false;
  }
  console.log("models: installing spin (apt-get update; apt-get install -y spin)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "spin"], { stdio: "inherit", env });
  } catch (error) {
    console.error(`models: installing spin failed: ${error.message}`);
    return false;
  }
  return have("spin");
}

/** Runs `cmd` without blocking the event loop: resolves to { status, stdout, stderr }. */
function exec(cmd, argv, options) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    let timer = null;
    if (options.timeout) timer = setTimeout(() => child.kill("SIGKILL"), options.timeout);
    child.on("error", (error) => resolve({ status: null, stdout, stderr: `${stderr}${error.message}` }));
    child.on("close", (status) => {
      if (timer) clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const ccFlags = ["-O0", "-w", "-DSAFETY", "-DVECTORSZ=256"];
const cacheDir = join(root, ".zig-cache", "models");

/** The verifier of one configuration: built from the models in a directory of its own, or taken
 * from the cache when the same model texts, defines, flags and spin were compiled before. */
async function pan(r, models, spinVersion) {
  const defines = r.defines.map((d) => `-D${d}`);
  const key = createHash("sha256").update(JSON.stringify([models, r.model, defines, ccFlags, spinVersion])).digest(
    "hex",
  ).slice(0, 24);
  const binary = join(cacheDir, key, "pan");
  if (existsSync(binary)) return { binary, compiled: false };
  const dir = mkdtempSync(join(cacheDir, "build-"));
  try {
    for (const [file, text] of Object.entries(models)) writeFileSync(join(dir, file), text);
    const spin = await exec("spin", ["-a", ...defines, r.model], { cwd: dir });
    if (spin.status !== 0) return { error: `spin -a failed:\n${spin.stdout}${spin.stderr}` };
    const cc = await exec("cc", [...ccFlags, "-o", "pan", "pan.c"], { cwd: dir });
    if (cc.status !== 0) return { error: `cc failed:\n${cc.stderr}` };
    mkdirSync(join(cacheDir, key), { recursive: true });
    renameSync(join(dir, "pan"), binary);
    return { binary, compiled: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(r, models, spinVersion) {
  const label = [r.model, ...r.defines.map((d) => `-D${d}`)].join(" ");
  const started = Date.now();
  const built = await pan(r, models, spinVersion);
  if (built.error) return { label, ok: false, detail: built.error };
  // pan writes its trail (a counterexample) into its working directory: one of its own.
  const dir = mkdtempSync(join(cacheDir, "run-"));
  let result;
  try {
    result = await exec(built.binary, ["-m200000", "-n", `-w${r.hash ?? 20}`, ...r.pan], {
      cwd: dir,
      timeout: 300_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out = result.stdout ?? "";
  const errors = Number(/errors: (\d+)/.exec(out)?.[1] ?? NaN);
  const states = /(\d+) states, stored/.exec(out)?.[1] ?? "?";
  const depthLimit = /max search depth too small/.test(out);
  const seconds = `${((Date.now() - started) / 1000).toFixed(1)} s${built.compiled ? "" : ", cached pan"}`;
  const what = (/pan:1: (.*?)(?: \(at depth \d+\))?$/m.exec(out)?.[1] ?? "").slice(0, 160);
  if (Number.isNaN(errors)) return { label, ok: false, detail: `pan did not finish:\n${out}${result.stderr ?? ""}` };
  if (r.expect === "pass") {
    if (errors === 0 && !depthLimit) return { label, ok: true, line: `verified: ${states} states, ${seconds}` };
    return {
      label,
      ok: false,
      detail: depthLimit
        ? "search depth too small (raise -m)"
        : `counterexample: ${what}\n  replay: cd models && spin -a ${
          r.defines.map((d) => `-D${d} `).join("")
        }${r.model} && cc -DSAFETY -o pan pan.c && ./pan ${r.pan.join(" ")} && spin -t -p ${
          r.defines.map((d) => `-D${d} `).join("")
        }${r.model}`,
    };
  }
  if (errors > 0) {
    return {
      label,
      ok: true,
      line: `fails as expected (defect ${r.defect ?? "-"}): ${what}; ${states} states, ${seconds}`,
    };
  }
  return {
    label,
    ok: false,
    detail:
      `expected a counterexample (the old behaviour), found none in ${states} states: the model no longer tells the old protocol from the fixed one`,
  };
}

const args = process.argv.slice(2);
const failures = checkHashes(args.includes("--update"));
if (args.includes("--update")) process.exit(failures === 0 ? 0 : 1);
if (failures > 0) process.exit(1);
console.log("models: every mirrored Zig function matches its model's hash");
if (args.includes("--hashes")) process.exit(0);
if (!ensureSpin()) process.exit(1);
if (!have("cc")) {
  console.error("models: no C compiler (cc) to build Spin's verifier");
  process.exit(1);
}

const started = Date.now();
mkdirSync(cacheDir, { recursive: true });
const models = {};
for (const file of readdirSync(modelsDir).filter((f) => f.endsWith(".pml")).sort()) {
  models[file] = readFileSync(join(modelsDir, file), "utf8");
}
const spinVersion = spawnSync("spin", ["-V"], { encoding: "utf8" }).stdout ?? "";
// The largest state spaces first, so that the small ones fill in beside them.
const order = runs.map((_r, i) => i).sort((a, b) => (runs[b].hash ?? 20) - (runs[a].hash ?? 20));
const results = new Array(runs.length);
let next = 0;
async function worker() {
  while (next < order.length) {
    const i = order[next++];
    results[i] = await run(runs[i], models, spinVersion);
  }
}
await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), runs.length)) }, worker));
let bad = 0;
for (const result of results) {
  if (result.ok) console.log(`ok   ${result.label}: ${result.line}`);
  else {
    bad++;
    console.log(`FAIL ${result.label}: ${result.detail}`);
  }
}
const total = `${((Date.now() - started) / 1000).toFixed(1)} s`;
console.log(
  bad === 0
    ? `models: all ${runs.length} runs as expected (${total})`
    : `models: ${bad} of ${runs.length} runs failed (${total})`,
);
process.exit(bad === 0 ? 0 : 1);
