/* Proves that no wake-up is lost (issue 15): a timed mutex lock that gives up after consuming the
 * unlock's wake passes it on even when a try_lock took the lock meanwhile; and waiters parked on a
 * word that was changed without a wake (what a process killed between its commit and its wake
 * leaves) return by themselves. "Parked" is an event, not a sleep: the waiter thread sleeps inside
 * futex or futex_waitv (parked.h; and, where the object counts parked waiters, the count says so);
 * the only time limits are generous timeouts that end a lost wait with a failure instead of a
 * hang. */
#define _GNU_SOURCE
#include "ipc.h"
#include "check.h"
#include "parked.h"

#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* C99 with GCC/Clang builtins: the build compiles the tests as -std=c99 -pedantic. */
#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

#define SECOND_NS 1000000000LL
#define MS_NS 1000000LL
#define US_NS 1000LL

static pid_t current_tid(void) {
  return (pid_t)syscall(SYS_gettid);
}

/* Whether thread `tid` of this process sleeps in a futex wait (futex_wait, futex_waitv). */
static int parked(pid_t tid) {
  return parked_now(tid) > 0;
}

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
  nanosleep(&ts, NULL);
}

/* Waits (polling, bounded) until thread *tid has published its id and parks in a futex wait;
 * returns 0 instead if *done (when given) says the thread's wait already ended (a loaded machine
 * can run a short timed wait to its end between two polls). */
static int await_parked_or_done(pid_t *tid, int *done) {
  uint64_t until = ipc_now_ns() + 60 * SECOND_NS;
  while (ipc_now_ns() < until) {
    pid_t t = LOAD(tid);
    if (t != 0 && parked(t)) return 1;
    if (done != NULL && LOAD(done)) return 0;
    sleep_us(10);
  }
  CHECK(!"the waiter never parked");
  return 0;
}

static void await_parked(pid_t *tid) {
  await_parked_or_done(tid, NULL);
}

/* ---- 5: a timed lock that gives up passes the wake on --------------------------------------- */

/* The two locks with a timed exclusive lock: the mutex, and the rwlock's write lock (its writer
 * mutex). */
struct lock_ops {
  const char *name;
  int32_t (*lock)(void *, int64_t);
  int32_t (*try_lock)(void *);
  int32_t (*unlock)(void *);
  const uint32_t *(*word)(void *); /* the lock word (robust futex protocol: owner | waiters bit) */
};

static int32_t mutex_timed(void *m, int64_t t) { return ipc_mutex_timed_lock(m, t); }
static int32_t mutex_try(void *m) { return ipc_mutex_try_lock(m); }
static int32_t mutex_unlock(void *m) { return ipc_mutex_unlock(m); }
static int32_t write_timed(void *rw, int64_t t) { return ipc_rwlock_write_lock(rw, t); }
static int32_t write_try(void *rw) { return ipc_rwlock_try_write_lock(rw); }
static int32_t write_unlock(void *rw) { return ipc_rwlock_write_unlock(rw); }
static const uint32_t *mutex_word(void *m) { return ipc_mutex_word(m); }
/* The rwlock's writer mutex is the object's second cache line (zig/rwlock.zig), its lock word 16
 * bytes into it (zig/mutex.zig): a test may know the layout. */
static const uint32_t *writer_word(void *rw) { return (const uint32_t *)((char *)rw + 64 + 16); }
#define FUTEX_WAITERS 0x80000000u

static const struct lock_ops mutex_ops = {"mutex", mutex_timed, mutex_try, mutex_unlock, mutex_word};
static const struct lock_ops write_ops = {"rwlock write lock", write_timed, write_try, write_unlock,
                                           writer_word};

struct lock_round {
  const struct lock_ops *ops;
  void *lock;
  pid_t w1_tid, w2_tid;
  uint64_t w1_deadline;
  int64_t w1_timeout_ns;
  int32_t w1_rc, w2_rc;
  int w1_done;
};

static void *timed_locker(void *arg) {
  struct lock_round *r = arg;
  STORE(&r->w1_deadline, ipc_now_ns() + (uint64_t)r->w1_timeout_ns);
  STORE(&r->w1_tid, current_tid());
  r->w1_rc = r->ops->lock(r->lock, r->w1_timeout_ns);
  if (r->w1_rc == IPC_OK) CHECK_RC(r->ops->unlock(r->lock), IPC_OK);
  STORE(&r->w1_done, 1);
  return NULL;
}

static void *patient_locker(void *arg) {
  struct lock_round *r = arg;
  STORE(&r->w2_tid, current_tid());
  /* Bounded only so that a lost wake-up fails the test: the lock is free soon after it parks. */
  r->w2_rc = r->ops->lock(r->lock, 10 * SECOND_NS);
  if (r->w2_rc == IPC_OK) CHECK_RC(r->ops->unlock(r->lock), IPC_OK);
  return NULL;
}

