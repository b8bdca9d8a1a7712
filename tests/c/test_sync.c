/* Proves the semaphore, event, condition, barrier and readers-writer lock from plain C: argument
 * bounds and misuse codes, timeouts, and waits that forked processes block in and other processes
 * end, choreographed with the library's own semaphores and events (a sleep only ever gives a child
 * time to park, and each test stays correct without it); holders killed with SIGKILL for the
 * rwlock's and the condition's robustness. Children report through their exit status. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"
#include "parked.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECOND_NS 1000000000LL
#define MS_NS 1000000LL
/* The timeout of every wait that must end: long enough never to fire on a loaded machine, short
 * enough that a lost wake-up fails the test instead of hanging it. */
#define LONG_NS (20 * SECOND_NS)
#define SEGMENT_BYTES 65536

/* In a forked child: report the failing line and leave with _exit (never exit(): that would flush
 * stdio buffers inherited from the parent). */
#define CHILD_CHECK(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: child %ld: CHECK failed: %s\n", __FILE__, __LINE__, (long)getpid(), \
              #cond);                                                                              \
      _exit(2);                                                                                    \
    }                                                                                              \
  } while (0)

#define CHILD_RC(call, want)                                                                        \
  do {                                                                                              \
    int32_t rc_ = (call);                                                                           \
    if (rc_ != (want)) {                                                                            \
      fprintf(stderr, "%s:%d: child %ld: %s returned %d (%s), expected %d (%s)\n", __FILE__,        \
              __LINE__, (long)getpid(), #call, (int)rc_, ipc_errname(rc_), (int)(want),             \
              ipc_errname(want));                                                                   \
      _exit(2);                                                                                     \
    }                                                                                               \
  } while (0)

/* In a forked child: a wait that another process must end, and must end well before its timeout
 * (a wait that only succeeds on its last try at the deadline means the wake-up was lost). */
#define CHILD_WAIT_RC(call, want)                                                                   \
  do {                                                                                              \
    uint64_t t0_ = ipc_now_ns();                                                                    \
    CHILD_RC(call, want);                                                                           \
    CHILD_CHECK(ipc_now_ns() - t0_ < (uint64_t)LONG_NS / 2);                                        \
  } while (0)

/* The same in the parent. */
#define WAIT_RC(call, want)                                                                         \
  do {                                                                                              \
    uint64_t t0_ = ipc_now_ns();                                                                    \
    CHECK_RC(call, want);                                                                           \
    CHECK(ipc_now_ns() - t0_ < (uint64_t)LONG_NS / 2);                                              \
  } while (0)

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Forks; the child gets a kill timer so that a lost wake-up cannot leave it behind. */
static pid_t fork_child(void) {
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) alarm(60);
  return pid;
}

static void expect_exit(pid_t pid, int code) {
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != code) {
    fprintf(stderr, "child %ld: status %d (signal %d), expected exit %d\n", (long)pid,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0, code);
    exit(1);
  }
}

