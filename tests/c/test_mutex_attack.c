/* A peer that can write a mutex's memory must not steer the holder's libc (issue 16, item 5). Each
 * attack runs in a forked victim whose exit status is checked: a signal (SIGABRT from a glibc
 * assertion, SIGILL from lock elision's xbegin, SIGSEGV from following forged robust-list links)
 * or an exit other than 0 fails the test. A forked peer writes the bytes (the segment is shared),
 * at the offsets where the object of libipc <= 0.1 kept glibc's pthread_mutex_t fields: kind,
 * elision, owner, and the robust-list links. */
#define _GNU_SOURCE
#include "ipc.h"
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Offsets in the 64-byte object: glibc's pthread_mutex_t (x86_64/aarch64) started at 16. */
enum { OFF_WORD = 16, OFF_OWNER = 24, OFF_KIND = 32, OFF_SPINS = 36, OFF_PREV = 40, OFF_NEXT = 48 };
/* glibc's kind bits: errorcheck 2, robust 16, PI 32, PP 64, pshared 128, elision 256. */
enum { KIND_ORIGINAL = 2 | 16 | 128, KIND_PI = 32, KIND_PP = 64, KIND_ELISION = 256 };

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A peer process writes `len` bytes of `value` at `at` (shared memory) and exits. */
static void peer_write(void *at, uint64_t value, size_t len) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    memcpy(at, &value, len);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *field(ipc_mutex_t *m, int off) { return (char *)m + off; }

/* The thread's robust list still works after an attack: libipc locks and glibc's own robust
 * mutexes (which walk the same list) lock and unlock. */
static void list_still_works(ipc_mutex_t *other) {
  pthread_mutexattr_t a;
  pthread_mutex_t g;
  CHECK(pthread_mutexattr_init(&a) == 0);
  CHECK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0);
  CHECK(pthread_mutex_init(&g, &a) == 0);
  CHECK_RC(ipc_mutex_lock(other), IPC_OK);
  CHECK(pthread_mutex_lock(&g) == 0);
  CHECK_RC(ipc_mutex_unlock(other), IPC_OK);
  CHECK(pthread_mutex_unlock(&g) == 0);
  CHECK(pthread_mutex_lock(&g) == 0);
  CHECK_RC(ipc_mutex_lock(other), IPC_OK);
  CHECK(pthread_mutex_unlock(&g) == 0);
  CHECK_RC(ipc_mutex_unlock(other), IPC_OK);
}

/* The kind field says priority-protect, priority-inheritance or elision: glibc <= 0.1 asserted in
 * tpp.c, or ran xbegin. The bytes are no part of the lock now: it works as usual. */
static void attack_kind(ipc_mutex_t *m, ipc_mutex_t *other, uint32_t kind) {
  peer_write(field(m, OFF_KIND), kind, 4);
  peer_write(field(m, OFF_SPINS), 0x01000100, 4); /* __spins and __elision */
  int32_t rc = ipc_mutex_lock(m);
  CHECK(rc == IPC_OK || rc == IPC_EPROTO);
  if (rc == IPC_OK) CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  rc = ipc_mutex_try_lock(m);
  CHECK(rc == IPC_OK || rc == IPC_EPROTO);
  if (rc == IPC_OK) CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  list_still_works(other);
}

/* Another process holds the mutex; a peer writes our TID into the word and the owner field. The
 * holder's calls must not take it for ours: unlock and consistent are EPERM, lock EDEADLK. */
static void attack_owner(ipc_mutex_t *m, ipc_mutex_t *other) {
  pid_t holder = fork();
  CHECK(holder >= 0);
  if (holder == 0) {
    if (ipc_mutex_lock(m) < 0) _exit(3);
    for (;;) pause();
  }
  /* Until the child holds it: 30 s holds at a 4x slowdown of anything this machine does. */
  for (uint64_t t0 = ipc_now_ns(); ipc_mutex_holder(m) == 0; sleep_ms(1)) CHECK(ipc_now_ns() - t0 < 30000000000ull);
  uint32_t me = (uint32_t)gettid();
  peer_write(field(m, OFF_OWNER), me, 4);
  peer_write(field(m, OFF_WORD), me, 4);
  CHECK_RC(ipc_mutex_unlock(m), IPC_EPERM);
  CHECK_RC(ipc_mutex_consistent(m), IPC_EPERM);
  CHECK(ipc_mutex_held(m) == 0);
  CHECK_RC(ipc_mutex_try_lock(m), IPC_EDEADLK); /* as glibc: the word names this thread */
  CHECK_RC(ipc_mutex_timed_lock(m, 20 * 1000000), IPC_EDEADLK);
  CHECK((*(volatile uint32_t *)field(m, OFF_WORD) & 0x3fffffffu) == me); /* not released by us */
  CHECK(kill(holder, SIGKILL) == 0);
  CHECK(waitpid(holder, NULL, 0) == holder);
  list_still_works(other);
}

