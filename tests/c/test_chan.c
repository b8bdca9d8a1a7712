/* Proves the channel's repairs of issue 15 from plain C: an MVar stays usable after replace and
 * swap; a wake-up that one receiver does not use (a peek, a buffer too small) is passed on to the
 * next parked receiver, and a batch of N messages wakes N receivers; a capacity that a peer wrote
 * over the header is refused by every call instead of being followed past the mapping; senders
 * killed while they send leave no torn message and no stuck lock, and a stream's attached writer
 * killed ends its reader's read with IPC_EOF. Waits that
 * must end are timed against a long deadline; the test waits for receivers to be parked by reading
 * the readable word's count of parked waiters (and, on Linux, each child's process state), never by
 * sleeping. Children are this program run again in a role (tests/c/proc.h) on a segment they open
 * by name, so the test runs on Windows (under Wine) as on Linux; they report through their exit
 * code. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"
#include "proc.h"
#ifdef __linux__
#include "parked.h" /* /proc/<pid>/stat and /proc/<pid>/syscall: Linux only */
#endif

#include <string.h>

#define SECOND_NS 1000000000LL
/* The timeout of every wait that must end: long enough never to fire on a loaded machine; a wait
 * that takes half of it means the wake-up was lost. */
#define LONG_NS (20 * SECOND_NS)

#define CHILD_CHECK(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: child %ld: CHECK failed: %s\n", __FILE__, __LINE__, proc_self_id(),  \
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
      exit(2);                                                                                      \
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

/* A named segment (shared with children by name), its name written to `name`. */
static ipc_segment_t *new_shared_segment(uint64_t size, char *name, size_t name_size) {
  proc_segment_name(name, name_size, "tchan");
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(name, size, 0, 0, &seg), IPC_OK);
  return seg;
}

/* A child's end of a shared segment: it opens the segment by name and attaches the channel at 0. */
static ipc_chan_t *child_chan(const char *name) {
  ipc_segment_t *seg = NULL;
  ipc_chan_t *chan = NULL;
  CHILD_RC(ipc_segment_open(name, 0, &seg), IPC_OK);
  CHILD_RC(ipc_chan_at(seg, 0, &chan), IPC_OK);
  return chan;
}

/* Waits for a child to end (within the long deadline) and expects exit code 0. */
static void reap(proc_t *child, const char *what) { CHECK(proc_expect(child, 2 * LONG_NS, 0, what)); }

/* Removes the shared segment's name and closes it. */
static void drop_shared_segment(ipc_segment_t *seg, const char *name) {
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
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
 * the word (its waiters count, the u32 after the value) and, on Linux, asleep in a futex wait
 * (parked.h reads /proc; Windows and macOS show no other process's thread state, so there the
 * count, which a waiter raises before it parks, is what is waited for). */
static void await_parked(ipc_chan_t *chan, const proc_t *children, int count) {
  const volatile uint32_t *word = ipc_chan_word(chan, 0);
  CHECK(word != NULL);
  uint64_t until = ipc_now_ns() + (uint64_t)LONG_NS;
  for (;;) {
    int asleep = count;
#ifdef __linux__
    asleep = 0;
    for (int i = 0; i < count; i++) asleep += parked_now((pid_t)children[i].pid) > 0;
#else
    (void)children;
#endif
    if (word[1] >= (uint32_t)count && asleep == count) return;
    CHECK(ipc_now_ns() < until);
    proc_yield();
  }
}

enum receiver_kind { PEEKS, TOO_SMALL, RECEIVES };
static const char *const receiver_roles[] = {"receiver-peeks", "receiver-small", "receiver-recv"};

/* The child's side of start_receiver: one receive of its kind on the channel in segment `name`. */
static int receiver(enum receiver_kind kind, const char *name) {
  ipc_chan_t *chan = child_chan(name);
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
  return 0;
}

static proc_t start_receiver(const char *name, enum receiver_kind kind) { return proc_spawn(receiver_roles[kind], name); }

/* Issue 15, defect 3: two receivers parked, one wake-up; the first woken does not take the message
 * (it peeks, or its buffer is too small), so it must pass the wake-up on to the second. */
static void test_wake_passed_on(enum receiver_kind kind, const char *what) {
  char name[32];
  ipc_segment_t *seg = new_shared_segment(4096, name, sizeof name);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 1024, 0, &chan), IPC_OK);
  proc_t children[2];
  for (int i = 0; i < 2; i++) children[i] = start_receiver(name, kind);
  await_parked(chan, children, 2);
  CHECK_RC(ipc_chan_send(chan, "hello", 5, 0), IPC_OK);
  for (int i = 0; i < 2; i++) reap(&children[i], what);
  drop_shared_segment(seg, name);
}

