/* Proves that with ipc_interruptible_set(1) a signal handler ends every kind of blocking wait with
 * IPC_EINTR (semaphore, event, condition, barrier, channel send and receive, MVar take, put and
 * swap, pipe read and write, ipc_wait), leaving the object as a timeout would; and that without it
 * the same wait goes on after the handler and ends only when its condition holds.
 *
 * Each wait has no timeout and runs in a thread of its own. The main thread waits until that
 * thread is seen asleep in the kernel (its /proc wchan names a futex wait), then sends it SIGALRM
 * with pthread_kill; the handler is installed with sigaction without SA_RESTART, as Python installs
 * its own. A wait parks in 100 ms slices, and a signal that lands between two slices runs its
 * handler in user space without interrupting anything, so the signal is sent again while the
 * waiter is still parked. No timing is asserted: a watchdog thread fails the whole program if it
 * has not finished after a generous deadline. */
#define _GNU_SOURCE
#include "ipc.h"
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS_NS 1000000LL
/* The whole program must finish within this (a wait that never ends fails here, not by hanging). */
#define WATCHDOG_S 60

static int handled; /* SIGALRM handlers run; read and written with __atomic builtins */

static void on_alarm(int sig) {
  (void)sig;
  __atomic_fetch_add(&handled, 1, __ATOMIC_SEQ_CST);
}

