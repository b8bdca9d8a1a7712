/** Deno with an `npm:` specifier and only --allow-ffi: the library loads from the platform package. */
// The npm: specifier itself is what this checks (resolved from the project's node_modules).
// deno-lint-ignore no-import-prefix no-unversioned-import
import { libraryInfo, Mutex } from "npm:libipc";

using mutex = Mutex.create();
mutex.lockSync();
mutex.unlock();
console.log(`npm: specifier: ${libraryInfo().runtime}, library ${libraryInfo().path}`);
