/* Shared heap benchmarks from C, for libipc (bench/heap_peers.c and bench/heap_boost.cpp run the
 * same workloads, bench/heap_work.h, on the peers). One JSON line per case (see bench/report.ts).
 *   ipc-bench-heap <64|mixed> <processes> [ops per process]
 *       `processes` forked processes allocate and free in one libipc heap at once (handles:
 *       ipc_heap_malloc / ipc_heap_free) in rounds of 1000 mallocs then 1000 frees. Reports the
 *       aggregate Mops/s (total ops / wall time from the start signal to the last exit).
 *   ipc-bench-heap fragmentation <mixed|wide> [ops]
 *       One of the random workloads through the C callbacks (ipc_heap_alloc_fn, ipc_heap_free_fn)
 *       in a fresh 4 GiB heap; the allocator's count of the bytes of pages
 *       is ipc_heap_check's `reserved`. */
#define _GNU_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap_work.h"

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-heap: %s: %s\n", what, ipc_errname(rc));
  exit(1);
}

enum { ROUND = 1000 };

static void work_libipc(ipc_heap_t *heap, long ops, int mixed, uint64_t seed) {
  uint64_t blocks[ROUND];
  uint64_t state = seed;
  for (long done = 0; done < ops; done += 2 * ROUND) {
    for (int i = 0; i < ROUND; i++) {
      int32_t rc = ipc_heap_malloc(heap, bench_next_size(&state, mixed), &blocks[i]);
      if (rc != IPC_OK) die("malloc", rc);
    }
    for (int i = 0; i < ROUND; i++) {
      int32_t rc = ipc_heap_free(heap, blocks[i]);
      if (rc != IPC_OK) die("free", rc);
    }
  }
}

/* The random workloads' view of the heap being measured. */
static ipc_heap_t *measured;

static void *libipc_alloc(size_t size) { return ipc_heap_alloc_fn(measured, size); }
static void libipc_release(void *p) { ipc_heap_free_fn(measured, p); }
static uint64_t libipc_pages(void) {
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  int32_t rc = ipc_heap_check(measured, &stats, &problem);
  if (rc != IPC_OK) die(problem, rc);
  return stats.reserved;
}

static int fragmentation(int wide, long ops) {
  static const bench_allocator libipc = {"C libipc ipc_heap", 0, libipc_alloc, libipc_release, libipc_pages,
                                         "ipc_heap_check's reserved: pages holding blocks (free pages not counted)"};
  {
    ipc_segment_t *seg;
    int32_t rc = ipc_heap_create(NULL, 0, 0, 4ULL << 30, &seg, &measured);
    if (rc != IPC_OK) die("create", rc);
    bench_random(&libipc, wide, ops);
    uint64_t misuses = 0;
    if ((rc = ipc_heap_misuses(measured, &misuses)) != IPC_OK || misuses != 0) die("misuses", IPC_EPROTO);
    libipc_pages(); /* checks the heap once more, now that every block is freed */
    ipc_heap_close(measured);
    ipc_segment_close(seg);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "fragmentation") == 0)
    return fragmentation(strcmp(argv[2], "wide") == 0, argc > 3 ? atol(argv[3]) : 5000000);
  if (argc < 3) {
    fprintf(stderr, "usage: ipc-bench-heap <64|mixed> <processes> [ops] | fragmentation <mixed|wide> [ops]\n");
    return 64;
  }
  int mixed = strcmp(argv[1], "mixed") == 0;
  int processes = atoi(argv[2]);
  long ops = argc > 3 ? atol(argv[3]) : (mixed ? 4000000 : 20000000);
  if (processes < 1 || processes > 64) return 64;
  ipc_heap_t *heap;
  ipc_segment_t *heap_seg;
  int32_t rc = ipc_heap_create(NULL, 0, 0, 1ULL << 30, &heap_seg, &heap);
  if (rc != IPC_OK) die("create", rc);
  ipc_heap_t *start_heap = heap;
  /* A start flag in the heap's own memory: every child spins on it so they start together. */
  uint64_t flag_block;
  if ((rc = ipc_heap_calloc(heap, 1, 64, &flag_block)) != IPC_OK) die("calloc", rc);
  volatile uint32_t *go = ipc_heap_pointer(heap, flag_block);
  work_libipc(heap, ops / 20, mixed, 99); /* warm-up: pages exist before the clock starts */
  pid_t pids[64];
  for (int p = 0; p < processes; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      while (__atomic_load_n(go, __ATOMIC_ACQUIRE) == 0) {
      }
      work_libipc(start_heap, ops, mixed, (uint64_t)p + 1);
      _exit(0);
    }
  }
  uint64_t t = bench_now_ns();
  __atomic_store_n(go, 1, __ATOMIC_RELEASE);
  for (int p = 0; p < processes; p++) {
    int status;
    waitpid(pids[p], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child", IPC_EIO);
  }
  uint64_t ns = bench_now_ns() - t;
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  if ((rc = ipc_heap_check(heap, &stats, &problem)) != IPC_OK) {
    fprintf(stderr, "ipc-bench-heap: check: %s\n", problem);
    return 1;
  }
  static const bench_allocator libipc = {"C libipc ipc_heap", 0, NULL, NULL, NULL, ""};
  bench_print_rounds(&libipc, mixed, processes, ops, ns);
  ipc_heap_close(heap);
  ipc_segment_close(heap_seg);
  return 0;
}
