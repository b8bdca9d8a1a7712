/* Proves the semaphore, event, condition, barrier and readers-writer lock from plain C: argument
 * bounds and misuse codes, timeouts, and waits that child processes block in and other processes
 * end, choreographed with the library's own semaphores and events (a sleep only ever gives a child
 * time to park, and each test stays correct without it); holders killed (SIGKILL, TerminateProcess)
 * for the rwlock's and the condition's robustness. Children are this program run again in a role
 * (tests/c/proc.h, `test_sync <role> <segment name>`) on the test's named segment, so the test runs
 * on Windows (under Wine) as on Linux; they report through their exit code. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"
#include "proc.h"
#ifdef __linux__
#include "parked.h" /* /proc/<pid>/stat and /proc/<pid>/syscall: Linux only */
#endif

#include <stdio.h>
#include <string.h>

#define SECOND_NS 1000000000LL
#define MS_NS 1000000LL
/* The timeout of every wait that must end: long enough never to fire on a loaded machine, short
 * enough that a lost wake-up fails the test instead of hanging it. */
#define LONG_NS (20 * SECOND_NS)
#define SEGMENT_BYTES 65536

/* In a child: report the failing line and leave with exit code 2. */
#define CHILD_CHECK(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: child %ld: CHECK failed: %s\n", __FILE__, __LINE__, proc_self_id(),   \
              #cond);                                                                              \
      exit(2);                                                                                     \
    }                                                                                              \
  } while (0)

#define CHILD_RC(call, want)                                                                        \
  do {                                                                                              \
    int32_t rc_ = (call);                                                                           \
    if (rc_ != (want)) {                                                                            \
      fprintf(stderr, "%s:%d: child %ld: %s returned %d (%s), expected %d (%s)\n", __FILE__,        \
              __LINE__, proc_self_id(), #call, (int)rc_, ipc_errname(rc_), (int)(want),             \
              ipc_errname(want));                                                                   \
      exit(2);                                                                                     \
    }                                                                                               \
  } while (0)

/* In a child: a wait that another process must end, and must end well before its timeout
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
#ifdef _WIN32
  Sleep((DWORD)ms);
#else
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
#endif
}

/* The name of the segment the running test shares with its children (shared_segment). */
static char shared_name[32];

/* A named segment for a test whose children open it by name; the previous one's name is removed. */
static ipc_segment_t *shared_segment(uint64_t size) {
  if (shared_name[0] != 0) ipc_segment_unlink(shared_name);
  proc_segment_name(shared_name, sizeof shared_name, "tsync");
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(shared_name, size, 0, 0, &seg), IPC_OK);
  return seg;
}

/* Starts this program again as `role` on the current shared segment (the role table in main). */
static proc_t spawn_role(const char *role) {
  fflush(NULL);
  return proc_spawn(role, shared_name);
}

/* Waits for a child (within twice the long deadline) and expects exit code `code`. */
static void expect_exit(proc_t child, int code) {
  CHECK(proc_expect(&child, 2 * LONG_NS, code, "test_sync"));
}

static int exit_code(proc_t child) {
  int code = proc_wait(&child, 2 * LONG_NS);
  CHECK(code != PROC_TIMEOUT);
  return code;
}

static void kill_and_reap(proc_t child) {
  proc_kill(&child);
  CHECK(proc_wait(&child, 2 * LONG_NS) == PROC_KILLED);
}

/* A test that means to catch a waiter parked waits for it to be seen parked (parked.h), not for a
 * time: on a busy machine a child may not even have run yet after 10 ms. Only Linux shows another
 * process's thread state (/proc), so elsewhere this is always true: each test stays correct when the parent
 * acts before the child parks (it then checks less: a wake-up that finds the waiter still running). */
static int parked(proc_t child) {
#ifndef __linux__
  (void)child;
  return 1;
#else
  return seen_parked((pid_t)child.pid, (uint64_t)LONG_NS);
#endif
}

/* True while the child has not exited (it is blocked, since it has nothing else to do). */
static int still_running(proc_t child) { return proc_wait(&child, 0) == PROC_TIMEOUT; }

/* A child that holds a lock until the parent kills it; should the parent die first, it gives up
 * after two minutes (POSIX children also have main's alarm). */
