/* Issue 16, item 3: a peer stopped (SIGSTOP) while it holds an internal lock of a channel (the send
 * lock, the receive lock) or of a heap (the page lock) never makes another process's timed or try
 * call wait past its deadline. A forked child takes the lock directly, through the lock's offset in
 * the segment (zig/chan/layout.zig `Chan`; the heap's is found by its magic: the internal locks are ordinary libipc mutex objects), and stops itself; the
 * parent then calls the timed forms (ETIMEDOUT in time), the try forms (IPC_EBUSY at once) and, for
 * the heap, the paths that never take the page lock, then resumes the child, which exits holding
 * the lock: the next call repairs it (owner died) and succeeds. A call that hangs is caught by
 * alarm(), whose signal fails the test. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS_NS 1000000LL
/* The timeout of the calls that must time out, and how long they may take at most (a 4x slower
 * machine still ends well inside it). */
#define TIMEOUT_NS (200 * MS_NS)
#define LATE_NS (5000 * MS_NS)

/* Offsets of the internal locks in the segment's data (zig/chan/layout.zig `Chan`, zig/heap/layout.zig `Header`). */
#define CHAN_SEND_LOCK 64
#define CHAN_RECV_LOCK 128
/* The heap's page lock: the one mutex object (magic "IMTX") in the heap's header. */
static uint64_t heap_page_lock(ipc_segment_t *segment) {
  const uint32_t *words = (const uint32_t *)ipc_segment_base(segment);
  for (uint64_t i = 0; i < 1024; i += 2)
    if (words[i] == 0x58544d49u) return i * 4;
  CHECK(0);
  return 0;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Forks a child that locks the mutex at `offset` of `segment` and stops; returns once it is stopped. */
static pid_t stop_holding(ipc_segment_t *segment, uint64_t offset) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    ipc_mutex_t *m = (ipc_mutex_t *)((char *)ipc_segment_base(segment) + offset);
    int32_t rc = ipc_mutex_lock(m); /* IPC_OWNER_DIED when the previous child's lock was not repaired yet */
    if (rc != IPC_OK && rc != IPC_OWNER_DIED) {
      fprintf(stderr, "child: lock at %llu: %s\n", (unsigned long long)offset, ipc_errname(rc));
      _exit(3);
    }
    raise(SIGSTOP);
    _exit(0); /* holding the lock: the kernel marks it owner-died */
  }
  int status = 0;
  CHECK(waitpid(pid, &status, WUNTRACED) == pid);
  CHECK(WIFSTOPPED(status));
  return pid;
}

static void resume(pid_t pid) {
  int status = 0;
  CHECK(kill(pid, SIGCONT) == 0);
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Runs `call`, which must return `want` within LATE_NS. */
#define IN_TIME(call, want)                    \
  do {                                         \
    int64_t start_ = now_ns();                 \
    CHECK_RC(call, want);                      \
    CHECK(now_ns() - start_ < LATE_NS);        \
  } while (0)

static void channel(void) {
  ipc_segment_t *segment = NULL;
  ipc_chan_t *chan = NULL;
  CHECK_RC(ipc_chan_create(NULL, 0600, 0, 4096, 0, &segment, &chan), IPC_OK);
  char buf[64];
  uint64_t len = 0;
  CHECK_RC(ipc_chan_send(chan, "one", 3, -1), IPC_OK);

  pid_t pid = stop_holding(segment, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_send(chan, "two", 3, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_send(chan, "two", 3, 0), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_try_send(chan, "two", 3), IPC_EBUSY);
  /* Receivers do not need the send lock. */
  IN_TIME(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_OK);
  CHECK(len == 3 && memcmp(buf, "one", 3) == 0);
  resume(pid);
  CHECK_RC(ipc_chan_send(chan, "two", 3, TIMEOUT_NS), IPC_OK);

  pid = stop_holding(segment, CHAN_RECV_LOCK);
  IN_TIME(ipc_chan_recv(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_peek(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_EBUSY);
  IN_TIME(ipc_chan_try_send(chan, "three", 5), IPC_OK);
  resume(pid);
  CHECK_RC(ipc_chan_recv(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_OK);
  CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
  CHECK_RC(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_OK);
  CHECK(len == 5);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);

  /* A pipe (stream) and an MVar (swap takes both locks). */
  CHECK_RC(ipc_chan_create(NULL, 0600, 0, 4096, IPC_CHAN_STREAM, &segment, &chan), IPC_OK);
  pid = stop_holding(segment, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_write(chan, "abc", 3, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(pid);
  pid = stop_holding(segment, CHAN_RECV_LOCK);
  IN_TIME(ipc_chan_read(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(pid);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);

  CHECK_RC(ipc_chan_create(NULL, 0600, 0, 4096, IPC_CHAN_SINGLE, &segment, &chan), IPC_OK);
  CHECK_RC(ipc_chan_send(chan, "a", 1, -1), IPC_OK);
  pid = stop_holding(segment, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_swap(chan, "b", 1, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(pid);
  CHECK_RC(ipc_chan_swap(chan, "b", 1, buf, sizeof buf, &len, TIMEOUT_NS), IPC_OK);
  CHECK(len == 1 && buf[0] == 'a');
  CHECK_RC(ipc_segment_close(segment), IPC_OK);
}

/* The heap has no timed form: what must go on while the page lock's holder is stopped are the paths
 * that never take it (a small block from a page this process already uses, a free). */
static void heap(void) {
  ipc_segment_t *segment = NULL;
  ipc_heap_t *heap = NULL;
  CHECK_RC(ipc_heap_create(NULL, 0600, 0, 1 << 20, &segment, &heap), IPC_OK);
  uint64_t first = 0, second = 0;
  CHECK_RC(ipc_heap_malloc(heap, 32, &first), IPC_OK);
  pid_t pid = stop_holding(segment, heap_page_lock(segment));
  IN_TIME(ipc_heap_malloc(heap, 32, &second), IPC_OK);
  IN_TIME(ipc_heap_free(heap, second), IPC_OK);
  IN_TIME(ipc_heap_free(heap, first), IPC_OK); /* the page empties: its retirement only tries the lock */
  resume(pid);
  CHECK_RC(ipc_heap_malloc(heap, 100000, &first), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, first), IPC_OK);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);
}

int main(void) {
  alarm(60); /* a hang fails the test (SIGALRM) */
  channel();
  heap();
  puts("test_stop: ok");
  return 0;
}
