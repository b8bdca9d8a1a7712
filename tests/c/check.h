/* A minimal test helper for the C tests: CHECK(cond) and CHECK_RC(call, want) print the failing
 * line and exit 1. Uses only the C standard library. */
#ifndef IPC_TEST_CHECK_H
#define IPC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

#define CHECK_RC(call, want)                                                               \
  do {                                                                                     \
    int32_t rc_ = (call);                                                                  \
    if (rc_ != (want)) {                                                                   \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__, __LINE__, \
              #call, (int)rc_, ipc_errname(rc_), (int)(want), ipc_errname(want));          \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

#endif
