/* Arenas from C: blocks come from the arena and go back at once on reset and destroy; only the
 * owner allocates; a handover to another process (or to nobody) moves that right and keeps the
 * arena alive past its maker's death; a dead owner's arena goes back when it is noticed; the
 * callbacks take an arena as their context and never obey foreign pointers; ipc_heap_check stays clean
 * and the whole heap is allocatable as one block after each step. */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define HEAP_SIZE (16u * 1024 * 1024)

static ipc_heap_stats_t stats_of(ipc_heap_t *heap) {
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  int32_t rc = ipc_heap_check(heap, &stats, &problem);
  if (rc != IPC_OK) fprintf(stderr, "heap check: %s\n", problem ? problem : "?");
  CHECK(rc == IPC_OK);
  return stats;
}

/* The heap holds no block, and all of it is one free block. */
static void baseline(ipc_heap_t *heap, uint64_t pages_bytes) {
  ipc_heap_stats_t s = stats_of(heap);
  CHECK(s.allocations == 0);
  uint64_t all;
  CHECK_RC(ipc_heap_malloc(heap, pages_bytes, &all), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, all), IPC_OK);
}

static void fill(ipc_heap_arena_t *a, uint64_t *blocks, int n) {
  for (int i = 0; i < n; i++) CHECK_RC(ipc_heap_arena_malloc(a, 1 + (uint64_t)(i * 397 % 20000), &blocks[i]), IPC_OK);
}

