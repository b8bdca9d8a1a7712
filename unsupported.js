// libipc binds its native library with bun:ffi (Bun) or Deno.dlopen (Deno). Other runtimes resolve
// the package's "default" export condition to this file.
throw new Error("libipc supports Bun and Deno; this runtime is not supported (import it from Bun or Deno)");