/* The canary the forged links point at: glibc's unlock wrote the other link's value there. */
static volatile uintptr_t canary[4] = {0x1111, 0x2222, 0x3333, 0x4444};

/* While this process holds the mutex, a peer points its robust-list links at garbage, or at the
 * victim's own canary. Unlock succeeds, writes nothing outside the segment, and the thread's list
 * stays whole. */
static void attack_links(ipc_mutex_t *m, ipc_mutex_t *other, int at_canary) {
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  uint64_t prev = at_canary ? (uint64_t)(uintptr_t)&canary[1] : 0xdead0000beef0ull;
  uint64_t next = at_canary ? (uint64_t)(uintptr_t)&canary[3] : 0x10ull;
  peer_write(field(m, OFF_PREV), prev, 8);
  peer_write(field(m, OFF_NEXT), next, 8);
  int32_t rc = ipc_mutex_unlock(m);
  CHECK(rc == IPC_OK || rc == IPC_EPROTO || rc == IPC_EPERM);
  CHECK(canary[0] == 0x1111 && canary[1] == 0x2222 && canary[2] == 0x3333 && canary[3] == 0x4444);
  CHECK(ipc_mutex_held(m) == 0);
  /* Garbage links on a free mutex, then a lock: the lock writes them from its own record. */
  peer_write(field(m, OFF_PREV), prev, 8);
  peer_write(field(m, OFF_NEXT), next, 8);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(other), IPC_OK);
  peer_write(field(m, OFF_NEXT), next, 8);
  peer_write(field(other, OFF_NEXT), prev, 8);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK); /* out of order: the middle of our part of the list */
  CHECK_RC(ipc_mutex_unlock(other), IPC_OK);
  CHECK(canary[0] == 0x1111 && canary[1] == 0x2222 && canary[2] == 0x3333 && canary[3] == 0x4444);
  list_still_works(other);
}

/* While this process holds the mutex, a peer writes another TID into the word: unlock reports the
 * damage (EPROTO), leaves the word as found, and forgets the lock. */
static void attack_word_while_held(ipc_mutex_t *m, ipc_mutex_t *other) {
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  peer_write(field(m, OFF_WORD), 1, 4);
  CHECK_RC(ipc_mutex_unlock(m), IPC_EPROTO);
  CHECK(*(volatile uint32_t *)field(m, OFF_WORD) == 1);
  CHECK_RC(ipc_mutex_unlock(m), IPC_EPERM);
  list_still_works(other);
}

enum attack { KIND_PP_ATTACK, KIND_PI_ATTACK, KIND_ELISION_ATTACK, OWNER, LINKS_GARBAGE, LINKS_CANARY, WORD_HELD };
static const char *const names[] = {"kind PP", "kind PI", "kind elision", "owner", "links garbage", "links canary",
                                    "word while held"};

static void victim(enum attack a) {
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL, *other = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_mutex_init_at(seg, 64, &other), IPC_OK);
  switch (a) {
  case KIND_PP_ATTACK: attack_kind(m, other, KIND_PP | 2 | 128); break;
  case KIND_PI_ATTACK: attack_kind(m, other, KIND_ORIGINAL | KIND_PI); break;
  case KIND_ELISION_ATTACK: attack_kind(m, other, KIND_ELISION | 128); break;
  case OWNER: attack_owner(m, other); break;
  case LINKS_GARBAGE: attack_links(m, other, 0); break;
  case LINKS_CANARY: attack_links(m, other, 1); break;
  case WORD_HELD: attack_word_while_held(m, other); break;
  }
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

int main(void) {
  int failed = 0;
  for (int a = KIND_PP_ATTACK; a <= WORD_HELD; a++) {
    /* Several rounds: the forged links' effect in the old code depended on what they hit. */
    for (int round = 0; round < 3; round++) {
      pid_t pid = fork();
      CHECK(pid >= 0);
      if (pid == 0) {
        alarm(20);
        victim((enum attack)a);
        _exit(0);
      }
      int status = 0;
      CHECK(waitpid(pid, &status, 0) == pid);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "test_mutex_attack: %s: victim %s %d\n", names[a], WIFSIGNALED(status) ? "killed by signal" : "exited",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        failed = 1;
        break;
      }
    }
  }
  if (failed) return 1;
  printf("test_mutex_attack: ok\n");
  return 0;
}
