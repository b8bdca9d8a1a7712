/* The synchronization commands of ipc-child: the same commands and segment layout as
 * tests/mp/child_sync.ts (see there). C has only the blocking forms; <mode> is accepted and ignored. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

enum {
  L_MUTEX = 0,
  L_NOT_EMPTY = 64,
  L_NOT_FULL = 128,
  L_BARRIER = 192,
  L_SEMAPHORE = 256,
  L_EVENT = 320,
  L_HEAD = 384,
  L_TAIL = 388,
  L_COUNT = 392,
  L_TAKEN = 396,
  L_A = 400,
  L_B = 404,
  L_FLAG = 408,
  L_STOP = 412,
  L_INSIDE = 416,
  L_INSIDE_MAX = 420,
  L_RWLOCK = 448,
  L_RING = 2688,
  RING_CAPACITY = 1024,
  L_SLOTS = 6784,
  L_SEEN = 8192,
};

#define TIMEOUT_NS(ms) ((int64_t)(ms) * 1000000)

static char *base;
static ipc_mutex_t *mutex;
static ipc_cond_t *not_empty, *not_full;
static ipc_barrier_t *barrier;
static ipc_rwlock_t *rwlock;

static uint32_t *word(size_t offset) { return (uint32_t *)(base + offset); }

/* Shared words are read and written with the compiler's atomics (C99 has no <stdatomic.h>). */
#define atomic_load(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define atomic_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define atomic_fetch_sub(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define atomic_compare_exchange_weak(p, expected, desired) \
  __atomic_compare_exchange_n((p), (expected), (desired), 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

static void say(const char *line) {
  printf("%s\n", line);
  fflush(stdout);
}

/* Waits on `cond` until predicate(...) holds; the mutex is held on entry and on return. */
static int32_t wait_until(ipc_cond_t *cond, int (*predicate)(uint32_t), uint32_t arg) {
  while (!predicate(arg)) {
    int32_t rc = ipc_cond_wait(cond, mutex, TIMEOUT_NS(60000));
    if (rc < 0) return rc;
  }
  return IPC_OK;
}

static int flag_set(uint32_t unused) {
  (void)unused;
  return atomic_load(word(L_FLAG)) == 1;
}
static int ring_not_full(uint32_t unused) {
  (void)unused;
  return atomic_load(word(L_COUNT)) < RING_CAPACITY;
}
static int ring_not_empty_or_done(uint32_t total) {
  return atomic_load(word(L_COUNT)) > 0 || atomic_load(word(L_TAKEN)) >= total;
}

#define TRY(call)                        \
  do {                                   \
    int32_t rc_ = (call);                \
    if (rc_ < 0) return fail(rc_);       \
  } while (0)

static int produce(uint32_t id, uint32_t count) {
  uint32_t *ring = (uint32_t *)(base + L_RING);
  for (uint32_t i = 0; i < count; i++) {
    TRY(ipc_mutex_lock(mutex));
    TRY(wait_until(not_full, ring_not_full, 0));
    uint32_t tail = atomic_load(word(L_TAIL));
    ring[tail] = id * count + i;
    atomic_store(word(L_TAIL), (tail + 1) % RING_CAPACITY);
    atomic_fetch_add(word(L_COUNT), 1);
    TRY(ipc_cond_notify(not_empty, 1));
    TRY(ipc_mutex_unlock(mutex));
  }
  say("done");
  return 0;
}

static int consume(uint32_t total) {
  uint32_t *ring = (uint32_t *)(base + L_RING);
  uint8_t *seen = (uint8_t *)(base + L_SEEN);
  uint32_t mine = 0;
  for (;;) {
    TRY(ipc_mutex_lock(mutex));
    TRY(wait_until(not_empty, ring_not_empty_or_done, total));
    if (atomic_load(word(L_TAKEN)) >= total) {
      TRY(ipc_mutex_unlock(mutex));
      break;
    }
    uint32_t head = atomic_load(word(L_HEAD));
    uint32_t item = ring[head];
    atomic_store(word(L_HEAD), (head + 1) % RING_CAPACITY);
    atomic_fetch_sub(word(L_COUNT), 1);
    uint32_t taken = atomic_fetch_add(word(L_TAKEN), 1) + 1;
    seen[item] += 1;
    mine++;
    if (taken >= total) TRY(ipc_cond_notify_all(not_empty));
    TRY(ipc_cond_notify(not_full, 1));
    TRY(ipc_mutex_unlock(mutex));
  }
  printf("consumed %u\n", mine);
  return 0;
}

static int barrier_rounds(uint32_t index, uint32_t rounds) {
  uint32_t *slots = word(L_SLOTS);
  uint32_t parties = (uint32_t)ipc_barrier_parties(barrier);
  for (uint32_t round = 1; round <= rounds; round++) {
    atomic_store(&slots[index], round);
    TRY(ipc_barrier_wait(barrier, TIMEOUT_NS(30000)));
    for (uint32_t p = 0; p < parties; p++) {
      uint32_t r = atomic_load(&slots[p]);
      if (r != round && r != round + 1) {
        printf("early %u party %u at %u\n", round, p, r);
        return 1;
      }
    }
  }
  say("done");
  return 0;
}

static void spin_us(long us) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do clock_gettime(CLOCK_MONOTONIC, &now);
  while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

static int sem_work(uint32_t iterations) {
  ipc_sem_t *sem = (ipc_sem_t *)(base + L_SEMAPHORE);
  for (uint32_t i = 0; i < iterations; i++) {
    TRY(ipc_sem_acquire(sem, 1, TIMEOUT_NS(30000)));
    uint32_t inside = atomic_fetch_add(word(L_INSIDE), 1) + 1;
    uint32_t max = atomic_load(word(L_INSIDE_MAX));
    while (inside > max && !atomic_compare_exchange_weak(word(L_INSIDE_MAX), &max, inside)) {
    }
    atomic_fetch_sub(word(L_INSIDE), 1);
    TRY(ipc_sem_release(sem, 1));
  }
  printf("max %u\n", atomic_load(word(L_INSIDE_MAX)));
  return 0;
}

int child_sync(int argc, char **argv) {
  if (argc < 3) return usage("sync <command> <segment> ...");
  const char *command = argv[1];
  ipc_segment_t *seg = NULL;
  TRY(ipc_segment_open(argv[2], 0, &seg));
  base = ipc_segment_base(seg);
  TRY(ipc_mutex_at(seg, L_MUTEX, &mutex));
  TRY(ipc_cond_at(seg, L_NOT_EMPTY, &not_empty));
  TRY(ipc_cond_at(seg, L_NOT_FULL, &not_full));
  TRY(ipc_barrier_at(seg, L_BARRIER, &barrier));
  TRY(ipc_rwlock_at(seg, L_RWLOCK, &rwlock));
  int status = 64;
  if (strcmp(command, "ruby-wait") == 0) {
    TRY(ipc_mutex_lock(mutex));
    say("waiting");
    TRY(wait_until(not_empty, flag_set, 0));
    printf("got %u %u\n", atomic_load(word(L_A)), atomic_load(word(L_B)));
    TRY(ipc_mutex_unlock(mutex));
    status = 0;
  } else if (strcmp(command, "ruby-signal") == 0 && argc >= 5) {
    TRY(ipc_mutex_lock(mutex));
    atomic_store(word(L_A), (uint32_t)strtoul(argv[3], NULL, 10));
    atomic_store(word(L_B), (uint32_t)strtoul(argv[4], NULL, 10));
    atomic_store(word(L_FLAG), 1);
    TRY(ipc_cond_notify(not_empty, 1));
    TRY(ipc_mutex_unlock(mutex));
    status = 0;
  } else if (strcmp(command, "produce") == 0 && argc >= 5) {
    status = produce((uint32_t)strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10));
  } else if (strcmp(command, "consume") == 0 && argc >= 4) {
    status = consume((uint32_t)strtoul(argv[3], NULL, 10));
  } else if (strcmp(command, "barrier") == 0 && argc >= 5) {
    status = barrier_rounds((uint32_t)strtoul(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10));
  } else if (strcmp(command, "barrier-once") == 0 && argc >= 4) {
    say("waiting");
    int32_t index = ipc_barrier_wait(barrier, TIMEOUT_NS(strtoll(argv[3], NULL, 10)));
    if (index < 0) return fail(index);
    printf("passed %d\n", index);
    status = 0;
  } else if (strcmp(command, "read-together") == 0) {
    TRY(ipc_rwlock_read_lock(rwlock, -1));
    TRY(ipc_barrier_wait(barrier, TIMEOUT_NS(20000)));
    int32_t readers = ipc_rwlock_readers(rwlock);
    TRY(ipc_barrier_wait(barrier, TIMEOUT_NS(20000)));
    TRY(ipc_rwlock_read_unlock(rwlock));
    printf("ok %d\n", readers);
    status = 0;
  } else if (strcmp(command, "read-loop") == 0) {
    unsigned long reads = 0;
    while (atomic_load(word(L_STOP)) == 0) {
      TRY(ipc_rwlock_read_lock(rwlock, -1));
      spin_us(50);
      TRY(ipc_rwlock_read_unlock(rwlock));
      if (reads++ == 0) say("reading");
    }
    printf("reads %lu\n", reads);
    status = 0;
  } else if (strcmp(command, "write-once") == 0) {
    TRY(ipc_rwlock_write_lock(rwlock, TIMEOUT_NS(10000)));
    atomic_store(word(L_STOP), 1);
    TRY(ipc_rwlock_write_unlock(rwlock));
    say("wrote");
    status = 0;
  } else if (strcmp(command, "read-hold") == 0 || strcmp(command, "write-hold") == 0) {
    TRY(command[0] == 'r' ? ipc_rwlock_read_lock(rwlock, -1) : ipc_rwlock_write_lock(rwlock, -1));
    say("held");
    for (;;) pause();
  } else if (strcmp(command, "sem-hold") == 0) {
    TRY(ipc_sem_acquire((ipc_sem_t *)(base + L_SEMAPHORE), 1, -1));
    say("held");
    for (;;) pause();
  } else if (strcmp(command, "sem-work") == 0 && argc >= 4) {
    status = sem_work((uint32_t)strtoul(argv[3], NULL, 10));
  } else if (strcmp(command, "event-wait") == 0) {
    say("waiting");
    int32_t rc = ipc_event_wait((ipc_event_t *)(base + L_EVENT), TIMEOUT_NS(30000));
    say(rc == IPC_OK ? "set" : "timeout");
    status = 0;
  } else {
    return usage("sync ruby-wait|ruby-signal|produce|consume|barrier|barrier-once|read-together|read-loop|"
                 "write-once|read-hold|write-hold|sem-hold|sem-work|event-wait <segment> ...");
  }
  fflush(stdout);
  ipc_segment_close(seg);
  return status;
}
