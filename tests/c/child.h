/* Shared by the command files of ipc-child. */
#ifndef IPC_TEST_CHILD_H
#define IPC_TEST_CHILD_H

#include <stdint.h>
#include <stdio.h>

#include "ipc.h"

/* Prints "error <NAME>" to stdout (where tests read it) and returns exit code 2. */
static inline int fail(int32_t rc) {
  printf("error %s\n", ipc_errname(rc));
  return 2;
}

static inline int usage(const char *what) {
  fprintf(stderr, "usage: ipc-child %s\n", what);
  return 64;
}

int child_segment(int argc, char **argv);
int child_mutex(int argc, char **argv);
int child_sync(int argc, char **argv);
int child_heap(int argc, char **argv);
int child_chan(int argc, char **argv);
int child_cleanup(int argc, char **argv);

#endif
