/* ipc-crash: kills a process at every crash point of libipc (zig/crash.zig) and checks afterwards
 * what the file of that operation promises about a process killed there: nothing lost, nothing
 * duplicated, no wedge, owner death reported, the heap consistent and whole again.
 *
 * Built only by `zig build crashtest`, against libipc compiled with its crash points. For each
 * scenario the parent sets the object up in a named segment, forks a child that opens the segment
 * by name, arms one point (LIBIPC_CRASH_AT=<point>[:<nth>]) and performs the operation; the child
 * must die of SIGKILL (a point never reached, or another end, fails the scenario). Then the parent
 * checks the invariant. Every point the library declares must have a scenario. Waits are parked
 * waiters in processes of their own, so a missing wake shows as a waiter that does not return.
 *
 *   ipc-crash            every scenario; exits 1 if any failed
 *   ipc-crash <point>    the scenarios of that point only */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "parked.h"

/* Exported only by the crash build of libipc (zig/crash_root.zig). */
uint32_t ipc_crash_point_count(void);
const char *ipc_crash_point_name(uint32_t index);
uint64_t ipc_crash_recheck_ns(void);

#define MS 1000000LL
#define SECOND 1000000000LL
/* A waiter parked beside a process killed between commit and wake must return within this (the
 * recheck is 100 ms; the rest is room for 2 busy CPUs). Its own timeout is longer, so that a
 * waiter woken only by its timeout is told apart. */
#define WAKE_BOUND (2 * SECOND)
#define WAITER_TIMEOUT (4 * SECOND)
#define HEAP_SIZE (1024 * 1024)

typedef struct Ctx {
  char name[32];
  ipc_segment_t *seg;
  unsigned char *base;
  ipc_heap_t *heap;
  uint64_t block;         /* a block the parent made for the child to use */
  uint64_t pages_bytes;   /* the heap's pages, in bytes */
  pid_t waiter;           /* a parked waiter process, or 0 */
  uint64_t killed_at;     /* when the child was seen dead */
  int wake_known_missing; /* no wait.recheck_ns in this library: a missing wake is reported, not failed */
  int missed;             /* the waiter returned only at its timeout (known defect): it did not do its part */
} Ctx;

typedef struct Scenario {
  const char *point;
  uint32_t nth;
  const char *operation;
  const char *invariant;
  int (*setup)(Ctx *);
  /* Run in the child, with the point armed; returns only when the point was not reached. */
  void (*op)(Ctx *);
  int (*check)(Ctx *);
  /* Optional: a first child killed at this point before the scenario's own child runs. */
  const char *before_point;
  void (*before_op)(Ctx *);
} Scenario;

static char failure[512];
static char note[256];

static int fail_line;

static int fail(const char *fmt, ...) {
  va_list args;
  int n = fail_line ? snprintf(failure, sizeof failure, "line %d: ", fail_line) : 0;
  fail_line = 0;
  va_start(args, fmt);
  vsnprintf(failure + n, sizeof failure - (size_t)n, fmt, args);
  va_end(args);
  return -1;
}

#define EXPECT(cond, ...)            \
  do {                               \
    if (!(cond)) {                   \
      fail_line = __LINE__;          \
      return fail(__VA_ARGS__);      \
    }                                \
  } while (0)

#define EXPECT_RC(call, want)                                                                  \
  do {                                                                                         \
    int32_t rc_ = (call);                                                                      \
    if (rc_ != (want))                                                                         \
      return fail("line %d: %s returned %s, expected %s", __LINE__, #call, ipc_errname(rc_), \
                  ipc_errname(want));                                                          \
  } while (0)

/* In a child: any failure before the point ends it with exit 3, which the parent reports. */
#define MUST(call)                                                                   \
  do {                                                                               \
    int32_t rc_ = (call);                                                            \
    if (rc_ < 0) {                                                                   \
      fprintf(stderr, "child: line %d: %s: %s\n", __LINE__, #call, ipc_errname(rc_)); \
      _exit(3);                                                                      \
    }                                                                                \
  } while (0)

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* ---- Processes ------------------------------------------------------------------------------- */

/* Reopens the scenario's segment by name, as an unrelated process would. */
static void child_open(Ctx *c) {
  int heap = c->heap != NULL;
  MUST(ipc_segment_open(c->name, 0, &c->seg));
  c->base = ipc_segment_base(c->seg);
  c->heap = NULL;
  if (heap) MUST(ipc_heap_attach(c->seg, &c->heap));
}

/* Waits for `pid` until `timeout_ns`; its wait status, or -1 when it did not end (then killed). */
static int reap(pid_t pid, int64_t timeout_ns) {
  uint64_t deadline = ipc_now_ns() + (uint64_t)timeout_ns;
  int status = 0;
  for (;;) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return status;
    if (ipc_now_ns() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    sleep_ms(1);
  }
}

/* Forks a child that arms `point` and runs `op`; fails unless the child died of SIGKILL. */
static int kill_at(Ctx *c, const char *point, uint32_t nth, void (*op)(Ctx *)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return fail("fork failed");
  if (pid == 0) {
    char armed[96];
    snprintf(armed, sizeof armed, "%s:%u", point, nth);
    setenv("LIBIPC_CRASH_AT", armed, 1);
    Ctx mine = *c;
    child_open(&mine);
    op(&mine);
    _exit(99); /* the operation ended without passing the point */
  }
  int status = reap(pid, 30 * SECOND);
  c->killed_at = ipc_now_ns();
  if (status == -1) return fail("the child at %s:%u never ended (killed after 30 s)", point, nth);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 99)
    return fail("the child finished the operation without reaching %s:%u", point, nth);
  if (WIFEXITED(status)) return fail("the child exited with %d before reaching %s", WEXITSTATUS(status), point);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    return fail("the child died of signal %d, not SIGKILL", WTERMSIG(status));
  return 0;
}

