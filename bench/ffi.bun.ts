/** FFI call overhead from Bun; see ffi.ts. */
import { dlopen, FFIType } from "bun:ffi";
import "../bun.ts";
import { ffiBench } from "./ffi.ts";

const libc = dlopen("libc.so.6", { getpagesize: { args: [], returns: FFIType.i32 } });
ffiBench("Bun", process.argv[2], libc.symbols.getpagesize);