static void *watchdog(void *arg) {
  (void)arg;
  sleep(WATCHDOG_S);
  fprintf(stderr, "test_eintr: a wait did not end within %d s\n", WATCHDOG_S);
  _exit(3);
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* Whether thread `tid` of this process sleeps in a futex wait. */
static int in_futex_wait(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/wchan", (int)tid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  char buf[64] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return strncmp(buf, "futex", 5) == 0;
}

/* One blocking call of each kind, on objects in private memory (shared between threads). */
struct objects {
  ipc_sem_t *sem;
  ipc_event_t *event;
  ipc_mutex_t *mutex;
  ipc_cond_t *cond;
  ipc_barrier_t *barrier;
  ipc_chan_t *chan;  /* a message channel, 64 bytes: empty for receives, filled for sends */
  ipc_chan_t *mvar;  /* IPC_CHAN_SINGLE */
  ipc_chan_t *pipe;  /* IPC_CHAN_STREAM */
  uint32_t word;
};

static struct objects o;

static void *aligned(size_t size) {
  void *p = NULL;
  CHECK(posix_memalign(&p, 128, size) == 0);
  memset(p, 0, size);
  return p;
}

static ipc_chan_t *new_chan(uint32_t capacity, uint32_t flags) {
  uint64_t size = 0;
  CHECK_RC(ipc_chan_size(capacity, &size), IPC_OK);
  void *memory = aligned(size);
  CHECK_RC(ipc_chan_init(memory, size, capacity, flags), IPC_OK);
  return (ipc_chan_t *)memory;
}

static void make_objects(void) {
  o.sem = aligned(IPC_SEM_SIZE);
  CHECK_RC(ipc_sem_init(o.sem, 0, 0), IPC_OK);
  o.event = aligned(IPC_EVENT_SIZE);
  CHECK_RC(ipc_event_init(o.event, 0), IPC_OK);
  o.mutex = aligned(IPC_MUTEX_SIZE);
  CHECK_RC(ipc_mutex_init(o.mutex), IPC_OK);
  o.cond = aligned(IPC_COND_SIZE);
  CHECK_RC(ipc_cond_init(o.cond), IPC_OK);
  o.barrier = aligned(IPC_BARRIER_SIZE);
  CHECK_RC(ipc_barrier_init(o.barrier, 2), IPC_OK);
  o.chan = new_chan(64, 0);
  o.mvar = new_chan(64, IPC_CHAN_SINGLE);
  o.pipe = new_chan(64, IPC_CHAN_STREAM);
}

enum kind {
  SEM,
  EVENT,
  COND,
  BARRIER,
  CHAN_RECV,
  CHAN_SEND,
  MVAR_TAKE,
  MVAR_PUT,
  MVAR_SWAP,
  PIPE_READ,
  PIPE_READ_WRITER, /* a pipe with an attached writer: the read parks on two words at once */
  PIPE_WRITE,
  WAIT,
  KINDS,
  MUTEX = KINDS, /* a lock wait: never interrupted */
};

static const char *const kind_names[KINDS] = {"semaphore", "event", "condition", "barrier", "chan recv",
                                              "chan send", "mvar take", "mvar put", "mvar swap", "pipe read",
                                              "pipe read (writer attached)", "pipe write", "ipc_wait"};

static const char *name_of(enum kind k) { return k == MUTEX ? "mutex lock" : kind_names[k]; }

/* Sets the object up so that the call of `k` must wait. */
static void prepare(enum kind k) {
  uint8_t bytes[64] = {0};
  switch (k) {
  case CHAN_SEND:
    while (ipc_chan_try_send(o.chan, bytes, 16) == IPC_OK) {
    }
    break;
  case MVAR_PUT:
    CHECK_RC(ipc_chan_try_send(o.mvar, bytes, 8), IPC_OK);
    break;
  case PIPE_WRITE:
    while (ipc_chan_write(o.pipe, bytes, 1, 0) == IPC_OK) {
    }
    break;
  case MUTEX:
    CHECK_RC(ipc_mutex_lock(o.mutex), IPC_OK);
    break;
  case PIPE_READ_WRITER:
    CHECK_RC(ipc_chan_writer_attach(o.pipe), IPC_OK);
    break;
  default:
    break;
  }
}

/* Makes the call of `k` able to finish, and undoes `prepare`. */
static void release(enum kind k) {
  uint8_t bytes[64] = {0};
  uint64_t n = 0;
  switch (k) {
  case SEM:
    CHECK_RC(ipc_sem_release(o.sem, 1), IPC_OK);
    break;
  case EVENT:
    CHECK_RC(ipc_event_set(o.event), IPC_OK);
    break;
  case COND:
    CHECK_RC(ipc_cond_notify_all(o.cond), IPC_OK);
    break;
  case BARRIER:
    CHECK(ipc_barrier_wait(o.barrier, -1) >= 0);
    break;
  case CHAN_RECV:
  case MVAR_TAKE:
  case MVAR_SWAP:
    CHECK_RC(ipc_chan_send(k == CHAN_RECV ? o.chan : o.mvar, bytes, 8, -1), IPC_OK);
    break;
  case CHAN_SEND:
    CHECK_RC(ipc_chan_recv(o.chan, bytes, sizeof bytes, &n, -1), IPC_OK);
    break;
  case MVAR_PUT:
    CHECK_RC(ipc_chan_recv(o.mvar, bytes, sizeof bytes, &n, -1), IPC_OK);
    break;
  case PIPE_READ:
  case PIPE_READ_WRITER:
    CHECK_RC(ipc_chan_write(o.pipe, bytes, 1, -1), IPC_OK);
    break;
  case PIPE_WRITE:
    CHECK_RC(ipc_chan_read(o.pipe, bytes, sizeof bytes, &n, -1), IPC_OK);
    break;
  case WAIT:
    __atomic_store_n(&o.word, 1, __ATOMIC_SEQ_CST);
    ipc_wake(&o.word, 1);
    break;
  case MUTEX:
    CHECK_RC(ipc_mutex_unlock(o.mutex), IPC_OK);
    break;
  default:
    break;
  }
}

/* Returns every object to its starting state after case `k`. */
static void reset(enum kind k) {
  uint8_t bytes[64];
  uint64_t n = 0;
  switch (k) {
  case EVENT:
    CHECK_RC(ipc_event_clear(o.event), IPC_OK);
    break;
  case BARRIER:
    CHECK_RC(ipc_barrier_reset(o.barrier), IPC_OK);
    break;
  case CHAN_SEND:
  case CHAN_RECV:
    while (ipc_chan_try_recv(o.chan, bytes, sizeof bytes, &n) == IPC_OK) {
    }
    break;
  case MVAR_TAKE:
  case MVAR_PUT:
  case MVAR_SWAP:
    while (ipc_chan_try_recv(o.mvar, bytes, sizeof bytes, &n) == IPC_OK) {
    }
    break;
  case PIPE_READ_WRITER:
    CHECK_RC(ipc_chan_writer_detach(o.pipe), IPC_OK);
    /* fall through */
  case PIPE_READ:
  case PIPE_WRITE:
    while (ipc_chan_read(o.pipe, bytes, sizeof bytes, &n, 0) == IPC_OK) {
    }
    break;
  case WAIT:
    o.word = 0;
    break;
  default:
    break;
  }
}

struct waiter {
  enum kind kind;
  pid_t tid; /* both read and written with __atomic builtins */
  int done;
  int32_t rc;
  int32_t held_after; /* condition: whether the mutex was held when the wait returned */
  int32_t broken_after; /* barrier: whether the wait left it broken */
  uint64_t returned_ns;
};

/* The longest time from the first signal to an interrupted wait's return (reported, not asserted). */
static uint64_t latency_max_ns;

static void *run_waiter(void *arg) {
  struct waiter *w = arg;
  __atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
  uint8_t bytes[64] = {0};
  uint8_t out[64];
  uint64_t n = 0;
  int32_t rc = IPC_EINVAL;
  switch (w->kind) {
  case SEM:
    rc = ipc_sem_acquire(o.sem, 1, -1);
    break;
  case EVENT:
    rc = ipc_event_wait(o.event, -1);
    break;
  case COND:
    CHECK_RC(ipc_mutex_lock(o.mutex), IPC_OK);
    rc = ipc_cond_wait(o.cond, o.mutex, -1);
    w->held_after = ipc_mutex_held(o.mutex);
    if (w->held_after) CHECK_RC(ipc_mutex_unlock(o.mutex), IPC_OK);
    break;
  case BARRIER:
    rc = ipc_barrier_wait(o.barrier, -1);
    if (rc > 0) rc = IPC_OK; /* an arrival index */
    w->broken_after = ipc_barrier_broken(o.barrier);
    break;
  case CHAN_RECV:
    rc = ipc_chan_recv(o.chan, out, sizeof out, &n, -1);
    break;
  case CHAN_SEND:
    rc = ipc_chan_send(o.chan, bytes, 16, -1);
    break;
  case MVAR_TAKE:
    rc = ipc_chan_recv(o.mvar, out, sizeof out, &n, -1);
    break;
  case MVAR_PUT:
    rc = ipc_chan_send(o.mvar, bytes, 8, -1);
    break;
  case MVAR_SWAP:
    rc = ipc_chan_swap(o.mvar, bytes, 8, out, sizeof out, &n, -1);
    break;
  case PIPE_READ:
  case PIPE_READ_WRITER:
    rc = ipc_chan_read(o.pipe, out, sizeof out, &n, -1);
    break;
  case PIPE_WRITE:
    rc = ipc_chan_write(o.pipe, bytes, 8, -1);
    break;
  case WAIT:
    rc = ipc_wait(&o.word, 0, -1, NULL);
    break;
  case MUTEX:
    rc = ipc_mutex_lock(o.mutex);
    if (rc == IPC_OK) CHECK_RC(ipc_mutex_unlock(o.mutex), IPC_OK);
    break;
  default:
    break;
  }
  w->rc = rc;
  w->returned_ns = ipc_now_ns();
  __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

/* Waits until the waiter sleeps in the kernel, or has returned. */
static void wait_parked(struct waiter *w) {
  while (__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST) == 0) sleep_ms(1);
  pid_t tid = __atomic_load_n(&w->tid, __ATOMIC_SEQ_CST);
  while (!__atomic_load_n(&w->done, __ATOMIC_SEQ_CST) && !in_futex_wait(tid)) sleep_ms(1);
}

/* Interruptible: the parked wait returns IPC_EINTR, the object left as a timeout leaves it. */
static void interrupted_case(enum kind k) {
  prepare(k);
  struct waiter w = {.kind = k};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, run_waiter, &w) == 0);
  wait_parked(&w);
  /* Sent again while the waiter is still parked after each round (see the file comment). */
  uint64_t first_signal_ns = ipc_now_ns();
  while (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)) {
    CHECK(pthread_kill(thread, SIGALRM) == 0);
    for (int i = 0; i < 200 && !__atomic_load_n(&w.done, __ATOMIC_SEQ_CST); i++) sleep_ms(1);
    if (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)) wait_parked(&w);
  }
  CHECK(pthread_join(thread, NULL) == 0);
  if (w.rc != IPC_EINTR) {
    fprintf(stderr, "test_eintr: %s returned %d (%s), expected IPC_EINTR\n", name_of(k), (int)w.rc,
            ipc_errname(w.rc));
    exit(1);
  }
  if (w.returned_ns - first_signal_ns > latency_max_ns) latency_max_ns = w.returned_ns - first_signal_ns;
  if (k == COND) CHECK(w.held_after == 1);
  if (k == BARRIER) CHECK(w.broken_after == 1);
  reset(k);
}

