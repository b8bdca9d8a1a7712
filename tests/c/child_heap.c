/* The heap commands of ipc-child: the same commands, protocols (the "slots" and "storm" roots) and
 * block patterns as tests/mp/child_heap.ts (see there). */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"

enum { SLOTS = 64 };
static const uint64_t SLOT_BUSY = 1; /* a slot being filled or emptied (see tests/mp/child_heap.ts) */

static uint64_t state;

static uint64_t next_random(void) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return state >> 33;
}

static void fill(ipc_heap_t *heap, uint64_t block, uint64_t size) {
  uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = 0; i < size; i++) p[i] = (uint8_t)(block * 31 + i);
}

/* Whether the first `size` bytes of `block` hold the pattern of block `as`. */
static int intact_as(ipc_heap_t *heap, uint64_t block, uint64_t size, uint64_t as) {
  const uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = 0; i < size; i++) {
    if (p[i] != (uint8_t)(as * 31 + i)) return 0;
  }
  return 1;
}

static int intact(ipc_heap_t *heap, uint64_t block, uint64_t size) { return intact_as(heap, block, size, block); }

/* The "storm" root (tests/mp/child_heap.ts): [op, steps, ENOMEM count], then [handle, size, seed]
 * per entry; a storm block's byte i is seed * 31 + i. */
enum { STORM_ENTRIES = 16, STORM_WORDS = 3 + 3 * STORM_ENTRIES };
enum { STORM_IDLE = 0, STORM_MALLOC = 1, STORM_FREE = 2, STORM_REALLOC = 3 };
static const uint64_t STORM_FLAG = 1ULL << 60, STORM_FRESH = 1ULL << 61;

static int storm_intact(ipc_heap_t *heap, uint64_t block, uint64_t from, uint64_t size, uint64_t seed) {
  const uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = from; i < size; i++) {
    if (p[i] != (uint8_t)(seed * 31 + i)) return 0;
  }
  return 1;
}

static void storm_fill(ipc_heap_t *heap, uint64_t block, uint64_t from, uint64_t size, uint64_t seed) {
  uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = from; i < size; i++) p[i] = (uint8_t)(seed * 31 + i);
}

static uint64_t storm_size(uint64_t r) { return 1 + (r >> 8) % ((r >> 20) % 8 == 0 ? 200000 : 2000); }

/* Ends the storm: any error but ENOMEM, or a block that lost its pattern. */
static int storm_fail(const char *what, uint64_t block, int32_t rc) {
  fprintf(stderr, "storm: %s (block %llu): %s\n", what, (unsigned long long)block, ipc_errname(rc));
  return 3;
}

/* Mallocs, reallocs and frees forever, every block it holds recorded in the "storm" root (see
 * tests/mp/child_heap.ts for why a kill leaks at most one block). */
static int storm(ipc_heap_t *heap) {
  uint64_t root;
  int32_t rc = ipc_heap_root(heap, "storm", 0, &root);
  if (rc != IPC_OK) return fail(rc);
  uint64_t *t = ipc_heap_pointer(heap, root);
  printf("storming\n");
  fflush(stdout);
  for (;;) {
    uint64_t r = next_random();
    uint64_t *e = &t[3 + 3 * (r % STORM_ENTRIES)];
    uint64_t handle = __atomic_load_n(&e[0], __ATOMIC_RELAXED);
    if (handle == 0) {
      uint64_t size = storm_size(r), seed = r >> 4, block;
      __atomic_store_n(&t[0], STORM_MALLOC, __ATOMIC_SEQ_CST);
      rc = ipc_heap_malloc(heap, size, &block);
      if (rc == IPC_ENOMEM) {
        __atomic_fetch_add(&t[2], 1, __ATOMIC_SEQ_CST);
      } else if (rc != IPC_OK) {
        return storm_fail("malloc", 0, rc);
      } else {
        e[1] = size;
        e[2] = seed;
        __atomic_store_n(&e[0], block | STORM_FRESH, __ATOMIC_SEQ_CST);
        storm_fill(heap, block, 0, size, seed);
        __atomic_store_n(&e[0], block, __ATOMIC_SEQ_CST);
      }
    } else {
      uint64_t size = e[1], seed = e[2];
      if (!storm_intact(heap, handle, 0, size, seed)) return storm_fail("pattern lost", handle, IPC_OK);
      if ((r >> 4) % 3 == 0) {
        uint64_t grown = storm_size(next_random()), moved;
        __atomic_store_n(&t[0], STORM_REALLOC, __ATOMIC_SEQ_CST);
        __atomic_store_n(&e[0], handle | STORM_FLAG, __ATOMIC_SEQ_CST);
        rc = ipc_heap_realloc(heap, handle, grown, &moved);
        if (rc == IPC_ENOMEM) {
          __atomic_fetch_add(&t[2], 1, __ATOMIC_SEQ_CST);
          __atomic_store_n(&e[0], handle, __ATOMIC_SEQ_CST);
        } else if (rc != IPC_OK) {
          return storm_fail("realloc", handle, rc);
        } else {
          __atomic_store_n(&e[0], moved | STORM_FRESH, __ATOMIC_SEQ_CST);
          if (!storm_intact(heap, moved, 0, size < grown ? size : grown, seed)) {
            return storm_fail("realloc lost the pattern", moved, IPC_OK);
          }
          storm_fill(heap, moved, size, grown, seed);
          e[1] = grown;
          __atomic_store_n(&e[0], moved, __ATOMIC_SEQ_CST);
        }
      } else {
        __atomic_store_n(&t[0], STORM_FREE, __ATOMIC_SEQ_CST);
        __atomic_store_n(&e[0], handle | STORM_FLAG, __ATOMIC_SEQ_CST);
        if ((rc = ipc_heap_free(heap, handle)) != IPC_OK) return storm_fail("free", handle, rc);
        __atomic_store_n(&e[0], 0, __ATOMIC_SEQ_CST);
      }
    }
    __atomic_store_n(&t[0], STORM_IDLE, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&t[1], 1, __ATOMIC_SEQ_CST);
  }
}

