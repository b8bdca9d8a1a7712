/* The shared heap from C: misuse and bad input, the context-first allocator trio, three processes
 * allocating and freeing at once while passing blocks to one another (every byte pattern checked),
 * and fault injection: allocation storms killed (SIGKILL, TerminateProcess) at random moments once
 * they are storming, 240 times, after each of which the heap checks clean and stays usable.
 * Children are this program run again in a role (tests/c/proc.h) on the heap they open by name, so
 * the test runs on Windows (under Wine) as on Linux. */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <signal.h>
#include <sys/prctl.h> /* PR_SET_PDEATHSIG: Linux only (elsewhere a storm ends itself, see storm) */
#endif

#include "check.h"
#include "proc.h"

/* The heap the running test shares with its children, by name. */
static char heap_name[32];

static void create_shared_heap(uint64_t size, ipc_segment_t **seg, ipc_heap_t **heap) {
  proc_segment_name(heap_name, sizeof heap_name, "theap");
  CHECK_RC(ipc_heap_create(heap_name, 0, 0, size, seg, heap), IPC_OK);
}

/* A child's end: the heap opened by name. */
static ipc_heap_t *open_shared_heap(const char *name) {
  ipc_segment_t *seg = NULL;
  ipc_heap_t *heap = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &seg), IPC_OK);
  CHECK_RC(ipc_heap_attach(seg, &heap), IPC_OK);
  return heap;
}

/* Starts `<self> <role>-<a>-<b> <heap name>`: a role with two numbers (a process index, a seed, a
 * block handle). */
static proc_t spawn_with(const char *role, uint64_t a, uint64_t b) {
  char full[96];
  snprintf(full, sizeof full, "%s-%llx-%llx", role, (unsigned long long)a, (unsigned long long)b);
  fflush(NULL);
  return proc_spawn(full, heap_name);
}

static uint64_t next_random(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return *state >> 33;
}

static void fill(ipc_heap_t *heap, uint64_t block, uint64_t size) {
  uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = 0; i < size; i++) p[i] = (uint8_t)(block * 31 + i);
}

static int intact(ipc_heap_t *heap, uint64_t block, uint64_t size) {
  const uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = 0; i < size; i++) {
    if (p[i] != (uint8_t)(block * 31 + i)) return 0;
  }
  return 1;
}

static void expect_clean(ipc_heap_t *heap, ipc_heap_stats_t *stats) {
  const char *problem = NULL;
  int32_t rc = ipc_heap_check(heap, stats, &problem);
  if (rc != IPC_OK) fprintf(stderr, "heap check: %s\n", problem ? problem : "?");
  CHECK_RC(rc, IPC_OK);
}