/* Forks a waiter (nothing armed) that runs `body` and exits with its result. */
static void start_waiter(Ctx *c, int (*body)(Ctx *)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("LIBIPC_CRASH_AT");
    Ctx mine = *c;
    child_open(&mine);
    _exit(body(&mine));
  }
  c->waiter = pid;
}

/* Waits until the waiter is parked: `count` (the parked count beside its word) is non-zero and the
 * waiter process is seen sleeping in a futex call, not between registering and parking. */
static int waiter_parked(Ctx *c, const volatile uint32_t *count) {
  uint64_t deadline = ipc_now_ns() + 10 * SECOND;
  while (*count == 0) {
    if (ipc_now_ns() > deadline) return fail("the waiter never parked");
    sleep_ms(1);
  }
  return seen_parked(c->waiter, 10 * SECOND) ? 0 : fail("the waiter never slept in a futex wait");
}

/* The waiter must end with exit 0 within WAKE_BOUND of the kill. Without wait.recheck_ns in the
 * library, a waiter that returned only at its timeout is the known defect of issue 15 item 9 (a
 * committer killed before its wake): noted, not failed, and `missed` set so that the rest of the
 * check accounts for a waiter that did not do its part. */
static int waiter_woke(Ctx *c) {
  int status = reap(c->waiter, 20 * SECOND);
  uint64_t took = ipc_now_ns() - c->killed_at;
  c->waiter = 0;
  if (status == -1) return fail("the parked waiter never returned (wedged)");
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok && (int64_t)took <= WAKE_BOUND) return 0;
  if (c->wake_known_missing && WIFEXITED(status) && (int64_t)took > WAITER_TIMEOUT - SECOND) {
    snprintf(note, sizeof note, "KNOWN (no wait.recheck_ns yet): the parked waiter returned only at its timeout, %.2f s after the kill, and %s",
             (double)took / SECOND, ok ? "then succeeded" : "failed");
    c->missed = !ok;
    return 0;
  }
  if (!ok) return fail("the parked waiter failed (exit status %d) %.2f s after the kill", WEXITSTATUS(status), (double)took / SECOND);
  return fail("the parked waiter returned %.2f s after the kill (bound %.1f s)", (double)took / SECOND,
              (double)WAKE_BOUND / SECOND);
}

#define WAITER_WOKE(c)                \
  do {                                \
    if (waiter_woke(c) != 0) return -1; \
  } while (0)

static int plain_segment(Ctx *c) {
  int32_t rc = ipc_segment_create(c->name, 4096, 0, 0, &c->seg);
  if (rc != IPC_OK) return fail("ipc_segment_create: %s", ipc_errname(rc));
  c->base = ipc_segment_base(c->seg);
  return 0;
}

/* ---- Heap ------------------------------------------------------------------------------------ */

static int heap_setup(Ctx *c) {
  int32_t rc = ipc_heap_create(c->name, 0, 0, HEAP_SIZE, &c->seg, &c->heap);
  if (rc != IPC_OK) return fail("ipc_heap_create: %s", ipc_errname(rc));
  c->base = ipc_segment_base(c->seg);
  ipc_heap_stats_t s;
  EXPECT_RC(ipc_heap_check(c->heap, &s, NULL), IPC_OK);
  c->pages_bytes = s.free_pages + s.reserved;
  return 0;
}

/* Every allocated block, found by asking each 16-byte step of the heap whether a block starts
 * there (the dead process's blocks have no other name). Returns how many; fills `out`. */
static int heap_blocks(Ctx *c, uint64_t *out, int max) {
  int n = 0;
  unsigned char *from = c->base + IPC_HEAP_OFFSET;
  unsigned char *end = c->base + ipc_segment_size(c->seg);
  for (unsigned char *p = from; p < end; p += 16) {
    uint64_t block, size;
    if (ipc_heap_handle(c->heap, p, &block) != IPC_OK) continue;
    if (ipc_heap_usable_size(c->heap, block, &size) != IPC_OK) continue;
    if (n < max) out[n] = block;
    n++;
    if (size > 16) p += size - 16;
  }
  return n;
}

/* The heap after a kill: `check` clean, exactly `leaked` blocks allocated (the dead process's,
 * plus none of the parent's), and once they are freed the whole heap is one free block again. */
static int heap_whole(Ctx *c, int leaked) {
  const char *problem = NULL;
  ipc_heap_stats_t s;
  int32_t rc = ipc_heap_check(c->heap, &s, &problem);
  EXPECT(rc == IPC_OK, "ipc_heap_check: %s: %s", ipc_errname(rc), problem ? problem : "?");
  uint64_t blocks[8];
  int n = heap_blocks(c, blocks, 8);
  EXPECT(n == leaked, "%d blocks allocated after the kill, expected %d", n, leaked);
  EXPECT(s.allocations == (uint64_t)leaked, "ipc_heap_check counts %llu blocks, expected %d",
         (unsigned long long)s.allocations, leaked);
  for (int i = 0; i < n && i < 8; i++) EXPECT_RC(ipc_heap_free(c->heap, blocks[i]), IPC_OK);
  uint64_t all;
  EXPECT_RC(ipc_heap_malloc(c->heap, c->pages_bytes, &all), IPC_OK);
  EXPECT_RC(ipc_heap_free(c->heap, all), IPC_OK);
  rc = ipc_heap_check(c->heap, &s, &problem);
  EXPECT(rc == IPC_OK, "ipc_heap_check after freeing: %s: %s", ipc_errname(rc), problem ? problem : "?");
  EXPECT(s.allocations == 0 && s.largest_free == c->pages_bytes, "the heap is not whole again");
  return 0;
}

static int heap_none_leaked(Ctx *c) { return heap_whole(c, 0); }
static int heap_one_leaked(Ctx *c) { return heap_whole(c, 1); }

static void op_malloc_small(Ctx *c) {
  uint64_t b;
  MUST(ipc_heap_malloc(c->heap, 16, &b));
}

static void op_malloc_large(Ctx *c) {
  uint64_t b;
  MUST(ipc_heap_malloc(c->heap, 3 * 65536, &b));
}

