/* For the C tests (Linux): whether a process is seen parked in the kernel — state S in
 * /proc/<pid>/stat and inside a futex call per /proc/<pid>/syscall — so that a test that means to
 * catch a waiter parked waits for that, never for a time. The helpers are static inline so that a
 * test may use either without an unused-function warning. */
#ifndef IPC_TEST_PARKED_H
#define IPC_TEST_PARKED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

#include "ipc.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449 /* the same number on every architecture (Linux 5.16) */
#endif

/* Whether process (or thread: any tid names one in /proc) `pid` sleeps in futex/futex_waitv now:
 * 1 when it does, 0 when it does not (yet), -1 when it is gone. */
static inline int parked_now(pid_t pid) {
  char path[64], stat[512] = {0}, call[256] = {0};
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  const char *close_paren = strrchr(stat, ')');
  if (n == 0 || close_paren == NULL || close_paren[1] != ' ' || close_paren[2] != 'S') return 0;
  snprintf(path, sizeof path, "/proc/%ld/syscall", (long)pid);
  f = fopen(path, "r");
  if (f == NULL) return -1;
  n = fread(call, 1, sizeof call - 1, f);
  fclose(f);
  long nr = n > 0 ? strtol(call, NULL, 10) : -1;
  return nr == SYS_futex || nr == SYS_futex_waitv;
}

/* Polls (every 1 ms, up to `limit_ns`) until process `pid` sleeps in futex/futex_waitv. Returns 1
 * when seen, 0 when the process is gone or the limit passed (then says so on stderr). */
static inline int seen_parked(pid_t pid, uint64_t limit_ns) {
  const struct timespec ms = {0, 1000000L};
  for (uint64_t t0 = ipc_now_ns(); ipc_now_ns() - t0 < limit_ns; nanosleep(&ms, NULL)) {
    int parked = parked_now(pid);
    if (parked < 0) return 0;
    if (parked > 0) return 1;
  }
  fprintf(stderr, "process %ld was never seen parked in a futex wait\n", (long)pid);
  return 0;
}

#endif
