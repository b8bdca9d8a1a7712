/* The mutex commands of ipc-child (see child.c). The segment holds a mutex at `offset` and, for
 * "sum", a 64-bit sum at offset + 64:
 *   mutex sum <segment> <offset> <i>      print "ready", then 99 times: lock, add i*j - i + i^4
 *                                         (j = 1..99) to the sum, unlock; print "done"
 *   mutex hold <segment> <offset>         lock, print "locked", then wait to be killed
 *   mutex lock <segment> <offset> sync    print "waiting", lock, print "acquired <ownerDied 0|1>
 *                                         <ipc_now_ns>", repair (consistent) if needed, unlock */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

static int32_t open_mutex(const char *name, const char *offset_text, ipc_segment_t **seg, ipc_mutex_t **m) {
  int32_t rc = ipc_segment_open(name, 0, seg);
  if (rc != IPC_OK) return rc;
  return ipc_mutex_at(*seg, strtoull(offset_text, NULL, 10), m);
}

static int sum(ipc_segment_t *seg, ipc_mutex_t *m, uint64_t offset, uint64_t i) {
  uint64_t *total = (uint64_t *)((char *)ipc_segment_base(seg) + offset + IPC_MUTEX_SIZE);
  printf("ready\n");
  fflush(stdout);
  for (uint64_t j = 1; j <= 99; j++) {
    int32_t rc = ipc_mutex_lock(m);
    if (rc != IPC_OK) return fail(rc);
    *total += i * j - i + i * i * i * i;
    rc = ipc_mutex_unlock(m);
    if (rc != IPC_OK) return fail(rc);
  }
  printf("done\n");
  return 0;
}

int child_mutex(int argc, char **argv) {
  if (argc < 4) return usage("mutex sum|hold|lock <segment> <offset> ...");
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  int32_t rc = open_mutex(argv[2], argv[3], &seg, &m);
  if (rc != IPC_OK) return fail(rc);
  if (argc >= 5 && strcmp(argv[1], "sum") == 0) {
    int status = sum(seg, m, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
    ipc_segment_close(seg);
    return status;
  }
  if (strcmp(argv[1], "hold") == 0) {
    rc = ipc_mutex_lock(m);
    if (rc < 0) return fail(rc);
    printf("locked\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (argc >= 5 && strcmp(argv[1], "lock") == 0 && strcmp(argv[4], "sync") == 0) {
    printf("waiting\n");
    fflush(stdout);
    rc = ipc_mutex_lock(m);
    uint64_t at = ipc_now_ns();
    if (rc < 0) return fail(rc);
    printf("acquired %d %llu\n", rc == IPC_OWNER_DIED, (unsigned long long)at);
    if (rc == IPC_OWNER_DIED && (rc = ipc_mutex_consistent(m)) != IPC_OK) return fail(rc);
    if ((rc = ipc_mutex_unlock(m)) != IPC_OK) return fail(rc);
    ipc_segment_close(seg);
    return 0;
  }
  return usage("mutex sum|hold|lock <segment> <offset> ...");
}
