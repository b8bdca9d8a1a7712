/* The Windows backend under Wine (or Windows): a named segment holding a mutex and a semaphore,
 * shared with a second process this program starts (itself, with "child <name>"), and an anonymous
 * segment handed to it as an inherited handle. Checks, across the two processes:
 *   - the child opens the named segment and sees the parent's bytes;
 *   - a cross-process wait without polling: the child blocks in ipc_sem_acquire until the parent
 *     releases (the parent releases only after the child said it is about to wait);
 *   - the robust mutex: the child takes the mutex and exits without unlocking; the parent's
 *     ipc_mutex_lock returns IPC_OWNER_DIED;
 *   - the anonymous segment's handle, made inheritable with ipc_fd_inherit, opens with
 *     ipc_segment_open_fd in the child;
 *   - a holder killed while a waiter is parked: a second child ("holder <name>") takes another
 *     mutex and sleeps; the parent blocks in ipc_mutex_lock while a thread of its own kills the
 *     holder with TerminateProcess; the lock returns IPC_OWNER_DIED (the waiter also waits on the
 *     holder's process handle, so it sees the death at once: the delay is printed, not asserted).
 * Windows-only (CreateProcess); built by `zig build wintest`, run by `node scripts/test.mjs wine`. */
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)
#define OK(expr)                                                                     \
  do {                                                                               \
    int32_t rc_ = (expr);                                                            \
    if (rc_ != 0) {                                                                  \
      fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #expr, ipc_errname(rc_)); \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* Layout of the user data of the named segment. */
#define OFF_MUTEX 0
#define OFF_SEM 64     /* released by the parent: the child waits on it */
#define OFF_READY 128  /* released by the child: "about to wait" */
#define OFF_MSG 256
#define OFF_ANON_FD 320
#define OFF_MUTEX2 512 /* held by the "holder" child until it is killed */
#define MUTEX_WORD 16  /* offset of the lock word in a mutex (zig/mutex.zig word_offset) */
#define WAITERS_BIT 0x80000000u
#define SEG_SIZE 4096
#define SECONDS(n) ((int64_t)(n) * 1000000000LL)

static int child(const char *name) {
  ipc_segment_t *seg;
  OK(ipc_segment_open(name, 0, &seg));
  char *base = ipc_segment_base(seg);
  CHECK(strcmp(base + OFF_MSG, "hello from the parent") == 0);
  ipc_mutex_t *mutex;
  ipc_sem_t *sem, *ready;
  OK(ipc_mutex_at(seg, OFF_MUTEX, &mutex));
  OK(ipc_sem_at(seg, OFF_SEM, &sem));
  OK(ipc_sem_at(seg, OFF_READY, &ready));
  /* The parent holds the mutex: a try fails, a timed lock times out. */
  CHECK(ipc_mutex_try_lock(mutex) == IPC_EBUSY);
  CHECK(ipc_mutex_timed_lock(mutex, 50000000) == IPC_ETIMEDOUT);
  /* The anonymous segment, by its inherited handle. */
  int32_t anon_fd;
  memcpy(&anon_fd, base + OFF_ANON_FD, sizeof anon_fd);
  ipc_segment_t *anon;
  OK(ipc_segment_open_fd(anon_fd, 0, &anon));
  CHECK(strcmp((char *)ipc_segment_base(anon), "anonymous bytes") == 0);
  strcpy((char *)ipc_segment_base(anon), "child was here");
  OK(ipc_segment_close(anon));
  /* Block until the parent releases; tell it first that we are about to wait. */
  OK(ipc_sem_release(ready, 1));
  OK(ipc_sem_acquire(sem, 1, SECONDS(60)));
  /* The parent unlocked: take the mutex and die holding it. */
  OK(ipc_mutex_lock(mutex));
  OK(ipc_sem_release(ready, 1));
  ExitProcess(0);
  return 0;
}

static int holder(const char *name) {
  ipc_segment_t *seg;
  OK(ipc_segment_open(name, 0, &seg));
  ipc_mutex_t *mutex;
  ipc_sem_t *ready;
  OK(ipc_mutex_at(seg, OFF_MUTEX2, &mutex));
  OK(ipc_sem_at(seg, OFF_READY, &ready));
  /* A segment of its own, closed by nobody: it must die with this process. */
  char left[40];
  ipc_segment_t *mine;
  snprintf(left, sizeof left, "%s-left", name);
  OK(ipc_segment_create(left, 4096, 0, 0, &mine));
  OK(ipc_mutex_lock(mutex));
  OK(ipc_sem_release(ready, 1));
  /* Held until killed; should the parent die first (a failed check), this ends with it. */
  unsigned long parent = strtoul(name + strlen("/wintest-"), NULL, 10);
  HANDLE p = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)parent);
  CHECK(p != NULL);
  WaitForSingleObject(p, INFINITE);
  return 3;
}

