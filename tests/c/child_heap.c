/* The heap commands of ipc-child: the same commands, protocol and block pattern as
 * tests/mp/child_heap.ts (see there). */
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

static int intact(ipc_heap_t *heap, uint64_t block, uint64_t size) {
  const uint8_t *p = ipc_heap_pointer(heap, block);
  for (uint64_t i = 0; i < size; i++) {
    if (p[i] != (uint8_t)(block * 31 + i)) return 0;
  }
  return 1;
}

int child_heap(int argc, char **argv) {
  if (argc < 4) return usage("heap share <name> <id> <steps> | storm <name> <seed>");
  ipc_segment_t *seg = NULL;
  ipc_heap_t *heap = NULL;
  int32_t rc = ipc_segment_open(argv[2], 0, &seg);
  if (rc == IPC_OK) rc = ipc_heap_attach(seg, &heap);
  if (rc != IPC_OK) return fail(rc);
  state = strtoull(argv[3], NULL, 10) * 7919 + 3;
  if (strcmp(argv[1], "storm") == 0) {
    uint64_t held[16] = {0};
    printf("storming\n");
    fflush(stdout);
    for (;;) {
      uint64_t r = next_random();
      int i = (int)(r % 16);
      if (held[i] != 0) {
        ipc_heap_free(heap, held[i]);
        held[i] = 0;
      } else if (ipc_heap_malloc(heap, 1 + (r >> 8) % ((r >> 20) % 8 == 0 ? 200000 : 2000), &held[i]) != IPC_OK) {
        held[i] = 0;
      }
    }
  }
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
    if (mine[i] != 0) {
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