static int exit_code(pid_t pid) {
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void kill_and_reap(pid_t pid) {
  CHECK(kill(pid, SIGKILL) == 0);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A test that means to catch a waiter parked waits for it to be seen parked (parked.h), not for a
 * time: on a busy machine a child may not even have run yet after 10 ms. */
static int parked(pid_t pid) { return seen_parked(pid, (uint64_t)LONG_NS); }

/* True while `pid` has not exited (it is blocked, since it has nothing else to do). */
static int still_running(pid_t pid) { return waitpid(pid, NULL, WNOHANG) == 0; }

static uint32_t load32(const volatile uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void store32(volatile uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static uint32_t add32(volatile uint32_t *p, uint32_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }

static volatile uint32_t *word_at(ipc_segment_t *seg, uint64_t offset) {
  return (volatile uint32_t *)((char *)ipc_segment_base(seg) + offset);
}

/* ---- Semaphores ---------------------------------------------------------------------------- */

static void semaphore_bounds(void) {
  ipc_segment_t *seg = NULL;
  ipc_sem_t *s = NULL, *again = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_sem_at(seg, 0, &again), IPC_EPROTO);
  CHECK(again == NULL);
  CHECK_RC(ipc_sem_init_at(seg, 0, 5, 4, &s), IPC_ERANGE);
  CHECK(s == NULL);
  CHECK_RC(ipc_sem_init_at(seg, 0, 0, (uint32_t)IPC_SEM_VALUE_MAX + 1, &s), IPC_ERANGE);
  CHECK_RC(ipc_sem_init_at(seg, 0, (uint32_t)IPC_SEM_VALUE_MAX + 1, 0, &s), IPC_ERANGE);
  CHECK_RC(ipc_sem_init_at(seg, 4, 0, 0, &s), IPC_EALIGN);
  CHECK_RC(ipc_sem_init_at(seg, 4096 - 32, 0, 0, &s), IPC_ERANGE);
  CHECK_RC(ipc_sem_at(seg, 0, &again), IPC_EPROTO); /* failed inits leave nothing behind */

  /* max 0 means IPC_SEM_VALUE_MAX. */
  CHECK_RC(ipc_sem_init_at(seg, 64, IPC_SEM_VALUE_MAX, 0, &s), IPC_OK);
  CHECK_RC(ipc_sem_max(s), IPC_SEM_VALUE_MAX);
  CHECK_RC(ipc_sem_value(s), IPC_SEM_VALUE_MAX);
  CHECK_RC(ipc_sem_release(s, 1), IPC_ERANGE);

  CHECK_RC(ipc_sem_init_at(seg, 0, 2, 3, &s), IPC_OK);
  CHECK_RC(ipc_sem_at(seg, 0, &again), IPC_OK);
  CHECK(again == s);
  CHECK(ipc_sem_word(s) != NULL);
  CHECK_RC(ipc_sem_max(s), 3);
  CHECK_RC(ipc_sem_value(s), 2);
  CHECK_RC(ipc_sem_try_acquire(s, 0), IPC_EINVAL);
  CHECK_RC(ipc_sem_acquire(s, 0, -1), IPC_EINVAL);
  CHECK_RC(ipc_sem_try_acquire(s, 4), IPC_ERANGE);
  CHECK_RC(ipc_sem_acquire(s, 4, -1), IPC_ERANGE); /* can never succeed: refused, not waited for */
  CHECK_RC(ipc_sem_try_acquire(s, 3), IPC_EBUSY);
  CHECK_RC(ipc_sem_value(s), 2);
  CHECK_RC(ipc_sem_try_acquire(s, 2), IPC_OK);
  CHECK_RC(ipc_sem_value(s), 0);
  CHECK_RC(ipc_sem_try_acquire(s, 1), IPC_EBUSY);
  CHECK_RC(ipc_sem_release(s, 0), IPC_EINVAL);
  CHECK_RC(ipc_sem_release(s, 4), IPC_ERANGE);
  CHECK_RC(ipc_sem_value(s), 0);
  CHECK_RC(ipc_sem_release(s, 3), IPC_OK);
  CHECK_RC(ipc_sem_release(s, 1), IPC_ERANGE); /* beyond the maximum: nothing released */
  CHECK_RC(ipc_sem_value(s), 3);
  CHECK_RC(ipc_sem_try_acquire(s, 1), IPC_OK);
  CHECK_RC(ipc_sem_release(s, 2), IPC_ERANGE); /* 2 + 2 > 3: all or nothing */
  CHECK_RC(ipc_sem_value(s), 2);
  CHECK_RC(ipc_sem_acquire(s, 2, 0), IPC_OK);

  /* Timed acquire: zero checks once, a positive timeout waits at least that long. */
  CHECK_RC(ipc_sem_acquire(s, 1, 0), IPC_ETIMEDOUT);
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_sem_acquire(s, 1, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(ipc_now_ns() - t0 >= 5 * MS_NS);
  CHECK_RC(ipc_sem_value(s), 0);

  /* Raw memory. */
  uint64_t raw_words[IPC_SEM_SIZE / 8 + 1];
  unsigned char *raw = (unsigned char *)raw_words;
  CHECK_RC(ipc_sem_init(raw + 4, 0, 0), IPC_EALIGN);
  CHECK_RC(ipc_sem_init(NULL, 0, 0), IPC_EINVAL);
  CHECK_RC(ipc_sem_init(raw, 1, 1), IPC_OK);
  CHECK_RC(ipc_sem_try_acquire((ipc_sem_t *)raw, 1), IPC_OK);
  CHECK_RC(ipc_sem_value((ipc_sem_t *)raw), 0);
  CHECK_RC(ipc_sem_value((ipc_sem_t *)(raw + 8)), IPC_EPROTO);
  CHECK_RC(ipc_sem_value(NULL), IPC_EINVAL);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  /* A standalone semaphore: kind, object at offset 0, and refused bounds leave no segment. */
  ipc_segment_t *own = NULL;
  CHECK_RC(ipc_sem_create(NULL, 0, 0, 5, 4, &own, &s), IPC_ERANGE);
  CHECK(own == NULL && s == NULL);
  char name[64];
  snprintf(name, sizeof name, "ipctest-c-sem-%ld", (long)getpid());
  CHECK_RC(ipc_sem_create(name, 0, 0, 1, 2, &own, &s), IPC_OK);
  CHECK(ipc_segment_kind(own) == IPC_KIND_SEMAPHORE);
  ipc_segment_t *other = NULL;
  ipc_sem_t *s2 = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &other), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_sem_at(other, 0, &s2), IPC_OK);
  CHECK(s2 != s);
  CHECK_RC(ipc_sem_release(s2, 1), IPC_OK);
  CHECK_RC(ipc_sem_value(s), 2);
  CHECK_RC(ipc_segment_close(other), IPC_OK);
  CHECK_RC(ipc_segment_close(own), IPC_OK);
}

static void semaphore_across_fork(void) {
  ipc_segment_t *seg = NULL;
  ipc_sem_t *s = NULL, *ready = NULL, *done = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 0, 0, 0, &s), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 64, 0, 0, &ready), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 128, 0, 0, &done), IPC_OK);
  volatile uint32_t *acquired = word_at(seg, 192);

  /* A child blocks for one unit; the parent's release ends its wait. */
  pid_t child = fork_child();
  if (child == 0) {
    CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
    CHILD_WAIT_RC(ipc_sem_acquire(s, 1, LONG_NS), IPC_OK);
    store32(acquired, 1);
    _exit(0);
  }
  CHECK_RC(ipc_sem_acquire(ready, 1, LONG_NS), IPC_OK);
  CHECK(parked(child));
  CHECK(load32(acquired) == 0 && still_running(child));
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  expect_exit(child, 0);
  CHECK(load32(acquired) == 1);
  CHECK_RC(ipc_sem_value(s), 0);

  /* A child waiting for three units is not released by two, and is by the third. */
  store32(acquired, 0);
  child = fork_child();
  if (child == 0) {
    CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
    CHILD_WAIT_RC(ipc_sem_acquire(s, 3, LONG_NS), IPC_OK);
    store32(acquired, 1);
    _exit(0);
  }
  CHECK_RC(ipc_sem_acquire(ready, 1, LONG_NS), IPC_OK);
  CHECK(parked(child));
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  sleep_ms(5); /* a chance to wake and look (a wrong acquire would show below), then parked again */
  CHECK(parked(child));
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  sleep_ms(5);
  CHECK(parked(child));
  CHECK(load32(acquired) == 0 && still_running(child));
  CHECK_RC(ipc_sem_value(s), 2);
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  expect_exit(child, 0);
  CHECK_RC(ipc_sem_value(s), 0);

  /* Three children each waiting for one unit: a release of two wakes exactly two of them. */
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork_child();
    if (kids[i] == 0) {
      CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
      CHILD_WAIT_RC(ipc_sem_acquire(s, 1, LONG_NS), IPC_OK);
      CHILD_RC(ipc_sem_release(done, 1), IPC_OK);
      _exit(0);
    }
  }
  CHECK_RC(ipc_sem_acquire(ready, 3, LONG_NS), IPC_OK);
  for (int i = 0; i < 3; i++) CHECK(parked(kids[i]));
  CHECK_RC(ipc_sem_release(s, 2), IPC_OK);
  WAIT_RC(ipc_sem_acquire(done, 2, LONG_NS), IPC_OK);
  CHECK_RC(ipc_sem_acquire(done, 1, 20 * MS_NS), IPC_ETIMEDOUT);
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  for (int i = 0; i < 3; i++) expect_exit(kids[i], 0);
  CHECK_RC(ipc_sem_value(s), 0);
  CHECK_RC(ipc_sem_value(done), 1);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* ---- Events -------------------------------------------------------------------------------- */

