/* The demo's message-passing section, C part.
 *   ipc-demo chan produce <name> <count>   send `count` messages "C #i" into the channel
 *   ipc-demo chan flood <name>             say "flooding", then send forever (to be killed)
 *   ipc-demo chan bites <name>             write "Another one bites the dust\n" five times into a pipe
 *                                          and end it */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

int demo_chan(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ipc-demo chan produce <name> <count> | flood <name> | bites <name>\n");
    return 64;
  }
  ipc_segment_t *seg = NULL;
  ipc_chan_t *chan = NULL;
  int32_t rc = ipc_segment_open(argv[3], 0, &seg);
  if (rc == IPC_OK) rc = ipc_chan_at(seg, 0, &chan);
  if (rc != IPC_OK) {
    fprintf(stderr, "ipc-demo chan: %s\n", ipc_strerror(rc));
    return 1;
  }
  char m[64];
  if (strcmp(argv[2], "bites") == 0) {
    static const char line[] = "Another one bites the dust\n";
    for (int i = 0; i < 5 && rc == IPC_OK; i++) rc = ipc_chan_write(chan, line, sizeof line - 1, -1);
    if (rc == IPC_OK) rc = ipc_chan_close(chan);
  } else if (strcmp(argv[2], "flood") == 0) {
    printf("flooding\n");
    fflush(stdout);
    for (long i = 0;; i++) {
      int n = snprintf(m, sizeof m, "flood #%ld", i);
      ipc_chan_send(chan, m, (uint64_t)n, -1);
    }
  } else if (argc == 5) {
    long count = atol(argv[4]);
    for (long i = 0; i < count && rc == IPC_OK; i++) {
      int n = snprintf(m, sizeof m, "C #%ld", i);
      rc = ipc_chan_send(chan, m, (uint64_t)n, -1);
    }
  }
  if (rc != IPC_OK) fprintf(stderr, "ipc-demo chan: %s\n", ipc_strerror(rc));
  ipc_segment_close(seg);
  return rc == IPC_OK ? 0 : 1;
}
