/* Proves the channel's repairs of issue 15 from plain C: an MVar stays usable after replace and
 * swap; a wake-up that one receiver does not use (a peek, a buffer too small) is passed on to the
 * next parked receiver, and a batch of N messages wakes N receivers; a capacity that a peer wrote
 * over the header is refused by every call instead of being followed past the mapping. Waits that
 * must end are timed against a long deadline; the test waits for receivers to be parked by reading
 * the readable word's count of parked waiters and each child's process state, never by sleeping.
 * Children report through their exit status. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"
#include "parked.h"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECOND_NS 1000000000LL
/* The timeout of every wait that must end: long enough never to fire on a loaded machine; a wait
 * that takes half of it means the wake-up was lost. */
#define LONG_NS (20 * SECOND_NS)

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

#define CHILD_WAIT_RC(call, want)                                                                   \
  do {                                                                                              \
    uint64_t t0_ = ipc_now_ns();                                                                    \
    CHILD_RC(call, want);                                                                           \
    CHILD_CHECK(ipc_now_ns() - t0_ < (uint64_t)LONG_NS / 2);                                        \
  } while (0)

static ipc_segment_t *new_segment(uint64_t size) {
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(NULL, size, 0, 0, &seg), IPC_OK);
  return seg;
}

/* Waits for a child to end and expects exit status 0 (a signal is reported as such). */
static void reap(pid_t pid, const char *what) {
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) fprintf(stderr, "%s: child killed by signal %d\n", what, WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) fprintf(stderr, "%s: child exited %d\n", what, WEXITSTATUS(status));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Issue 15, defect 1: replace and swap move head and tail; senders must not take the head they saw
 * before for damage once the tail has run more than the capacity past it. */
static void test_mvar_after_replace(void) {
  ipc_segment_t *seg = new_segment(4096);
  ipc_chan_t *mvar = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 64, IPC_CHAN_SINGLE, &mvar), IPC_OK);
  char buf[32];
  uint64_t n = 0;
  for (int i = 0; i < 5; i++) CHECK_RC(ipc_chan_replace(mvar, "value", 5), IPC_OK);
  CHECK_RC(ipc_chan_try_recv(mvar, buf, sizeof buf, &n), IPC_OK);
  CHECK(n == 5);
  CHECK_RC(ipc_chan_try_send(mvar, "after", 5), IPC_OK);
  CHECK_RC(ipc_chan_try_recv(mvar, buf, sizeof buf, &n), IPC_OK);
  CHECK_RC(ipc_chan_send(mvar, "again", 5, 0), IPC_OK);
  CHECK_RC(ipc_chan_try_recv(mvar, buf, sizeof buf, &n), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* The same after swaps (MVar.swap, then take and put). */
static void test_mvar_after_swap(void) {
  ipc_segment_t *seg = new_segment(4096);
  ipc_chan_t *mvar = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 64, IPC_CHAN_SINGLE, &mvar), IPC_OK);
  char buf[32];
  uint64_t n = 0;
  CHECK_RC(ipc_chan_try_send(mvar, "put", 3), IPC_OK);
  for (int i = 0; i < 4; i++) CHECK_RC(ipc_chan_swap(mvar, "swap", 4, buf, sizeof buf, &n, 0), IPC_OK);
  CHECK_RC(ipc_chan_try_recv(mvar, buf, sizeof buf, &n), IPC_OK);
  CHECK(n == 4 && memcmp(buf, "swap", 4) == 0);
  CHECK_RC(ipc_chan_try_send(mvar, "put", 3), IPC_OK);
  CHECK_RC(ipc_chan_try_recv(mvar, buf, sizeof buf, &n), IPC_OK);
  CHECK(n == 3 && memcmp(buf, "put", 3) == 0);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* Waits until `count` receivers are parked on the channel's readable word: counted as parked on
 * the word (its waiters count, the u32 after the value) and asleep in a futex wait (parked.h). */
static void await_parked(ipc_chan_t *chan, const pid_t *pids, int count) {
  const volatile uint32_t *word = ipc_chan_word(chan, 0);
  CHECK(word != NULL);
  uint64_t until = ipc_now_ns() + (uint64_t)LONG_NS;
  for (;;) {
    int asleep = 0;
    for (int i = 0; i < count; i++) asleep += parked_now(pids[i]) > 0;
    if (word[1] >= (uint32_t)count && asleep == count) return;
    CHECK(ipc_now_ns() < until);
    sched_yield();
  }
}

enum receiver_kind { PEEKS, TOO_SMALL, RECEIVES };

static pid_t start_receiver(ipc_chan_t *chan, enum receiver_kind kind) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid != 0) return pid;
  char buf[64];
  uint64_t n = 0;
  switch (kind) {
  case PEEKS:
    CHILD_WAIT_RC(ipc_chan_peek(chan, buf, sizeof buf, &n, LONG_NS), IPC_OK);
    CHILD_CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
    break;
  case TOO_SMALL:
    CHILD_WAIT_RC(ipc_chan_recv(chan, buf, 2, &n, LONG_NS), IPC_ERANGE);
    CHILD_CHECK(n == 5);
    break;
  case RECEIVES:
    CHILD_WAIT_RC(ipc_chan_recv(chan, buf, sizeof buf, &n, LONG_NS), IPC_OK);
    CHILD_CHECK(n == 5);
    break;
  }
  _exit(0);
}

/* Issue 15, defect 3: two receivers parked, one wake-up; the first woken does not take the message
 * (it peeks, or its buffer is too small), so it must pass the wake-up on to the second. */