static void event_semantics(void) {
  ipc_segment_t *seg = NULL;
  ipc_event_t *e = NULL, *a = NULL, *again = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_event_at(seg, 0, &again), IPC_EPROTO);
  CHECK_RC(ipc_event_init_at(seg, 0, 2, &e), IPC_EINVAL);
  CHECK(e == NULL);
  CHECK_RC(ipc_event_init_at(seg, 0, 0x80000000u | IPC_EVENT_AUTO_RESET, &e), IPC_EINVAL);
  CHECK_RC(ipc_event_at(seg, 0, &again), IPC_EPROTO);
  CHECK_RC(ipc_event_init_at(seg, 12, 0, &e), IPC_EALIGN);

  /* Manual reset: stays set for every waiter until cleared. */
  CHECK_RC(ipc_event_init_at(seg, 0, 0, &e), IPC_OK);
  CHECK_RC(ipc_event_at(seg, 0, &again), IPC_OK);
  CHECK(again == e && ipc_event_word(e) != NULL);
  CHECK_RC(ipc_event_flags(e), 0);
  CHECK_RC(ipc_event_is_set(e), 0);
  CHECK_RC(ipc_event_try_wait(e), IPC_EBUSY);
  CHECK_RC(ipc_event_wait(e, 0), IPC_ETIMEDOUT);
  CHECK_RC(ipc_event_set(e), IPC_OK);
  CHECK_RC(ipc_event_set(e), IPC_OK);
  CHECK_RC(ipc_event_is_set(e), 1);
  CHECK_RC(ipc_event_try_wait(e), IPC_OK);
  CHECK_RC(ipc_event_try_wait(e), IPC_OK);
  CHECK_RC(ipc_event_wait(e, -1), IPC_OK);
  CHECK_RC(ipc_event_wait(e, 0), IPC_OK);
  CHECK_RC(ipc_event_is_set(e), 1);
  CHECK_RC(ipc_event_clear(e), IPC_OK);
  CHECK_RC(ipc_event_clear(e), IPC_OK);
  CHECK_RC(ipc_event_is_set(e), 0);
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_event_wait(e, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(ipc_now_ns() - t0 >= 5 * MS_NS);

  /* Auto reset: one waiter per set, and a second set before a wait does not count twice. */
  CHECK_RC(ipc_event_init_at(seg, 64, IPC_EVENT_AUTO_RESET, &a), IPC_OK);
  CHECK_RC(ipc_event_flags(a), IPC_EVENT_AUTO_RESET);
  CHECK_RC(ipc_event_try_wait(a), IPC_EBUSY);
  CHECK_RC(ipc_event_set(a), IPC_OK);
  CHECK_RC(ipc_event_set(a), IPC_OK);
  CHECK_RC(ipc_event_is_set(a), 1); /* is_set never clears */
  CHECK_RC(ipc_event_is_set(a), 1);
  CHECK_RC(ipc_event_try_wait(a), IPC_OK);
  CHECK_RC(ipc_event_is_set(a), 0);
  CHECK_RC(ipc_event_try_wait(a), IPC_EBUSY);
  CHECK_RC(ipc_event_wait(a, 1 * MS_NS), IPC_ETIMEDOUT);
  CHECK_RC(ipc_event_set(a), IPC_OK);
  CHECK_RC(ipc_event_wait(a, -1), IPC_OK);
  CHECK_RC(ipc_event_is_set(a), 0);
  CHECK_RC(ipc_event_set(a), IPC_OK);
  CHECK_RC(ipc_event_clear(a), IPC_OK);
  CHECK_RC(ipc_event_wait(a, 0), IPC_ETIMEDOUT);

  uint64_t raw[IPC_EVENT_SIZE / 8];
  CHECK_RC(ipc_event_init(raw, 4), IPC_EINVAL);
  CHECK_RC(ipc_event_init(raw, IPC_EVENT_AUTO_RESET), IPC_OK);
  CHECK_RC(ipc_event_flags((ipc_event_t *)raw), IPC_EVENT_AUTO_RESET);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  ipc_segment_t *own = NULL;
  CHECK_RC(ipc_event_create(NULL, 0, 0, 8, &own, &e), IPC_EINVAL);
  CHECK(own == NULL && e == NULL);
  CHECK_RC(ipc_event_create(NULL, 0, 0, IPC_EVENT_AUTO_RESET, &own, &e), IPC_OK);
  CHECK(ipc_segment_kind(own) == IPC_KIND_EVENT);
  CHECK_RC(ipc_event_at(own, 0, &again), IPC_OK);
  CHECK(again == e);
  CHECK_RC(ipc_event_flags(e), IPC_EVENT_AUTO_RESET);
  CHECK_RC(ipc_segment_close(own), IPC_OK);
}

