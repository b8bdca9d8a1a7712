/* The demo's synchronization section, C part (layout in demo/sync.ts).
 *   ipc-demo sync work <name>         wait for the event, pass the barrier 3 times, produce 1..10000
 *                                     into the ring (mutex + two conditions), then 1000 turns
 *                                     through the semaphore; print what it did
 *   ipc-demo sync write-hold <name>   take the rwlock's write lock, say so, wait to be killed */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

enum { MUTEX = 0, NOT_EMPTY = 64, NOT_FULL = 128, BARRIER = 192, SEMAPHORE = 256, EVENT = 320 };
enum { COUNT = 384, TAIL = 392, INSIDE = 400, INSIDE_MAX = 404, RING = 512, RING_SLOTS = 64, RWLOCK = 832 };
enum { ITEMS = 10000 };

#define TIMEOUT_NS 30000000000LL

static char *base;
static uint32_t *word(size_t offset) { return (uint32_t *)(base + offset); }

static int32_t produce(ipc_mutex_t *m, ipc_cond_t *not_empty, ipc_cond_t *not_full) {
  uint32_t *ring = word(RING);
  for (uint32_t item = 1; item <= ITEMS; item++) {
    int32_t rc = ipc_mutex_lock(m);
    if (rc < 0) return rc;
    while (*word(COUNT) == RING_SLOTS) {
      if ((rc = ipc_cond_wait(not_full, m, TIMEOUT_NS)) < 0) return rc;
    }
    ring[*word(TAIL) % RING_SLOTS] = item;
    *word(TAIL) += 1;
    *word(COUNT) += 1;
    ipc_cond_notify(not_empty, 1);
    ipc_mutex_unlock(m);
  }
  return IPC_OK;
}

static int32_t turns(ipc_sem_t *sem) {
  for (int i = 0; i < 1000; i++) {
    int32_t rc = ipc_sem_acquire(sem, 1, TIMEOUT_NS);
    if (rc < 0) return rc;
    uint32_t inside = __atomic_add_fetch(word(INSIDE), 1, __ATOMIC_SEQ_CST);
    uint32_t max = __atomic_load_n(word(INSIDE_MAX), __ATOMIC_SEQ_CST);
    while (inside > max &&
           !__atomic_compare_exchange_n(word(INSIDE_MAX), &max, inside, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    for (uint64_t until = ipc_now_ns() + 20000; ipc_now_ns() < until;) {
    } /* a short turn inside */
    __atomic_sub_fetch(word(INSIDE), 1, __ATOMIC_SEQ_CST);
    ipc_sem_release(sem, 1);
  }
  return IPC_OK;
}

int demo_sync(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: ipc-demo sync work|write-hold <name>\n");
    return 64;
  }
  ipc_segment_t *seg = NULL;
  ipc_mutex_t *m = NULL;
  ipc_cond_t *not_empty = NULL, *not_full = NULL;
  ipc_barrier_t *barrier = NULL;
  ipc_sem_t *sem = NULL;
  ipc_event_t *event = NULL;
  ipc_rwlock_t *rw = NULL;
  int32_t rc = ipc_segment_open(argv[3], 0, &seg);
  if (rc == IPC_OK) rc = ipc_mutex_at(seg, MUTEX, &m);
  if (rc == IPC_OK) rc = ipc_cond_at(seg, NOT_EMPTY, &not_empty);
  if (rc == IPC_OK) rc = ipc_cond_at(seg, NOT_FULL, &not_full);
  if (rc == IPC_OK) rc = ipc_barrier_at(seg, BARRIER, &barrier);
  if (rc == IPC_OK) rc = ipc_sem_at(seg, SEMAPHORE, &sem);
  if (rc == IPC_OK) rc = ipc_event_at(seg, EVENT, &event);
  if (rc == IPC_OK) rc = ipc_rwlock_at(seg, RWLOCK, &rw);
  if (rc != IPC_OK) {
    fprintf(stderr, "ipc-demo: %s: %s (%s)\n", argv[3], ipc_strerror(rc), ipc_errname(rc));
    return 1;
  }
  base = ipc_segment_base(seg);
  if (strcmp(argv[2], "work") == 0) {
    rc = ipc_event_wait(event, TIMEOUT_NS);
    int indexes[3] = {0, 0, 0};
    for (int round = 0; rc >= 0 && round < 3; round++) rc = indexes[round] = ipc_barrier_wait(barrier, TIMEOUT_NS);
    if (rc >= 0) rc = produce(m, not_empty, not_full);
    if (rc >= 0) rc = turns(sem);
    if (rc >= 0) {
      printf("C: released by the event, passed the barrier 3 times (arrival %d, %d, %d), produced 1..%d, took 1000 "
             "semaphore turns\n",
             indexes[0], indexes[1], indexes[2], ITEMS);
    }
  } else if (strcmp(argv[2], "write-hold") == 0) {
    if ((rc = ipc_rwlock_write_lock(rw, -1)) >= 0) {
      printf("locked\n");
      fflush(stdout);
      for (;;) pause();
    }
  }
  ipc_segment_close(seg);
  if (rc < 0) fprintf(stderr, "ipc-demo: sync: %s\n", ipc_strerror(rc));
  return rc < 0 ? 1 : 0;
}