static void op_malloc_all(Ctx *c) {
  uint64_t b;
  MUST(ipc_heap_malloc(c->heap, c->pages_bytes, &b));
}

static void op_free_block(Ctx *c) { MUST(ipc_heap_free(c->heap, c->block)); }

static void op_root(Ctx *c) {
  uint64_t b;
  MUST(ipc_heap_root(c->heap, "crash", 64, &b));
}

/* A small block the parent allocates: the child frees it. */
static int heap_setup_small_block(Ctx *c) {
  if (heap_setup(c) != 0) return -1;
  EXPECT_RC(ipc_heap_malloc(c->heap, 16, &c->block), IPC_OK);
  return 0;
}

static int heap_setup_large_block(Ctx *c) {
  if (heap_setup(c) != 0) return -1;
  EXPECT_RC(ipc_heap_malloc(c->heap, 3 * 65536, &c->block), IPC_OK);
  return 0;
}

/* An empty small page (the parent allocated from it and freed, and keeps it as its cursor, so it
 * does not retire): a child's malloc of every page then retires it in a sweep. */
static int heap_setup_empty_page(Ctx *c) {
  if (heap_setup(c) != 0) return -1;
  uint64_t b;
  EXPECT_RC(ipc_heap_malloc(c->heap, 16, &b), IPC_OK);
  EXPECT_RC(ipc_heap_free(c->heap, b), IPC_OK);
  ipc_heap_stats_t s;
  EXPECT_RC(ipc_heap_check(c->heap, &s, NULL), IPC_OK);
  EXPECT(s.reserved == 65536, "the empty small page retired at once");
  return 0;
}

/* Arenas: the child makes one and works in it; whatever step it is killed at, its arena's blocks
 * all go back (it is dead), so the heap is whole again with none leaked. */
static void arena_fill(ipc_heap_arena_t *a) {
  uint64_t b;
  static const uint64_t sizes[3] = {16, 100, 1000}; /* three classes: three pages (a 1 MiB heap) */
  for (int i = 0; i < 30; i++) MUST(ipc_heap_arena_malloc(a, sizes[i % 3], &b));
  MUST(ipc_heap_arena_malloc(a, 3 * 65536, &b));
}

static void op_arena_create(Ctx *c) {
  ipc_heap_arena_t *a;
  MUST(ipc_heap_arena_create(c->heap, &a));
}

static void op_arena_malloc_small(Ctx *c) {
  ipc_heap_arena_t *a;
  uint64_t b;
  MUST(ipc_heap_arena_create(c->heap, &a));
  MUST(ipc_heap_arena_malloc(a, 16, &b));
}

static void op_arena_malloc_large(Ctx *c) {
  ipc_heap_arena_t *a;
  uint64_t b;
  MUST(ipc_heap_arena_create(c->heap, &a));
  MUST(ipc_heap_arena_malloc(a, 3 * 65536, &b));
}

static void op_arena_destroy(Ctx *c) {
  ipc_heap_arena_t *a;
  MUST(ipc_heap_arena_create(c->heap, &a));
  arena_fill(a);
  MUST(ipc_heap_arena_destroy(a));
}

static void op_arena_reset(Ctx *c) {
  ipc_heap_arena_t *a;
  MUST(ipc_heap_arena_create(c->heap, &a));
  arena_fill(a);
  MUST(ipc_heap_arena_reset(a));
}

/* Handed to the parent (alive): killed before the status names the parent, the arena is still the
 * dead child's and goes back. */
static void op_arena_hand_over(Ctx *c) {
  ipc_heap_arena_t *a;
  MUST(ipc_heap_arena_create(c->heap, &a));
  arena_fill(a);
  MUST(ipc_heap_arena_hand_over(a, (int32_t)getppid()));
}

/* The root the dead process was making does not exist, and can be made again. */
static int heap_root_absent(Ctx *c) {
  uint64_t b;
  EXPECT_RC(ipc_heap_root(c->heap, "crash", 0, &b), IPC_ENOENT);
  if (heap_whole(c, 1) != 0) return -1;
  EXPECT_RC(ipc_heap_root(c->heap, "crash", 64, &b), IPC_OK);
  EXPECT_RC(ipc_heap_root_remove(c->heap, "crash"), IPC_OK);
  EXPECT_RC(ipc_heap_free(c->heap, b), IPC_OK);
  return heap_whole(c, 0);
}

/* ---- Barrier, semaphore, event, condition ------------------------------------------------------ */

static ipc_barrier_t *barrier_of(Ctx *c) {
  ipc_barrier_t *b = NULL;
  ipc_barrier_at(c->seg, 0, &b);
  return b;
}

static int barrier_setup(Ctx *c) {
  if (plain_segment(c) != 0) return -1;
  ipc_barrier_t *b;
  EXPECT_RC(ipc_barrier_init_at(c->seg, 0, 2, &b), IPC_OK);
  return 0;
}

static void op_barrier_wait(Ctx *c) { MUST(ipc_barrier_wait(barrier_of(c), 10 * SECOND)); }

/* The dead party arrived, so it counts: the other passes at once, with the other index. */
static int barrier_dead_counts(Ctx *c) {
  ipc_barrier_t *b = barrier_of(c);
  uint64_t start = ipc_now_ns();
  EXPECT_RC(ipc_barrier_wait(b, WAITER_TIMEOUT), 1);
  EXPECT(ipc_now_ns() - start < (uint64_t)WAKE_BOUND, "the second party waited for the dead one");
  EXPECT_RC(ipc_barrier_broken(b), 0);
  EXPECT_RC(ipc_barrier_waiting(b), 0);
  return 0;
}

static int barrier_waiter(Ctx *c) { return ipc_barrier_wait(barrier_of(c), WAITER_TIMEOUT) == 0 ? 0 : 1; }