static void hold_until_killed(void) {
  sleep_ms(120000);
  exit(3);
}

/* Dies at once, as a crash would: SIGKILL, or TerminateProcess with exit code PROC_KILLED. */
static void die_now(void) {
#ifdef _WIN32
  TerminateProcess(GetCurrentProcess(), PROC_KILLED);
#else
  raise(SIGKILL);
#endif
  exit(3);
}

/* A child's segment: the parent's, opened by the name it was given. */
static ipc_segment_t *child_segment(const char *name) {
  ipc_segment_t *seg = NULL;
  CHILD_RC(ipc_segment_open(name, 0, &seg), IPC_OK);
  return seg;
}

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
  snprintf(name, sizeof name, "ipctest-c-sem-%ld", proc_self_id());
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

/* The semaphores' children: `s` at 0, `ready` at 64, `done` at 128, the word `acquired` at 192. */
struct sem_fixture {
  ipc_sem_t *s, *ready, *done;
  volatile uint32_t *acquired;
};

static struct sem_fixture sem_child_fixture(ipc_segment_t *seg) {
  struct sem_fixture f;
  CHILD_RC(ipc_sem_at(seg, 0, &f.s), IPC_OK);
  CHILD_RC(ipc_sem_at(seg, 64, &f.ready), IPC_OK);
  CHILD_RC(ipc_sem_at(seg, 128, &f.done), IPC_OK);
  f.acquired = word_at(seg, 192);
  return f;
}

/* Takes `units` units (after saying it is about to wait) and marks the word. */
static int sem_taker(ipc_segment_t *seg, uint32_t units) {
  struct sem_fixture f = sem_child_fixture(seg);
  CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
  CHILD_WAIT_RC(ipc_sem_acquire(f.s, units, LONG_NS), IPC_OK);
  store32(f.acquired, 1);
  return 0;
}
static int role_sem_one(ipc_segment_t *seg) { return sem_taker(seg, 1); }
static int role_sem_three(ipc_segment_t *seg) { return sem_taker(seg, 3); }

/* Takes one unit and says so on `done`. */
static int role_sem_each(ipc_segment_t *seg) {
  struct sem_fixture f = sem_child_fixture(seg);
  CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
  CHILD_WAIT_RC(ipc_sem_acquire(f.s, 1, LONG_NS), IPC_OK);
  CHILD_RC(ipc_sem_release(f.done, 1), IPC_OK);
  return 0;
}

static void semaphore_across_fork(void) {
  ipc_segment_t *seg = shared_segment(4096);
  ipc_sem_t *s = NULL, *ready = NULL, *done = NULL;
  CHECK_RC(ipc_sem_init_at(seg, 0, 0, 0, &s), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 64, 0, 0, &ready), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 128, 0, 0, &done), IPC_OK);
  volatile uint32_t *acquired = word_at(seg, 192);

  /* A child blocks for one unit; the parent's release ends its wait. */
  proc_t child = spawn_role("sem-one");
  CHECK_RC(ipc_sem_acquire(ready, 1, LONG_NS), IPC_OK);
  CHECK(parked(child));
  CHECK(load32(acquired) == 0 && still_running(child));
  CHECK_RC(ipc_sem_release(s, 1), IPC_OK);
  expect_exit(child, 0);
  CHECK(load32(acquired) == 1);
  CHECK_RC(ipc_sem_value(s), 0);

  /* A child waiting for three units is not released by two, and is by the third. */
  store32(acquired, 0);
  child = spawn_role("sem-three");
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
  proc_t kids[3];
  for (int i = 0; i < 3; i++) kids[i] = spawn_role("sem-each");
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

/* The events' children: `manual` at 0, `autoreset` at 64, `ready` at 128, `done` at 192, the word
 * `woke` at 256. Each says it is about to wait, waits for its event and counts itself in `woke`. */