static void event_across_fork(void) {
  ipc_segment_t *seg = NULL;
  ipc_event_t *manual = NULL, *autoreset = NULL;
  ipc_sem_t *ready = NULL, *done = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_event_init_at(seg, 0, 0, &manual), IPC_OK);
  CHECK_RC(ipc_event_init_at(seg, 64, IPC_EVENT_AUTO_RESET, &autoreset), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 128, 0, 0, &ready), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 192, 0, 0, &done), IPC_OK);
  volatile uint32_t *woke = word_at(seg, 256);

  /* Manual reset: one set releases every waiting process. */
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork_child();
    if (kids[i] == 0) {
      CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
      CHILD_WAIT_RC(ipc_event_wait(manual, LONG_NS), IPC_OK);
      add32(woke, 1);
      _exit(0);
    }
  }
  CHECK_RC(ipc_sem_acquire(ready, 3, LONG_NS), IPC_OK);
  for (int i = 0; i < 3; i++) CHECK(parked(kids[i]));
  CHECK(load32(woke) == 0);
  CHECK_RC(ipc_event_set(manual), IPC_OK);
  for (int i = 0; i < 3; i++) expect_exit(kids[i], 0);
  CHECK(load32(woke) == 3);
  CHECK_RC(ipc_event_is_set(manual), 1);

  /* Auto reset: each set releases one waiting process and leaves the event clear. */
  store32(woke, 0);
  for (int i = 0; i < 2; i++) {
    kids[i] = fork_child();
    if (kids[i] == 0) {
      CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
      CHILD_WAIT_RC(ipc_event_wait(autoreset, LONG_NS), IPC_OK);
      add32(woke, 1);
      CHILD_RC(ipc_sem_release(done, 1), IPC_OK);
      _exit(0);
    }
  }
  CHECK_RC(ipc_sem_acquire(ready, 2, LONG_NS), IPC_OK);
  for (int i = 0; i < 2; i++) CHECK(parked(kids[i]));
  CHECK(load32(woke) == 0);
  CHECK_RC(ipc_event_set(autoreset), IPC_OK);
  WAIT_RC(ipc_sem_acquire(done, 1, LONG_NS), IPC_OK);
  CHECK_RC(ipc_sem_acquire(done, 1, 30 * MS_NS), IPC_ETIMEDOUT);
  CHECK(load32(woke) == 1);
  CHECK_RC(ipc_event_is_set(autoreset), 0);
  CHECK_RC(ipc_event_set(autoreset), IPC_OK);
  WAIT_RC(ipc_sem_acquire(done, 1, LONG_NS), IPC_OK);
  for (int i = 0; i < 2; i++) expect_exit(kids[i], 0);
  CHECK(load32(woke) == 2);
  CHECK_RC(ipc_event_is_set(autoreset), 0);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* ---- Conditions ---------------------------------------------------------------------------- */

static void condition_basics(void) {
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL, *m2 = NULL;
  ipc_cond_t *c = NULL, *again = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_cond_at(seg, 64, &again), IPC_EPROTO);
  CHECK_RC(ipc_cond_init_at(seg, 68, &c), IPC_EALIGN);
  CHECK_RC(ipc_cond_init_at(seg, 4096 - 32, &c), IPC_ERANGE);
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 64, &c), IPC_OK);
  CHECK_RC(ipc_cond_at(seg, 64, &again), IPC_OK);
  CHECK(again == c && ipc_cond_word(c) != NULL);
  CHECK_RC(ipc_cond_at(seg, 0, &again), IPC_EPROTO); /* a mutex is not a condition */

  /* Waiting needs the mutex. */
  CHECK_RC(ipc_cond_wait(c, m, 0), IPC_EPERM);
  CHECK_RC(ipc_cond_wait(c, m, -1), IPC_EPERM);
  uint32_t expected = 0;
  CHECK_RC(ipc_cond_prepare(c, m, &expected), IPC_EPERM);
  CHECK_RC(ipc_cond_wait(c, NULL, 0), IPC_EINVAL);
  CHECK_RC(ipc_cond_wait((ipc_cond_t *)m, m, 0), IPC_EPROTO);

  /* A timeout reports IPC_ETIMEDOUT with the mutex held again. */
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_cond_wait(c, m, 0), IPC_ETIMEDOUT);
  CHECK_RC(ipc_mutex_held(m), 1);
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_cond_wait(c, m, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(ipc_now_ns() - t0 >= 5 * MS_NS);
  CHECK_RC(ipc_mutex_held(m), 1);
  /* A notify with nobody waiting is not remembered. */
  CHECK_RC(ipc_cond_notify(c, 1), IPC_OK);
  CHECK_RC(ipc_cond_notify_all(c), IPC_OK);
  CHECK_RC(ipc_cond_notify(c, 0), IPC_OK);
  CHECK_RC(ipc_cond_wait(c, m, 2 * MS_NS), IPC_ETIMEDOUT);
  CHECK_RC(ipc_mutex_held(m), 1);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  /* A standalone condition: a mutex at 0, the condition at 64. */
  ipc_segment_t *own = NULL;
  CHECK_RC(ipc_cond_create(NULL, 0, 0, &own, &c, &m), IPC_OK);
  CHECK(ipc_segment_kind(own) == IPC_KIND_CONDITION);
  CHECK_RC(ipc_mutex_at(own, 0, &m2), IPC_OK);
  CHECK(m2 == m);
  CHECK_RC(ipc_cond_at(own, 64, &again), IPC_OK);
  CHECK(again == c);
  CHECK_RC(ipc_cond_wait(c, m, 0), IPC_EPERM);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_cond_wait(c, m, 1 * MS_NS), IPC_ETIMEDOUT);
  CHECK_RC(ipc_mutex_held(m), 1);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_close(own), IPC_OK);
}

#define COND_ROUNDS 500

