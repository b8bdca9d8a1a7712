/* A glibc process and a musl process on one named mutex (issue 20 item 3). The build runs this
 * program twice: built for the host (glibc) as parent with the static x86_64-linux-musl build as its
 * child, and the other way round (build.zig, step ctest-musl). The parent creates a named mutex and
 * holds it; the child, of the other libc, opens the segment and the mutex:
 *   refuse  the two builds use different lock protocols (glibc: the kernel's robust list; musl: the
 *           owner-recording lock): ipc_mutex_at must return IPC_ENOTSUP, and the segment itself
 *           opens (only the lock's protocol differs);
 *   share   both use the same protocol (`-Dmutex=owner`): the child's try_lock sees the parent's hold
 *           (IPC_EBUSY), its lock waits until the parent unlocks, then holds the mutex.
 *
 *   test_mixed_libc parent OTHER_PROGRAM refuse|share
 *   test_mixed_libc child NAME refuse|share          (run by the parent) */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The lock word's FUTEX_WAITERS bit, set by a waiter that parks (both protocols use it). */
#define WAITERS_BIT 0x80000000u

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int child(const char *name, int share) {
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &seg), IPC_OK);
  if (!share) {
    CHECK_RC(ipc_mutex_at(seg, 0, &m), IPC_ENOTSUP);
    CHECK(m == NULL);
    CHECK_RC(ipc_segment_close(seg), IPC_OK);
    return 0;
  }
  CHECK_RC(ipc_mutex_at(seg, 0, &m), IPC_OK);
  CHECK_RC(ipc_mutex_try_lock(m), IPC_EBUSY);
  CHECK_RC(ipc_mutex_timed_lock(m, 30LL * 1000 * 1000 * 1000), IPC_OK);
  CHECK(ipc_mutex_held(m) == 1);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  return 0;
}

static int parent(const char *other, int share) {
  char name[32];
  snprintf(name, sizeof name, "/ipctest-mix-%d", (int)getpid());
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  CHECK_RC(ipc_mutex_create(name, 0600, 0, &seg, &m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execl(other, other, "child", name, share ? "share" : "refuse", (char *)NULL);
    perror(other);
    _exit(127);
  }
  if (share) {
    /* The child parks on the lock: its wait sets the waiters bit (30 s deadline, 4x any slowdown). */
    const uint32_t *word = ipc_mutex_word(m);
    for (int waited = 0; (__atomic_load_n(word, __ATOMIC_ACQUIRE) & WAITERS_BIT) == 0; waited++) {
      CHECK(waited < 30000);
      int status = 0;
      CHECK(waitpid(pid, &status, WNOHANG) == 0); /* the child must still be waiting */
      sleep_ms(1);
    }
  }
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "test_mixed_libc: the child (%s) failed: status %d\n", other, status);
    return 1;
  }
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  printf("test_mixed_libc: %s: %s\n", share ? "one lock shared" : "the other libc's mutex refused with IPC_ENOTSUP",
         other);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[3], "share") != 0 && strcmp(argv[3], "refuse") != 0)) {
    fprintf(stderr, "usage: test_mixed_libc parent OTHER_PROGRAM refuse|share | child NAME refuse|share\n");
    return 2;
  }
  int share = strcmp(argv[3], "share") == 0;
  if (strcmp(argv[1], "parent") == 0) return parent(argv[2], share);
  if (strcmp(argv[1], "child") == 0) return child(argv[2], share);
  return 2;
}