static int barrier_setup_parked(Ctx *c) {
  if (barrier_setup(c) != 0) return -1;
  start_waiter(c, barrier_waiter);
  uint64_t deadline = ipc_now_ns() + 10 * SECOND;
  while (ipc_barrier_waiting(barrier_of(c)) != 1) {
    if (ipc_now_ns() > deadline) return fail("the waiter never arrived");
    sleep_ms(1);
  }
  return seen_parked(c->waiter, 10 * SECOND) ? 0 : fail("the waiter never slept in a futex wait");
}

/* The last arrival opened the barrier and died before waking: the parked party still passes, and
 * the next generation starts empty and unbroken. */
static int barrier_opened(Ctx *c) {
  WAITER_WOKE(c);
  EXPECT_RC(ipc_barrier_broken(barrier_of(c)), 0);
  EXPECT_RC(ipc_barrier_waiting(barrier_of(c)), 0);
  return 0;
}

static ipc_sem_t *sem_of(Ctx *c) {
  ipc_sem_t *s = NULL;
  ipc_sem_at(c->seg, 0, &s);
  return s;
}

static int sem_waiter(Ctx *c) { return ipc_sem_acquire(sem_of(c), 1, WAITER_TIMEOUT) == IPC_OK ? 0 : 1; }

static int sem_setup(Ctx *c) {
  if (plain_segment(c) != 0) return -1;
  ipc_sem_t *s;
  EXPECT_RC(ipc_sem_init_at(c->seg, 0, 0, 0, &s), IPC_OK);
  start_waiter(c, sem_waiter);
  return waiter_parked(c, ipc_sem_word(s) + 1);
}

static void op_sem_release(Ctx *c) { MUST(ipc_sem_release(sem_of(c), 1)); }

/* The unit was added before the kill: the parked waiter takes it (none lost, none made twice). */
static int sem_posted(Ctx *c) {
  WAITER_WOKE(c);
  EXPECT_RC(ipc_sem_value(sem_of(c)), 0);
  return 0;
}

static ipc_event_t *event_of(Ctx *c) {
  ipc_event_t *e = NULL;
  ipc_event_at(c->seg, 0, &e);
  return e;
}

static int event_waiter(Ctx *c) { return ipc_event_wait(event_of(c), WAITER_TIMEOUT) == IPC_OK ? 0 : 1; }

static int event_setup(Ctx *c) {
  if (plain_segment(c) != 0) return -1;
  ipc_event_t *e;
  EXPECT_RC(ipc_event_init_at(c->seg, 0, 0, &e), IPC_OK);
  start_waiter(c, event_waiter);
  return waiter_parked(c, ipc_event_word(e) + 1);
}

static void op_event_set(Ctx *c) { MUST(ipc_event_set(event_of(c))); }

static int event_was_set(Ctx *c) {
  WAITER_WOKE(c);
  EXPECT_RC(ipc_event_is_set(event_of(c)), 1);
  return 0;
}

static ipc_mutex_t *cond_mutex(Ctx *c) {
  ipc_mutex_t *m = NULL;
  ipc_mutex_at(c->seg, 0, &m);
  return m;
}

static ipc_cond_t *cond_of(Ctx *c) {
  ipc_cond_t *v = NULL;
  ipc_cond_at(c->seg, 64, &v);
  return v;
}

static int cond_waiter(Ctx *c) {
  ipc_mutex_t *m = cond_mutex(c);
  if (ipc_mutex_lock(m) != IPC_OK) return 2;
  int32_t rc = ipc_cond_wait(cond_of(c), m, WAITER_TIMEOUT);
  ipc_mutex_unlock(m);
  return rc == IPC_OK ? 0 : 1;
}

static int cond_setup(Ctx *c) {
  if (plain_segment(c) != 0) return -1;
  ipc_mutex_t *m;
  ipc_cond_t *v;
  EXPECT_RC(ipc_mutex_init_at(c->seg, 0, &m), IPC_OK);
  EXPECT_RC(ipc_cond_init_at(c->seg, 64, &v), IPC_OK);
  start_waiter(c, cond_waiter);
  return waiter_parked(c, ipc_cond_word(v) + 1);
}

static void op_cond_notify(Ctx *c) { MUST(ipc_cond_notify(cond_of(c), 1)); }

static int cond_notified(Ctx *c) {
  WAITER_WOKE(c);
  /* The mutex is free again (the waiter unlocked it): no owner death, nothing held. */
  EXPECT_RC(ipc_mutex_try_lock(cond_mutex(c)), IPC_OK);
  EXPECT_RC(ipc_mutex_unlock(cond_mutex(c)), IPC_OK);
  return 0;
}

/* ---- Channels ----------------------------------------------------------------------------------- */

/* A channel of 256 bytes at offset 0 of the segment: messages are 8-byte numbers, 16-byte records,
 * so 16 fill the ring. */
#define CHAN_CAPACITY 256
#define CHAN_FULL 16

static ipc_chan_t *chan_of(Ctx *c) {
  ipc_chan_t *ch = NULL;
  ipc_chan_at(c->seg, 0, &ch);
  return ch;
}

static int chan_make(Ctx *c, uint32_t flags, int first, int count) {
  if (plain_segment(c) != 0) return -1;
  ipc_chan_t *ch;
  EXPECT_RC(ipc_chan_init_at(c->seg, 0, CHAN_CAPACITY, flags, &ch), IPC_OK);
  for (uint64_t v = (uint64_t)first; v < (uint64_t)(first + count); v++) EXPECT_RC(ipc_chan_try_send(ch, &v, 8), IPC_OK);
  return 0;
}

/* Receives everything there is (try forms); fails unless it is exactly `want[0..n)`, in order. */
static int chan_holds(Ctx *c, const uint64_t *want, int n) {
  ipc_chan_t *ch = chan_of(c);
  for (int i = 0;; i++) {
    uint64_t v = 0, len = 0;
    int32_t rc = ipc_chan_try_recv(ch, &v, 8, &len);
    if (rc == IPC_EBUSY || rc == IPC_EOF) {
      EXPECT(i == n, "the channel held %d messages, expected %d (lost)", i, n);
      return 0;
    }
    EXPECT(rc == IPC_OK, "ipc_chan_try_recv: %s", ipc_errname(rc));
    EXPECT(i < n, "an extra message %llu (duplicated)", (unsigned long long)v);
    EXPECT(len == 8 && v == want[i], "message %d is %llu, expected %llu", i, (unsigned long long)v,
           (unsigned long long)want[i]);
  }
}