int main(void) {
  ipc_segment_t *seg;
  ipc_heap_t *heap;
  CHECK_RC(ipc_heap_create(NULL, 0, 0, HEAP_SIZE, &seg, &heap), IPC_OK);
  const uint64_t pages_bytes = stats_of(heap).free_pages;

  /* Alloc, free, reset, destroy. */
  ipc_heap_arena_t *a;
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_OK);
  uint32_t id = 0;
  CHECK_RC(ipc_heap_arena_id(a, &id), IPC_OK);
  CHECK(id != 0);
  int32_t owner = -1;
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == (int32_t)getpid());
  uint64_t blocks[500];
  fill(a, blocks, 500);
  uint64_t large;
  CHECK_RC(ipc_heap_arena_malloc(a, 500000, &large), IPC_OK);
  memset(ipc_heap_pointer(heap, large), 7, 500000);
  CHECK_RC(ipc_heap_free(heap, blocks[0]), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, blocks[0]), IPC_EINVAL);
  CHECK(stats_of(heap).allocations == 500);
  CHECK_RC(ipc_heap_arena_malloc(a, 0, &blocks[0]), IPC_EINVAL);
  CHECK_RC(ipc_heap_arena_reset(a), IPC_OK);
  CHECK(stats_of(heap).allocations == 0);
  CHECK_RC(ipc_heap_free(heap, large), IPC_EINVAL);
  baseline(heap, pages_bytes);
  fill(a, blocks, 100);
  CHECK_RC(ipc_heap_arena_destroy(a), IPC_OK);
  ipc_heap_arena_t *stale;
  CHECK_RC(ipc_heap_arena_open(heap, id, &stale), IPC_ENOENT);
  CHECK_RC(ipc_heap_arena_open(heap, 0, &stale), IPC_ENOENT);
  baseline(heap, pages_bytes);

  /* The callbacks with an arena as their context; foreign pointers and double frees are never obeyed. */
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_OK);
  void *p = ipc_heap_alloc_fn(a, 100);
  CHECK(p != NULL);
  p = ipc_heap_realloc_fn(a, p, 100000);
  CHECK(p != NULL && ipc_heap_usable_size_fn(a, p) >= 100000);
  void *q = ipc_heap_calloc_fn(a, 10, 10);
  void *r = ipc_heap_aligned_alloc_fn(a, 256, 10);
  CHECK(q != NULL && r != NULL && (uintptr_t)r % 256 == 0);
  int local = 0;
  ipc_heap_free_fn(a, &local);   /* outside the heap */
  ipc_heap_free_fn(a, (char *)q + 8); /* inside a block */
  ipc_heap_free_fn(a, q);
  ipc_heap_free_fn(a, q);         /* a double free */
  CHECK(stats_of(heap).allocations == 2);
  /* A block of the arena freed through the heap's own context (any view frees any block). */
  ipc_heap_free_fn(heap, r);
  CHECK(stats_of(heap).allocations == 1);
  CHECK_RC(ipc_heap_arena_destroy(a), IPC_OK);
  baseline(heap, pages_bytes);

  /* Handover to a child: the parent may no longer allocate; the child does; the arena outlives the
   * parent's view, and goes back when the child dies. */
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_OK);
  CHECK_RC(ipc_heap_arena_id(a, &id), IPC_OK);
  fill(a, blocks, 50);
  int ready[2], go[2];
  CHECK(pipe(ready) == 0 && pipe(go) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(2);
    ipc_heap_arena_t *mine;
    if (ipc_heap_arena_open(heap, id, &mine) != IPC_OK) _exit(3);
    uint64_t b;
    for (int i = 0; i < 200; i++)
      if (ipc_heap_arena_malloc(mine, 64 + (uint64_t)i, &b) != IPC_OK) _exit(4);
    if (write(ready[1], "r", 1) != 1) _exit(5);
    pause();
    _exit(0);
  }
  CHECK_RC(ipc_heap_arena_hand_over(a, -1), IPC_EINVAL);
  CHECK_RC(ipc_heap_arena_hand_over(a, child), IPC_OK);
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == child);
  uint64_t b;
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_reset(a), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_hand_over(a, 0), IPC_EPERM);
  CHECK(write(go[1], "g", 1) == 1);
  char byte;
  CHECK(read(ready[0], &byte, 1) == 1);
  CHECK(stats_of(heap).allocations == 250);
  /* Stopped is alive: nothing goes back. */
  CHECK(kill(child, SIGSTOP) == 0);
  uint32_t reaped = 99;
  CHECK_RC(ipc_heap_arena_reap(heap, &reaped), IPC_OK);
  CHECK(reaped == 0 && stats_of(heap).allocations == 250);
  CHECK(kill(child, SIGKILL) == 0);
  int status;
  CHECK(waitpid(child, &status, 0) == child);
  /* Dead: the check notices, and every block of the arena goes back. */
  CHECK(stats_of(heap).allocations == 0);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_ENOENT);
  CHECK_RC(ipc_heap_arena_close(a), IPC_OK);
  baseline(heap, pages_bytes);

  /* Unowned: outlives its maker; anyone adopts or destroys it. */
  child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    ipc_heap_arena_t *mine;
    uint64_t made;
    if (ipc_heap_arena_create(heap, &mine) != IPC_OK) _exit(3);
    for (int i = 0; i < 30; i++)
      if (ipc_heap_arena_malloc(mine, 100, &made) != IPC_OK) _exit(4);
    uint32_t mine_id;
    if (ipc_heap_arena_id(mine, &mine_id) != IPC_OK || ipc_heap_arena_hand_over(mine, 0) != IPC_OK) _exit(5);
    if (write(ready[1], &mine_id, sizeof mine_id) != sizeof mine_id) _exit(6);
    _exit(0);
  }
  CHECK(read(ready[0], &id, sizeof id) == sizeof id);
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_RC(ipc_heap_arena_reap(heap, &reaped), IPC_OK);
  CHECK(reaped == 0 && stats_of(heap).allocations == 30);
  CHECK_RC(ipc_heap_arena_open(heap, id, &a), IPC_OK);
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == 0);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_hand_over(a, getpid()), IPC_OK);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_OK);
  CHECK_RC(ipc_heap_arena_destroy(a), IPC_OK);
  baseline(heap, pages_bytes);

  /* The table has a bound. */
  ipc_heap_arena_t *all[IPC_HEAP_ARENAS_MAX];
  for (int i = 0; i < IPC_HEAP_ARENAS_MAX; i++) CHECK_RC(ipc_heap_arena_create(heap, &all[i]), IPC_OK);
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_ENOSPC);
  for (int i = 0; i < IPC_HEAP_ARENAS_MAX; i++) CHECK_RC(ipc_heap_arena_destroy(all[i]), IPC_OK);
  baseline(heap, pages_bytes);

  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  printf("test_heap_arena: ok\n");
  return 0;
}
