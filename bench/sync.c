/* Semaphore, condition and rwlock benchmarks from C, each against its glibc peer measured in the
 * same run. One JSON line per case (see bench/report.ts); case names match bench/sync.ts.
 *   ipc-bench-sync sem-pingpong [rounds]
 *       This process and a forked child bounce a token through two semaphores in a shared anonymous
 *       segment: A releases s1 and acquires s2, B acquires s1 and releases s2. A reads
 *       CLOCK_MONOTONIC around each round; the first 10% of rounds are dropped, p50 and p99 of the
 *       rest reported. Then the same with two glibc sem_t (sem_init pshared=1, sem_post/sem_wait)
 *       in the same mapping. libipc is measured twice: with its default spin, and with
 *       ipc_spin_set(0) (every wait parks at once, as sem_wait does).
 *   ipc-bench-sync cond-pingpong [rounds]
 *       The same round trip through a mutex, one condition and a turn word: A sets the turn to B,
 *       notifies and waits until the turn comes back; B waits for its turn, hands it back and
 *       notifies. The peer is a glibc pthread_mutex_t + pthread_cond_t, both PTHREAD_PROCESS_SHARED.
 *       libipc again with its default spin and with ipc_spin_set(0).
 *   ipc-bench-sync rwlock-uncontended [iterations]
 *       Read lock+unlock pairs, then write lock+unlock pairs (a tenth as many), on an uncontended
 *       lock: libipc's ipc_rwlock_t and a glibc pthread_rwlock_t (PTHREAD_PROCESS_SHARED), each
 *       after a warm-up of a tenth of the iterations. */
#define _GNU_SOURCE
#include "ipc.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every blocking libipc call in a ping-pong gives up after this long: a lost wake-up ends the
 * benchmark with an error instead of hanging it. */
#define TIMEOUT_NS (30LL * 1000000000LL)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-sync: %s: %s\n", what, ipc_errname(rc));
  exit(1);
}

/* In the forked side: no stdio flushing, no atexit handlers. */
static void child_die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-sync (child): %s: %s\n", what, ipc_errname(rc));
  _exit(1);
}

static void report(const char *name, const char *tool, const char *unit, double value, int peer) {
  printf("{\"case\":\"%s\",\"tool\":\"%s\",\"unit\":\"%s\",\"value\":%.4f,\"peer\":%s}\n", name, tool, unit, value,
         peer ? "true" : "false");
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Drops the first 10% of `rounds` per-round times, then reports p50 and p99 of the rest. */
static void report_round_trips(const char *what, const char *tool, int peer, double *us, uint32_t rounds) {
  uint32_t skip = rounds / 10;
  uint32_t n = rounds - skip;
  qsort(us + skip, n, sizeof *us, compare);
  char name_p50[160], name_p99[160];
  snprintf(name_p50, sizeof name_p50, "%s, p50", what);
  snprintf(name_p99, sizeof name_p99, "%s, p99", what);
  report(name_p50, tool, "us", us[skip + n / 2], peer);
  report(name_p99, tool, "us", us[skip + (uint32_t)(n * 0.99)], peer);
}

static pid_t fork_side(void) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) die("fork", IPC_EIO);
  if (pid == 0) alarm(600);
  return pid;
}

static void reap(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("the other side failed", IPC_EIO);
}

/* ---- Semaphore ping-pong ------------------------------------------------------------------- */

