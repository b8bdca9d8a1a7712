/* Proves the mutex and waiter API from plain C: lock/unlock/try/timed, owner death of a child
 * process killed (SIGKILL, TerminateProcess) while holding it (a waiter blocked at the time, and a
 * locker arriving later), unrecoverable state, errors for non-owners, offsets and foreign memory;
 * waiters in poll and callback mode. Children are this program run again in a role
 * (tests/c/proc.h, `test_mutex <role>-<offset> <segment name>`) on a segment they open by name, so
 * the test runs on Windows (under Wine) as on Linux and macOS. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"
#include "proc.h"

#include <string.h>

#define SECOND_NS 1000000000LL

static void sleep_ms(long ms) {
#ifdef _WIN32
  Sleep((DWORD)ms);
#else
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
#endif
}

/* A named segment shared with children; its name in `name`. */
static ipc_segment_t *shared_segment(char *name, size_t name_size) {
  proc_segment_name(name, name_size, "tmutex");
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(name, 4096, 0, 0, &seg), IPC_OK);
  return seg;
}

/* Starts `<self> <role>-<offset> <name>`: a child working on the mutex at `offset` of segment `name`. */
static proc_t spawn_on(const char *role, uint64_t offset, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "%s-%llu", role, (unsigned long long)offset);
  fflush(NULL);
  return proc_spawn(full, name);
}

/* Starts a child that locks the mutex `m` (at `offset` of segment `name`) and then sleeps until
 * killed; returns once it holds the lock. */
static proc_t start_holder(ipc_mutex_t *m, uint64_t offset, const char *name) {
  proc_t child = spawn_on("holder", offset, name);
  uint64_t until = ipc_now_ns() + 60 * SECOND_NS;
  while (ipc_mutex_holder(m) == 0) {
    CHECK(ipc_now_ns() < until);
    sleep_ms(1);
  }
  return child;
}

static void kill_and_reap(proc_t child) {
  proc_kill(&child);
  CHECK(proc_wait(&child, 60 * SECOND_NS) == PROC_KILLED);
}

/* The roles' mutex: at `offset` of the segment called `name`. */
static ipc_segment_t *role_segment;
static ipc_mutex_t *role_mutex(const char *name, uint64_t offset) {
  ipc_mutex_t *m = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &role_segment), IPC_OK);
  CHECK_RC(ipc_mutex_at(role_segment, offset, &m), IPC_OK);
  return m;
}

/* Holds the lock until killed (should the parent die first, it gives up after two minutes). */
static int role_holder(ipc_mutex_t *m) {
  if (ipc_mutex_lock(m) < 0) return 3;
  sleep_ms(120000);
  return 4;
}

/* Blocks in lock until the holder is killed: expects IPC_OWNER_DIED, repairs, unlocks. */
static int role_locker(ipc_mutex_t *m) {
  int32_t rc = ipc_mutex_lock(m);
  if (rc != IPC_OWNER_DIED) return 10;
  if (ipc_mutex_consistent(m) != IPC_OK) return 11;
  if (ipc_mutex_unlock(m) != IPC_OK) return 12;
  return 0;
}

static void basics(void) {
  char name[32];
  ipc_segment_t *seg = shared_segment(name, sizeof name);
  ipc_mutex_t *m = NULL, *again = NULL;
  CHECK_RC(ipc_mutex_at(seg, 0, &again), IPC_EPROTO); /* nothing initialized there */
  CHECK(again == NULL);
  CHECK_RC(ipc_mutex_init_at(seg, 4, &m), IPC_EALIGN);
  CHECK_RC(ipc_mutex_init_at(seg, 4096 - 32, &m), IPC_ERANGE);
  CHECK_RC(ipc_mutex_init_at(seg, UINT64_MAX - 7, &m), IPC_ERANGE);
  CHECK_RC(ipc_mutex_init_at(seg, 128, &m), IPC_OK);
  CHECK_RC(ipc_mutex_at(seg, 128, &again), IPC_OK);
  CHECK(again == m);
  CHECK(ipc_mutex_word(m) != NULL);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(m), IPC_EDEADLK);
  CHECK_RC(ipc_mutex_try_lock(m), IPC_EDEADLK);
  CHECK(ipc_mutex_holder(m) > 0);
  CHECK_RC(ipc_mutex_destroy(m), IPC_EBUSY);
  CHECK_RC(ipc_mutex_consistent(m), IPC_EINVAL); /* held, but not after an owner died */
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_EPERM);
  CHECK_RC(ipc_mutex_consistent(m), IPC_EPERM);
  CHECK_RC(ipc_mutex_timed_lock(m, 1000000), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);

  /* A child holds it: try_lock is busy, timed_lock times out, unlock is not ours. */
  proc_t holder = start_holder(m, 128, name);
  CHECK_RC(ipc_mutex_try_lock(m), IPC_EBUSY);
  CHECK_RC(ipc_mutex_timed_lock(m, 2000000), IPC_ETIMEDOUT);
  CHECK_RC(ipc_mutex_timed_lock(m, 0), IPC_ETIMEDOUT);
  CHECK_RC(ipc_mutex_unlock(m), IPC_EPERM);
  kill_and_reap(holder);
  /* Nobody was waiting: the next locker learns it. Unlocking without repair poisons it. */
  CHECK_RC(ipc_mutex_lock(m), IPC_OWNER_DIED);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(m), IPC_ENOTRECOVERABLE);
  CHECK_RC(ipc_mutex_try_lock(m), IPC_ENOTRECOVERABLE);

  CHECK_RC(ipc_mutex_destroy(m), IPC_OK);
  CHECK_RC(ipc_mutex_lock(m), IPC_EPROTO);
  CHECK_RC(ipc_mutex_lock(NULL), IPC_EINVAL);
  CHECK_RC(ipc_mutex_lock((ipc_mutex_t *)((char *)ipc_segment_base(seg) + 1)), IPC_EALIGN);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