/* Issue 15, defect 3: a batch of two messages wakes two parked receivers. */
static void test_send_many_wakes_each(void) {
  char name[32];
  ipc_segment_t *seg = new_shared_segment(4096, name, sizeof name);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 1024, 0, &chan), IPC_OK);
  proc_t children[2];
  for (int i = 0; i < 2; i++) children[i] = start_receiver(name, RECEIVES);
  await_parked(chan, children, 2);
  const uint32_t lengths[2] = {5, 5};
  CHECK_RC(ipc_chan_send_many(chan, "helloworld", lengths, 2, 0), IPC_OK);
  for (int i = 0; i < 2; i++) reap(&children[i], "send_many");
  drop_shared_segment(seg, name);
}

/* Issue 15, defect 7: a peer writes a capacity far larger than the mapping (and positions that agree
 * with it) into the header. Every call must refuse the channel with IPC_EPROTO; none may follow the
 * capacity past the 448 bytes this process has mapped. Run in a child so that a fault is reported. */
static int capacity_peer(const char *name) {
  ipc_chan_t *chan = child_chan(name);
  char buf[64];
  uint64_t n = 0;
  {
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
  }
  return 0;
}

static void test_capacity_from_a_peer(void) {
  char name[32];
  ipc_segment_t *seg = new_shared_segment(IPC_CHAN_HEADER_SIZE + 64, name, sizeof name);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 64, 0, &chan), IPC_OK);
  CHECK_RC(ipc_chan_try_send(chan, "x", 1), IPC_OK);
  char buf[64];
  uint64_t n = 0;
  CHECK_RC(ipc_chan_try_recv(chan, buf, sizeof buf, &n), IPC_OK);
  proc_t peer = proc_spawn("capacity-peer", name);
  reap(&peer, "capacity from a peer");
  drop_shared_segment(seg, name);
}

/* A message of the killed-sender test: 8 + seq % 200 bytes, the sequence number first, then bytes
 * that depend on both, so that a torn or misplaced message shows. */
static uint64_t pattern(uint64_t seq, uint8_t *out) {
  uint64_t length = 8 + seq % 200;
  memcpy(out, &seq, 8);
  for (uint64_t i = 8; i < length; i++) out[i] = (uint8_t)(seq * 7 + i);
  return length;
}

/* The child of test_killed_sender (role `sender-<first>`): sends messages from `first` on, without
 * end, until killed. */
static int sender(const char *name, uint64_t first) {
  ipc_chan_t *chan = child_chan(name);
  uint8_t message[256];
  for (uint64_t seq = first;; seq++) {
    uint64_t length = pattern(seq, message);
    CHILD_WAIT_RC(ipc_chan_send(chan, message, length, LONG_NS), IPC_OK);
  }
}

/* Receives one message and expects it whole, with sequence number `seq`. */
static void expect_message(ipc_chan_t *chan, uint64_t seq) {
  uint8_t got[256], want[256];
  uint64_t n = 0, length = pattern(seq, want);
  CHECK_RC(ipc_chan_recv(chan, got, sizeof got, &n, LONG_NS), IPC_OK);
  if (n != length || memcmp(got, want, length) != 0) {
    uint64_t got_seq = 0;
    if (n >= 8) memcpy(&got_seq, got, 8);
    fprintf(stderr, "killed sender: message %llu expected (%llu bytes), got %llu bytes of message %llu\n",
            (unsigned long long)seq, (unsigned long long)length, (unsigned long long)n,
            (unsigned long long)got_seq);
    exit(1);
  }
}

/* Senders killed while they send (SIGKILL, TerminateProcess), 20 times: every message received is
 * whole and in order (a message half sent was never sent), the channel drains, and the send lock a
 * killed sender may have held is taken over: this process sends and receives in it afterwards. The
 * kill comes after a number of messages received that varies by round, while the sender sends
 * without pause, so most kills land inside ipc_chan_send. */
