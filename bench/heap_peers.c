/* The heap group's private-memory peers: the workloads of bench/heap_work.h on glibc's malloc,
 * jemalloc or mimalloc (Debian's packages, unpacked by scripts/debs.mjs), one JSON line per case.
 * bench/run.ts compiles this once per allocator with the pinned Zig's C compiler:
 *   -DPEER_GLIBC      glibc malloc/free; its count of pages is mallinfo2's arena + hblkhd (the bytes
 *                     it holds from the system: free chunks inside the arena count, as they stay
 *                     resident)
 *   -DPEER_JEMALLOC   libjemalloc.a linked in (it replaces malloc/free); its count is mallctl
 *                     "stats.active" (pages of active extents, dirty free pages not counted)
 *   -DPEER_MIMALLOC   libmimalloc.so linked by path (run path set), called as mi_malloc/mi_free; its
 *                     count is mi_process_info's current_rss: Debian's release build keeps no page
 *                     statistics (its commit count stays below the live bytes)
 * Every count is taken as a difference from the workload's start, one workload per process (a
 * second workload in the same process would start on the first's freed memory).
 *   ipc-bench-heap-<peer> <64|mixed> <processes> [ops per process]
 *       `processes` forked processes, each with its own private allocator, run the rounds at once:
 *       what no sharing costs, the bound for a shared heap.
 *   ipc-bench-heap-<peer> fragmentation <mixed|wide> [ops]
 *       one of the random workloads. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap_work.h"

#if defined(PEER_GLIBC)
static void *peer_alloc(size_t size) { return malloc(size); }
static void peer_release(void *p) { free(p); }
static uint64_t peer_pages(void) {
  struct mallinfo2 info = mallinfo2();
  return (uint64_t)info.arena + (uint64_t)info.hblkhd;
}
#define PEER_TOOL "C glibc malloc (private)"
#define PEER_PAGES "glibc mallinfo2 arena + hblkhd: bytes held from the system, free chunks included"
#elif defined(PEER_JEMALLOC)
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
static void *peer_alloc(size_t size) { return malloc(size); }
static void peer_release(void *p) { free(p); }
static uint64_t peer_pages(void) {
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len); /* refreshes the statistics */
  size_t active = 0;
  len = sizeof(active);
  if (mallctl("stats.active", &active, &len, NULL, 0) != 0) return 0;
  return active;
}
#define PEER_TOOL "C jemalloc 5.3 (private)"
#define PEER_PAGES "jemalloc stats.active: pages of active extents, dirty free pages not counted"
#elif defined(PEER_MIMALLOC)
void *mi_malloc(size_t size);
void mi_free(void *p);
void mi_process_info(size_t *elapsed_msecs, size_t *user_msecs, size_t *system_msecs, size_t *current_rss,
                     size_t *peak_rss, size_t *current_commit, size_t *peak_commit, size_t *page_faults);
static void *peer_alloc(size_t size) { return mi_malloc(size); }
static void peer_release(void *p) { mi_free(p); }
static uint64_t peer_pages(void) {
  size_t elapsed, user, sys, rss = 0, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
  return rss;
}
#define PEER_TOOL "C mimalloc 2.0 (private)"
#define PEER_PAGES "mimalloc mi_process_info current_rss (Debian's release build keeps no page statistics: its commit count stays below the live bytes)"
#else
#error "define PEER_GLIBC, PEER_JEMALLOC or PEER_MIMALLOC"
#endif

static const bench_allocator peer = {PEER_TOOL, 1, peer_alloc, peer_release, peer_pages, PEER_PAGES};

enum { ROUND = 1000 };

static void work(long ops, int mixed, uint64_t seed) {
  void *blocks[ROUND];
  uint64_t state = seed;
  for (long done = 0; done < ops; done += 2 * ROUND) {
    for (int i = 0; i < ROUND; i++)
      if ((blocks[i] = peer_alloc(bench_next_size(&state, mixed))) == NULL) exit(1);
    for (int i = 0; i < ROUND; i++) peer_release(blocks[i]);
  }
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "fragmentation") == 0) {
    if (argc < 3) return 64;
    bench_random(&peer, strcmp(argv[2], "wide") == 0, argc > 3 ? atol(argv[3]) : 5000000);
    return 0;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: ipc-bench-heap-peer <64|mixed> <processes> [ops] | fragmentation <mixed|wide> [ops]\n");
    return 64;
  }
  int mixed = strcmp(argv[1], "mixed") == 0;
  int processes = atoi(argv[2]);
  long ops = argc > 3 ? atol(argv[3]) : (mixed ? 4000000 : 20000000);
  if (processes < 1 || processes > 64) return 64;
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) return 1;
  pid_t pids[64];
  for (int p = 0; p < processes; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      close(go[1]); /* only the parent holds the write end, so that closing it starts every child */
      work(ops / 20, mixed, 99); /* warm-up in the child: its own allocator's pages exist first */
      char c = 0;
      if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0) _exit(1);
      work(ops, mixed, (uint64_t)p + 1);
      _exit(0);
    }
  }
  char c;
  for (int p = 0; p < processes; p++)
    if (read(ready[0], &c, 1) != 1) return 1;
  uint64_t t = bench_now_ns();
  close(go[1]); /* every child's read returns at once */
  for (int p = 0; p < processes; p++) {
    int status;
    waitpid(pids[p], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
  bench_print_rounds(&peer, mixed, processes, ops, bench_now_ns() - t);
  return 0;
}
