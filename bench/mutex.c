/* Mutex benchmarks from C. One JSON line per case (see bench/report.ts).
 *   ipc-bench-mutex uncontended [iterations]
 *       lock+unlock pairs on an uncontended mutex: libipc, and glibc's robust pshared errorcheck
 *       pthread mutex (at offset 128 of the same segment, called directly) as the peer.
 *   ipc-bench-mutex handoff <gap_ns> <rounds> -- <waiter argv...>
 *       The driver: creates a segment (mutex at 0; at 64 the unlock time, at 72 the acknowledged
 *       round, at 76 the round the waiter is about to lock for, at 80 the round the driver holds
 *       the lock for), starts the waiter with
 *       "<segment> <rounds>" appended, and per round: locks, waits until the waiter is about to
 *       lock, lets `gap_ns` pass (so that it spins, or parks), stores the time and unlocks, then
 *       waits until the waiter acknowledges. The waiter measures unlock-to-acquired with the one
 *       CLOCK_MONOTONIC of the machine and prints the rows.
 *   ipc-bench-mutex wait <libipc|libipc-park|pthread> <segment> <rounds>
 *       The C waiter: libipc's lock (spin, then park; or park at once) or glibc's
 *       pthread_mutex_lock (parks at once) on the pthread mutex at offset 128, which the driver then
 *       locks and unlocks in place of libipc's (it is told by the waiter's argv). The case name
 *       comes from $HANDOFF_CASE. */
#define _GNU_SOURCE
#include "ipc.h"

#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-mutex: %s: %s\n", what, ipc_errname(rc));
  exit(1);
}

static void report(const char *name, const char *tool, const char *unit, double value, int peer) {
  printf("{\"case\":\"%s\",\"tool\":\"%s\",\"unit\":\"%s\",\"value\":%.4f,\"peer\":%s}\n", name, tool, unit, value,
         peer ? "true" : "false");
}

/* The peer: glibc's robust, process-shared, error-checking mutex (the kind libipc <= 0.1 wrapped),
 * at offset 128 of the segment's data. */
static pthread_mutex_t *peer_of(ipc_segment_t *seg) { return (pthread_mutex_t *)((char *)ipc_segment_base(seg) + 128); }

static void peer_init(ipc_segment_t *seg) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (pthread_mutex_init(peer_of(seg), &a) != 0) die("pthread_mutex_init", IPC_EIO);
  pthread_mutexattr_destroy(&a);
}

static int uncontended(long n) {
  ipc_segment_t *seg;
  ipc_mutex_t *m;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, 0, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_mutex_init_at(seg, 0, &m))) die("init", rc);
  for (long i = 0; i < n / 10; i++) {
    ipc_mutex_lock(m);
    ipc_mutex_unlock(m);
  }
  uint64_t t = now_ns();
  for (long i = 0; i < n; i++) {
    if (ipc_mutex_lock(m) != IPC_OK) die("lock", IPC_EIO);
    ipc_mutex_unlock(m);
  }
  report("mutex lock+unlock, uncontended", "C libipc", "ns/pair", (double)(now_ns() - t) / n, 0);
  peer_init(seg);
  pthread_mutex_t *p = peer_of(seg);
  t = now_ns();
  for (long i = 0; i < n; i++) {
    if (pthread_mutex_lock(p) != 0) die("pthread lock", IPC_EIO);
    pthread_mutex_unlock(p);
  }
  report("mutex lock+unlock, uncontended", "C glibc pthread robust pshared", "ns/pair", (double)(now_ns() - t) / n, 1);
  ipc_segment_close(seg);
  return 0;
}

struct shared {
  uint64_t unlocked_at;
  uint32_t acked; /* the last round the waiter acquired in */
  uint32_t ready; /* the round the waiter is about to lock for */
  uint32_t held;  /* the round the driver holds the lock for */
};

static struct shared *shared_of(ipc_segment_t *seg) { return (struct shared *)((char *)ipc_segment_base(seg) + 64); }

static void wait_for(uint32_t *word, uint32_t value, pid_t child) {
  for (uint64_t i = 1; __atomic_load_n(word, __ATOMIC_ACQUIRE) != value; i++) {
    __builtin_ia32_pause();
    if (i % (1u << 22) == 0 && waitpid(child, NULL, WNOHANG) == child) die("the waiter exited early", IPC_EIO);
  }
}

