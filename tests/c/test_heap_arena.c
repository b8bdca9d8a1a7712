/* Arenas from C: blocks come from the arena and go back at once on reset and destroy; only the
 * owner allocates; a handover to another process (or to nobody) moves that right and keeps the
 * arena alive past its maker's death; a dead owner's arena goes back when it is noticed; the
 * callbacks take an arena as their context and never obey foreign pointers; ipc_heap_check stays clean
 * and the whole heap is allocatable as one block after each step. The other processes are this
 * program run again in a role (tests/c/proc.h) on the heap they open by name, paced by two
 * semaphores in a control segment, so the test runs on Windows (under Wine) as on Linux. */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "proc.h"

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

/* The control segment beside the heap (proc_control): "go" is its first semaphore, "ready" its
 * second; an arena id is at CTL_ID. */
#define CTL_ID 128
#define SECONDS 1000000000LL

static void attach(const char *heap_name, ipc_heap_t **heap, ipc_segment_t **ctl, ipc_sem_t **go, ipc_sem_t **ready) {
  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_open(heap_name, 0, &seg), IPC_OK);
  CHECK_RC(ipc_heap_attach(seg, heap), IPC_OK);
  proc_control_t control = proc_control(heap_name, 0);
  *ctl = control.segment;
  *go = control.sems[0];
  *ready = control.sems[1];
}

/* `owner-<id>`: once told to go, allocates 200 blocks from the arena handed over to it, says so, and
 * waits (alive, doing nothing) until it is killed. */
static int owner_child(const char *heap_name, uint32_t id) {
  ipc_heap_t *heap;
  ipc_segment_t *ctl;
  ipc_sem_t *go, *ready;
  attach(heap_name, &heap, &ctl, &go, &ready);
  CHECK_RC(ipc_sem_acquire(go, 1, 240 * SECONDS), IPC_OK);
  ipc_heap_arena_t *mine;
  CHECK_RC(ipc_heap_arena_open(heap, id, &mine), IPC_OK);
  uint64_t b;
  for (int i = 0; i < 200; i++) CHECK_RC(ipc_heap_arena_malloc(mine, 64 + (uint64_t)i, &b), IPC_OK);
  CHECK_RC(ipc_sem_release(ready, 1), IPC_OK);
  CHECK_RC(ipc_sem_acquire(go, 1, 240 * SECONDS), IPC_OK); /* never released: the parent kills it */
  return 5;
}

/* `maker-0`: makes an arena, allocates 30 blocks from it, hands it over to nobody, leaves its id in
 * the control segment and exits. */
static int maker_child(const char *heap_name) {
  ipc_heap_t *heap;
  ipc_segment_t *ctl;
  ipc_sem_t *go, *ready;
  attach(heap_name, &heap, &ctl, &go, &ready);
  ipc_heap_arena_t *mine;
  uint64_t made;
  CHECK_RC(ipc_heap_arena_create(heap, &mine), IPC_OK);
  for (int i = 0; i < 30; i++) CHECK_RC(ipc_heap_arena_malloc(mine, 100, &made), IPC_OK);
  uint32_t mine_id;
  CHECK_RC(ipc_heap_arena_id(mine, &mine_id), IPC_OK);
  CHECK_RC(ipc_heap_arena_hand_over(mine, 0), IPC_OK);
  memcpy((char *)ipc_segment_base(ctl) + CTL_ID, &mine_id, sizeof mine_id);
  return 0;
}

static proc_t spawn_role(const char *role, uint32_t id, const char *heap_name) {
  char full[48];
  snprintf(full, sizeof full, "%s-%u", role, (unsigned)id);
  fflush(NULL);
  return proc_spawn(full, heap_name);
}