static void owner_death_wakes_a_blocked_waiter(void) {
  char name[64];
  snprintf(name, sizeof name, "ipctest-c-mtx-%ld", proc_self_id());
  ipc_segment_t *seg = NULL, *other = NULL;
  ipc_mutex_t *m = NULL, *m2 = NULL;
  CHECK_RC(ipc_mutex_create(name, 0, 0, &seg, &m), IPC_OK);
  CHECK(ipc_segment_kind(seg) == IPC_KIND_MUTEX);
  CHECK_RC(ipc_segment_open(name, 0, &other), IPC_OK);
  CHECK_RC(ipc_mutex_at(other, 0, &m2), IPC_OK);

  proc_t holder = start_holder(m, 0, name);
  /* A second child blocks in lock, so that the parent can kill the holder meanwhile. */
  proc_t locker = spawn_on("locker", 0, name);
  /* Wait until the locker has parked: it marks the word as having waiters. */
  const uint32_t *word = ipc_mutex_word(m);
  for (int i = 0; i < 5000 && (__atomic_load_n(word, __ATOMIC_ACQUIRE) & 0x80000000u) == 0; i++) sleep_ms(1);
  CHECK((__atomic_load_n(word, __ATOMIC_ACQUIRE) & 0x80000000u) != 0);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK); /* both children have it open */
  kill_and_reap(holder);
  CHECK(proc_expect(&locker, 60 * SECOND_NS, 0, "owner death, one waiter"));
  /* Repaired: it works normally again. */
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_close(other), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

/* A holder killed (SIGKILL, TerminateProcess) while several processes wait in lock: exactly one of
 * them gets OWNER_DIED (and repairs), every other one then gets the lock normally, each within its
 * 20 s timeout. With the kernel's robust list the first waiter is woken at once; with the
 * owner-recording mutex (-Dmutex=owner, musl) a waiter judges the dead holder when its 100 ms park
 * slice ends (on Windows at once: it also waits on the holder's process handle). The time from the
 * kill to the first acquisition is printed, not asserted (this machine is shared). */
