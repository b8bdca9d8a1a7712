/* Shared heap benchmarks from C. One JSON line per case (see bench/report.ts).
 *   ipc-bench-heap <64|mixed> <processes> [ops per process]
 *       `processes` forked processes allocate and free in one libipc heap at once: rounds of 1000
 *       mallocs then 1000 frees (the PEERS.md op definition: one malloc or one free is one op);
 *       sizes are 64 B, or 16 B-64 KiB (mixed: 7/8 of them up to 1 KiB, the rest up to 64 KiB).
 *       Reports the aggregate Mops/s (total ops / wall time from the start signal to the last exit).
 *   ipc-bench-heap glibc <64|mixed>
 *       The same loop in one process with glibc malloc/free (the peer for one process).
 *   ipc-bench-heap fragmentation [ops]
 *       Two long random workloads in one process, each op freeing a random live block or allocating
 *       a new one; each reports bytes asked / bytes of pages in use (1.0 = no waste): at the end for
 *       a live set of about 20 000 blocks of 16 B-64 KiB (7/8 of them up to 1 KiB), and the worst of
 *       checkpoints every 1/20 of the run (after the first 1/10) for about 4 000 blocks of 16 B-256 KiB
 *       (sizes log-uniform, as in tests/c/test_heap.c's fragmentation test, whose 0.8 floor this
 *       measures longer). */
#define _GNU_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-heap: %s: %s\n", what, ipc_errname(rc));
  exit(1);
}

enum { ROUND = 1000 };

static uint64_t lcg(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return *state >> 33;
}

static uint64_t next_size(uint64_t *state, int mixed) {
  if (!mixed) return 64;
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t r = *state >> 33;
  if (r % 8 != 0) return 16 + r % 1009;
  return 16 + r % 65521;
}

static void work_libipc(ipc_heap_t *heap, long ops, int mixed, uint64_t seed) {
  uint64_t blocks[ROUND];
  uint64_t state = seed;
  for (long done = 0; done < ops; done += 2 * ROUND) {
    for (int i = 0; i < ROUND; i++) {
      int32_t rc = ipc_heap_malloc(heap, next_size(&state, mixed), &blocks[i]);
      if (rc != IPC_OK) die("malloc", rc);
    }
    for (int i = 0; i < ROUND; i++) {
      int32_t rc = ipc_heap_free(heap, blocks[i]);
      if (rc != IPC_OK) die("free", rc);
    }
  }
}

static void work_glibc(long ops, int mixed) {
  void *blocks[ROUND];
  uint64_t state = 1;
  for (long done = 0; done < ops; done += 2 * ROUND) {
    for (int i = 0; i < ROUND; i++) blocks[i] = malloc(next_size(&state, mixed));
    for (int i = 0; i < ROUND; i++) free(blocks[i]);
  }
}

