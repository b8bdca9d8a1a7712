/** FFI call overhead from Deno; see ffi.ts. */
import "../mod.ts";
import { ffiBench } from "./ffi.ts";

const libc = Deno.dlopen("libc.so.6", { getpagesize: { parameters: [], result: "i32" } });
ffiBench("Deno", Deno.args[0], libc.symbols.getpagesize);