static void misuse(void) {
  ipc_heap_t *heap, *other;
  ipc_segment_t *heap_seg, *other_seg;
  ipc_heap_stats_t stats;
  CHECK_RC(ipc_heap_create(NULL, 0, 0, 1000, &heap_seg, &heap), IPC_ERANGE);
  /* The size limits, exactly: the smallest heap holds one page; one byte less or past the largest
   * is refused. */
  CHECK_RC(ipc_heap_create(NULL, 0, 0, IPC_HEAP_SIZE_MIN - 1, &heap_seg, &heap), IPC_ERANGE);
  CHECK_RC(ipc_heap_create(NULL, 0, 0, IPC_HEAP_SIZE_MAX + 1, &heap_seg, &heap), IPC_ERANGE);
  CHECK_RC(ipc_heap_create(NULL, 0, 0, IPC_HEAP_SIZE_MIN, &heap_seg, &heap), IPC_OK);
  CHECK_RC(ipc_heap_check(heap, &stats, NULL), IPC_OK);
  CHECK(stats.free_pages == 65536 && stats.largest_free == 65536);
  uint64_t one;
  CHECK_RC(ipc_heap_malloc(heap, 65536, &one), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, one), IPC_OK);
  /* largest_free counts a class page whose blocks are all freed (it stays reserved until a malloc
   * needs its room), so the block it promises fits. */
  CHECK_RC(ipc_heap_malloc(heap, 64, &one), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, one), IPC_OK);
  CHECK_RC(ipc_heap_check(heap, &stats, NULL), IPC_OK);
  CHECK(stats.reserved == 65536 && stats.largest_free == 65536);
  CHECK_RC(ipc_heap_malloc(heap, stats.largest_free, &one), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, one), IPC_OK);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
  CHECK_RC(ipc_heap_create(NULL, 0, 0, 8 << 20, &heap_seg, &heap), IPC_OK);
  CHECK_RC(ipc_heap_create(NULL, 0, 0, 8 << 20, &other_seg, &other), IPC_OK);
  uint64_t a, b, c;
  CHECK_RC(ipc_heap_malloc(heap, 0, &a), IPC_EINVAL);
  CHECK_RC(ipc_heap_malloc(heap, 1ULL << 40, &a), IPC_ENOMEM);
  CHECK_RC(ipc_heap_malloc(heap, 64ULL << 20, &a), IPC_ENOMEM);
  CHECK_RC(ipc_heap_calloc(heap, 1ULL << 40, 1ULL << 40, &a), IPC_ERANGE);
  CHECK_RC(ipc_heap_malloc(heap, 24, &a), IPC_OK);
  CHECK_RC(ipc_heap_malloc(heap, 100000, &b), IPC_OK);
  CHECK_RC(ipc_heap_malloc(other, 24, &c), IPC_OK);
  uint64_t usable = 0;
  CHECK_RC(ipc_heap_usable_size(heap, a, &usable), IPC_OK);
  CHECK(usable >= 24 && usable < 64);
  CHECK_RC(ipc_heap_usable_size(heap, b, &usable), IPC_OK);
  CHECK(usable >= 100000);
  CHECK(((uintptr_t)ipc_heap_pointer(heap, b) % 4096) == 0);
  CHECK_RC(ipc_heap_free(heap, a + 8), IPC_EINVAL);   /* inside a block */
  CHECK_RC(ipc_heap_free(heap, c), IPC_EKIND);        /* another heap's block */
  CHECK_RC(ipc_heap_free(heap, b + 4096), IPC_EINVAL); /* inside a large block */
  CHECK_RC(ipc_heap_free(heap, a), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, a), IPC_EINVAL); /* double free */
  CHECK_RC(ipc_heap_usable_size(heap, a, &usable), IPC_EINVAL);
  CHECK_RC(ipc_heap_free(heap, b), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, b), IPC_EINVAL);
  CHECK_RC(ipc_heap_free(heap, 0), IPC_OK);
  uint64_t handle = 0;
  CHECK_RC(ipc_heap_handle(heap, ipc_heap_pointer(other, c), &handle), IPC_ERANGE);
  /* The bytes after the last page of the heap belong to no block: refused, never read. */
  const char *tail = (const char *)ipc_segment_base(heap_seg) + ipc_segment_size(heap_seg) - 16;
  CHECK_RC(ipc_heap_handle(heap, tail, &handle), IPC_ERANGE);
  ipc_heap_free_fn(heap, (void *)tail);
  expect_clean(heap, &stats);
  CHECK(stats.allocations == 0 && stats.in_use == 0);

  /* calloc zeroes a block that was used before; realloc keeps the contents. */
  CHECK_RC(ipc_heap_malloc(heap, 200, &a), IPC_OK);
  memset(ipc_heap_pointer(heap, a), 0xab, 200);
  CHECK_RC(ipc_heap_free(heap, a), IPC_OK);
  CHECK_RC(ipc_heap_calloc(heap, 10, 20, &a), IPC_OK);
  for (int i = 0; i < 200; i++) CHECK(((uint8_t *)ipc_heap_pointer(heap, a))[i] == 0);
  fill(heap, a, 200);
  CHECK_RC(ipc_heap_realloc(heap, a, 5000, &b), IPC_OK);
  CHECK(b != a && intact(heap, b, 0) && ((uint8_t *)ipc_heap_pointer(heap, b))[199] == (uint8_t)(a * 31 + 199));
  CHECK_RC(ipc_heap_free(heap, a), IPC_EINVAL); /* realloc freed it */
  CHECK_RC(ipc_heap_free(heap, b), IPC_OK);

  /* The context-first trio, as other C code takes it. */
  void *(*alloc_fn)(void *, size_t) = ipc_heap_alloc_fn;
  void *(*realloc_fn)(void *, void *, size_t) = ipc_heap_realloc_fn;
  void (*free_fn)(void *, void *) = ipc_heap_free_fn;
  char *text = alloc_fn(heap, 6);
  CHECK(text != NULL);
  memcpy(text, "hello", 6);
  text = realloc_fn(heap, text, 40000);
  CHECK(text != NULL && strcmp(text, "hello") == 0);
  CHECK_RC(ipc_heap_handle(heap, text, &handle), IPC_OK);
  CHECK(ipc_heap_pointer(heap, handle) == text);
  free_fn(heap, text);
  free_fn(heap, alloc_fn(heap, 0)); /* size 0: a unique block (tests/c/test_heap_callbacks.c) */
  expect_clean(heap, &stats);
  CHECK(stats.allocations == 0);
  /* Another process's way in: open the segment, attach; a plain segment is refused. */
  ipc_heap_t *again;
  CHECK_RC(ipc_heap_attach(heap_seg, &again), IPC_OK);
  CHECK_RC(ipc_heap_malloc(again, 10, &a), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, a), IPC_OK);
  CHECK_RC(ipc_heap_close(again), IPC_OK);
  ipc_segment_t *plain;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &plain), IPC_OK);
  CHECK_RC(ipc_heap_attach(plain, &again), IPC_EKIND);
  CHECK_RC(ipc_segment_close(plain), IPC_OK);
  CHECK_RC(ipc_heap_close(other), IPC_OK);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(other_seg), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
}