static int chan_holds_range(Ctx *c, int first, int end) {
  uint64_t want[64];
  int n = 0;
  for (int v = first; v < end; v++) want[n++] = (uint64_t)v;
  return chan_holds(c, want, n);
}

/* No wedge: a full ring's worth (one message for an MVar) goes in with timed sends and comes back
 * out, in order. A dead holder's views must be reaped for this, a lock it held recovered. */
static int chan_usable(Ctx *c) {
  ipc_chan_t *ch = chan_of(c);
  int single = ipc_chan_flags(ch) & IPC_CHAN_SINGLE;
  int n = single ? 1 : CHAN_FULL;
  for (uint64_t v = 1000; v < (uint64_t)(1000 + n); v++) EXPECT_RC(ipc_chan_send(ch, &v, 8, 5 * SECOND), IPC_OK);
  return chan_holds_range(c, 1000, 1000 + n);
}

static void op_chan_send(Ctx *c) {
  uint64_t v = 100;
  MUST(ipc_chan_send(chan_of(c), &v, 8, 10 * SECOND));
}

static void op_chan_recv(Ctx *c) {
  uint64_t v, len;
  MUST(ipc_chan_recv(chan_of(c), &v, 8, &len, 10 * SECOND));
}

static void op_chan_swap(Ctx *c) {
  uint64_t v = 8, out, len;
  MUST(ipc_chan_swap(chan_of(c), &v, 8, &out, 8, &len, 10 * SECOND));
}

static void op_chan_replace(Ctx *c) {
  uint64_t v = 8;
  MUST(ipc_chan_replace(chan_of(c), &v, 8));
}

static void op_chan_close(Ctx *c) { MUST(ipc_chan_close(chan_of(c))); }

static void op_chan_views(Ctx *c) {
  uint32_t offsets[CHAN_FULL], lengths[CHAN_FULL], count, loan[2] = {0, 0};
  MUST(ipc_chan_recv_views(chan_of(c), offsets, lengths, 2, &count, loan, 10 * SECOND));
}

static void op_chan_views_release(Ctx *c) {
  uint32_t offsets[CHAN_FULL], lengths[CHAN_FULL], count, loan[2] = {0, 0};
  MUST(ipc_chan_recv_views(chan_of(c), offsets, lengths, CHAN_FULL, &count, loan, 10 * SECOND));
  MUST(ipc_chan_release(chan_of(c), loan));
}

static int chan_setup_four(Ctx *c) { return chan_make(c, 0, 0, 4); }
static int mvar_setup_seven(Ctx *c) { return chan_make(c, IPC_CHAN_SINGLE, 7, 1); }

/* Waiters parked on a channel word: a receiver (exit 0 when it got `c->block`, or IPC_EOF when
 * c->block is 0), a sender of 100 into a full ring. */
static int chan_receiver(Ctx *c) {
  uint64_t v = 0, len = 0;
  int32_t rc = ipc_chan_recv(chan_of(c), &v, 8, &len, WAITER_TIMEOUT);
  if (c->block == 0) return rc == IPC_EOF ? 0 : 1;
  return rc == IPC_OK && v == c->block ? 0 : 1;
}

static int chan_sender(Ctx *c) {
  uint64_t v = 100;
  return ipc_chan_send(chan_of(c), &v, 8, WAITER_TIMEOUT) == IPC_OK ? 0 : 1;
}

static int chan_setup_parked_receiver(Ctx *c, uint32_t flags, uint64_t expect) {
  if (chan_make(c, flags, 0, 0) != 0) return -1;
  c->block = expect;
  start_waiter(c, chan_receiver);
  return waiter_parked(c, ipc_chan_word(chan_of(c), 0) + 1);
}

static int chan_setup_receiver_100(Ctx *c) { return chan_setup_parked_receiver(c, 0, 100); }
static int mvar_setup_receiver_8(Ctx *c) { return chan_setup_parked_receiver(c, IPC_CHAN_SINGLE, 8); }
static int chan_setup_receiver_eof(Ctx *c) { return chan_setup_parked_receiver(c, 0, 0); }

static int chan_setup_full_parked_sender(Ctx *c) {
  if (chan_make(c, 0, 0, CHAN_FULL) != 0) return -1;
  start_waiter(c, chan_sender);
  return waiter_parked(c, ipc_chan_word(chan_of(c), 1) + 1);
}

static int chan_check_four(Ctx *c) { return chan_holds_range(c, 0, 4) || chan_usable(c); }
static int chan_check_taken_first(Ctx *c) { return chan_holds_range(c, 1, 4) || chan_usable(c); }
static int chan_check_loaned_two(Ctx *c) { return chan_holds_range(c, 2, 4) || chan_usable(c); }
static int chan_check_empty(Ctx *c) { return chan_holds(c, NULL, 0) || chan_usable(c); }

static int chan_check_received_100(Ctx *c) {
  WAITER_WOKE(c);
  uint64_t want = 100;
  if (c->missed) return chan_holds(c, &want, 1) || chan_usable(c);
  return chan_check_empty(c);
}

static int mvar_check_holds_8(Ctx *c) {
  uint64_t want = 8;
  return chan_holds(c, &want, 1) || chan_usable(c);
}

static int mvar_check_received_8(Ctx *c) {
  WAITER_WOKE(c);
  if (c->missed) return mvar_check_holds_8(c);
  return chan_check_empty(c);
}

/* The parked sender got its message in once the dead receiver's commit freed a record. */
static int chan_check_sender_in(Ctx *c) {
  WAITER_WOKE(c);
  uint64_t want[CHAN_FULL];
  for (int i = 1; i < CHAN_FULL; i++) want[i - 1] = (uint64_t)i;
  want[CHAN_FULL - 1] = 100;
  return chan_holds(c, want, c->missed ? CHAN_FULL - 1 : CHAN_FULL) || chan_usable(c);
}