static int event_waiter(ipc_segment_t *seg, uint64_t event_offset, int says_done) {
  ipc_event_t *e = NULL;
  ipc_sem_t *ready = NULL, *done = NULL;
  CHILD_RC(ipc_event_at(seg, event_offset, &e), IPC_OK);
  CHILD_RC(ipc_sem_at(seg, 128, &ready), IPC_OK);
  CHILD_RC(ipc_sem_at(seg, 192, &done), IPC_OK);
  CHILD_RC(ipc_sem_release(ready, 1), IPC_OK);
  CHILD_WAIT_RC(ipc_event_wait(e, LONG_NS), IPC_OK);
  add32(word_at(seg, 256), 1);
  if (says_done) CHILD_RC(ipc_sem_release(done, 1), IPC_OK);
  return 0;
}
static int role_event_manual(ipc_segment_t *seg) { return event_waiter(seg, 0, 0); }
static int role_event_auto(ipc_segment_t *seg) { return event_waiter(seg, 64, 1); }

static void event_across_fork(void) {
  ipc_segment_t *seg = shared_segment(4096);
  ipc_event_t *manual = NULL, *autoreset = NULL;
  ipc_sem_t *ready = NULL, *done = NULL;
  CHECK_RC(ipc_event_init_at(seg, 0, 0, &manual), IPC_OK);
  CHECK_RC(ipc_event_init_at(seg, 64, IPC_EVENT_AUTO_RESET, &autoreset), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 128, 0, 0, &ready), IPC_OK);
  CHECK_RC(ipc_sem_init_at(seg, 192, 0, 0, &done), IPC_OK);
  volatile uint32_t *woke = word_at(seg, 256);

  /* Manual reset: one set releases every waiting process. */
  proc_t kids[3];
  for (int i = 0; i < 3; i++) kids[i] = spawn_role("event-manual");
  CHECK_RC(ipc_sem_acquire(ready, 3, LONG_NS), IPC_OK);
  for (int i = 0; i < 3; i++) CHECK(parked(kids[i]));
  CHECK(load32(woke) == 0);
  CHECK_RC(ipc_event_set(manual), IPC_OK);
  for (int i = 0; i < 3; i++) expect_exit(kids[i], 0);
  CHECK(load32(woke) == 3);
  CHECK_RC(ipc_event_is_set(manual), 1);

  /* Auto reset: each set releases one waiting process and leaves the event clear. */
  store32(woke, 0);
  for (int i = 0; i < 2; i++) kids[i] = spawn_role("event-auto");
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

/* The conditions' children: the mutex at 0, the conditions `to_parent` at 64, `to_child` at 128
 * and `all` at 192, the words `turn` at 256, `go` at 260 and `waiting` at 264. */
struct cond_fixture {
  ipc_mutex_t *m;
  ipc_cond_t *to_parent, *to_child, *all;
  volatile uint32_t *turn, *go, *waiting;
};

static struct cond_fixture cond_child_fixture(ipc_segment_t *seg) {
  struct cond_fixture f;
  CHILD_RC(ipc_mutex_at(seg, 0, &f.m), IPC_OK);
  CHILD_RC(ipc_cond_at(seg, 64, &f.to_parent), IPC_OK);
  CHILD_RC(ipc_cond_at(seg, 128, &f.to_child), IPC_OK);
  CHILD_RC(ipc_cond_at(seg, 192, &f.all), IPC_OK);
  f.turn = word_at(seg, 256);
  f.go = word_at(seg, 260);
  f.waiting = word_at(seg, 264);
  return f;
}

static int role_cond_pingpong(ipc_segment_t *seg) {
  struct cond_fixture f = cond_child_fixture(seg);
  for (int r = 0; r < COND_ROUNDS; r++) {
    CHILD_RC(ipc_mutex_lock(f.m), IPC_OK);
    while (*f.turn != 1) CHILD_WAIT_RC(ipc_cond_wait(f.to_child, f.m, LONG_NS), IPC_OK);
    *f.turn = 0;
    CHILD_RC(ipc_cond_notify(f.to_parent, 1), IPC_OK);
    CHILD_RC(ipc_mutex_unlock(f.m), IPC_OK);
  }
  return 0;
}

static int role_cond_all(ipc_segment_t *seg) {
  struct cond_fixture f = cond_child_fixture(seg);
  CHILD_RC(ipc_mutex_lock(f.m), IPC_OK);
  *f.waiting += 1;
  while (*f.go == 0) CHILD_WAIT_RC(ipc_cond_wait(f.all, f.m, LONG_NS), IPC_OK);
  CHILD_RC(ipc_mutex_unlock(f.m), IPC_OK);
  return 0;
}