static void condition_across_fork(void) {
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  ipc_cond_t *to_parent = NULL, *to_child = NULL, *all = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 64, &to_parent), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 128, &to_child), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 192, &all), IPC_OK);
  volatile uint32_t *turn = word_at(seg, 256);
  volatile uint32_t *go = word_at(seg, 260);
  volatile uint32_t *waiting = word_at(seg, 264);

  /* Ping-pong: the predicate (whose turn it is) lives in shared memory; a lost notify would show as
   * a timeout. */
  pid_t child = fork_child();
  if (child == 0) {
    for (int r = 0; r < COND_ROUNDS; r++) {
      CHILD_RC(ipc_mutex_lock(m), IPC_OK);
      while (*turn != 1) CHILD_WAIT_RC(ipc_cond_wait(to_child, m, LONG_NS), IPC_OK);
      *turn = 0;
      CHILD_RC(ipc_cond_notify(to_parent, 1), IPC_OK);
      CHILD_RC(ipc_mutex_unlock(m), IPC_OK);
    }
    _exit(0);
  }
  for (int r = 0; r < COND_ROUNDS; r++) {
    CHECK_RC(ipc_mutex_lock(m), IPC_OK);
    *turn = 1;
    CHECK_RC(ipc_cond_notify(to_child, 1), IPC_OK);
    while (*turn != 0) WAIT_RC(ipc_cond_wait(to_parent, m, LONG_NS), IPC_OK);
    CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  }
  expect_exit(child, 0);

  /* notify_all releases every waiter. Each child announces itself while holding the mutex, so once
   * the parent has the mutex and has counted them all, all are inside ipc_cond_wait. */
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    kids[i] = fork_child();
    if (kids[i] == 0) {
      CHILD_RC(ipc_mutex_lock(m), IPC_OK);
      *waiting += 1;
      while (*go == 0) CHILD_WAIT_RC(ipc_cond_wait(all, m, LONG_NS), IPC_OK);
      CHILD_RC(ipc_mutex_unlock(m), IPC_OK);
      _exit(0);
    }
  }
  for (int i = 0; i < 5000; i++) {
    CHECK_RC(ipc_mutex_lock(m), IPC_OK);
    if (*waiting == 3) break;
    CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
    sleep_ms(1);
  }
  CHECK(ipc_mutex_held(m) == 1 && *waiting == 3);
  *go = 1;
  CHECK_RC(ipc_cond_notify_all(all), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  for (int i = 0; i < 3; i++) expect_exit(kids[i], 0);

  /* The mutex's holder dies after notifying: the waiter relocks with IPC_OWNER_DIED. */
  *go = 0;
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  child = fork_child();
  if (child == 0) {
    CHILD_RC(ipc_mutex_lock(m), IPC_OK); /* gets it once the parent waits */
    *go = 1;
    CHILD_RC(ipc_cond_notify(all, 1), IPC_OK);
    raise(SIGKILL);
    _exit(3);
  }
  int32_t rc = IPC_OK;
  while (*go == 0 && rc == IPC_OK) rc = ipc_cond_wait(all, m, LONG_NS);
  CHECK_RC(rc, IPC_OWNER_DIED);
  CHECK_RC(ipc_mutex_held(m), 1);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status));
  CHECK_RC(ipc_mutex_consistent(m), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* ---- Barriers ------------------------------------------------------------------------------ */

static void barrier_basics(void) {
  ipc_segment_t *seg = NULL;
  ipc_barrier_t *b = NULL, *again = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_barrier_at(seg, 0, &again), IPC_EPROTO);
  CHECK_RC(ipc_barrier_init_at(seg, 0, 0, &b), IPC_EINVAL);
  CHECK(b == NULL);
  CHECK_RC(ipc_barrier_init_at(seg, 0, IPC_BARRIER_PARTIES_MAX + 1, &b), IPC_ERANGE);
  CHECK_RC(ipc_barrier_init_at(seg, 0, UINT32_MAX, &b), IPC_ERANGE);
  CHECK_RC(ipc_barrier_at(seg, 0, &again), IPC_EPROTO);
  CHECK_RC(ipc_barrier_init_at(seg, 4, 2, &b), IPC_EALIGN);
  CHECK_RC(ipc_barrier_init_at(seg, 0, IPC_BARRIER_PARTIES_MAX, &b), IPC_OK);
  CHECK_RC(ipc_barrier_parties(b), IPC_BARRIER_PARTIES_MAX);

  /* One party passes alone, every time with index 0. */
  CHECK_RC(ipc_barrier_init_at(seg, 64, 1, &b), IPC_OK);
  CHECK_RC(ipc_barrier_at(seg, 64, &again), IPC_OK);
  CHECK(again == b && ipc_barrier_word(b) != NULL);
  for (int i = 0; i < 3; i++) CHECK_RC(ipc_barrier_wait(b, 0), 0);

  /* Two parties from one thread with the async form: arrive, check, arrive again. */
  CHECK_RC(ipc_barrier_init_at(seg, 128, 2, &b), IPC_OK);
  uint32_t ticket = 0, last = 0, expected = 0;
  CHECK_RC(ipc_barrier_arrive(b, &ticket), 0);
  CHECK(ticket != IPC_BARRIER_PASSED);
  CHECK_RC(ipc_barrier_waiting(b), 1);
  CHECK_RC(ipc_barrier_check(b, ticket, &expected), IPC_EBUSY);
  CHECK(expected == *ipc_barrier_word(b));
  CHECK_RC(ipc_barrier_arrive(b, &last), 1);
  CHECK(last == IPC_BARRIER_PASSED);
  CHECK_RC(ipc_barrier_check(b, ticket, &expected), IPC_OK);
  CHECK_RC(ipc_barrier_check(b, last, &expected), IPC_OK);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  /* Giving up breaks the generation; giving up after it ended is 1. */
  CHECK_RC(ipc_barrier_break(b, ticket), 1);
  CHECK_RC(ipc_barrier_arrive(b, &ticket), 0);
  CHECK_RC(ipc_barrier_break(b, ticket), IPC_OK);
  CHECK_RC(ipc_barrier_broken(b), 1);
  CHECK_RC(ipc_barrier_check(b, ticket, &expected), IPC_EBROKEN);
  CHECK_RC(ipc_barrier_arrive(b, &ticket), IPC_EBROKEN);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  CHECK_RC(ipc_barrier_broken(b), 0);
  CHECK_RC(ipc_barrier_waiting(b), 0);

  /* A waiter whose generation was reset is told so even after later generations passed. */
  uint32_t reset_ticket = 0, other = 0;
  CHECK_RC(ipc_barrier_arrive(b, &reset_ticket), 0);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  for (int round = 0; round < 5; round++) {
    CHECK_RC(ipc_barrier_arrive(b, &other), 0);
    CHECK_RC(ipc_barrier_arrive(b, &last), 1);
    CHECK_RC(ipc_barrier_check(b, other, &expected), IPC_OK);
  }
  CHECK_RC(ipc_barrier_check(b, reset_ticket, &expected), IPC_EBROKEN);
  /* A broken barrier has nobody waiting. */
  CHECK_RC(ipc_barrier_arrive(b, &ticket), 0);
  CHECK_RC(ipc_barrier_abort(b), IPC_OK);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);

  /* A lone timed wait on two parties breaks the barrier. */
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_barrier_wait(b, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(ipc_now_ns() - t0 >= 5 * MS_NS);
  CHECK_RC(ipc_barrier_broken(b), 1);
  CHECK_RC(ipc_barrier_wait(b, -1), IPC_EBROKEN);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  CHECK_RC(ipc_barrier_wait(b, 0), IPC_ETIMEDOUT);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK); /* resetting an unused barrier changes nothing */
  CHECK_RC(ipc_barrier_broken(b), 0);

  uint64_t raw[IPC_BARRIER_SIZE / 8];
  CHECK_RC(ipc_barrier_init(raw, 0), IPC_EINVAL);
  CHECK_RC(ipc_barrier_init(raw, IPC_BARRIER_PARTIES_MAX + 1), IPC_ERANGE);
  CHECK_RC(ipc_barrier_init(raw, 3), IPC_OK);
  CHECK_RC(ipc_barrier_parties((ipc_barrier_t *)raw), 3);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  ipc_segment_t *own = NULL;
  CHECK_RC(ipc_barrier_create(NULL, 0, 0, 0, &own, &b), IPC_EINVAL);
  CHECK(own == NULL && b == NULL);
  CHECK_RC(ipc_barrier_create(NULL, 0, 0, 2, &own, &b), IPC_OK);
  CHECK(ipc_segment_kind(own) == IPC_KIND_BARRIER);
  CHECK_RC(ipc_barrier_parties(b), 2);
  CHECK_RC(ipc_segment_close(own), IPC_OK);
}