/* The dead receiver's whole loan was given back before it died: only the sender's message is left. */
static int chan_check_released(Ctx *c) {
  WAITER_WOKE(c);
  uint64_t want = 100;
  return chan_holds(c, &want, c->missed ? 0 : 1) || chan_usable(c);
}

/* Closed: the parked receiver saw the end, sends fail, closing again works (its lock recovered). */
static int chan_check_closed(Ctx *c) {
  WAITER_WOKE(c);
  ipc_chan_t *ch = chan_of(c);
  uint64_t v = 1, len;
  EXPECT_RC(ipc_chan_is_closed(ch), 1);
  EXPECT_RC(ipc_chan_try_send(ch, &v, 8), IPC_EPIPE);
  EXPECT_RC(ipc_chan_send(ch, &v, 8, SECOND), IPC_EPIPE);
  EXPECT_RC(ipc_chan_recv(ch, &v, 8, &len, SECOND), IPC_EOF);
  EXPECT_RC(ipc_chan_close(ch), IPC_OK);
  EXPECT_RC(ipc_chan_try_recv(ch, &v, 8, &len), IPC_EOF);
  return 0;
}

/* ---- Readers-writer lock ---------------------------------------------------------------------- */

static ipc_rwlock_t *rwlock_of(Ctx *c) {
  ipc_rwlock_t *rw = NULL;
  ipc_rwlock_at(c->seg, 0, &rw);
  return rw;
}

static int rwlock_setup(Ctx *c) {
  if (plain_segment(c) != 0) return -1;
  ipc_rwlock_t *rw;
  EXPECT_RC(ipc_rwlock_init_at(c->seg, 0, &rw), IPC_OK);
  return 0;
}

static void op_rw_write(Ctx *c) { MUST(ipc_rwlock_write_lock(rwlock_of(c), 10 * SECOND)); }
static void op_rw_read(Ctx *c) { MUST(ipc_rwlock_read_lock(rwlock_of(c), 10 * SECOND)); }

static void op_rw_write_unlock(Ctx *c) {
  MUST(ipc_rwlock_write_lock(rwlock_of(c), 10 * SECOND));
  MUST(ipc_rwlock_write_unlock(rwlock_of(c)));
}

static void op_rw_read_unlock(Ctx *c) {
  MUST(ipc_rwlock_read_lock(rwlock_of(c), 10 * SECOND));
  MUST(ipc_rwlock_read_unlock(rwlock_of(c)));
}

/* The dead process wrote nothing (or finished): both kinds of lock are taken within a timeout and
 * nobody is told of a death. */
static int rwlock_clean(Ctx *c) {
  ipc_rwlock_t *rw = rwlock_of(c);
  EXPECT_RC(ipc_rwlock_write_lock(rw, 5 * SECOND), IPC_OK);
  EXPECT_RC(ipc_rwlock_write_unlock(rw), IPC_OK);
  EXPECT_RC(ipc_rwlock_read_lock(rw, 5 * SECOND), IPC_OK);
  EXPECT_RC(ipc_rwlock_readers(rw), 1);
  EXPECT_RC(ipc_rwlock_read_unlock(rw), IPC_OK);
  EXPECT_RC(ipc_rwlock_try_write_lock(rw), IPC_OK);
  EXPECT_RC(ipc_rwlock_write_unlock(rw), IPC_OK);
  return 0;
}

/* A writer died holding the whole write lock: every acquisition reports OWNER_DIED until a writer
 * calls consistent; then the lock is clean. */
static int rwlock_owner_died(Ctx *c) {
  ipc_rwlock_t *rw = rwlock_of(c);
  EXPECT_RC(ipc_rwlock_read_lock(rw, 5 * SECOND), IPC_OWNER_DIED);
  EXPECT_RC(ipc_rwlock_read_unlock(rw), IPC_OK);
  EXPECT_RC(ipc_rwlock_write_lock(rw, 5 * SECOND), IPC_OWNER_DIED);
  EXPECT_RC(ipc_rwlock_consistent(rw), IPC_OK);
  EXPECT_RC(ipc_rwlock_write_unlock(rw), IPC_OK);
  return rwlock_clean(c);
}

/* ---- The scenarios ----------------------------------------------------------------------------- */