int child_heap(int argc, char **argv) {
  if (argc < 4) return usage("heap share <name> <id> <steps> | storm <name> <seed>");
  ipc_segment_t *seg = NULL;
  ipc_heap_t *heap = NULL;
  int32_t rc = ipc_segment_open(argv[2], 0, &seg);
  if (rc == IPC_OK) rc = ipc_heap_attach(seg, &heap);
  if (rc != IPC_OK) return fail(rc);
  state = strtoull(argv[3], NULL, 10) * 7919 + 3;
  if (strcmp(argv[1], "storm") == 0) return storm(heap);
  if (strcmp(argv[1], "share") != 0 || argc < 5) return usage("heap share <name> <id> <steps>");
  long steps = atol(argv[4]);
  uint64_t slots_block;
  if ((rc = ipc_heap_root(heap, "slots", 0, &slots_block)) != IPC_OK) return fail(rc);
  uint64_t *slots = ipc_heap_pointer(heap, slots_block);
  uint64_t mine[128] = {0}, sizes[128] = {0};
  int bad = 0;
  while (__atomic_load_n(&slots[SLOTS * 2], __ATOMIC_ACQUIRE) == 0) {
  }
  for (long step = 0; step < steps; step++) {
    uint64_t r = next_random();
    int i = (int)(r % 128);
    if (mine[i] != 0 && (r >> 28) % 4 == 0) {
      /* Grow or shrink in place or by moving: the kept prefix keeps the old handle's pattern. */
      if (!intact(heap, mine[i], sizes[i])) bad++;
      uint64_t size = 1 + (r >> 8) % ((r >> 20) % 4 == 0 ? 70000 : 700), moved;
      if ((rc = ipc_heap_realloc(heap, mine[i], size, &moved)) != IPC_OK) return fail(rc);
      if (!intact_as(heap, moved, size < sizes[i] ? size : sizes[i], mine[i])) bad++;
      mine[i] = moved;
      sizes[i] = size;
      fill(heap, moved, size);
    } else if (mine[i] != 0) {
      if (!intact(heap, mine[i], sizes[i])) bad++;
      int s = (int)((r >> 8) % SLOTS);
      uint64_t empty = 0;
      if ((r >> 16) % 2 == 0 &&
          __atomic_compare_exchange_n(&slots[2 * s], &empty, SLOT_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        slots[2 * s + 1] = sizes[i];
        __atomic_store_n(&slots[2 * s], mine[i], __ATOMIC_RELEASE);
      } else if (ipc_heap_free(heap, mine[i]) != IPC_OK) {
        bad++;
      }
      mine[i] = 0;
    } else {
      sizes[i] = 1 + (r >> 8) % ((r >> 20) % 16 == 0 ? 70000 : 700);
      if ((rc = ipc_heap_malloc(heap, sizes[i], &mine[i])) != IPC_OK) return fail(rc);
      fill(heap, mine[i], sizes[i]);
    }
    int s = (int)((r >> 24) % SLOTS);
    uint64_t taken = __atomic_load_n(&slots[2 * s], __ATOMIC_ACQUIRE);
    if (taken > SLOT_BUSY &&
        __atomic_compare_exchange_n(&slots[2 * s], &taken, SLOT_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      uint64_t size = slots[2 * s + 1];
      __atomic_store_n(&slots[2 * s], 0, __ATOMIC_RELEASE);
      if (!intact(heap, taken, size) || ipc_heap_free(heap, taken) != IPC_OK) bad++;
    }
  }
  for (int i = 0; i < 128; i++) {
    if (mine[i] != 0 && (!intact(heap, mine[i], sizes[i]) || ipc_heap_free(heap, mine[i]) != IPC_OK)) bad++;
  }
  printf("ok %d\n", bad);
  ipc_heap_close(heap);
  ipc_segment_close(seg);
  return bad == 0 ? 0 : 3;
}