static int role_cond_die(ipc_segment_t *seg) {
  struct cond_fixture f = cond_child_fixture(seg);
  CHILD_RC(ipc_mutex_lock(f.m), IPC_OK); /* gets it once the parent waits */
  *f.go = 1;
  CHILD_RC(ipc_cond_notify(f.all, 1), IPC_OK);
  die_now();
  return 3;
}

static void condition_across_fork(void) {
  ipc_segment_t *seg = shared_segment(4096);
  ipc_mutex_t *m = NULL;
  ipc_cond_t *to_parent = NULL, *to_child = NULL, *all = NULL;
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 64, &to_parent), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 128, &to_child), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 192, &all), IPC_OK);
  volatile uint32_t *turn = word_at(seg, 256);
  volatile uint32_t *go = word_at(seg, 260);
  volatile uint32_t *waiting = word_at(seg, 264);

  /* Ping-pong: the predicate (whose turn it is) lives in shared memory; a lost notify would show as
   * a timeout. */
  proc_t child = spawn_role("cond-pingpong");
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
  proc_t kids[3];
  for (int i = 0; i < 3; i++) kids[i] = spawn_role("cond-all");
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
  child = spawn_role("cond-die");
  int32_t rc = IPC_OK;
  while (*go == 0 && rc == IPC_OK) rc = ipc_cond_wait(all, m, LONG_NS);
  CHECK_RC(rc, IPC_OWNER_DIED);
  CHECK_RC(ipc_mutex_held(m), 1);
  CHECK(exit_code(child) == PROC_KILLED);
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
static int role_barrier_waiter(ipc_segment_t *seg) {
  ipc_barrier_t *b = NULL;
  CHILD_RC(ipc_barrier_at(seg, 0, &b), IPC_OK);
  uint64_t t0 = ipc_now_ns();
  int32_t rc = ipc_barrier_wait(b, LONG_NS);
  if (ipc_now_ns() - t0 >= (uint64_t)LONG_NS / 2) return 99;
  return rc >= 0 ? 10 + rc : 100 - rc;
}

/* The barrier at offset 0 of the shared segment, waited at with a LONG_NS timeout. */
static proc_t barrier_waiter(ipc_barrier_t *b, int64_t timeout_ns) {
  (void)b;
  CHECK(timeout_ns == LONG_NS);
  return spawn_role("barrier-waiter");
}

/* BARRIER_ROUNDS rounds at the barrier at 0, counting arrivals at 64 and indexes after them. */
static int role_barrier_rounds(ipc_segment_t *seg) {
  ipc_barrier_t *b = NULL;
  CHILD_RC(ipc_barrier_at(seg, 0, &b), IPC_OK);
  volatile uint32_t *arrived = word_at(seg, 64);
  volatile uint32_t *indexes = word_at(seg, 64 + 4 * BARRIER_ROUNDS);
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
  return 0;
}

/* Waits until `n` parties are waiting at `b`. */
static void await_waiting(ipc_barrier_t *b, int32_t n) {
  for (int i = 0; i < 5000 && ipc_barrier_waiting(b) != n; i++) sleep_ms(1);
  CHECK_RC(ipc_barrier_waiting(b), n);
}