#define DEATH_WAITERS 3
/* A locker of owner_death_with_several_waiters: the counters follow the mutex at 0 (128, 132, 256). */
static int role_timed_locker(ipc_mutex_t *m) {
  char *base = ipc_segment_base(role_segment);
  volatile uint32_t *died = (volatile uint32_t *)(base + 128);
  volatile uint32_t *normal = died + 1;
  volatile int64_t *first_ns = (volatile int64_t *)(base + 256);
  int32_t rc = ipc_mutex_timed_lock(m, 20 * 1000000000LL);
  int64_t now = ipc_now_ns();
  int64_t zero = 0;
  __atomic_compare_exchange_n(first_ns, &zero, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  if (rc == IPC_OWNER_DIED) {
    __atomic_add_fetch(died, 1, __ATOMIC_SEQ_CST);
    if (ipc_mutex_consistent(m) != IPC_OK) return 11;
  } else if (rc == IPC_OK) {
    __atomic_add_fetch(normal, 1, __ATOMIC_SEQ_CST);
  } else {
    return 10;
  }
  if (ipc_mutex_unlock(m) != IPC_OK) return 12;
  return 0;
}

static void owner_death_with_several_waiters(void) {
  char name[32];
  ipc_segment_t *seg = shared_segment(name, sizeof name);
  ipc_mutex_t *m = NULL;
  CHECK_RC(ipc_mutex_init_at(seg, 0, &m), IPC_OK);
  volatile uint32_t *died = (volatile uint32_t *)((char *)ipc_segment_base(seg) + 128);
  volatile uint32_t *normal = died + 1;
  volatile int64_t *first_ns = (volatile int64_t *)((char *)ipc_segment_base(seg) + 256);

  proc_t holder = start_holder(m, 0, name);
  proc_t lockers[DEATH_WAITERS];
  for (int i = 0; i < DEATH_WAITERS; i++) lockers[i] = spawn_on("timed", 0, name);
  /* Every locker has parked once the waiters bit is set and none holds the lock yet; give the
   * later ones a moment to park too (whether they are parked or still arriving, they must all get
   * the lock). */
  const uint32_t *word = ipc_mutex_word(m);
  for (int i = 0; i < 5000 && (__atomic_load_n(word, __ATOMIC_ACQUIRE) & 0x80000000u) == 0; i++) sleep_ms(1);
  CHECK((__atomic_load_n(word, __ATOMIC_ACQUIRE) & 0x80000000u) != 0);
  sleep_ms(50);
  int64_t killed = ipc_now_ns();
  kill_and_reap(holder);
  for (int i = 0; i < DEATH_WAITERS; i++) CHECK(proc_expect(&lockers[i], 60 * SECOND_NS, 0, "owner death, several waiters"));
  CHECK(*died == 1);
  CHECK(*normal == DEATH_WAITERS - 1);
  printf("test_mutex: %d waiters, a killed holder's lock taken %.1f ms after the kill\n", DEATH_WAITERS,
         (double)(*first_ns - killed) / 1e6);
  CHECK_RC(ipc_mutex_lock(m), IPC_OK);
  CHECK_RC(ipc_mutex_unlock(m), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
}

static void waiter_poll_mode(void) {
  ipc_waiter_t *w = NULL;
  CHECK_RC(ipc_waiter_create(NULL, &w), IPC_OK);
  uint32_t a = 0, b = 0;
  uint32_t tokens[4];
  int32_t results[4];
  CHECK_RC(ipc_waiter_next(w, tokens, results, 4), 0);
  CHECK_RC(ipc_waiter_submit(w, &a, 0, -1, 1), IPC_OK);
  CHECK_RC(ipc_waiter_submit(w, &b, 0, 1000000, 2), IPC_OK);
  CHECK_RC(ipc_waiter_submit(w, (const uint32_t *)((char *)&a + 1), 0, -1, 3), IPC_EALIGN);
  CHECK_RC(ipc_waiter_cancel(w, 42), IPC_ENOENT);
  __atomic_store_n(&a, 1, __ATOMIC_RELEASE);
  CHECK_RC(ipc_wake(&a, 1), 0);
  int got = 0;
  int32_t result_of[3] = {99, 99, 99};
  while (got < 2) {
    int32_t n = ipc_waiter_next(w, tokens, results, 4);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) result_of[tokens[i]] = results[i];
    got += n;
  }
  CHECK(result_of[1] == IPC_OK && result_of[2] == IPC_ETIMEDOUT);
  CHECK_RC(ipc_waiter_destroy(w), IPC_OK);
}

static volatile int32_t callback_result = 99;
static volatile uint32_t callback_token = 0;

static void on_complete(uint32_t token, int32_t result) {
  callback_token = token;
  __atomic_store_n(&callback_result, result, __ATOMIC_RELEASE);
}

static void waiter_callback_mode(void) {
  ipc_waiter_t *w = NULL;
  CHECK_RC(ipc_waiter_create(on_complete, &w), IPC_OK);
  uint32_t word = 7;
  CHECK_RC(ipc_waiter_submit(w, &word, 7, -1, 5), IPC_OK);
  CHECK_RC(ipc_waiter_cancel(w, 5), IPC_OK);
  for (int i = 0; i < 5000 && __atomic_load_n(&callback_result, __ATOMIC_ACQUIRE) == 99; i++) sleep_ms(1);
  CHECK(callback_token == 5 && callback_result == IPC_ECANCELED);
  callback_result = 99;
  CHECK_RC(ipc_waiter_submit(w, &word, 7, -1, 6), IPC_OK);
  CHECK_RC(ipc_waiter_forget(w, &word, sizeof word), 1);
  for (int i = 0; i < 5000 && __atomic_load_n(&callback_result, __ATOMIC_ACQUIRE) == 99; i++) sleep_ms(1);
  CHECK(callback_token == 6 && callback_result == IPC_ECANCELED);
  CHECK_RC(ipc_waiter_destroy(w), IPC_OK);
}

/* Without arguments, runs every test; with `<role>-<offset> <segment name>`, is a child. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3) {
    char role[16] = {0};
    unsigned long long offset = 0;
    CHECK(sscanf(argv[1], "%15[a-z]-%llu", role, &offset) == 2);
    ipc_mutex_t *m = role_mutex(argv[2], offset);
    if (strcmp(role, "holder") == 0) return role_holder(m);
    if (strcmp(role, "locker") == 0) return role_locker(m);
    if (strcmp(role, "timed") == 0) return role_timed_locker(m);
    fprintf(stderr, "test_mutex: no role is called %s\n", role);
    return 1;
  }
  basics();
  owner_death_wakes_a_blocked_waiter();
  owner_death_with_several_waiters();
  waiter_poll_mode();
  waiter_callback_mode();
  printf("test_mutex: ok\n");
  return 0;
}
