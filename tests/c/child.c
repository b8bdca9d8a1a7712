/* ipc-child: the C participant of the multi-process tests. It takes the same arguments as the
 * TypeScript participant (tests/mp/child.ts), so a test can run any mix of C, Bun and Deno:
 *   ipc-child <concept> <command> ...
 * Errors print "error <ERRNAME>" on stdout and exit with 2. */
#include <string.h>

#include "child.h"

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "segment") == 0) return child_segment(argc - 1, argv + 1);
#ifdef _WIN32
  /* The Windows build (`zig build wintest`) holds the segment commands only: the others reach into
   * POSIX (signals, fork, raw futexes). */
  return usage("segment ...");
#else
  if (argc >= 2 && strcmp(argv[1], "mutex") == 0) return child_mutex(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "sync") == 0) return child_sync(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "heap") == 0) return child_heap(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "chan") == 0) return child_chan(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "cleanup") == 0) return child_cleanup(argc - 1, argv + 1);
  return usage("segment|mutex|sync|heap|chan|cleanup ...");
#endif
}
