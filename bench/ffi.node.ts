/** FFI call overhead from Node (koffi); see ffi.ts. Runs from source: Node 22.18 or later. */
import koffi from "koffi";
import "../node.ts";
import { ffiBench } from "./ffi.ts";

const getpagesize = koffi.load("libc.so.6").func("int getpagesize()") as () => number;
ffiBench("Node", process.argv[2] ?? "", getpagesize);