/* Not interruptible: the handler runs, the wait goes on, and ends only once released. */
static void continued_case(enum kind k) {
  prepare(k);
  struct waiter w = {.kind = k};
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, run_waiter, &w) == 0);
  wait_parked(&w);
  int before = __atomic_load_n(&handled, __ATOMIC_SEQ_CST);
  CHECK(pthread_kill(thread, SIGALRM) == 0);
  while (__atomic_load_n(&handled, __ATOMIC_SEQ_CST) == before) sleep_ms(1);
  /* Parked again, and still waiting. */
  wait_parked(&w);
  CHECK(!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST));
  release(k);
  CHECK(pthread_join(thread, NULL) == 0);
  if (w.rc != IPC_OK) {
    fprintf(stderr, "test_eintr: %s without interruptible waits returned %d (%s), expected IPC_OK\n",
            name_of(k), (int)w.rc, ipc_errname(w.rc));
    exit(1);
  }
  if (k == COND) CHECK(w.held_after == 1);
  reset(k);
}

int main(void) {
  pthread_t dog;
  CHECK(pthread_create(&dog, NULL, watchdog, NULL) == 0);
  CHECK(pthread_detach(dog) == 0);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART */
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0);

  make_objects();

  CHECK(ipc_interruptible_get() == 0);
  CHECK_RC(ipc_interruptible_set(2), IPC_EINVAL);
  for (int k = 0; k < KINDS; k++) continued_case((enum kind)k);

  CHECK_RC(ipc_interruptible_set(1), IPC_OK);
  CHECK(ipc_interruptible_get() == 1);
  for (int k = 0; k < KINDS; k++) interrupted_case((enum kind)k);

  /* Lock waits are never interrupted, even now: a mutex lock goes on after the handler. */
  continued_case(MUTEX);

  CHECK_RC(ipc_interruptible_set(0), IPC_OK);
  CHECK(ipc_interruptible_get() == 0);
  printf("test_eintr: ok (%d signals handled; longest first signal to IPC_EINTR %.3f ms)\n",
         __atomic_load_n(&handled, __ATOMIC_SEQ_CST), (double)latency_max_ns / 1e6);
  return 0;
}