/* W1 (timed) and then W2 park on a held lock; the holder unlocks just before W1's deadline, so
 * that the unlock's one wake goes to W1, which runs only after its deadline has passed; the holder
 * takes the lock straight back with a try-lock (which clears FUTEX_WAITERS) and holds it until W1
 * has given up. Before the fix W1 saw the lock held and passed nothing on, the holder's unlock
 * woke nobody, and W2 slept beside a free lock until its timeout (in nearly every round here);
 * since wait.zig's recheck slices W2 would wake within 100 ms anyway, so the round also checks the
 * invariant directly: once W1 has given up, W2 parked on the held lock finds FUTEX_WAITERS set.
 * Each round varies how long before the deadline the unlock comes. */
static void timed_give_up(const struct lock_ops *ops, void *lock) {
  int rounds = 40, windows = 0;
  for (int i = 0; i < rounds; i++) {
    struct lock_round r = {.ops = ops, .lock = lock, .w1_timeout_ns = 50 * MS_NS};
    CHECK_RC(ops->lock(lock, -1), IPC_OK);
    pthread_t w1, w2;
    CHECK(pthread_create(&w1, NULL, timed_locker, &r) == 0);
    if (!await_parked_or_done(&r.w1_tid, &r.w1_done)) {
      /* Too slow a machine for this round: W1 timed out before it was seen parked. */
      CHECK(pthread_join(w1, NULL) == 0);
      CHECK_RC(ops->unlock(lock), IPC_OK);
      continue;
    }
    CHECK(pthread_create(&w2, NULL, patient_locker, &r) == 0);
    await_parked(&r.w2_tid);
    uint64_t unlock_at = LOAD(&r.w1_deadline) - (uint64_t)((i % 6) * 15 * US_NS);
    int late = ipc_now_ns() >= unlock_at; /* the machine was too slow for this round's window */
    while (ipc_now_ns() < unlock_at) {
    }
    CHECK_RC(ops->unlock(lock), IPC_OK);
    int retaken = ops->try_lock(lock) == IPC_OK;
    CHECK(pthread_join(w1, NULL) == 0);
    if (retaken && r.w1_rc == IPC_ETIMEDOUT && parked(LOAD(&r.w2_tid)) &&
        (LOAD(ops->word(lock)) & FUTEX_WAITERS) == 0) {
      /* The invariant the fix keeps: a waiter parked on a held lock means the word says so, or the
       * unlock wakes nobody (wait.zig's recheck slices would still wake W2 within 100 ms). */
      fprintf(stderr, "%s round %d: W2 parked on a held lock whose word lacks FUTEX_WAITERS\n",
              ops->name, i);
      CHECK(!"a lost wake-up");
    }
    if (retaken) CHECK_RC(ops->unlock(lock), IPC_OK);
    if (retaken && !late && r.w1_rc == IPC_ETIMEDOUT) windows++;
    CHECK(pthread_join(w2, NULL) == 0);
    if (r.w2_rc != IPC_OK) {
      fprintf(stderr, "%s round %d: the patient locker got %s beside a free lock (W1: %s)\n", ops->name,
              i, ipc_errname(r.w2_rc), ipc_errname(r.w1_rc));
      CHECK(r.w2_rc == IPC_OK);
    }
  }
  printf("timed_give_up (%s): %d of %d rounds gave up after the unlock with the lock retaken\n",
         ops->name, windows, rounds);
}

static void timed_give_up_all(void) {
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  ipc_rwlock_t *rw = NULL;
  CHECK_RC(ipc_segment_create(NULL, 8192, 0, 0, &seg), IPC_OK);
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_rwlock_init_at(seg, 64, &rw), IPC_OK);
  timed_give_up(&mutex_ops, m);
  timed_give_up(&write_ops, rw);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* ---- 9: a commit whose wake never came (the committer was killed in between) ----------------- */

#define LONG_NS (10 * SECOND_NS)

struct parked_wait {
  int32_t (*call)(struct parked_wait *);
  void *object, *other;
  pid_t tid;
  int32_t rc;
};

static void *run_wait(void *arg) {
  struct parked_wait *p = arg;
  STORE(&p->tid, current_tid());
  p->rc = p->call(p);
  return NULL;
}

/* Starts `p` on a thread and returns once it sleeps in the kernel and, when `waiters` is given,
 * counts itself there (the word's parked count, the uint32_t after the value). */
static pthread_t park_waiter(struct parked_wait *p, const uint32_t *word) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, run_wait, p) == 0);
  await_parked(&p->tid);
  if (word != NULL) {
    for (long i = 0; LOAD(&word[1]) == 0; i++) {
      CHECK(i < 2000000);
      sleep_us(10);
    }
  }
  return t;
}

/* Changes a word in shared memory as a committer does, and then dies before its wake. */
static void commit_without_wake(const uint32_t *word, uint32_t value) {
  STORE((uint32_t *)word, value);
}

/* Joins the waiter and checks that it returned `want` by itself, well before its timeout (a wait
 * released only at its timeout would report the change too, so the time is what tells). */
static void expect_returned(pthread_t t, struct parked_wait *p, int32_t want, uint64_t started) {
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_RC(p->rc, want);
  CHECK(ipc_now_ns() - started < (uint64_t)LONG_NS / 2);
}

