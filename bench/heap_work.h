/* The heap group's workloads, shared by every allocator measured (bench/heap.c for libipc,
 * bench/heap_peers.c for glibc, jemalloc and mimalloc, bench/heap_boost.cpp for Boost.Interprocess),
 * so that each runs the same requests in the same order and prints the same case names. Plain C
 * that also compiles as C++.
 *
 * Two kinds of workload:
 *   rounds      1 000 mallocs then 1 000 frees, repeated (PEERS.md's op: one malloc or one free);
 *               sizes 64 B, or "mixed" (7/8 of them 16 B-1 KiB, the rest up to 64 KiB).
 *   random      each op picks a random slot and frees its block, or allocates one if it is empty,
 *               so that the live set hovers around half the slots; a new block gets one byte
 *               written every 4 KiB (its pages are touched, as a program's would be). "mixed":
 *               20 000 slots of the rounds' mixed sizes, measured at the end; "wide": 8 000 slots
 *               of 16 B-256 KiB log-uniform sizes (tests/c/test_heap.c's fragmentation test),
 *               measured at 19 checkpoints (every 1/20 of the run after the first 1/10) and the
 *               worst kept. Reported: the bytes the live blocks asked for over the allocator's own
 *               count of the bytes of pages it holds for them (`pages`, described per allocator in
 *               `pages_note`), the same over the growth of this process's resident set since the
 *               workload began (the one measure every allocator shares), and Mops/s (the clock
 *               stops during the measurements). */
#ifndef IPC_BENCH_HEAP_WORK_H
#define IPC_BENCH_HEAP_WORK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_allocator {
  const char *tool;       /* the row's tool, e.g. "C glibc malloc (private)" */
  int peer;               /* 1 for a peer row */
  void *(*alloc)(size_t); /* NULL when the allocator is out of memory */
  void (*release)(void *);
  uint64_t (*pages)(void); /* the allocator's own count of the bytes of pages its blocks hold; NULL
                            * for one without pages (its ratio row is left out) */
  const char *pages_note;  /* what `pages` counts, for the row's notes */
} bench_allocator;

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_lcg(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return *state >> 33;
}

/* The rounds' size: 64, or mixed (7/8 of them 16 B-1 KiB, the rest 16 B-64 KiB). */
static inline uint64_t bench_next_size(uint64_t *state, int mixed) {
  if (!mixed) return 64;
  uint64_t r = bench_lcg(state);
  if (r % 8 != 0) return 16 + r % 1009;
  return 16 + r % 65521;
}

/* This process's resident bytes (shared pages it touched included), from /proc/self/statm. */
static inline uint64_t bench_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  if (f != NULL) {
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static inline const char *bench_sizes(int mixed) { return mixed ? "mixed 16 B-64 KiB" : "64 B"; }

/* Prints the rounds' row for `processes` processes that ran `ops` ops each in `ns`. */
static inline void bench_print_rounds(const bench_allocator *a, int mixed, int processes, long ops, uint64_t ns) {
  printf("{\"case\":\"heap malloc+free %s, %d process%s\",\"tool\":\"%s\",\"unit\":\"Mops/s\",\"value\":%.3f,"
         "\"peer\":%s}\n",
         bench_sizes(mixed), processes, processes == 1 ? "" : "es", a->tool,
         (double)ops * processes / ((double)ns / 1e9) / 1e6, a->peer ? "true" : "false");
}

/* Writes one byte every 4 KiB of a new block, so that its pages are resident. */
static inline void bench_touch(void *p, uint64_t size) {
  volatile char *c = (volatile char *)p;
  for (uint64_t at = 0; at < size; at += 4096) c[at] = 1;
  c[size - 1] = 1;
}

/* The random workload (see the top of this file); exits with a message when the allocator fails. */
static inline void bench_random(const bench_allocator *a, int wide, long ops) {
  const long slots = wide ? 8000 : 20000;
  void **live = (void **)calloc((size_t)slots, sizeof(void *));
  uint64_t *asked = (uint64_t *)calloc((size_t)slots, sizeof(uint64_t));
  if (live == NULL || asked == NULL) exit(1);
  uint64_t state = 7, asked_total = 0, blocks = 0, timed_ns = 0;
  double worst_pages = 1e9, worst_rss = 1e9;
  uint64_t at_pages = 0, at_rss = 0;
  const uint64_t rss_base = bench_rss(), pages_base = a->pages != NULL ? a->pages() : 0;
  uint64_t t = bench_now_ns();
  for (long op = 1; op <= ops; op++) {
    long i;
    uint64_t size;
    if (wide) {
      i = (long)(bench_lcg(&state) % (uint64_t)slots);
      unsigned log = 4 + (unsigned)(bench_lcg(&state) % 14);
      size = (1ULL << log) + bench_lcg(&state) % (1ULL << log);
    } else {
      size = bench_next_size(&state, 1);
      i = (long)((state >> 20) % (uint64_t)slots);
    }
    if (live[i] != NULL) {
      a->release(live[i]);
      live[i] = NULL;
      asked_total -= asked[i];
      blocks--;
    } else {
      if ((live[i] = a->alloc(size)) == NULL) {
        fprintf(stderr, "%s: out of memory after %ld ops\n", a->tool, op);
        exit(1);
      }
      bench_touch(live[i], size);
      asked[i] = size;
      asked_total += size;
      blocks++;
    }
    int last = op == ops;
    int checkpoint = wide ? (op % (ops / 20) == 0 && op >= ops / 10) : last;
    if (checkpoint) {
      timed_ns += bench_now_ns() - t;
      at_pages = a->pages != NULL ? a->pages() - pages_base : 1;
      at_rss = bench_rss() - rss_base;
      double by_pages = (double)asked_total / (double)at_pages, by_rss = (double)asked_total / (double)at_rss;
      if (by_pages < worst_pages) worst_pages = by_pages;
      if (by_rss < worst_rss) worst_rss = by_rss;
      t = bench_now_ns();
    }
  }
  const char *what = wide ? "16 B-256 KiB, 8 000 slots, worst of 19 checkpoints" : "mixed 16 B-64 KiB, 20 000 slots, at the end";
  if (a->pages != NULL)
    printf("{\"case\":\"heap random ops %s: live bytes / bytes of pages (the allocator's count)\",\"tool\":\"%s\","
         "\"unit\":\"ratio\",\"value\":%.3f,\"peer\":%s,\"note\":\"%s; at the end %llu live blocks, %.1f MiB "
         "asked, %.1f MiB of pages\"}\n",
         what, a->tool, worst_pages, a->peer ? "true" : "false", a->pages_note, (unsigned long long)blocks,
         (double)asked_total / 1048576.0, (double)at_pages / 1048576.0);
  printf("{\"case\":\"heap random ops %s: live bytes / resident set growth\",\"tool\":\"%s\",\"unit\":\"ratio\","
         "\"value\":%.3f,\"peer\":%s,\"note\":\"at the end %.1f MiB asked, resident set grown by %.1f MiB\"}\n",
         what, a->tool, worst_rss, a->peer ? "true" : "false", (double)asked_total / 1048576.0,
         (double)at_rss / 1048576.0);
  printf("{\"case\":\"heap random ops %s: throughput (%ld ops, 1 process)\",\"tool\":\"%s\",\"unit\":\"Mops/s\","
         "\"value\":%.3f,\"peer\":%s}\n",
         what, ops, a->tool, (double)ops / ((double)timed_ns / 1e9) / 1e6, a->peer ? "true" : "false");
  for (long i = 0; i < slots; i++)
    if (live[i] != NULL) a->release(live[i]);
  free(live);
  free(asked);
}

#endif
