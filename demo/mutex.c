/* The demo's mutex section, C part. The segment holds a mutex at 0 and a 64-bit counter at 64.
 *   ipc-demo mutex count <name> <n>   n times: lock, add one to the counter, unlock
 *   ipc-demo mutex hold <name>        lock, say so, and wait to be killed */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

int demo_mutex(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ipc-demo mutex count <name> <n> | hold <name>\n");
    return 64;
  }
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  int32_t rc = ipc_segment_open(argv[3], 0, &seg);
  if (rc == IPC_OK) rc = ipc_mutex_at(seg, 0, &m);
  if (rc != IPC_OK) {
    fprintf(stderr, "ipc-demo: %s: %s (%s)\n", argv[3], ipc_strerror(rc), ipc_errname(rc));
    return 1;
  }
  uint64_t *counter = (uint64_t *)((char *)ipc_segment_base(seg) + 64);
  if (strcmp(argv[2], "count") == 0 && argc == 5) {
    long n = atol(argv[4]);
    for (long i = 0; i < n; i++) {
      if ((rc = ipc_mutex_lock(m)) < 0) break;
      *counter += 1;
      ipc_mutex_unlock(m);
    }
  } else if (strcmp(argv[2], "hold") == 0) {
    if ((rc = ipc_mutex_lock(m)) >= 0) {
      printf("locked\n");
      fflush(stdout);
      for (;;) pause();
    }
  }
  ipc_segment_close(seg);
  if (rc < 0) fprintf(stderr, "ipc-demo: lock: %s\n", ipc_strerror(rc));
  return rc < 0 ? 1 : 0;
}