#define BARRIER_PROCESSES 4
#define BARRIER_ROUNDS 200

/* Waits in a child; exits 10 + the arrival index, or 100 + the negated error code, or 99 when the
 * wait lasted until near its timeout (only a lost wake-up makes it last that long). */
static pid_t barrier_waiter(ipc_barrier_t *b, int64_t timeout_ns) {
  pid_t pid = fork_child();
  if (pid == 0) {
    uint64_t t0 = ipc_now_ns();
    int32_t rc = ipc_barrier_wait(b, timeout_ns);
    if (ipc_now_ns() - t0 >= (uint64_t)timeout_ns / 2) _exit(99);
    _exit(rc >= 0 ? 10 + rc : 100 - rc);
  }
  return pid;
}

/* Waits until `n` parties are waiting at `b`. */
static void await_waiting(ipc_barrier_t *b, int32_t n) {
  for (int i = 0; i < 5000 && ipc_barrier_waiting(b) != n; i++) sleep_ms(1);
  CHECK_RC(ipc_barrier_waiting(b), n);
}

static void barrier_across_fork(void) {
  ipc_segment_t *seg = NULL;
  ipc_barrier_t *b = NULL;
  CHECK_RC(ipc_segment_create(NULL, SEGMENT_BYTES, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_barrier_init_at(seg, 0, BARRIER_PROCESSES, &b), IPC_OK);
  volatile uint32_t *arrived = word_at(seg, 64);
  volatile uint32_t *indexes = word_at(seg, 64 + 4 * BARRIER_ROUNDS);

  /* Rounds: nobody passes before everyone has arrived, and the indexes of a round are distinct. */
  pid_t kids[BARRIER_PROCESSES];
  for (int i = 0; i < BARRIER_PROCESSES; i++) {
    kids[i] = fork_child();
    if (kids[i] == 0) {
      for (int r = 0; r < BARRIER_ROUNDS; r++) {
        add32(&arrived[r], 1);
        uint64_t t0 = ipc_now_ns();
        int32_t index = ipc_barrier_wait(b, LONG_NS);
        CHILD_CHECK(ipc_now_ns() - t0 < (uint64_t)LONG_NS / 2);
        CHILD_CHECK(index >= 0 && index < BARRIER_PROCESSES);
        CHILD_CHECK(load32(&arrived[r]) == BARRIER_PROCESSES);
        uint32_t bit = 1u << index;
        CHILD_CHECK((__atomic_fetch_or(&indexes[r], bit, __ATOMIC_SEQ_CST) & bit) == 0);
      }
      _exit(0);
    }
  }
  for (int i = 0; i < BARRIER_PROCESSES; i++) expect_exit(kids[i], 0);
  for (int r = 0; r < BARRIER_ROUNDS; r++) CHECK(indexes[r] == (1u << BARRIER_PROCESSES) - 1);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  CHECK_RC(ipc_barrier_broken(b), 0);

  /* A timeout breaks it: the timed-out party gets IPC_ETIMEDOUT, a party waiting meanwhile
   * IPC_EBROKEN, and later waits IPC_EBROKEN until reset. */
  CHECK_RC(ipc_barrier_init_at(seg, 0, 3, &b), IPC_OK);
  pid_t waiter = barrier_waiter(b, LONG_NS);
  await_waiting(b, 1);
  CHECK_RC(ipc_barrier_wait(b, 10 * MS_NS), IPC_ETIMEDOUT);
  expect_exit(waiter, 100 - IPC_EBROKEN);
  CHECK_RC(ipc_barrier_broken(b), 1);
  CHECK_RC(ipc_barrier_wait(b, -1), IPC_EBROKEN);
  CHECK_RC(ipc_barrier_wait(b, LONG_NS), IPC_EBROKEN);
  waiter = barrier_waiter(b, LONG_NS);
  expect_exit(waiter, 100 - IPC_EBROKEN);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  CHECK_RC(ipc_barrier_broken(b), 0);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  /* Usable again: three parties pass with indexes 0, 1 and 2. */
  pid_t first = barrier_waiter(b, LONG_NS);
  pid_t second = barrier_waiter(b, LONG_NS);
  await_waiting(b, 2);
  CHECK_RC(ipc_barrier_wait(b, LONG_NS), 2);
  int codes = (1 << exit_code(first)) | (1 << exit_code(second));
  CHECK(codes == ((1 << 10) | (1 << 11)));

  /* Abort breaks the wait in progress and later ones until reset. */
  CHECK_RC(ipc_barrier_init_at(seg, 0, 2, &b), IPC_OK);
  waiter = barrier_waiter(b, LONG_NS);
  await_waiting(b, 1);
  CHECK_RC(ipc_barrier_abort(b), IPC_OK);
  expect_exit(waiter, 100 - IPC_EBROKEN);
  CHECK_RC(ipc_barrier_broken(b), 1);
  CHECK_RC(ipc_barrier_wait(b, LONG_NS), IPC_EBROKEN);
  CHECK_RC(ipc_barrier_abort(b), IPC_OK);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  CHECK_RC(ipc_barrier_broken(b), 0);
  waiter = barrier_waiter(b, LONG_NS);
  await_waiting(b, 1);
  CHECK_RC(ipc_barrier_wait(b, LONG_NS), 1);
  expect_exit(waiter, 10);

  /* Reset breaks the wait in progress, and leaves the barrier unbroken and empty. */
  waiter = barrier_waiter(b, LONG_NS);
  await_waiting(b, 1);
  CHECK_RC(ipc_barrier_reset(b), IPC_OK);
  expect_exit(waiter, 100 - IPC_EBROKEN);
  CHECK_RC(ipc_barrier_broken(b), 0);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  waiter = barrier_waiter(b, LONG_NS);
  await_waiting(b, 1);
  CHECK_RC(ipc_barrier_wait(b, LONG_NS), 1);
  expect_exit(waiter, 10);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* ---- Readers-writer locks ------------------------------------------------------------------ */

static void rwlock_basics(void) {
  ipc_segment_t *seg = NULL;
  ipc_rwlock_t *rw = NULL, *again = NULL;
  CHECK_RC(ipc_segment_create(NULL, SEGMENT_BYTES, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_rwlock_at(seg, 64, &again), IPC_EPROTO);
  CHECK(again == NULL);
  CHECK_RC(ipc_rwlock_init_at(seg, 8, &rw), IPC_EALIGN);
  CHECK(rw == NULL);
  CHECK_RC(ipc_rwlock_init_at(seg, 32, &rw), IPC_EALIGN);
  CHECK_RC(ipc_rwlock_init_at(seg, 96, &rw), IPC_EALIGN);
  CHECK_RC(ipc_rwlock_at(seg, 8, &again), IPC_EALIGN);
  CHECK_RC(ipc_rwlock_init_at(seg, SEGMENT_BYTES - IPC_RWLOCK_SIZE + 64, &rw), IPC_ERANGE);
  CHECK_RC(ipc_rwlock_init_at(seg, SEGMENT_BYTES - IPC_RWLOCK_SIZE, &rw), IPC_OK);
  CHECK_RC(ipc_rwlock_init_at(seg, 64, &rw), IPC_OK);
  CHECK_RC(ipc_rwlock_at(seg, 64, &again), IPC_OK);
  CHECK(again == rw);

  /* Misuse. */
  CHECK_RC(ipc_rwlock_read_unlock(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_consistent(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_readers(rw), 0);

  /* Under the write lock: no read lock, no second write lock, nothing to repair. */
  CHECK_RC(ipc_rwlock_write_lock(rw, -1), IPC_OK);
  CHECK_RC(ipc_rwlock_read_lock(rw, -1), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_try_read_lock(rw), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_read_unlock(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_write_lock(rw, -1), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_try_write_lock(rw), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_consistent(rw), IPC_EINVAL);
  CHECK_RC(ipc_rwlock_readers(rw), 0);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_EPERM);

  /* Under a read lock: no upgrade; read locks nest, one slot each, up to IPC_RWLOCK_SLOTS. */
  CHECK_RC(ipc_rwlock_read_lock(rw, -1), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(rw, -1), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_try_write_lock(rw), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_readers(rw), 1);
  for (int i = 1; i < IPC_RWLOCK_SLOTS; i++) CHECK_RC(ipc_rwlock_try_read_lock(rw), IPC_OK);
  CHECK_RC(ipc_rwlock_readers(rw), IPC_RWLOCK_SLOTS);
  CHECK_RC(ipc_rwlock_try_read_lock(rw), IPC_EBUSY);
  CHECK_RC(ipc_rwlock_read_lock(rw, 2 * MS_NS), IPC_ETIMEDOUT);
  for (int i = 0; i < IPC_RWLOCK_SLOTS; i++) CHECK_RC(ipc_rwlock_read_unlock(rw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(rw), IPC_EPERM);
  CHECK_RC(ipc_rwlock_readers(rw), 0);
  CHECK_RC(ipc_rwlock_try_write_lock(rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_OK);

  unsigned char *raw = NULL;
  CHECK(posix_memalign((void **)&raw, 64, IPC_RWLOCK_SIZE + 64) == 0);
  CHECK_RC(ipc_rwlock_init(raw + 32), IPC_EALIGN);
  CHECK_RC(ipc_rwlock_init(raw), IPC_OK);
  CHECK_RC(ipc_rwlock_try_read_lock((ipc_rwlock_t *)raw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock((ipc_rwlock_t *)raw), IPC_OK);
  memset(raw + 64, 0, IPC_RWLOCK_SIZE);
  CHECK_RC(ipc_rwlock_readers((ipc_rwlock_t *)(raw + 64)), IPC_EPROTO);
  free(raw);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);

  ipc_segment_t *own = NULL;
  CHECK_RC(ipc_rwlock_create(NULL, 0, 0, &own, &rw), IPC_OK);
  CHECK(ipc_segment_kind(own) == IPC_KIND_RWLOCK);
  CHECK_RC(ipc_rwlock_at(own, 0, &again), IPC_OK);
  CHECK(again == rw);
  CHECK_RC(ipc_rwlock_write_lock(rw, 0), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(rw), IPC_OK);
  CHECK_RC(ipc_segment_close(own), IPC_OK);
}

/* Objects shared by the rwlock tests: the lock, a semaphore children release when ready, an event
 * that lets holders go, and a data word the lock protects. */
struct rw_fixture {
  ipc_segment_t *seg;
  ipc_rwlock_t *rw;
  ipc_sem_t *ready;
  ipc_event_t *go;
  volatile uint32_t *data;
};

static struct rw_fixture rw_fixture(void) {
  struct rw_fixture f;
  CHECK_RC(ipc_segment_create(NULL, SEGMENT_BYTES, 0, 0, &f.seg), IPC_OK);
  CHECK_RC(ipc_rwlock_init_at(f.seg, 0, &f.rw), IPC_OK);
  CHECK_RC(ipc_sem_init_at(f.seg, IPC_RWLOCK_SIZE, 0, 0, &f.ready), IPC_OK);
  CHECK_RC(ipc_event_init_at(f.seg, IPC_RWLOCK_SIZE + 64, 0, &f.go), IPC_OK);
  f.data = word_at(f.seg, IPC_RWLOCK_SIZE + 128);
  return f;
}

/* A child that takes a read lock, says so, and holds it until `go` is set (or until killed). */
static pid_t fork_reader(struct rw_fixture *f) {
  pid_t pid = fork_child();
  if (pid == 0) {
    CHILD_RC(ipc_rwlock_read_lock(f->rw, LONG_NS), IPC_OK);
    CHILD_RC(ipc_sem_release(f->ready, 1), IPC_OK);
    CHILD_WAIT_RC(ipc_event_wait(f->go, LONG_NS), IPC_OK);
    CHILD_RC(ipc_rwlock_read_unlock(f->rw), IPC_OK);
    _exit(0);
  }
  CHECK_RC(ipc_sem_acquire(f->ready, 1, LONG_NS), IPC_OK);
  return pid;
}

/* Polls until some other process holds the writer's place (new readers are refused). */
static void await_writer(struct rw_fixture *f) {
  int32_t rc = IPC_OK;
  for (int i = 0; i < 5000; i++) {
    rc = ipc_rwlock_try_read_lock(f->rw);
    if (rc != IPC_OK) break;
    CHECK_RC(ipc_rwlock_read_unlock(f->rw), IPC_OK);
    sleep_ms(1);
  }
  CHECK_RC(rc, IPC_EBUSY);
}

static void rwlock_across_fork(void) {
  struct rw_fixture f = rw_fixture();

  /* Two processes hold read locks at once; a writer times out meanwhile and leaves no trace. */
  pid_t reader = fork_reader(&f);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_readers(f.rw), 2);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_EDEADLK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_readers(f.rw), 1);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_EPERM); /* the child's lock is not ours */
  CHECK_RC(ipc_rwlock_try_write_lock(f.rw), IPC_EBUSY);
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_rwlock_write_lock(f.rw, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(ipc_now_ns() - t0 >= 5 * MS_NS);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, 0), IPC_ETIMEDOUT);
  CHECK_RC(ipc_rwlock_readers(f.rw), 1);
  CHECK_RC(ipc_rwlock_try_read_lock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_event_set(f.go), IPC_OK);
  expect_exit(reader, 0);
  CHECK_RC(ipc_rwlock_readers(f.rw), 0);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);

  /* A waiting writer stops new readers, and gets the lock once the reader leaves. */
  CHECK_RC(ipc_event_clear(f.go), IPC_OK);
  reader = fork_reader(&f);
  pid_t writer = fork_child();
  if (writer == 0) {
    CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
    CHILD_RC(ipc_rwlock_readers(f.rw), 0);
    *f.data = 42;
    CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
    _exit(0);
  }
  await_writer(&f);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, 5 * MS_NS), IPC_ETIMEDOUT);
  CHECK(still_running(writer));
  CHECK_RC(ipc_event_set(f.go), IPC_OK);
  expect_exit(reader, 0);
  expect_exit(writer, 0);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK(*f.data == 42);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);

  /* A reader killed while a writer waits for it: the writer gets in, with nothing to repair. */
  CHECK_RC(ipc_event_clear(f.go), IPC_OK);
  reader = fork_reader(&f);
  writer = fork_child();
  if (writer == 0) {
    CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
    CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
    _exit(0);
  }
  await_writer(&f);
  CHECK(parked(writer)); /* on the reader's slot */
  CHECK(still_running(writer));
  kill_and_reap(reader);
  expect_exit(writer, 0);
  CHECK_RC(ipc_rwlock_readers(f.rw), 0);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);

  /* A writer killed while it still waits for a reader wrote nothing: nobody is told OWNER_DIED. */
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  writer = fork_child();
  if (writer == 0) {
    ipc_rwlock_write_lock(f.rw, -1); /* blocks on the parent's read lock until killed */
    _exit(1);
  }
  await_writer(&f);
  kill_and_reap(writer);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);

  /* A writer killed holding the lock, with a reader blocked: the reader, and every later reader
   * and writer, gets IPC_OWNER_DIED until a writer calls ipc_rwlock_consistent. */
  pid_t holder = fork_child();
  if (holder == 0) {
    CHILD_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
    *f.data = 7; /* a half-done update */
    CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
    for (;;) pause();
  }
  CHECK_RC(ipc_sem_acquire(f.ready, 1, LONG_NS), IPC_OK);
  reader = fork_child();
  if (reader == 0) {
    CHILD_WAIT_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
    CHILD_CHECK(*f.data == 7);
    CHILD_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
    _exit(0);
  }
  CHECK(parked(reader));
  CHECK(still_running(reader));
  kill_and_reap(holder);
  expect_exit(reader, 0);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
  CHECK_RC(ipc_rwlock_readers(f.rw), 1);
  CHECK_RC(ipc_rwlock_consistent(f.rw), IPC_EPERM); /* only under the write lock */
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_try_read_lock(f.rw), IPC_OWNER_DIED);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK); /* unlocked unrepaired: still suspect */
  CHECK_RC(ipc_rwlock_try_write_lock(f.rw), IPC_OWNER_DIED);
  *f.data = 0;
  CHECK_RC(ipc_rwlock_consistent(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_consistent(f.rw), IPC_EINVAL);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);

  /* The same with a writer blocked at the time: it gets IPC_OWNER_DIED and repairs. */
  holder = fork_child();
  if (holder == 0) {
    CHILD_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
    CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
    for (;;) pause();
  }
  CHECK_RC(ipc_sem_acquire(f.ready, 1, LONG_NS), IPC_OK);
  writer = fork_child();
  if (writer == 0) {
    CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
    CHILD_RC(ipc_rwlock_consistent(f.rw), IPC_OK);
    CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
    _exit(0);
  }
  CHECK(parked(writer));
  CHECK(still_running(writer));
  kill_and_reap(holder);
  expect_exit(writer, 0);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_segment_close(f.seg), IPC_OK);
}

/* ---- Main ---------------------------------------------------------------------------------- */

int main(void) {
  alarm(240); /* the whole program's kill timer */
  semaphore_bounds();
  semaphore_across_fork();
  event_semantics();
  event_across_fork();
  condition_basics();
  condition_across_fork();
  barrier_basics();
  barrier_across_fork();
  rwlock_basics();
  rwlock_across_fork();
  printf("test_sync: ok\n");
  return 0;
}