/* Layout of the shared segment: libipc semaphores at 0 and 64, glibc sem_t at 128 and 192. */
static int sem_pingpong(uint32_t rounds) {
  ipc_segment_t *seg;
  ipc_sem_t *s1, *s2;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, 0, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_sem_init_at(seg, 0, 0, 0, &s1))) die("sem init", rc);
  if ((rc = ipc_sem_init_at(seg, 64, 0, 0, &s2))) die("sem init", rc);
  char *base = ipc_segment_base(seg);
  sem_t *p1 = (sem_t *)(base + 128), *p2 = (sem_t *)(base + 192);
  if (sem_init(p1, 1, 0) != 0 || sem_init(p2, 1, 0) != 0) die("sem_init", IPC_EIO);
  double *us = calloc(rounds, sizeof *us);
  if (us == NULL) die("calloc", IPC_ENOMEM);

  pid_t pid;
  for (int park = 0; park <= 1; park++) {
    if (park) ipc_spin_set(0); /* inherited by the forked side */
    pid = fork_side();
    if (pid == 0) {
      for (uint32_t r = 0; r < rounds; r++) {
        if ((rc = ipc_sem_acquire(s1, 1, TIMEOUT_NS))) child_die("acquire", rc);
        if ((rc = ipc_sem_release(s2, 1))) child_die("release", rc);
      }
      _exit(0);
    }
    for (uint32_t r = 0; r < rounds; r++) {
      uint64_t t0 = now_ns();
      if ((rc = ipc_sem_release(s1, 1))) die("release", rc);
      if ((rc = ipc_sem_acquire(s2, 1, TIMEOUT_NS))) die("acquire", rc);
      us[r] = (double)(now_ns() - t0) / 1000.0;
    }
    reap(pid);
    report_round_trips("semaphore ping-pong round trip", park ? "C libipc ipc_sem_t, parking at once" : "C libipc ipc_sem_t",
                       0, us, rounds);
  }
  ipc_spin_set(IPC_SPIN_NS_DEFAULT);

  pid = fork_side();
  if (pid == 0) {
    for (uint32_t r = 0; r < rounds; r++) {
      while (sem_wait(p1) != 0) {} /* EINTR only */
      if (sem_post(p2) != 0) child_die("sem_post", IPC_EIO);
    }
    _exit(0);
  }
  for (uint32_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    if (sem_post(p1) != 0) die("sem_post", IPC_EIO);
    while (sem_wait(p2) != 0) {}
    us[r] = (double)(now_ns() - t0) / 1000.0;
  }
  reap(pid);
  report_round_trips("semaphore ping-pong round trip", "C glibc sem_t (pshared)", 1, us, rounds);

  sem_destroy(p1);
  sem_destroy(p2);
  free(us);
  ipc_segment_close(seg);
  return 0;
}

/* ---- Condition ping-pong ------------------------------------------------------------------- */

/* Layout: libipc mutex at 0, condition at 64, turn at 128; glibc mutex at 256, condition at 320,
 * turn at 384. The turn is 0 when A's, 1 when B's. */
static int cond_pingpong(uint32_t rounds) {
  ipc_segment_t *seg;
  ipc_mutex_t *m;
  ipc_cond_t *c;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, 0, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_mutex_init_at(seg, 0, &m))) die("mutex init", rc);
  if ((rc = ipc_cond_init_at(seg, 64, &c))) die("cond init", rc);
  char *base = ipc_segment_base(seg);
  volatile uint32_t *turn = (volatile uint32_t *)(base + 128);
  pthread_mutex_t *pm = (pthread_mutex_t *)(base + 256);
  pthread_cond_t *pc = (pthread_cond_t *)(base + 320);
  volatile uint32_t *pturn = (volatile uint32_t *)(base + 384);
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  if (pthread_mutex_init(pm, &ma) != 0 || pthread_cond_init(pc, &ca) != 0) die("pthread init", IPC_EIO);
  double *us = calloc(rounds, sizeof *us);
  if (us == NULL) die("calloc", IPC_ENOMEM);

  pid_t pid;
  for (int park = 0; park <= 1; park++) {
    if (park) ipc_spin_set(0); /* inherited by the forked side */
    *turn = 0;
    pid = fork_side();
    if (pid == 0) {
      for (uint32_t r = 0; r < rounds; r++) {
        if ((rc = ipc_mutex_lock(m))) child_die("lock", rc);
        while (*turn != 1) {
          if ((rc = ipc_cond_wait(c, m, TIMEOUT_NS))) child_die("cond wait", rc);
        }
        *turn = 0;
        ipc_cond_notify(c, 1);
        if ((rc = ipc_mutex_unlock(m))) child_die("unlock", rc);
      }
      _exit(0);
    }
    for (uint32_t r = 0; r < rounds; r++) {
      uint64_t t0 = now_ns();
      if ((rc = ipc_mutex_lock(m))) die("lock", rc);
      *turn = 1;
      ipc_cond_notify(c, 1);
      while (*turn != 0) {
        if ((rc = ipc_cond_wait(c, m, TIMEOUT_NS))) die("cond wait", rc);
      }
      if ((rc = ipc_mutex_unlock(m))) die("unlock", rc);
      us[r] = (double)(now_ns() - t0) / 1000.0;
    }
    reap(pid);
    report_round_trips("condition signal/wait round trip",
                       park ? "C libipc ipc_cond_t+ipc_mutex_t, parking at once" : "C libipc ipc_cond_t+ipc_mutex_t", 0,
                       us, rounds);
  }
  ipc_spin_set(IPC_SPIN_NS_DEFAULT);

  pid = fork_side();
  if (pid == 0) {
    for (uint32_t r = 0; r < rounds; r++) {
      pthread_mutex_lock(pm);
      while (*pturn != 1) pthread_cond_wait(pc, pm);
      *pturn = 0;
      pthread_cond_signal(pc);
      pthread_mutex_unlock(pm);
    }
    _exit(0);
  }
  for (uint32_t r = 0; r < rounds; r++) {
    uint64_t t0 = now_ns();
    pthread_mutex_lock(pm);
    *pturn = 1;
    pthread_cond_signal(pc);
    while (*pturn != 0) pthread_cond_wait(pc, pm);
    pthread_mutex_unlock(pm);
    us[r] = (double)(now_ns() - t0) / 1000.0;
  }
  reap(pid);
  report_round_trips("condition signal/wait round trip", "C glibc pthread_cond_t+pthread_mutex_t (pshared)", 1, us,
                     rounds);

  pthread_cond_destroy(pc);
  pthread_mutex_destroy(pm);
  free(us);
  ipc_segment_close(seg);
  return 0;
}