static void test_wake_passed_on(enum receiver_kind kind, const char *what) {
  ipc_segment_t *seg = new_segment(4096);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 1024, 0, &chan), IPC_OK);
  pid_t pids[2];
  for (int i = 0; i < 2; i++) pids[i] = start_receiver(chan, kind);
  await_parked(chan, pids, 2);
  CHECK_RC(ipc_chan_send(chan, "hello", 5, 0), IPC_OK);
  for (int i = 0; i < 2; i++) reap(pids[i], what);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* Issue 15, defect 3: a batch of two messages wakes two parked receivers. */
static void test_send_many_wakes_each(void) {
  ipc_segment_t *seg = new_segment(4096);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 1024, 0, &chan), IPC_OK);
  pid_t pids[2];
  for (int i = 0; i < 2; i++) pids[i] = start_receiver(chan, RECEIVES);
  await_parked(chan, pids, 2);
  const uint32_t lengths[2] = {5, 5};
  CHECK_RC(ipc_chan_send_many(chan, "helloworld", lengths, 2, 0), IPC_OK);
  for (int i = 0; i < 2; i++) reap(pids[i], "send_many");
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* Issue 15, defect 7: a peer writes a capacity far larger than the mapping (and positions that agree
 * with it) into the header. Every call must refuse the channel with IPC_EPROTO; none may follow the
 * capacity past the 448 bytes this process has mapped. Run in a child so that a fault is reported. */
static void test_capacity_from_a_peer(void) {
  ipc_segment_t *seg = new_segment(IPC_CHAN_HEADER_SIZE + 64);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 64, 0, &chan), IPC_OK);
  CHECK_RC(ipc_chan_try_send(chan, "x", 1), IPC_OK);
  char buf[64];
  uint64_t n = 0;
  CHECK_RC(ipc_chan_try_recv(chan, buf, sizeof buf, &n), IPC_OK);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* What a peer would write: capacity at offset 8, both positions near the end of that ring. */
    uint32_t big = 1u << 24, near_end = (1u << 24) - 64;
    memcpy((uint8_t *)chan + 8, &big, 4);
    /* The words (ipc_chan_word) at their offsets in the 384-byte header, each followed by its
     * count of parked waiters and the position the other side saw last. */
    volatile uint32_t *readable = (volatile uint32_t *)((uint8_t *)chan + 192);
    volatile uint32_t *writable = (volatile uint32_t *)((uint8_t *)chan + 256);
    readable[0] = near_end; /* the tail */
    readable[2] = near_end; /* head_seen */
    writable[0] = near_end; /* the head */
    writable[2] = near_end; /* tail_seen */
    writable[3] = near_end; /* the receivers' cursor */
    const uint32_t lengths[1] = {1};
    uint32_t count = 0, loan[2] = {0, 0}, offsets[1], expected = 0, writer_expected = 0;
    CHILD_RC(ipc_chan_send(chan, "x", 1, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_try_send(chan, "x", 1), IPC_EPROTO);
    CHILD_RC(ipc_chan_send_many(chan, "x", lengths, 1, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_recv(chan, buf, sizeof buf, &n, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_try_recv(chan, buf, sizeof buf, &n), IPC_EPROTO);
    CHILD_RC(ipc_chan_peek(chan, buf, sizeof buf, &n, 0), IPC_EPROTO);
    uint32_t ls[1];
    CHILD_RC(ipc_chan_recv_many(chan, buf, sizeof buf, ls, 1, &count, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_recv_views(chan, offsets, ls, 1, &count, loan, 0), IPC_EPROTO);
    uint32_t some_loan[2] = {near_end - 16, near_end};
    CHILD_RC(ipc_chan_release(chan, some_loan), IPC_EPROTO);
    CHILD_RC(ipc_chan_views_out(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_swap(chan, "x", 1, buf, sizeof buf, &n, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_replace(chan, "x", 1), IPC_EPROTO);
    CHILD_RC(ipc_chan_write(chan, "x", 1, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_read(chan, buf, sizeof buf, &n, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_send_step(chan, "x", 1, 0, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_send_many_step(chan, "x", lengths, 1, 0, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_recv_step(chan, buf, sizeof buf, 0, 0, &n, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_recv_many_step(chan, buf, sizeof buf, ls, 1, 0, &count, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_recv_views_step(chan, offsets, ls, 1, &count, loan, 0, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_swap_step(chan, "x", 1, buf, sizeof buf, 0, &n, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_write_step(chan, "x", 1, 0, &n, &expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_read_step(chan, buf, sizeof buf, 0, &n, &expected, &writer_expected), IPC_EPROTO);
    CHILD_RC(ipc_chan_pending(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_capacity(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_message_max(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_flags(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_is_closed(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_writer_attach(chan), IPC_EPROTO);
    CHILD_RC(ipc_chan_unwait(chan, 0), IPC_EPROTO);
    CHILD_RC(ipc_chan_close(chan), IPC_EPROTO);
    CHILD_CHECK(ipc_chan_writer_word(chan) == NULL);
    CHILD_CHECK(ipc_chan_word(chan, 0) == NULL && ipc_chan_word(chan, 1) == NULL);
    _exit(0);
  }
  reap(pid, "capacity from a peer");
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* With an argument, runs only the test of that name (replace, swap, peek, small, many, capacity). */
int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(name, call) \
  if (only == NULL || strcmp(only, name) == 0) call
  RUN("replace", test_mvar_after_replace());
  RUN("swap", test_mvar_after_swap());
  RUN("peek", test_wake_passed_on(PEEKS, "peek"));
  RUN("small", test_wake_passed_on(TOO_SMALL, "too small"));
  RUN("many", test_send_many_wakes_each());
  RUN("capacity", test_capacity_from_a_peer());
  printf("test_chan: ok\n");
  return 0;
}