/* Without arguments, runs the test; `owner-<id> <heap name>` and `maker-0 <heap name>` are its
 * children. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3) {
    char role[16] = {0};
    unsigned id = 0;
    if (sscanf(argv[1], "%15[a-z]-%u", role, &id) == 2) {
      if (strcmp(role, "owner") == 0) return owner_child(argv[2], id);
      if (strcmp(role, "maker") == 0) return maker_child(argv[2]);
    }
    fprintf(stderr, "test_heap_arena: no role %s\n", argv[1]);
    return 64;
  }
#ifndef _WIN32
  alarm(240);
#endif
  char heap_name[32];
  proc_segment_name(heap_name, sizeof heap_name, "tarena");
  ipc_segment_t *seg;
  ipc_heap_t *heap;
  CHECK_RC(ipc_heap_create(heap_name, 0, 0, HEAP_SIZE, &seg, &heap), IPC_OK);
  proc_control_t control = proc_control(heap_name, 1);
  ipc_segment_t *ctl = control.segment;
  ipc_sem_t *go = control.sems[0], *ready = control.sems[1];
  const uint64_t pages_bytes = stats_of(heap).free_pages;

  /* Alloc, free, reset, destroy. */
  ipc_heap_arena_t *a;
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_OK);
  uint32_t id = 0;
  CHECK_RC(ipc_heap_arena_id(a, &id), IPC_OK);
  CHECK(id != 0);
  int32_t owner = -1;
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == (int32_t)proc_self_id());
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
  proc_t child = spawn_role("owner", id, heap_name);
  CHECK_RC(ipc_heap_arena_hand_over(a, -1), IPC_EINVAL);
  CHECK_RC(ipc_heap_arena_hand_over(a, (int32_t)child.pid), IPC_OK);
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == (int32_t)child.pid);
  uint64_t b;
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_reset(a), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_hand_over(a, 0), IPC_EPERM);
  CHECK_RC(ipc_sem_release(go, 1), IPC_OK);
  CHECK_RC(ipc_sem_acquire(ready, 1, 240 * SECONDS), IPC_OK);
  CHECK(stats_of(heap).allocations == 250);
  /* Idle is alive, and so is stopped (POSIX): nothing goes back. */
#ifndef _WIN32
  CHECK(kill((pid_t)child.pid, SIGSTOP) == 0);
#endif
  uint32_t reaped = 99;
  CHECK_RC(ipc_heap_arena_reap(heap, &reaped), IPC_OK);
  CHECK(reaped == 0 && stats_of(heap).allocations == 250);
  proc_kill(&child);
  CHECK(proc_wait(&child, 60 * SECONDS) == PROC_KILLED);
  /* Dead: the check notices, and every block of the arena goes back. */
  CHECK(stats_of(heap).allocations == 0);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_ENOENT);
  CHECK_RC(ipc_heap_arena_close(a), IPC_OK);
  baseline(heap, pages_bytes);

  /* Unowned: outlives its maker; anyone adopts or destroys it. */
  child = spawn_role("maker", 0, heap_name);
  CHECK(proc_expect(&child, 120 * SECONDS, 0, "maker"));
  memcpy(&id, (char *)ipc_segment_base(ctl) + CTL_ID, sizeof id);
  CHECK_RC(ipc_heap_arena_reap(heap, &reaped), IPC_OK);
  CHECK(reaped == 0 && stats_of(heap).allocations == 30);
  CHECK_RC(ipc_heap_arena_open(heap, id, &a), IPC_OK);
  CHECK_RC(ipc_heap_arena_owner(a, &owner), IPC_OK);
  CHECK(owner == 0);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_EPERM);
  CHECK_RC(ipc_heap_arena_hand_over(a, (int32_t)proc_self_id()), IPC_OK);
  CHECK_RC(ipc_heap_arena_malloc(a, 16, &b), IPC_OK);
  CHECK_RC(ipc_heap_arena_destroy(a), IPC_OK);
  baseline(heap, pages_bytes);

  /* The table has a bound. */
  ipc_heap_arena_t *all[IPC_HEAP_ARENAS_MAX];
  for (int i = 0; i < IPC_HEAP_ARENAS_MAX; i++) CHECK_RC(ipc_heap_arena_create(heap, &all[i]), IPC_OK);
  CHECK_RC(ipc_heap_arena_create(heap, &a), IPC_ENOSPC);
  for (int i = 0; i < IPC_HEAP_ARENAS_MAX; i++) CHECK_RC(ipc_heap_arena_destroy(all[i]), IPC_OK);
  baseline(heap, pages_bytes);

  CHECK_RC(ipc_segment_unlink(control.name), IPC_OK);
  CHECK_RC(ipc_segment_unlink(heap_name), IPC_OK);
  CHECK_RC(ipc_segment_close(ctl), IPC_OK);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  printf("test_heap_arena: ok\n");
  return 0;
}
