/** Deno with an `npm:` specifier and only --allow-ffi: the library loads from the platform package. */
import { libraryInfo, Mutex } from "npm:libipc";

using mutex = Mutex.create();
mutex.lockSync();
mutex.unlock();
console.log(`npm: specifier: ${libraryInfo().runtime}, library ${libraryInfo().path}`);
