#!/usr/bin/env node
// `npm run test:stress -- N`: runs the multi-process suites (the C tests, mp-bun, mp-deno) N times
// (default 5) under generated load — one CPU-bound busy process per CPU, started here and killed
// at the end — and stops at the first failure, naming the run and the step. Each step goes through
// scripts/test.mjs, so it has that script's hard timeout and its leak and stray-tracker checks.

import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const runs = process.argv[2] === undefined ? 5 : Number(process.argv[2]);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`usage: npm run test:stress -- N (a count of runs, at least 1), got ${process.argv[2]}`);
  process.exit(2);
}
const steps = ["c", "mp-bun", "mp-deno"];

// The load: busy loops that never yield, one per CPU this process may use.
const busy = [];
for (let i = 0; i < availableParallelism(); i++) {
  busy.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}
const stopLoad = () => {
  for (const child of busy) child.kill("SIGKILL");
};
process.on("exit", stopLoad);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    stopLoad();
    process.exit(130);
  });
}

function runStep(step) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, "scripts", "test.mjs"), step], { cwd: root, stdio: "inherit" });
    child.on("close", (code, signal) => resolve(code === 0 ? "ok" : `failed (${code ?? signal})`));
    child.on("error", (error) => resolve(`could not start: ${error.message}`));
  });
}

console.log(`stress: ${runs} run(s) of ${steps.join(", ")} beside ${busy.length} busy process(es)`);
const started = Date.now();
for (let run = 1; run <= runs; run++) {
  for (const step of steps) {
    console.log(`\n##### stress run ${run} of ${runs}: ${step}`);
    const outcome = await runStep(step);
    if (outcome !== "ok") {
      console.log(`\nstress: FAIL in run ${run} of ${runs}, step ${step}: ${outcome}`);
      process.exit(1);
    }
  }
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\nstress: PASS, ${runs} run(s) of ${steps.join(", ")} under load in ${minutes} min`);
