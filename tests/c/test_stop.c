/* Issue 16, item 3: a peer stopped (SIGSTOP) while it holds an internal lock of a channel (the send
 * lock, the receive lock) or of a heap (the page lock) never makes another process's timed or try
 * call wait past its deadline. A child takes the lock directly, through the lock's offset in the
 * segment (zig/chan/layout.zig `Chan`; the heap's is found by its magic: the internal locks are
 * ordinary libipc mutex objects), says so, and is stopped. The parent then calls the timed forms
 * (ETIMEDOUT in time), the try forms (IPC_EBUSY at once) and, for the heap, the paths that never take
 * the page lock, then resumes the child, which exits holding the lock: the next call repairs it
 * (owner died) and succeeds. A call that hangs is caught by alarm(), whose signal fails the test.
 *
 * The child is this program run again in a role (tests/c/proc.h) on the segment it opens by name,
 * paced by two semaphores in a control segment, so the test runs on Windows (under Wine) as on
 * Linux. Windows cannot stop a process with a signal: there the holder stays alive and blocked (in a
 * wait on the control segment) instead, which the calls under test cannot tell from stopped. */
#define _DEFAULT_SOURCE
#include "ipc.h"
#include "check.h"
#include "proc.h"

#include <stdint.h>
#include <string.h>

#define MS_NS 1000000LL
/* The timeout of the calls that must time out, and how long they may take at most (a 4x slower
 * machine still ends well inside it). */
#define TIMEOUT_NS (200 * MS_NS)
#define LATE_NS (5000 * MS_NS)
#define CHILD_NS (120000 * MS_NS)

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

static int64_t now_ns(void) { return (int64_t)ipc_now_ns(); }

/* The control segment (proc_control): "held" (the child holds its lock) is its first semaphore, "go"
 * (it may exit) its second. */
static proc_control_t control;
static ipc_sem_t *held, *go;

static void control_for(const char *name, int create) {
  control = proc_control(name, create);
  held = control.sems[0];
  go = control.sems[1];
}

/* The child (`hold-<offset> <segment name>`): locks the mutex at `offset`, says so, waits until told
 * to go and exits holding it. */
static int hold(const char *name, uint64_t offset) {
  control_for(name, 0);
  ipc_segment_t *segment = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &segment), IPC_OK);
  ipc_mutex_t *m = (ipc_mutex_t *)((char *)ipc_segment_base(segment) + offset);
  int32_t rc = ipc_mutex_lock(m); /* IPC_OWNER_DIED when the previous child's lock was not repaired yet */
  if (rc != IPC_OK && rc != IPC_OWNER_DIED) {
    fprintf(stderr, "child: lock at %llu: %s\n", (unsigned long long)offset, ipc_errname(rc));
    return 3;
  }
  CHECK_RC(ipc_sem_release(held, 1), IPC_OK);
  CHECK_RC(ipc_sem_acquire(go, 1, CHILD_NS), IPC_OK);
  return 0; /* holding the lock: the next locker finds its owner dead */
}

/* Starts a child that locks the mutex at `offset` of the segment named `name`; returns once it holds
 * it and (POSIX) is stopped. */
static proc_t stop_holding(const char *name, uint64_t offset) {
  char role[32];
  snprintf(role, sizeof role, "hold-%llu", (unsigned long long)offset);
  fflush(NULL);
  proc_t child = proc_spawn(role, name);
  CHECK_RC(ipc_sem_acquire(held, 1, CHILD_NS), IPC_OK);
#ifndef _WIN32
  int status = 0;
  CHECK(kill((pid_t)child.pid, SIGSTOP) == 0);
  CHECK(waitpid((pid_t)child.pid, &status, WUNTRACED) == (pid_t)child.pid);
  CHECK(WIFSTOPPED(status));
#endif
  return child;
}

static void resume(proc_t *child) {
#ifndef _WIN32
  CHECK(kill((pid_t)child->pid, SIGCONT) == 0);
#endif
  CHECK_RC(ipc_sem_release(go, 1), IPC_OK);
  CHECK(proc_expect(child, CHILD_NS, 0, "holder"));
}

/* A named segment for the test's objects; the control segment is named after it. */
static const char *next_name(void) {
  static char name[32];
  proc_segment_name(name, sizeof name, "tstop");
  return name;
}

/* Runs `call`, which must return `want` within LATE_NS. */
#define IN_TIME(call, want)                    \
  do {                                         \
    int64_t start_ = now_ns();                 \
    CHECK_RC(call, want);                      \
    CHECK(now_ns() - start_ < LATE_NS);        \
  } while (0)