static const Scenario scenarios[] = {
    {"heap_claim_bit_set", 1, "heap small malloc", "heap check clean; exactly 1 leaked block; whole heap allocatable after freeing it",
     heap_setup, op_malloc_small, heap_one_leaked, NULL, NULL},
    {"heap_free_bit_cleared", 1, "heap small free", "block freed (0 allocated); check clean; whole heap allocatable",
     heap_setup_small_block, op_free_block, heap_none_leaked, NULL, NULL},
    {"heap_page_new_entry", 1, "heap new small page (malloc)", "next locker recovers: check clean, 0 blocks, whole heap allocatable",
     heap_setup, op_malloc_small, heap_none_leaked, NULL, NULL},
    {"heap_page_new_linked", 1, "heap new small page (malloc)", "as above", heap_setup, op_malloc_small, heap_none_leaked, NULL,
     NULL},
    {"heap_retire_unlive", 1, "heap retire (sweep by a large malloc)", "recovered: check clean, 0 blocks, whole heap allocatable",
     heap_setup_empty_page, op_malloc_all, heap_none_leaked, NULL, NULL},
    {"heap_retire_unlinked", 1, "heap retire (sweep by a large malloc)", "as above", heap_setup_empty_page, op_malloc_all,
     heap_none_leaked, NULL, NULL},
    {"heap_large_claim_continuation", 1, "heap large malloc (3 pages)", "orphan continuations freed: 0 blocks, whole heap allocatable",
     heap_setup, op_malloc_large, heap_none_leaked, NULL, NULL},
    {"heap_large_claim_continuation", 2, "heap large malloc (3 pages)", "as above", heap_setup, op_malloc_large, heap_none_leaked,
     NULL, NULL},
    {"heap_large_claim_head", 1, "heap large malloc (3 pages)", "committed: exactly 1 leaked block; whole heap after freeing it",
     heap_setup, op_malloc_large, heap_one_leaked, NULL, NULL},
    {"heap_large_free_head", 1, "heap large free (3 pages)", "block freed, orphan continuations freed: 0 blocks, whole heap",
     heap_setup_large_block, op_free_block, heap_none_leaked, NULL, NULL},
    {"heap_large_free_continuation", 1, "heap large free (3 pages)", "as above", heap_setup_large_block, op_free_block,
     heap_none_leaked, NULL, NULL},
    {"heap_root_named", 1, "heap root (make)", "no half root: the name is not found, 1 leaked block, the root can be made again",
     heap_setup, op_root, heap_root_absent, NULL, NULL},
    {"heap_arena_create_owner", 1, "heap arena create", "no arena made: check clean, 0 blocks, whole heap allocatable",
     heap_setup, op_arena_create, heap_none_leaked, NULL, NULL},
    {"heap_claim_bit_set", 1, "heap arena small malloc", "the dead owner's arena goes back: 0 blocks (none leaked), whole heap",
     heap_setup, op_arena_malloc_small, heap_none_leaked, NULL, NULL},
    {"heap_page_new_entry", 1, "heap arena new small page", "recovered, then the arena goes back: 0 blocks, whole heap",
     heap_setup, op_arena_malloc_small, heap_none_leaked, NULL, NULL},
    {"heap_page_new_linked", 1, "heap arena new small page", "as above", heap_setup, op_arena_malloc_small, heap_none_leaked,
     NULL, NULL},
    {"heap_large_claim_head", 1, "heap arena large malloc", "committed, and the arena goes back: 0 blocks, whole heap",
     heap_setup, op_arena_malloc_large, heap_none_leaked, NULL, NULL},
    {"heap_arena_hand_over_staged", 1, "heap arena hand over (to the parent)",
     "not handed over: the dead child's arena goes back: 0 blocks, whole heap", heap_setup, op_arena_hand_over, heap_none_leaked,
     NULL, NULL},
    {"heap_arena_reclaim_marked", 1, "heap arena destroy", "the next locker finishes the give-back: 0 blocks, whole heap",
     heap_setup, op_arena_destroy, heap_none_leaked, NULL, NULL},
    {"heap_arena_reclaim_page", 1, "heap arena destroy", "as above (killed after the first page)", heap_setup,
     op_arena_destroy, heap_none_leaked, NULL, NULL},
    {"heap_arena_reclaim_page", 3, "heap arena destroy", "as above (killed after the third page)", heap_setup,
     op_arena_destroy, heap_none_leaked, NULL, NULL},
    {"heap_arena_reclaim_page", 2, "heap arena reset", "as above (a reset killed after the second page)", heap_setup,
     op_arena_reset, heap_none_leaked, NULL, NULL},
    {"heap_recover_scanned", 1, "heap recover (after a death in a new small page)",
     "recovery killed half way is redone by the next locker: check clean, 0 blocks, whole heap", heap_setup, op_malloc_small,
     heap_none_leaked, "heap_page_new_linked", op_malloc_small},
    {"barrier_arrive_counted", 1, "barrier arrive (not last)", "the dead party counts: the other passes at once with index 1, unbroken",
     barrier_setup, op_barrier_wait, barrier_dead_counts, NULL, NULL},
    {"barrier_arrive_opened", 1, "barrier arrive (last)", "the parked party passes within the bound; next generation empty, unbroken",
     barrier_setup_parked, op_barrier_wait, barrier_opened, NULL, NULL},
    {"semaphore_post_committed", 1, "semaphore release", "the parked acquirer gets the unit within the bound; value 0 after",
     sem_setup, op_sem_release, sem_posted, NULL, NULL},
    {"event_set_committed", 1, "event set (manual reset)", "the parked waiter returns within the bound; the event stays set",
     event_setup, op_event_set, event_was_set, NULL, NULL},
    {"condition_notify_committed", 1, "condition notify", "the parked waiter returns notified within the bound; mutex free",
     cond_setup, op_cond_notify, cond_notified, NULL, NULL},
    {"chan_send_copied", 1, "chan send", "not sent: the channel holds exactly 0..3; sends and receives go on (lock recovered)",
     chan_setup_four, op_chan_send, chan_check_four, NULL, NULL},
    {"chan_send_committed", 1, "chan send", "sent once: the parked receiver gets it within the bound; then empty; usable",
     chan_setup_receiver_100, op_chan_send, chan_check_received_100, NULL, NULL},
    {"chan_recv_copied", 1, "chan recv", "not taken: the channel still holds 0..3; usable", chan_setup_four, op_chan_recv,
     chan_check_four, NULL, NULL},
    {"chan_consume_cursor", 1, "chan recv (consume)", "taken by the dead: 1..3 left, none twice; a full ring of timed sends completes",
     chan_setup_four, op_chan_recv, chan_check_taken_first, NULL, NULL},
    {"chan_consume_cursor", 1, "MVar take (consume)", "taken by the dead: empty; a timed put and a take complete (no wedge)",
     mvar_setup_seven, op_chan_recv, chan_check_empty, NULL, NULL},
    {"chan_consume_head", 1, "chan recv (consume) of a full ring",
     "the sender parked on the full ring gets in within the bound; 1..15 then its message; usable",
     chan_setup_full_parked_sender, op_chan_recv, chan_check_sender_in, NULL, NULL},
    {"chan_swap_consumed", 1, "MVar swap", "old value gone, new not in: empty; put and take complete", mvar_setup_seven,
     op_chan_swap, chan_check_empty, NULL, NULL},
    {"chan_swap_committed", 1, "MVar swap", "the new value exactly once; usable", mvar_setup_seven, op_chan_swap, mvar_check_holds_8,
     NULL, NULL},
    {"chan_replace_consumed", 1, "MVar replace", "old value gone, new not in: empty; put and take complete", mvar_setup_seven,
     op_chan_replace, chan_check_empty, NULL, NULL},
    {"chan_replace_committed", 1, "MVar replace", "the parked taker gets the new value within the bound; then empty; usable",
     mvar_setup_receiver_8, op_chan_replace, mvar_check_received_8, NULL, NULL},
    {"chan_close_readable", 1, "chan close", "closed for senders; the parked receiver sees the end within the bound; close again works",
     chan_setup_receiver_eof, op_chan_close, chan_check_closed, NULL, NULL},
    {"chan_close_committed", 1, "chan close", "as above", chan_setup_receiver_eof, op_chan_close, chan_check_closed, NULL, NULL},
    {"chan_loan_marked", 1, "chan recv_views (2 of 4)", "marks past the cursor are plain messages: 0..3 still there; usable",
     chan_setup_four, op_chan_views, chan_check_four, NULL, NULL},
    {"chan_loan_taken", 1, "chan recv_views (2 of 4)",
     "the dead holder's views are dropped, not redelivered: 2..3 left; a full ring of timed sends completes (reaped)",
     chan_setup_four, op_chan_views, chan_check_loaned_two, NULL, NULL},
    {"chan_release_unmarked", 1, "chan release (of 4 views)", "given back: nothing left; a full ring of timed sends completes",
     chan_setup_four, op_chan_views_release, chan_check_empty, NULL, NULL},
    {"chan_release_committed", 1, "chan release (of a full ring's views)",
     "the sender parked on the full ring gets in within the bound; only its message is left; usable",
     chan_setup_full_parked_sender, op_chan_views_release, chan_check_released, NULL, NULL},
    {"rwlock_write_take_locked", 1, "rwlock write lock (waiting for readers)",
     "wrote nothing: write and read locks taken within a timeout, no OWNER_DIED", rwlock_setup, op_rw_write, rwlock_clean, NULL,
     NULL},
    {"rwlock_write_take_writing", 1, "rwlock write lock (taken)",
     "owner death reported: read and write locks return OWNER_DIED until consistent, then clean", rwlock_setup, op_rw_write,
     rwlock_owner_died, NULL, NULL},
    {"rwlock_recover_flagged", 1, "rwlock write lock after a dead writer (recovery)",
     "the death is still reported: OWNER_DIED until consistent", rwlock_setup, op_rw_write, rwlock_owner_died,
     "rwlock_write_take_writing", op_rw_write},
    {"rwlock_write_release_cleared", 1, "rwlock write unlock", "finished writing: clean, no OWNER_DIED", rwlock_setup,
     op_rw_write_unlock, rwlock_clean, NULL, NULL},
    {"rwlock_read_take_slot", 1, "rwlock read lock", "the slot is freed by the kernel: clean, no OWNER_DIED", rwlock_setup,
     op_rw_read, rwlock_clean, NULL, NULL},
    {"rwlock_read_release_unlocked", 1, "rwlock read unlock", "clean, no OWNER_DIED", rwlock_setup, op_rw_read_unlock,
     rwlock_clean, NULL, NULL},
};