static void barrier_across_fork(void) {
  ipc_segment_t *seg = shared_segment(SEGMENT_BYTES);
  ipc_barrier_t *b = NULL;
  CHECK_RC(ipc_barrier_init_at(seg, 0, BARRIER_PROCESSES, &b), IPC_OK);
  volatile uint32_t *indexes = word_at(seg, 64 + 4 * BARRIER_ROUNDS);

  /* Rounds: nobody passes before everyone has arrived, and the indexes of a round are distinct. */
  proc_t kids[BARRIER_PROCESSES];
  for (int i = 0; i < BARRIER_PROCESSES; i++) kids[i] = spawn_role("barrier-rounds");
  for (int i = 0; i < BARRIER_PROCESSES; i++) expect_exit(kids[i], 0);
  for (int r = 0; r < BARRIER_ROUNDS; r++) CHECK(indexes[r] == (1u << BARRIER_PROCESSES) - 1);
  CHECK_RC(ipc_barrier_waiting(b), 0);
  CHECK_RC(ipc_barrier_broken(b), 0);

  /* A timeout breaks it: the timed-out party gets IPC_ETIMEDOUT, a party waiting meanwhile
   * IPC_EBROKEN, and later waits IPC_EBROKEN until reset. */
  CHECK_RC(ipc_barrier_init_at(seg, 0, 3, &b), IPC_OK);
  proc_t waiter = barrier_waiter(b, LONG_NS);
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
  proc_t first = barrier_waiter(b, LONG_NS);
  proc_t second = barrier_waiter(b, LONG_NS);
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

  /* 64-byte aligned by hand: Windows' C library has no posix_memalign. */
  unsigned char *block = malloc(IPC_RWLOCK_SIZE + 128);
  CHECK(block != NULL);
  unsigned char *raw = block + (64 - (uintptr_t)block % 64) % 64;
  CHECK_RC(ipc_rwlock_init(raw + 32), IPC_EALIGN);
  CHECK_RC(ipc_rwlock_init(raw), IPC_OK);
  CHECK_RC(ipc_rwlock_try_read_lock((ipc_rwlock_t *)raw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock((ipc_rwlock_t *)raw), IPC_OK);
  memset(raw + 64, 0, IPC_RWLOCK_SIZE);
  CHECK_RC(ipc_rwlock_readers((ipc_rwlock_t *)(raw + 64)), IPC_EPROTO);
  free(block);
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
  f.seg = shared_segment(SEGMENT_BYTES);
  CHECK_RC(ipc_rwlock_init_at(f.seg, 0, &f.rw), IPC_OK);
  CHECK_RC(ipc_sem_init_at(f.seg, IPC_RWLOCK_SIZE, 0, 0, &f.ready), IPC_OK);
  CHECK_RC(ipc_event_init_at(f.seg, IPC_RWLOCK_SIZE + 64, 0, &f.go), IPC_OK);
  f.data = word_at(f.seg, IPC_RWLOCK_SIZE + 128);
  return f;
}

/* A child's view of the rwlock fixture, in the segment it opened by name. */
static struct rw_fixture rw_child_fixture(ipc_segment_t *seg) {
  struct rw_fixture f;
  f.seg = seg;
  CHILD_RC(ipc_rwlock_at(seg, 0, &f.rw), IPC_OK);
  CHILD_RC(ipc_sem_at(seg, IPC_RWLOCK_SIZE, &f.ready), IPC_OK);
  CHILD_RC(ipc_event_at(seg, IPC_RWLOCK_SIZE + 64, &f.go), IPC_OK);
  f.data = word_at(seg, IPC_RWLOCK_SIZE + 128);
  return f;
}

static int role_rw_reader(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
  CHILD_WAIT_RC(ipc_event_wait(f.go, LONG_NS), IPC_OK);
  CHILD_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  return 0;
}

/* Takes the write lock and writes 42 under it. */
static int role_rw_writer42(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHILD_RC(ipc_rwlock_readers(f.rw), 0);
  *f.data = 42;
  CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  return 0;
}

static int role_rw_writer(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  return 0;
}

/* Blocks on the parent's read lock until killed. */
static int role_rw_blocked_writer(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  ipc_rwlock_write_lock(f.rw, -1);
  return 1;
}

/* Takes the write lock, half-does an update (7), says so, and holds the lock until killed. */
static int role_rw_holder7(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  *f.data = 7; /* a half-done update */
  CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
  hold_until_killed();
  return 3;
}

static int role_rw_holder(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHILD_RC(ipc_sem_release(f.ready, 1), IPC_OK);
  hold_until_killed();
  return 3;
}

/* Blocks for a read lock whose writer dies: IPC_OWNER_DIED, and the half-done update seen. */
static int role_rw_reader_owner_died(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_WAIT_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
  CHILD_CHECK(*f.data == 7);
  CHILD_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  return 0;
}

/* Blocks for the write lock whose writer dies: IPC_OWNER_DIED, repaired. */
static int role_rw_writer_owner_died(ipc_segment_t *seg) {
  struct rw_fixture f = rw_child_fixture(seg);
  CHILD_WAIT_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OWNER_DIED);
  CHILD_RC(ipc_rwlock_consistent(f.rw), IPC_OK);
  CHILD_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  return 0;
}

