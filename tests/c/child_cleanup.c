/* The cleanup commands of ipc-child (see child.c):
 *   cleanup work <name>    start the tracker (default helper lookup: zig-out/bin beside this
 *                          program), create a tracked segment with a generated name, a tracked
 *                          segment called <name> and a tracked semaphore called <name>s, print the
 *                          three names on one line, then work on them until killed
 *   cleanup leave <name>   create an untracked segment with a generated name and one called <name>,
 *                          print both names, and exit without unlinking them */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <string.h>

#include "child.h"

static int work(const char *name) {
  char sem_name[64];
  snprintf(sem_name, sizeof sem_name, "%ss", name);
  int32_t rc = ipc_tracker_start(NULL, 0);
  if (rc != IPC_OK) return fail(rc);
  ipc_segment_t *generated = NULL, *named = NULL, *sem_segment = NULL;
  ipc_sem_t *sem = NULL;
  rc = ipc_segment_create(NULL, 4096, 0, IPC_SEGMENT_UNIQUE_NAME | IPC_SEGMENT_TRACK, &generated);
  if (rc == IPC_OK) rc = ipc_segment_create(name, 4096, 0, IPC_SEGMENT_TRACK, &named);
  if (rc == IPC_OK) rc = ipc_sem_create(sem_name, 0, IPC_SEGMENT_TRACK, 0, 1, &sem_segment, &sem);
  if (rc != IPC_OK) return fail(rc);
  printf("%s %s %s\n", ipc_segment_name(generated), ipc_segment_name(named), ipc_segment_name(sem_segment));
  fflush(stdout);
  volatile unsigned char *bytes = ipc_segment_base(named);
  for (unsigned i = 0;; i++) {
    bytes[i % 4096] = (unsigned char)i;
    if (ipc_sem_release(sem, 1) != IPC_OK || ipc_sem_acquire(sem, 1, -1) != IPC_OK) return 1;
  }
}

static int leave(const char *name) {
  ipc_segment_t *generated = NULL, *named = NULL;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, IPC_SEGMENT_UNIQUE_NAME, &generated);
  if (rc == IPC_OK) rc = ipc_segment_create(name, 4096, 0, 0, &named);
  if (rc != IPC_OK) return fail(rc);
  printf("%s %s\n", ipc_segment_name(generated), ipc_segment_name(named));
  return 0;
}

int child_cleanup(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "work") == 0) return work(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "leave") == 0) return leave(argv[2]);
  return usage("cleanup work|leave <name>");
}