static int handoff(uint64_t gap_ns, uint32_t rounds, char **waiter_argv, int waiter_argc) {
  ipc_segment_t *seg;
  ipc_mutex_t *m;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, IPC_SEGMENT_UNIQUE_NAME, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_mutex_init_at(seg, 0, &m))) die("init", rc);
  peer_init(seg);
  int pthread = 0;
  for (int i = 0; i < waiter_argc; i++) pthread |= strcmp(waiter_argv[i], "pthread") == 0;
  struct shared *s = shared_of(seg);
  char rounds_text[16];
  snprintf(rounds_text, sizeof rounds_text, "%u", rounds);
  char **argv = calloc((size_t)waiter_argc + 3, sizeof *argv);
  for (int i = 0; i < waiter_argc; i++) argv[i] = waiter_argv[i];
  argv[waiter_argc] = (char *)ipc_segment_name(seg);
  argv[waiter_argc + 1] = rounds_text;
  pid_t child;
  if (posix_spawnp(&child, argv[0], NULL, NULL, argv, environ) != 0) die("spawn", IPC_EIO);
  for (uint32_t r = 1; r <= rounds; r++) {
    if ((rc = pthread ? pthread_mutex_lock(peer_of(seg)) : ipc_mutex_lock(m)) != IPC_OK) die("lock", rc);
    __atomic_store_n(&s->held, r, __ATOMIC_RELEASE);
    wait_for(&s->ready, r, child);
    uint64_t until = now_ns() + gap_ns;
    while (now_ns() < until) __builtin_ia32_pause();
    __atomic_store_n(&s->unlocked_at, now_ns(), __ATOMIC_RELEASE);
    if ((rc = pthread ? pthread_mutex_unlock(peer_of(seg)) : ipc_mutex_unlock(m)) != IPC_OK) die("unlock", rc);
    wait_for(&s->acked, r, child);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ipc_segment_unlink(ipc_segment_name(seg));
  ipc_segment_close(seg);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int waiter(const char *how, const char *name, uint32_t rounds) {
  ipc_segment_t *seg;
  ipc_mutex_t *m;
  int32_t rc = ipc_segment_open(name, 0, &seg);
  if (rc) die("open", rc);
  if ((rc = ipc_mutex_at(seg, 0, &m))) die("at", rc);
  struct shared *s = shared_of(seg);
  int pthread = strcmp(how, "pthread") == 0;
  if (strcmp(how, "libipc-park") == 0) ipc_spin_set(0);
  double *us = calloc(rounds, sizeof *us);
  for (uint32_t r = 1; r <= rounds; r++) {
    while (__atomic_load_n(&s->held, __ATOMIC_ACQUIRE) != r) __builtin_ia32_pause();
    __atomic_store_n(&s->ready, r, __ATOMIC_RELEASE);
    rc = pthread ? pthread_mutex_lock(peer_of(seg)) : ipc_mutex_lock(m);
    uint64_t at = now_ns();
    if (rc != 0) die("lock", rc);
    us[r - 1] = (double)(at - __atomic_load_n(&s->unlocked_at, __ATOMIC_ACQUIRE)) / 1000.0;
    __atomic_store_n(&s->acked, r, __ATOMIC_RELEASE);
    if (pthread) pthread_mutex_unlock(peer_of(seg));
    else ipc_mutex_unlock(m);
  }
  uint32_t skip = rounds / 10;
  qsort(us + skip, rounds - skip, sizeof *us, compare);
  uint32_t n = rounds - skip;
  const char *tool = pthread ? "C glibc pthread_mutex_lock (parks)" : "C libipc lock";
  const char *wait = getenv("HANDOFF_CASE") ? getenv("HANDOFF_CASE") : "handoff";
  char name_p50[160], name_p99[160];
  snprintf(name_p50, sizeof name_p50, "%s, p50", wait);
  snprintf(name_p99, sizeof name_p99, "%s, p99", wait);
  report(name_p50, tool, "us", us[skip + n / 2], pthread);
  report(name_p99, tool, "us", us[skip + (uint32_t)(n * 0.99)], pthread);
  ipc_segment_close(seg);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "uncontended") == 0) return uncontended(argc > 2 ? atol(argv[2]) : 20000000);
  if (argc >= 6 && strcmp(argv[1], "handoff") == 0 && strcmp(argv[4], "--") == 0) {
    return handoff(strtoull(argv[2], NULL, 10), (uint32_t)atoi(argv[3]), argv + 5, argc - 5);
  }
  if (argc == 5 && strcmp(argv[1], "wait") == 0) return waiter(argv[2], argv[3], (uint32_t)atoi(argv[4]));
  fprintf(stderr, "usage: ipc-bench-mutex uncontended [n] | handoff <gap_ns> <rounds> -- <waiter argv> | "
                  "wait <libipc|libipc-park|pthread> <segment> <rounds>\n");
  return 64;
}