static int32_t raw_wait(struct parked_wait *p) {
  return ipc_wait(p->object, 0, LONG_NS, NULL);
}
static int32_t sem_wait_one(struct parked_wait *p) {
  return ipc_sem_acquire(p->object, 1, LONG_NS);
}
static int32_t event_wait(struct parked_wait *p) {
  return ipc_event_wait(p->object, LONG_NS);
}
static int32_t cond_wait(struct parked_wait *p) {
  CHECK_RC(ipc_mutex_lock(p->other), IPC_OK);
  int32_t rc = ipc_cond_wait(p->object, p->other, LONG_NS);
  CHECK_RC(ipc_mutex_unlock(p->other), IPC_OK);
  return rc;
}
static int32_t barrier_wait(struct parked_wait *p) {
  return ipc_barrier_wait(p->object, LONG_NS);
}
static int32_t waiter_next(struct parked_wait *p) {
  uint32_t token = 0;
  int32_t result = 0;
  int32_t n = ipc_waiter_next(p->object, &token, &result, 1);
  return n == 1 && token == 7 ? result : IPC_EPROTO;
}

/* For each primitive: a waiter parks; its word is changed as the commit of a release, set, notify,
 * the last arrival, or any store would change it, with no wake after it. Before wait.zig's recheck
 * slices every one slept until its timeout. */
static void commit_without_wake_all(void) {
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  uint32_t *raw = (uint32_t *)ipc_segment_base(seg);
  ipc_sem_t *sem = NULL;
  ipc_event_t *event = NULL;
  ipc_cond_t *cond = NULL;
  ipc_mutex_t *m = NULL;
  ipc_barrier_t *barrier = NULL;
  CHECK_RC(ipc_sem_init_at(seg, 64, 0, 0, &sem), IPC_OK);
  CHECK_RC(ipc_event_init_at(seg, 128, 0, &event), IPC_OK);
  CHECK_RC(ipc_cond_init_at(seg, 192, &cond), IPC_OK);
  CHECK_RC(ipc_mutex_init_at(seg, 256, &m), IPC_OK);
  CHECK_RC(ipc_barrier_init_at(seg, 320, 2, &barrier), IPC_OK);

  uint64_t t0 = ipc_now_ns();
  struct parked_wait p = {.call = raw_wait, .object = raw};
  pthread_t t = park_waiter(&p, NULL);
  commit_without_wake(raw, 1);
  expect_returned(t, &p, IPC_OK, t0);

  t0 = ipc_now_ns();
  p = (struct parked_wait){.call = sem_wait_one, .object = sem};
  t = park_waiter(&p, ipc_sem_word(sem));
  commit_without_wake(ipc_sem_word(sem), 1); /* a release of one unit */
  expect_returned(t, &p, IPC_OK, t0);
  CHECK_RC(ipc_sem_value(sem), 0);

  t0 = ipc_now_ns();
  p = (struct parked_wait){.call = event_wait, .object = event};
  t = park_waiter(&p, ipc_event_word(event));
  commit_without_wake(ipc_event_word(event), (LOAD(ipc_event_word(event)) | 1) + 2); /* a set */
  expect_returned(t, &p, IPC_OK, t0);

  t0 = ipc_now_ns();
  p = (struct parked_wait){.call = cond_wait, .object = cond, .other = m};
  t = park_waiter(&p, ipc_cond_word(cond));
  commit_without_wake(ipc_cond_word(cond), LOAD(ipc_cond_word(cond)) + 1); /* a notify */
  expect_returned(t, &p, IPC_OK, t0);

  t0 = ipc_now_ns();
  p = (struct parked_wait){.call = barrier_wait, .object = barrier};
  t = park_waiter(&p, NULL);
  CHECK_RC(ipc_barrier_waiting(barrier), 1);
  /* The last arrival's CAS: generation 0 -> 1, no arrivals (its history bit stays "passed"). */
  commit_without_wake(ipc_barrier_word(barrier), 1u << 16);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(p.rc == 0); /* the first arrival's index */
  CHECK(ipc_now_ns() - t0 < (uint64_t)LONG_NS / 2);

  /* The async waiter (poll mode): its loop sleeps in futex_waitv with the word among its words. */
  ipc_waiter_t *waiter = NULL;
  CHECK_RC(ipc_waiter_create(NULL, &waiter), IPC_OK);
  raw[0] = 0;
  CHECK_RC(ipc_waiter_submit(waiter, raw, 0, LONG_NS, 7), IPC_OK);
  t0 = ipc_now_ns();
  p = (struct parked_wait){.call = waiter_next, .object = waiter};
  t = park_waiter(&p, NULL);
  commit_without_wake(raw, 1);
  expect_returned(t, &p, IPC_OK, t0);
  CHECK_RC(ipc_waiter_destroy(waiter), IPC_OK);

  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  printf("commit_without_wake_all: every parked waiter returned by itself\n");
}

int main(void) {
  alarm(300); /* the whole program's kill timer */
  timed_give_up_all();
  commit_without_wake_all();
  printf("test_wake: ok\n");
  return 0;
}