/* ---- Uncontended rwlock -------------------------------------------------------------------- */

static int rwlock_uncontended(long n) {
  ipc_segment_t *seg;
  ipc_rwlock_t *rw;
  int32_t rc = ipc_segment_create(NULL, 8192, 0, 0, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_rwlock_init_at(seg, 0, &rw))) die("rwlock init", rc);
  pthread_rwlock_t *p = (pthread_rwlock_t *)((char *)ipc_segment_base(seg) + 4096);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (pthread_rwlock_init(p, &attr) != 0) die("pthread_rwlock_init", IPC_EIO);
  long writes = n / 10;

  for (long i = 0; i < n / 10; i++) {
    ipc_rwlock_read_lock(rw, -1);
    ipc_rwlock_read_unlock(rw);
  }
  uint64_t t = now_ns();
  for (long i = 0; i < n; i++) {
    if (ipc_rwlock_read_lock(rw, -1) != IPC_OK) die("read lock", IPC_EIO);
    ipc_rwlock_read_unlock(rw);
  }
  report("rwlock read lock+unlock, uncontended", "C libipc ipc_rwlock_t", "ns/pair", (double)(now_ns() - t) / n, 0);

  for (long i = 0; i < n / 10; i++) {
    pthread_rwlock_rdlock(p);
    pthread_rwlock_unlock(p);
  }
  t = now_ns();
  for (long i = 0; i < n; i++) {
    if (pthread_rwlock_rdlock(p) != 0) die("pthread_rwlock_rdlock", IPC_EIO);
    pthread_rwlock_unlock(p);
  }
  report("rwlock read lock+unlock, uncontended", "C glibc pthread_rwlock_t (pshared)", "ns/pair",
         (double)(now_ns() - t) / n, 1);

  for (long i = 0; i < writes / 10; i++) {
    ipc_rwlock_write_lock(rw, -1);
    ipc_rwlock_write_unlock(rw);
  }
  t = now_ns();
  for (long i = 0; i < writes; i++) {
    if (ipc_rwlock_write_lock(rw, -1) != IPC_OK) die("write lock", IPC_EIO);
    ipc_rwlock_write_unlock(rw);
  }
  report("rwlock write lock+unlock, uncontended", "C libipc ipc_rwlock_t", "ns/pair", (double)(now_ns() - t) / writes,
         0);

  for (long i = 0; i < writes / 10; i++) {
    pthread_rwlock_wrlock(p);
    pthread_rwlock_unlock(p);
  }
  t = now_ns();
  for (long i = 0; i < writes; i++) {
    if (pthread_rwlock_wrlock(p) != 0) die("pthread_rwlock_wrlock", IPC_EIO);
    pthread_rwlock_unlock(p);
  }
  report("rwlock write lock+unlock, uncontended", "C glibc pthread_rwlock_t (pshared)", "ns/pair",
         (double)(now_ns() - t) / writes, 1);

  pthread_rwlock_destroy(p);
  ipc_segment_close(seg);
  return 0;
}

int main(int argc, char **argv) {
  alarm(900); /* a kill timer: a stuck side cannot keep the run waiting forever */
  const char *what = argc >= 2 ? argv[1] : "";
  long count = argc >= 3 ? atol(argv[2]) : 0;
  if (argc <= 3 && strcmp(what, "sem-pingpong") == 0) return sem_pingpong(count > 0 ? (uint32_t)count : 50000);
  if (argc <= 3 && strcmp(what, "cond-pingpong") == 0) return cond_pingpong(count > 0 ? (uint32_t)count : 50000);
  if (argc <= 3 && strcmp(what, "rwlock-uncontended") == 0) return rwlock_uncontended(count > 0 ? count : 5000000);
  fprintf(stderr, "usage: ipc-bench-sync sem-pingpong [rounds] | cond-pingpong [rounds] | "
                  "rwlock-uncontended [iterations]\n");
  return 64;
}