static void test_killed_sender(void) {
  char name[32];
  ipc_segment_t *seg = new_shared_segment(IPC_CHAN_HEADER_SIZE + 4096, name, sizeof name);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 4096, 0, &chan), IPC_OK);
  uint64_t next = 0;
  for (int round = 0; round < 20; round++) {
    char role[32];
    snprintf(role, sizeof role, "sender-%llu", (unsigned long long)next);
    proc_t child = proc_spawn(role, name);
    for (int i = 0; i < 50 + 37 * round; i++) expect_message(chan, next++);
    proc_kill(&child);
    CHECK(proc_wait(&child, 2 * LONG_NS) == PROC_KILLED);
    while (ipc_chan_pending(chan) > 0) expect_message(chan, next++);
    CHECK_RC(ipc_chan_pending(chan), 0);
  }
  uint8_t message[256];
  uint64_t length = pattern(next, message);
  CHECK_RC(ipc_chan_send(chan, message, length, LONG_NS), IPC_OK);
  expect_message(chan, next);
  drop_shared_segment(seg, name);
}

/* The child of test_killed_writer: attaches as the stream's writer, writes "hello", and waits to be
 * killed (two minutes at most, should the parent die first). */
static int stream_writer(const char *name) {
  ipc_chan_t *chan = child_chan(name);
  CHILD_RC(ipc_chan_writer_attach(chan), IPC_OK);
  CHILD_RC(ipc_chan_write(chan, "hello", 5, LONG_NS), IPC_OK);
#ifdef _WIN32
  Sleep(120000);
#else
  sleep(120);
#endif
  return 3;
}

/* A stream's attached writer killed: the reader gets what it wrote, then IPC_EOF, well before its
 * timeout (not at it: the writer's death must end the read's wait). */
static void test_killed_writer(void) {
  char name[32];
  ipc_segment_t *seg = new_shared_segment(IPC_CHAN_HEADER_SIZE + 4096, name, sizeof name);
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_init_at(seg, 0, 4096, IPC_CHAN_STREAM, &chan), IPC_OK);
  proc_t child = proc_spawn("stream-writer", name);
  char buf[16];
  uint64_t n = 0;
  CHECK_RC(ipc_chan_read(chan, buf, sizeof buf, &n, LONG_NS), IPC_OK);
  CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
  proc_kill(&child);
  CHECK(proc_wait(&child, 2 * LONG_NS) == PROC_KILLED);
  uint64_t t0 = ipc_now_ns();
  CHECK_RC(ipc_chan_read(chan, buf, sizeof buf, &n, LONG_NS), IPC_EOF);
  CHECK(ipc_now_ns() - t0 < (uint64_t)LONG_NS / 2);
  drop_shared_segment(seg, name);
}

/* With an argument, runs only the test of that name (replace, swap, peek, small, many, capacity,
 * killed-sender, killed-writer);
 * with a role and a segment name, is one of the children above. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3) {
    for (int kind = PEEKS; kind <= RECEIVES; kind++)
      if (strcmp(argv[1], receiver_roles[kind]) == 0) return receiver((enum receiver_kind)kind, argv[2]);
    if (strcmp(argv[1], "capacity-peer") == 0) return capacity_peer(argv[2]);
    if (strcmp(argv[1], "stream-writer") == 0) return stream_writer(argv[2]);
    if (strncmp(argv[1], "sender-", 7) == 0) return sender(argv[2], strtoull(argv[1] + 7, NULL, 10));
  }
  const char *only = argc > 1 ? argv[1] : NULL;
  int ran = 0;
#define RUN(name, call) \
  if (only == NULL || strcmp(only, name) == 0) {  \
    call;                                         \
    ran++;                                        \
  }
  RUN("replace", test_mvar_after_replace());
  RUN("swap", test_mvar_after_swap());
  RUN("peek", test_wake_passed_on(PEEKS, "peek"));
  RUN("small", test_wake_passed_on(TOO_SMALL, "too small"));
  RUN("many", test_send_many_wakes_each());
  RUN("capacity", test_capacity_from_a_peer());
  RUN("killed-sender", test_killed_sender());
  RUN("killed-writer", test_killed_writer());
  if (ran == 0) {
    fprintf(stderr, "test_chan: no test or role is called %s\n", only);
    return 1;
  }
  printf("test_chan: ok\n");
  return 0;
}