/* Three processes allocate, pattern-fill and free, and hand a share of their blocks to the others
 * through slots in the heap itself; whoever takes a block checks its pattern and frees it. */
enum { SLOTS = 64, SHARERS = 3, STEPS = 60000 };
static const uint64_t BUSY = 1; /* never a handle: handles carry the heap's tag above bit 40 */

/* Sharer `p`: the slots are the block `slots_block` of the heap `name`. Exits 0, or 3 when a block
 * was damaged or a call failed. */
static int sharer(const char *name, uint64_t p, uint64_t slots_block) {
  ipc_heap_t *heap = open_shared_heap(name);
  uint64_t *slots = ipc_heap_pointer(heap, slots_block);
  CHECK(slots != NULL);
  {
    {
      uint64_t state = p * 7919 + 1;
      uint64_t mine[128] = {0}, sizes[128] = {0};
      int bad = 0;
      while (__atomic_load_n(&slots[SLOTS * 2], __ATOMIC_ACQUIRE) == 0) {
      }
      for (int step = 0; step < STEPS; step++) {
        uint64_t r = next_random(&state);
        int i = (int)(r % 128);
        if (mine[i] != 0) {
          if (!intact(heap, mine[i], sizes[i])) bad++;
          int s = (int)((r >> 8) % SLOTS);
          uint64_t empty = 0;
          if ((r >> 16) % 2 == 0 &&
              __atomic_compare_exchange_n(&slots[2 * s], &empty, BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            slots[2 * s + 1] = sizes[i];
            __atomic_store_n(&slots[2 * s], mine[i], __ATOMIC_RELEASE);
          } else if (ipc_heap_free(heap, mine[i]) != IPC_OK) {
            bad++;
          }
          mine[i] = 0;
        } else {
          sizes[i] = 1 + (r >> 8) % ((r >> 20) % 16 == 0 ? 70000 : 700);
          if (ipc_heap_malloc(heap, sizes[i], &mine[i]) != IPC_OK) {
            bad++;
            mine[i] = 0;
            continue;
          }
          fill(heap, mine[i], sizes[i]);
        }
        /* Take someone's block now and then. */
        int s = (int)((r >> 24) % SLOTS);
        uint64_t taken = __atomic_load_n(&slots[2 * s], __ATOMIC_ACQUIRE);
        if (taken > BUSY &&
            __atomic_compare_exchange_n(&slots[2 * s], &taken, BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
          uint64_t size = slots[2 * s + 1];
          __atomic_store_n(&slots[2 * s], 0, __ATOMIC_RELEASE);
          if (!intact(heap, taken, size) || ipc_heap_free(heap, taken) != IPC_OK) bad++;
        }
      }
      for (int i = 0; i < 128; i++) {
        if (mine[i] != 0 && (!intact(heap, mine[i], sizes[i]) || ipc_heap_free(heap, mine[i]) != IPC_OK)) bad++;
      }
      return bad == 0 ? 0 : 3;
    }
  }
}

static void sharing(void) {
  ipc_heap_t *heap;
  ipc_segment_t *heap_seg;
  create_shared_heap(256 << 20, &heap_seg, &heap);
  uint64_t slots_block;
  CHECK_RC(ipc_heap_calloc(heap, SLOTS + 1, 16, &slots_block), IPC_OK);
  /* [handle, size] pairs; [SLOTS*2] = go. A slot is 0 (empty), BUSY (being filled or emptied by the
   * process that set it) or a handle; the size is written only while the slot is BUSY. */
  uint64_t *slots = ipc_heap_pointer(heap, slots_block);
  proc_t children[SHARERS];
  for (int p = 0; p < SHARERS; p++) children[p] = spawn_with("sharer", (uint64_t)p, slots_block);
  __atomic_store_n(&slots[SLOTS * 2], 1, __ATOMIC_RELEASE);
  for (int p = 0; p < SHARERS; p++) CHECK(proc_expect(&children[p], 240LL * 1000000000LL, 0, "sharing"));
  /* Blocks left in slots were handed over but never taken: still intact, then freed. */
  for (int s = 0; s < SLOTS; s++) {
    uint64_t block = slots[2 * s];
    if (block == 0) continue;
    CHECK(block != BUSY); /* every hand-over finished before its process exited */
    CHECK(intact(heap, block, slots[2 * s + 1]));
    CHECK_RC(ipc_heap_free(heap, block), IPC_OK);
  }
  CHECK_RC(ipc_heap_free(heap, slots_block), IPC_OK);
  ipc_heap_stats_t stats;
  expect_clean(heap, &stats);
  CHECK(stats.allocations == 0);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_unlink(heap_name), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
}

/* Fragmentation, a property with a fixed seed: a random workload of blocks of 16 B to 256 KiB (sizes
 * log-uniform: as many of 16-256 B as of 16-256 KiB), each step freeing a random live block or
 * allocating a new one, keeps the bytes asked for at least 0.8 of the bytes of pages in use, at every
 * checkpoint once the live set has grown (bench/heap.c's "fragmentation" job runs it longer). */
static uint64_t mixed_size(uint64_t *state) {
  uint64_t r = next_random(state);
  unsigned log = 4 + (unsigned)(r % 14); /* 2^4 .. 2^17, then up to twice that */
  return (1ULL << log) + (next_random(state) % (1ULL << log));
}

static void fragmentation(void) {
  ipc_heap_t *heap;
  ipc_segment_t *heap_seg;
  CHECK_RC(ipc_heap_create(NULL, 0, 0, 512ULL << 20, &heap_seg, &heap), IPC_OK);
  enum { LIVE = 8000, STEPS = 400000 };
  static uint64_t live[LIVE], asked[LIVE];
  uint64_t state = 12345, asked_total = 0;
  double worst = 1.0;
  for (int step = 1; step <= STEPS; step++) {
    int i = (int)(next_random(&state) % LIVE);
    if (live[i] != 0) {
      CHECK_RC(ipc_heap_free(heap, live[i]), IPC_OK);
      live[i] = 0;
      asked_total -= asked[i];
    } else {
      asked[i] = mixed_size(&state);
      CHECK_RC(ipc_heap_malloc(heap, asked[i], &live[i]), IPC_OK);
      asked_total += asked[i];
    }
    if (step % 20000 == 0 && step >= 40000) {
      ipc_heap_stats_t stats;
      expect_clean(heap, &stats);
      double ratio = (double)asked_total / (double)stats.reserved;
      if (ratio < worst) worst = ratio;
      if (getenv("FRAG_DEBUG")) printf("step %d: asked %.1f MiB, usable %.1f MiB, pages %.1f MiB, blocks %llu\n", step, asked_total / 1048576.0, stats.in_use / 1048576.0, stats.reserved / 1048576.0, (unsigned long long)stats.allocations);
    }
  }
  printf("fragmentation: bytes asked / bytes of pages, worst of 19 checkpoints: %.3f\n", worst);
  CHECK(worst >= 0.8);
  for (int i = 0; i < LIVE; i++) {
    if (live[i] != 0) CHECK_RC(ipc_heap_free(heap, live[i]), IPC_OK);
  }
  ipc_heap_stats_t stats;
  expect_clean(heap, &stats);
  CHECK(stats.allocations == 0);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
}

/* Allocation storms (malloc, realloc, free) killed at random moments: after every kill the heap
 * checks clean and the survivor (this process) allocates and frees in it, large blocks included
 * (the page lock may have died with its holder). A storm counts its steps in a word of the heap
 * (the block `progress`), so that it is killed only once it storms, never while it starts. */
enum { KILLS = 240, STORMERS = 2 };

static int storm(const char *name, uint64_t seed, uint64_t progress) {
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
#endif
  ipc_heap_t *heap = open_shared_heap(name);
  volatile uint64_t *steps = ipc_heap_pointer(heap, progress);
  CHECK(steps != NULL);
  uint64_t state = seed, held[16] = {0}, t0 = ipc_now_ns();
  for (uint64_t step = 1;; step++) {
    __atomic_store_n(steps, step, __ATOMIC_RELEASE);
    /* Killed long before this (elsewhere than Linux nothing kills it when the test dies). */
    if (step % 4096 == 0 && ipc_now_ns() - t0 > 600ULL * 1000000000ULL) return 4;
    uint64_t r = next_random(&state);
    int i = (int)(r % 16);
    if (held[i] != 0 && (r >> 40) % 3 == 0) {
      uint64_t moved, size = 1 + (r >> 8) % ((r >> 20) % 8 == 0 ? 200000 : 2000);
      if (ipc_heap_realloc(heap, held[i], size, &moved) == IPC_OK) held[i] = moved;
    } else if (held[i] != 0) {
      ipc_heap_free(heap, held[i]);
      held[i] = 0;
    } else {
      uint64_t size = 1 + (r >> 8) % ((r >> 20) % 8 == 0 ? 200000 : 2000);
      if (ipc_heap_malloc(heap, size, &held[i]) != IPC_OK) held[i] = 0;
    }
  }
}

/* Waits until storm `v` has taken `steps` more steps than `from` (it is storming now). */
static void await_storming(volatile uint64_t *progress, uint64_t from, uint64_t steps) {
  uint64_t until = ipc_now_ns() + 120ULL * 1000000000ULL;
  while (__atomic_load_n(progress, __ATOMIC_ACQUIRE) < from + steps) {
    CHECK(ipc_now_ns() < until);
    proc_yield();
  }
}

static void fault_injection(void) {
  ipc_heap_t *heap;
  ipc_segment_t *heap_seg;
  /* Each killed storm leaks what it held (at most 16 blocks): 240 of them fit easily. */
  create_shared_heap(2ULL << 30, &heap_seg, &heap);
  uint64_t state = (uint64_t)proc_self_id();
  proc_t children[STORMERS];
  uint64_t progress[STORMERS];
  volatile uint64_t *steps[STORMERS];
  for (int v = 0; v < STORMERS; v++) {
    CHECK_RC(ipc_heap_calloc(heap, 1, 64, &progress[v]), IPC_OK);
    steps[v] = ipc_heap_pointer(heap, progress[v]);
    children[v].pid = 0;
  }
  ipc_heap_stats_t stats;
  for (int kill_count = 0; kill_count < KILLS; kill_count++) {
    int victim = kill_count % STORMERS;
    if (children[victim].pid == 0 || kill_count < STORMERS) {
      *steps[victim] = 0;
      children[victim] = spawn_with("storm", (uint64_t)kill_count + 17, progress[victim]);
    }
    /* Storming (some steps done), then a random moment of up to ~3 ms more steps. */
    await_storming(steps[victim], 0, 16);
    uint64_t from = __atomic_load_n(steps[victim], __ATOMIC_ACQUIRE);
    await_storming(steps[victim], from, next_random(&state) % 3000);
    proc_kill(&children[victim]);
    CHECK(proc_wait(&children[victim], 60LL * 1000000000LL) == PROC_KILLED);
    *steps[victim] = 0;
    children[victim] = spawn_with("storm", (uint64_t)kill_count + 1000, progress[victim]);
    /* The heap is consistent while the other storm goes on, and usable. */
    expect_clean(heap, &stats);
    uint64_t small, large;
    CHECK_RC(ipc_heap_malloc(heap, 100, &small), IPC_OK);
    CHECK_RC(ipc_heap_malloc(heap, 200000, &large), IPC_OK);
    fill(heap, small, 100);
    CHECK(intact(heap, small, 100));
    CHECK_RC(ipc_heap_free(heap, small), IPC_OK);
    CHECK_RC(ipc_heap_free(heap, large), IPC_OK);
  }
  for (int v = 0; v < STORMERS; v++) {
    proc_kill(&children[v]);
    CHECK(proc_wait(&children[v], 60LL * 1000000000LL) == PROC_KILLED);
  }
  for (int v = 0; v < STORMERS; v++) CHECK_RC(ipc_heap_free(heap, progress[v]), IPC_OK);
  expect_clean(heap, &stats);
  printf("fault injection: %d kills; afterwards %llu blocks (%llu bytes) leaked by the dead, %llu bytes of pages in use\n",
         KILLS, (unsigned long long)stats.allocations, (unsigned long long)stats.in_use,
         (unsigned long long)stats.reserved);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_unlink(heap_name), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
}

/* Without arguments, runs every test (with a test's name, that test); with a role and a heap name,
 * is a child: `sharer-<p>-<slots block>` or `storm-<seed>-<progress block>` (hexadecimal). */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3) {
    char role[16] = {0};
    unsigned long long a = 0, b = 0;
    if (sscanf(argv[1], "%15[a-z]-%llx-%llx", role, &a, &b) == 3) {
#ifndef _WIN32
      alarm(240);
#endif
      if (strcmp(role, "sharer") == 0) return sharer(argv[2], a, b);
      if (strcmp(role, "storm") == 0) return storm(argv[2], a, b);
    }
  }
#ifndef _WIN32
  alarm(240);
#endif
  const char *only = argc > 1 ? argv[1] : NULL;
  int ran = 0;
#define RUN(name)                                 \
  if (only == NULL || strcmp(only, #name) == 0) { \
    name();                                       \
    ran++;                                        \
  }
  RUN(misuse);
  RUN(fragmentation);
  RUN(sharing);
  RUN(fault_injection);
  if (ran == 0) {
    fprintf(stderr, "test_heap: no test or role is called %s\n", only);
    return 1;
  }
  printf("test_heap: ok\n");
  return 0;
}