static PROCESS_INFORMATION spawn_self(const char *mode, const char *name) {
  char cmd[MAX_PATH + 64];
  char self[MAX_PATH];
  CHECK(GetModuleFileNameA(NULL, self, sizeof self) > 0);
  snprintf(cmd, sizeof cmd, "\"%s\" %s %s", self, mode, name);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  CHECK(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
  return pi;
}

struct killer {
  volatile uint32_t *word;
  HANDLE process;
  volatile int64_t killed_ns;
};

/* Kills the holder once the parent's lock call marked the word as having a waiter (it parks next). */
static DWORD WINAPI kill_holder(void *arg) {
  struct killer *k = arg;
  while ((__atomic_load_n(k->word, __ATOMIC_SEQ_CST) & WAITERS_BIT) == 0) SwitchToThread();
  k->killed_ns = ipc_now_ns();
  CHECK(TerminateProcess(k->process, 9));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
  if (argc == 3 && strcmp(argv[1], "holder") == 0) return holder(argv[2]);
  setvbuf(stdout, NULL, _IONBF, 0);
  char name[32];
  snprintf(name, sizeof name, "/wintest-%lu", (unsigned long)GetCurrentProcessId());

  ipc_segment_t *seg;
  OK(ipc_segment_create(name, SEG_SIZE, 0, 0, &seg));
  /* The name is taken while the segment lives. */
  ipc_segment_t *again;
  CHECK(ipc_segment_create(name, SEG_SIZE, 0, 0, &again) == IPC_EEXIST);
  char *base = ipc_segment_base(seg);
  ipc_mutex_t *mutex;
  ipc_sem_t *sem, *ready;
  OK(ipc_mutex_init_at(seg, OFF_MUTEX, &mutex));
  OK(ipc_sem_init_at(seg, OFF_SEM, 0, 10, &sem));
  OK(ipc_sem_init_at(seg, OFF_READY, 0, 10, &ready));
  strcpy(base + OFF_MSG, "hello from the parent");

  ipc_segment_t *anon;
  OK(ipc_segment_create(NULL, 4096, 0, 0, &anon));
  strcpy((char *)ipc_segment_base(anon), "anonymous bytes");
  int32_t anon_fd = ipc_segment_fd(anon);
  CHECK(anon_fd > 0);
  OK(ipc_fd_inherit(anon_fd, 1));
  memcpy(base + OFF_ANON_FD, &anon_fd, sizeof anon_fd);

  OK(ipc_mutex_lock(mutex));

  PROCESS_INFORMATION pi = spawn_self("child", name);

  /* The child is about to block on `sem`. */
  OK(ipc_sem_acquire(ready, 1, SECONDS(60)));
  CHECK(strcmp((char *)ipc_segment_base(anon), "child was here") == 0);
  printf("ok - child opened the named and the anonymous segment, saw the lock held\n");
  OK(ipc_mutex_unlock(mutex));
  OK(ipc_sem_release(sem, 1));
  /* The child took the mutex; it exits holding it. */
  OK(ipc_sem_acquire(ready, 1, SECONDS(60)));
  printf("ok - cross-process wait and wake\n");
  CHECK(WaitForSingleObject(pi.hProcess, 60000) == WAIT_OBJECT_0);
  int32_t rc = ipc_mutex_lock(mutex);
  CHECK(rc == IPC_OWNER_DIED);
  OK(ipc_mutex_consistent(mutex));
  OK(ipc_mutex_unlock(mutex));
  printf("ok - a holder that exited is reported as IPC_OWNER_DIED\n");
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);

  /* A holder killed with TerminateProcess while this thread is parked in ipc_mutex_lock. */
  ipc_mutex_t *mutex2;
  OK(ipc_mutex_init_at(seg, OFF_MUTEX2, &mutex2));
  PROCESS_INFORMATION hp = spawn_self("holder", name);
  OK(ipc_sem_acquire(ready, 1, SECONDS(60)));
  CHECK(ipc_mutex_try_lock(mutex2) == IPC_EBUSY);
  /* The list names this session's libipc sections: ours and the holder's. */
  char left[40], listing[8192];
  snprintf(left, sizeof left, "%s-left", name);
  int32_t listed = ipc_segment_list(listing, sizeof listing);
  CHECK(listed > 0 && listed <= (int32_t)sizeof listing);
  int saw_mine = 0, saw_left = 0;
  for (int32_t i = 0; i < listed; i += (int32_t)strlen(listing + i) + 1) {
    saw_mine |= strcmp(listing + i, name) == 0;
    saw_left |= strcmp(listing + i, left) == 0;
  }
  CHECK(saw_mine && saw_left);
  printf("ok - ipc_segment_list names the session's libipc segments\n");
  struct killer k = {(volatile uint32_t *)(base + OFF_MUTEX2 + MUTEX_WORD), hp.hProcess, 0};
  HANDLE killer = CreateThread(NULL, 0, kill_holder, &k, 0, NULL);
  CHECK(killer != NULL);
  rc = ipc_mutex_lock(mutex2);
  int64_t taken_ns = ipc_now_ns();
  CHECK(rc == IPC_OWNER_DIED);
  CHECK(WaitForSingleObject(killer, 60000) == WAIT_OBJECT_0);
  OK(ipc_mutex_consistent(mutex2));
  OK(ipc_mutex_unlock(mutex2));
  printf("ok - a parked waiter sees its holder killed (TerminateProcess) as IPC_OWNER_DIED, %.1f ms after the kill\n",
         (double)(taken_ns - k.killed_ns) / 1e6);
  CloseHandle(killer);
  /* Leaving nothing behind: the killed holder's segment died with it; the sweep has nothing to do. */
  CHECK(WaitForSingleObject(hp.hProcess, 60000) == WAIT_OBJECT_0);
  ipc_segment_t *gone_left;
  CHECK(ipc_segment_open(left, 0, &gone_left) == IPC_ENOENT);
  CHECK(ipc_segment_sweep() == 0);
  CHECK(ipc_segment_unlink_dead(name) == 0);
  printf("ok - a killed process's segment is gone with it; sweep and unlink_dead remove nothing\n");
  CloseHandle(hp.hProcess);
  CloseHandle(hp.hThread);
  OK(ipc_segment_close(anon));
  OK(ipc_segment_close(seg));
  /* The last handle is gone: so is the segment. */
  ipc_segment_t *gone;
  CHECK(ipc_segment_open(name, 0, &gone) == IPC_ENOENT);
  printf("ok - the segment died with its last handle\n");
  printf("all windows tests passed\n");
  return 0;
}
