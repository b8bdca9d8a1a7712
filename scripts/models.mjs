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

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const modelsDir = join(root, "models");

// Every run: model, defines, whether Spin must find an error, and pan options. `-E` (no end-state
// check) where a process may legitimately wait forever (a crashed peer, an MVar left full): there
// the watchdog's assertion is the lost wake-up check.
const runs = [
  { model: "chan.pml", defines: [], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["SMALL"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MANY"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MVAR"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MANY", "CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "chan.pml", defines: ["MVAR", "CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
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
  { model: "mutex.pml", defines: ["CRASH", "RECHECK"], expect: "pass", pan: ["-E"] },
  { model: "mutex.pml", defines: ["OLD_PASS_ON"], expect: "fail", pan: [], defect: 5 },
  { model: "mutex.pml", defines: ["CRASH"], expect: "fail", pan: ["-E"], defect: 9 },
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

function run(r, dir) {
  const label = [r.model, ...r.defines.map((d) => `-D${d}`)].join(" ");
  const started = Date.now();
  const spin = spawnSync("spin", ["-a", ...r.defines.map((d) => `-D${d}`), r.model], { cwd: dir, encoding: "utf8" });
  if (spin.status !== 0) return { label, ok: false, detail: `spin -a failed:\n${spin.stdout}${spin.stderr}` };
  const cc = spawnSync("cc", ["-O1", "-w", "-DSAFETY", "-DVECTORSZ=256", "-o", "pan", "pan.c"], {
    cwd: dir,
    encoding: "utf8",
  });
  if (cc.status !== 0) return { label, ok: false, detail: `cc failed:\n${cc.stderr}` };
  rmSync(join(dir, `${r.model}.trail`), { force: true });
  const pan = spawnSync("./pan", ["-m200000", "-n", ...r.pan], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  const out = pan.stdout ?? "";
  const errors = Number(/errors: (\d+)/.exec(out)?.[1] ?? NaN);
  const states = /(\d+) states, stored/.exec(out)?.[1] ?? "?";
  const depthLimit = /max search depth too small/.test(out);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const what = (/pan:1: (.*?)(?: \(at depth \d+\))?$/m.exec(out)?.[1] ?? "").slice(0, 160);
  if (Number.isNaN(errors)) return { label, ok: false, detail: `pan did not finish:\n${out}${pan.stderr ?? ""}` };
  if (r.expect === "pass") {
    if (errors === 0 && !depthLimit) return { label, ok: true, line: `verified: ${states} states, ${seconds} s` };
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
      line: `fails as expected (defect ${r.defect ?? "-"}): ${what}; ${states} states, ${seconds} s`,
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

const dir = mkdtempSync(join(tmpdir(), "libipc-models-"));
let bad = 0;
try {
  for (const file of readdirSync(modelsDir).filter((f) => f.endsWith(".pml"))) {
    copyFileSync(join(modelsDir, file), join(dir, file));
  }
  for (const r of runs) {
    const result = run(r, dir);
    if (result.ok) console.log(`ok   ${result.label}: ${result.line}`);
    else {
      bad++;
      console.log(`FAIL ${result.label}: ${result.detail}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(bad === 0 ? `models: all ${runs.length} runs as expected` : `models: ${bad} of ${runs.length} runs failed`);
process.exit(bad === 0 ? 0 : 1);