static int fragmentation(long ops) {
  ipc_heap_t *heap;
  ipc_segment_t *heap_seg;
  int32_t rc = ipc_heap_create(NULL, 0, 0, 4ULL << 30, &heap_seg, &heap);
  if (rc != IPC_OK) die("create", rc);
  enum { LIVE = 20000 };
  static uint64_t live[LIVE], asked[LIVE];
  uint64_t state = 7, asked_total = 0;
  for (long op = 0; op < ops; op++) {
    uint64_t r = next_size(&state, 1);
    int i = (int)((state >> 20) % LIVE);
    if (live[i] != 0) {
      if ((rc = ipc_heap_free(heap, live[i])) != IPC_OK) die("free", rc);
      live[i] = 0;
      asked_total -= asked[i];
    } else {
      if ((rc = ipc_heap_malloc(heap, r, &live[i])) != IPC_OK) die("malloc", rc);
      asked[i] = r;
      asked_total += r;
    }
  }
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  if ((rc = ipc_heap_check(heap, &stats, &problem)) != IPC_OK) die(problem, rc);
  printf("{\"case\":\"heap fragmentation after %ld random ops, mixed sizes\",\"tool\":\"C libipc ipc_heap\","
         "\"unit\":\"bytes asked / bytes of pages\",\"value\":%.3f,\"peer\":false,\"note\":\"%llu live blocks: "
         "%.1f MiB asked, %.1f MiB usable, %.1f MiB of pages\"}\n",
         ops, (double)asked_total / (double)stats.reserved, (unsigned long long)stats.allocations,
         (double)asked_total / 1048576.0, (double)stats.in_use / 1048576.0, (double)stats.reserved / 1048576.0);
  /* The wide workload, in a fresh heap. */
  ipc_heap_close(heap);
  ipc_segment_close(heap_seg);
  if ((rc = ipc_heap_create(NULL, 0, 0, 4ULL << 30, &heap_seg, &heap)) != IPC_OK) die("create", rc);
  enum { WIDE = 8000 };
  static uint64_t wide[WIDE], wide_asked[WIDE];
  asked_total = 0;
  double worst = 1.0;
  for (long op = 1; op <= ops; op++) {
    int i = (int)(lcg(&state) % WIDE);
    if (wide[i] != 0) {
      if ((rc = ipc_heap_free(heap, wide[i])) != IPC_OK) die("free", rc);
      wide[i] = 0;
      asked_total -= wide_asked[i];
    } else {
      unsigned log = 4 + (unsigned)(lcg(&state) % 14);
      wide_asked[i] = (1ULL << log) + lcg(&state) % (1ULL << log);
      if ((rc = ipc_heap_malloc(heap, wide_asked[i], &wide[i])) != IPC_OK) die("malloc", rc);
      asked_total += wide_asked[i];
    }
    if (op % (ops / 20) == 0 && op >= ops / 10) {
      if ((rc = ipc_heap_check(heap, &stats, &problem)) != IPC_OK) die(problem, rc);
      double ratio = (double)asked_total / (double)stats.reserved;
      if (ratio < worst) worst = ratio;
    }
  }
  printf("{\"case\":\"heap fragmentation, worst of 19 checkpoints over %ld random ops, 16 B-256 KiB\",\"tool\":\"C libipc "
         "ipc_heap\",\"unit\":\"bytes asked / bytes of pages\",\"value\":%.3f,\"peer\":false,\"note\":\"at the end: "
         "%llu live blocks, %.1f MiB asked, %.1f MiB usable, %.1f MiB of pages\"}\n",
         ops, worst, (unsigned long long)stats.allocations, (double)asked_total / 1048576.0,
         (double)stats.in_use / 1048576.0, (double)stats.reserved / 1048576.0);
  ipc_heap_close(heap);
  ipc_segment_close(heap_seg);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "fragmentation") == 0) return fragmentation(argc > 2 ? atol(argv[2]) : 5000000);
  if (argc < 3) {
    fprintf(stderr, "usage: ipc-bench-heap <64|mixed> <processes> [ops] | glibc <64|mixed>\n");
    return 64;
  }
  if (strcmp(argv[1], "glibc") == 0) {
    int mixed = strcmp(argv[2], "mixed") == 0;
    long ops = 20000000;
    work_glibc(ops / 10, mixed);
    uint64_t t = now_ns();
    work_glibc(ops, mixed);
    double mops = (double)ops / ((double)(now_ns() - t) / 1e9) / 1e6;
    printf("{\"case\":\"heap malloc+free %s, 1 process\",\"tool\":\"C glibc malloc (private)\",\"unit\":\"Mops/s\","
           "\"value\":%.3f,\"peer\":true}\n",
           mixed ? "mixed 16 B-64 KiB" : "64 B", mops);
    return 0;
  }
  int mixed = strcmp(argv[1], "mixed") == 0;
  int processes = atoi(argv[2]);
  long ops = argc > 3 ? atol(argv[3]) : (mixed ? 4000000 : 20000000);
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
  uint64_t t = now_ns();
  __atomic_store_n(go, 1, __ATOMIC_RELEASE);
  for (int p = 0; p < processes; p++) {
    int status;
    waitpid(pids[p], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child", IPC_EIO);
  }
  double mops = (double)ops * processes / ((double)(now_ns() - t) / 1e9) / 1e6;
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  if ((rc = ipc_heap_check(heap, &stats, &problem)) != IPC_OK) {
    fprintf(stderr, "ipc-bench-heap: check: %s\n", problem);
    return 1;
  }
  printf("{\"case\":\"heap malloc+free %s, %d process%s\",\"tool\":\"C libipc ipc_heap\",\"unit\":\"Mops/s\","
         "\"value\":%.3f,\"peer\":false}\n",
         mixed ? "mixed 16 B-64 KiB" : "64 B", processes, processes == 1 ? "" : "es", mops);
  ipc_heap_close(heap);
  ipc_segment_close(heap_seg);
  return 0;
}
