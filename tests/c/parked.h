/* For the C tests (Linux): whether a process is seen parked in the kernel — state S in
 * /proc/<pid>/stat and inside a futex call per /proc/<pid>/syscall — so that a test that means to
 * catch a waiter parked waits for that, never for a time. */
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

/* Polls (every 1 ms, up to `limit_ns`) until process `pid` sleeps in futex/futex_waitv. Returns 1
 * when seen, 0 when the process is gone or the limit passed (then says so on stderr). */
static int seen_parked(pid_t pid, uint64_t limit_ns) {
  char path[64];
  const struct timespec ms = {0, 1000000L};
  for (uint64_t t0 = ipc_now_ns(); ipc_now_ns() - t0 < limit_ns; nanosleep(&ms, NULL)) {
    char stat[512] = {0}, call[256] = {0};
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    const char *close_paren = strrchr(stat, ')');
    if (n == 0 || close_paren == NULL || close_paren[1] != ' ' || close_paren[2] != 'S') continue;
    snprintf(path, sizeof path, "/proc/%ld/syscall", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) return 0;
    n = fread(call, 1, sizeof call - 1, f);
    fclose(f);
    long nr = n > 0 ? strtol(call, NULL, 10) : -1;
    if (nr == SYS_futex || nr == SYS_futex_waitv) return 1;
  }
  fprintf(stderr, "process %ld was never seen parked in a futex wait\n", (long)pid);
  return 0;
}

#endif