/* Creates a channel under a new name, and the control segment after it. */
static const char *chan_named(uint32_t flags, ipc_segment_t **segment, ipc_chan_t **chan) {
  const char *name = next_name();
  CHECK_RC(ipc_chan_create(name, 0600, 0, 4096, flags, segment, chan), IPC_OK);
  control_for(name, 1);
  return name;
}

/* Unlinks the test's segment and its control segment. */
static void unlink_both(const char *name) {
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_unlink(control.name), IPC_OK);
}

static void channel(void) {
  ipc_segment_t *segment = NULL;
  ipc_chan_t *chan = NULL;
  const char *name = chan_named(0, &segment, &chan);
  char buf[64];
  uint64_t len = 0;
  CHECK_RC(ipc_chan_send(chan, "one", 3, -1), IPC_OK);

  proc_t pid = stop_holding(name, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_send(chan, "two", 3, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_send(chan, "two", 3, 0), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_try_send(chan, "two", 3), IPC_EBUSY);
  /* Receivers do not need the send lock. */
  IN_TIME(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_OK);
  CHECK(len == 3 && memcmp(buf, "one", 3) == 0);
  resume(&pid);
  CHECK_RC(ipc_chan_send(chan, "two", 3, TIMEOUT_NS), IPC_OK);

  pid = stop_holding(name, CHAN_RECV_LOCK);
  IN_TIME(ipc_chan_recv(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_peek(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  IN_TIME(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_EBUSY);
  IN_TIME(ipc_chan_try_send(chan, "three", 5), IPC_OK);
  resume(&pid);
  CHECK_RC(ipc_chan_recv(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_OK);
  CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
  CHECK_RC(ipc_chan_try_recv(chan, buf, sizeof buf, &len), IPC_OK);
  CHECK(len == 5);
  unlink_both(name);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);

  /* A pipe (stream) and an MVar (swap takes both locks). */
  name = chan_named(IPC_CHAN_STREAM, &segment, &chan);
  pid = stop_holding(name, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_write(chan, "abc", 3, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(&pid);
  pid = stop_holding(name, CHAN_RECV_LOCK);
  IN_TIME(ipc_chan_read(chan, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(&pid);
  unlink_both(name);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);

  name = chan_named(IPC_CHAN_SINGLE, &segment, &chan);
  CHECK_RC(ipc_chan_send(chan, "a", 1, -1), IPC_OK);
  pid = stop_holding(name, CHAN_SEND_LOCK);
  IN_TIME(ipc_chan_swap(chan, "b", 1, buf, sizeof buf, &len, TIMEOUT_NS), IPC_ETIMEDOUT);
  resume(&pid);
  CHECK_RC(ipc_chan_swap(chan, "b", 1, buf, sizeof buf, &len, TIMEOUT_NS), IPC_OK);
  CHECK(len == 1 && buf[0] == 'a');
  unlink_both(name);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);
}

/* The heap has no timed form: what must go on while the page lock's holder is stopped are the paths
 * that never take it (a small block from a page this process already uses, a free). */
static void heap(void) {
  ipc_segment_t *segment = NULL;
  ipc_heap_t *heap = NULL;
  const char *name = next_name();
  CHECK_RC(ipc_heap_create(name, 0600, 0, 1 << 20, &segment, &heap), IPC_OK);
  control_for(name, 1);
  uint64_t first = 0, second = 0;
  CHECK_RC(ipc_heap_malloc(heap, 32, &first), IPC_OK);
  proc_t pid = stop_holding(name, heap_page_lock(segment));
  IN_TIME(ipc_heap_malloc(heap, 32, &second), IPC_OK);
  IN_TIME(ipc_heap_free(heap, second), IPC_OK);
  IN_TIME(ipc_heap_free(heap, first), IPC_OK); /* the page empties: its retirement only tries the lock */
  resume(&pid);
  CHECK_RC(ipc_heap_malloc(heap, 100000, &first), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, first), IPC_OK);
  unlink_both(name);
  CHECK_RC(ipc_segment_close(segment), IPC_OK);
}

/* Without arguments, runs the test; `hold-<offset> <segment name>` is its child. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  unsigned long long offset = 0;
  if (argc == 3 && sscanf(argv[1], "hold-%llu", &offset) == 1) return hold(argv[2], offset);
#ifndef _WIN32
  alarm(60); /* a hang fails the test (SIGALRM) */
#endif
  channel();
  heap();
  puts("test_stop: ok");
  return 0;
}