/* A child that takes a read lock, says so, and holds it until `go` is set (or until killed). */
static proc_t fork_reader(struct rw_fixture *f) {
  proc_t child = spawn_role("rw-reader");
  CHECK_RC(ipc_sem_acquire(f->ready, 1, LONG_NS), IPC_OK);
  return child;
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
  proc_t reader = fork_reader(&f);
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
  proc_t writer = spawn_role("rw-writer42");
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
  writer = spawn_role("rw-writer");
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
  writer = spawn_role("rw-blocked-writer"); /* blocks on the parent's read lock until killed */
  await_writer(&f);
  kill_and_reap(writer);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_write_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_write_unlock(f.rw), IPC_OK);
  CHECK_RC(ipc_rwlock_read_lock(f.rw, LONG_NS), IPC_OK);
  CHECK_RC(ipc_rwlock_read_unlock(f.rw), IPC_OK);

  /* A writer killed holding the lock, with a reader blocked: the reader, and every later reader
   * and writer, gets IPC_OWNER_DIED until a writer calls ipc_rwlock_consistent. */
  proc_t holder = spawn_role("rw-holder7");
  CHECK_RC(ipc_sem_acquire(f.ready, 1, LONG_NS), IPC_OK);
  reader = spawn_role("rw-reader-owner-died");
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
  holder = spawn_role("rw-holder");
  CHECK_RC(ipc_sem_acquire(f.ready, 1, LONG_NS), IPC_OK);
  writer = spawn_role("rw-writer-owner-died");
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

static const struct {
  const char *name;
  int (*run)(ipc_segment_t *seg);
} roles[] = {
    {"sem-one", role_sem_one},
    {"sem-three", role_sem_three},
    {"sem-each", role_sem_each},
    {"event-manual", role_event_manual},
    {"event-auto", role_event_auto},
    {"cond-pingpong", role_cond_pingpong},
    {"cond-all", role_cond_all},
    {"cond-die", role_cond_die},
    {"barrier-waiter", role_barrier_waiter},
    {"barrier-rounds", role_barrier_rounds},
    {"rw-reader", role_rw_reader},
    {"rw-writer42", role_rw_writer42},
    {"rw-writer", role_rw_writer},
    {"rw-blocked-writer", role_rw_blocked_writer},
    {"rw-holder7", role_rw_holder7},
    {"rw-holder", role_rw_holder},
    {"rw-reader-owner-died", role_rw_reader_owner_died},
    {"rw-writer-owner-died", role_rw_writer_owner_died},
};

/* Without arguments, runs every test (with a test's name, that test); with a role and a segment name, is one of the children above
 * (a child has a kill timer on POSIX, so that a lost wake-up cannot leave it behind). */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3) {
#ifndef _WIN32
    alarm(60);
#endif
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
      if (strcmp(argv[1], roles[i].name) == 0) return roles[i].run(child_segment(argv[2]));
    fprintf(stderr, "test_sync: no role is called %s\n", argv[1]);
    return 1;
  }
#ifndef _WIN32
  alarm(240); /* the whole program's kill timer */
#endif
  /* With an argument, only the test of that name runs; each says its name first (on stdout). */
  const char *only = argc > 1 ? argv[1] : NULL;
  int ran = 0;
#define RUN(name)                                   \
  if (only == NULL || strcmp(only, #name) == 0) {   \
    printf("test_sync: %s\n", #name);               \
    fflush(stdout);                                 \
    name();                                         \
    ran++;                                          \
  }
  RUN(semaphore_bounds);
  RUN(semaphore_across_fork);
  RUN(event_semantics);
  RUN(event_across_fork);
  RUN(condition_basics);
  RUN(condition_across_fork);
  RUN(barrier_basics);
  RUN(barrier_across_fork);
  RUN(rwlock_basics);
  RUN(rwlock_across_fork);
  if (ran == 0) {
    fprintf(stderr, "test_sync: no test is called %s\n", only);
    return 1;
  }
  if (shared_name[0] != 0) ipc_segment_unlink(shared_name);
  printf("test_sync: ok\n");
  return 0;
}
