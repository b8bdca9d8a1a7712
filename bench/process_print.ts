/**
 * The isolate peer's child for the process benchmark (bench/process.ts): computes times10 of its
 * argument and prints the result on stdout, the least a child process can do to return a value.
 */
import process from "node:process";
import { times10 } from "./process_work.ts";

console.log(JSON.stringify(times10(JSON.parse(process.argv[2]))));