#define SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static int run(const Scenario *s, int index, int known_missing) {
  Ctx c;
  memset(&c, 0, sizeof c);
  snprintf(c.name, sizeof c.name, "ipctest.crash.%d.%d", (int)getpid(), index);
  c.wake_known_missing = known_missing;
  failure[0] = 0;
  note[0] = 0;
  ipc_segment_unlink(c.name);
  uint64_t start = ipc_now_ns();
  int rc = s->setup(&c);
  if (rc == 0 && s->before_point) rc = kill_at(&c, s->before_point, 1, s->before_op);
  if (rc == 0) rc = kill_at(&c, s->point, s->nth, s->op);
  if (rc == 0) rc = s->check(&c);
  if (c.waiter) {
    kill(c.waiter, SIGKILL);
    waitpid(c.waiter, NULL, 0);
  }
  if (c.heap) ipc_heap_close(c.heap);
  if (c.seg) ipc_segment_close(c.seg);
  ipc_segment_unlink(c.name);
  printf("%s %s:%u (%s) %.0f ms%s%s%s%s\n", rc == 0 ? "ok  " : "FAIL", s->point, s->nth, s->operation,
         (double)(ipc_now_ns() - start) / MS, rc == 0 ? "" : ": ", failure, note[0] ? ": " : "", note);
  fflush(stdout);
  return rc;
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  int known_missing = ipc_crash_recheck_ns() == 0;
  int failed = 0;
  /* Every point the library declares has a scenario, and every scenario names a real point. */
  uint32_t points = ipc_crash_point_count();
  for (uint32_t i = 0; i < points; i++) {
    const char *name = ipc_crash_point_name(i);
    int found = 0;
    for (size_t k = 0; k < SCENARIOS; k++) found |= strcmp(scenarios[k].point, name) == 0;
    if (!found) {
      printf("FAIL %s: no scenario drives this point\n", name);
      failed++;
    }
  }
  for (size_t k = 0; k < SCENARIOS; k++) {
    int known = 0;
    for (uint32_t i = 0; i < points; i++) known |= strcmp(scenarios[k].point, ipc_crash_point_name(i)) == 0;
    if (!known) {
      printf("FAIL %s: not a crash point of this library\n", scenarios[k].point);
      failed++;
    }
  }
  int ran = 0;
  for (size_t k = 0; k < SCENARIOS; k++) {
    if (only && strcmp(only, scenarios[k].point) != 0) continue;
    ran++;
    if (run(&scenarios[k], (int)k, known_missing) != 0) failed++;
  }
  if (known_missing) printf("note: this libipc has no wait.recheck_ns: late wakes are reported as KNOWN, not failed\n");
  printf("%d scenarios over %u crash points, %d failed\n", ran, points, failed);
  return failed == 0 ? 0 : 1;
}
