/* The shared heap's C callbacks as a complete allocator set: C semantics for size 0 and
 * realloc(p, 0), calloc, aligned_alloc, usable size and round-up agreeing with each other, and misuse
 * (double frees, pointers inside a block, foreign pointers) counted instead of ignored, or aborting
 * the process when the view asked for that. The aborting view is a child: this program run again in
 * a role (tests/c/proc.h) on the heap it opens by name, so the test runs on Windows (under Wine) as
 * on Linux. */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "proc.h"

static void *(*alloc_fn)(void *, size_t) = ipc_heap_alloc_fn;
static void *(*calloc_fn)(void *, size_t, size_t) = ipc_heap_calloc_fn;
static void *(*aligned_fn)(void *, size_t, size_t) = ipc_heap_aligned_alloc_fn;
static void *(*realloc_fn)(void *, void *, size_t) = ipc_heap_realloc_fn;
static void (*free_fn)(void *, void *) = ipc_heap_free_fn;
static size_t (*usable_fn)(void *, const void *) = ipc_heap_usable_size_fn;
static size_t (*round_up_fn)(void *, size_t) = ipc_heap_round_up_fn;

static uint64_t allocations(ipc_heap_t *heap) {
  ipc_heap_stats_t stats;
  const char *problem = NULL;
  int32_t rc = ipc_heap_check(heap, &stats, &problem);
  if (rc != IPC_OK) fprintf(stderr, "heap check: %s\n", problem ? problem : "?");
  CHECK(rc == IPC_OK);
  return stats.allocations;
}

static uint64_t misuses(ipc_heap_t *heap) {
  uint64_t n = 99;
  CHECK_RC(ipc_heap_misuses(heap, &n), IPC_OK);
  return n;
}

static void c_semantics(ipc_heap_t *heap) {
  /* Size 0: unique blocks that can be freed. */
  void *a = alloc_fn(heap, 0), *b = alloc_fn(heap, 0);
  CHECK(a != NULL && b != NULL && a != b);
  CHECK(usable_fn(heap, a) >= 1 && usable_fn(heap, a) == round_up_fn(heap, 0));
  void *c = calloc_fn(heap, 0, 5), *d = aligned_fn(heap, 64, 0), *e = realloc_fn(heap, NULL, 0);
  CHECK(c != NULL && d != NULL && e != NULL && (uintptr_t)d % 64 == 0);
  CHECK(allocations(heap) == 5);
  free_fn(heap, a);
  free_fn(heap, b);
  free_fn(heap, c);
  free_fn(heap, d);
  free_fn(heap, e);
  free_fn(heap, NULL); /* as free(NULL) */
  CHECK(allocations(heap) == 0);
  /* realloc(p, 0) frees p and returns NULL (glibc's choice). */
  char *text = alloc_fn(heap, 100);
  CHECK(text != NULL);
  CHECK(realloc_fn(heap, text, 0) == NULL);
  CHECK(allocations(heap) == 0);
  /* A realloc that cannot be served leaves the block allocated and intact. */
  text = alloc_fn(heap, 100);
  memcpy(text, "kept", 5);
  CHECK(realloc_fn(heap, text, (size_t)1 << 40) == NULL);
  CHECK(strcmp(text, "kept") == 0 && usable_fn(heap, text) >= 100);
  free_fn(heap, text);
  /* calloc zero-fills (over bytes a previous block left dirty) and refuses an overflowing product. */
  char *dirty = alloc_fn(heap, 3000);
  memset(dirty, 0xab, 3000);
  free_fn(heap, dirty);
  unsigned char *zeroed = calloc_fn(heap, 100, 30);
  CHECK(zeroed != NULL);
  for (int i = 0; i < 3000; i++) CHECK(zeroed[i] == 0);
  free_fn(heap, zeroed);
  CHECK(calloc_fn(heap, SIZE_MAX / 2, 3) == NULL);
  /* aligned_alloc: C11's order, powers of two up to IPC_HEAP_ALIGNMENT_MAX. */
  for (size_t alignment = 1; alignment <= IPC_HEAP_ALIGNMENT_MAX; alignment *= 2) {
    void *p = aligned_fn(heap, alignment, 100);
    CHECK(p != NULL && (uintptr_t)p % alignment == 0);
    free_fn(heap, p);
  }
  CHECK(aligned_fn(heap, 48, 100) == NULL);
  CHECK(aligned_fn(heap, 2 * IPC_HEAP_ALIGNMENT_MAX, 100) == NULL);
  CHECK(misuses(heap) == 0); /* bad arguments are no misuse of a pointer */
  CHECK(allocations(heap) == 0);
}

/* round_up(n) is exactly the usable size malloc(n) gets, for every size up to 300 KiB (every class
 * boundary and page boundary of the heap), and it is never below n. */
static void round_up_agrees(ipc_heap_t *heap) {
  for (size_t n = 0; n <= 300 * 1024; n += n < 4096 ? 1 : 61) {
    void *p = alloc_fn(heap, n);
    CHECK(p != NULL);
    size_t want = round_up_fn(heap, n), got = usable_fn(heap, p);
    if (want != got || got < n) fprintf(stderr, "size %zu: round_up %zu, usable %zu\n", n, want, got);
    CHECK(want == got && got >= n);
    uint64_t checked_size;
    CHECK_RC(ipc_heap_round_up(heap, n, &checked_size), IPC_OK);
    CHECK(checked_size == want);
    free_fn(heap, p);
  }
  uint64_t size;
  CHECK_RC(ipc_heap_round_up(heap, 1ULL << 40, &size), IPC_ERANGE);
  CHECK(round_up_fn(heap, (size_t)1 << 40) == 0);
  CHECK(usable_fn(heap, NULL) == 0);
}

/* Double frees, pointers inside a block, pointers outside the heap and another heap's blocks are
 * counted (per view) and never obeyed. */
static void misuse_counted(ipc_heap_t *heap, ipc_heap_t *other) {
  CHECK(misuses(heap) == 0);
  char *a = alloc_fn(heap, 40), *keep = alloc_fn(heap, 40);
  char *big = alloc_fn(heap, 100000);
  free_fn(heap, a);
  free_fn(heap, a); /* double free */
  CHECK(misuses(heap) == 1);
  free_fn(heap, keep + 8); /* inside a block */
  free_fn(heap, big + 4096);
  CHECK(misuses(heap) == 3);
  int local;
  free_fn(heap, &local); /* outside the heap */
  char *theirs = alloc_fn(other, 40);
  free_fn(heap, theirs); /* another heap's block */
  CHECK(misuses(heap) == 5);
  CHECK(usable_fn(heap, a) == 0 && misuses(heap) == 6);
  CHECK(realloc_fn(heap, a, 80) == NULL && misuses(heap) == 7);
  CHECK(realloc_fn(heap, &local, 80) == NULL && misuses(heap) == 8);
  CHECK(misuses(other) == 0);
  CHECK(allocations(heap) == 2 && allocations(other) == 1); /* nothing was freed by the misuses */
  /* The handle functions report the same cases as results and do not count them. */
  uint64_t handle;
  CHECK_RC(ipc_heap_handle(heap, keep, &handle), IPC_OK);
  CHECK_RC(ipc_heap_free(heap, handle + 8), IPC_EINVAL);
  CHECK(misuses(heap) == 8);
  free_fn(heap, keep);
  free_fn(heap, big);
  free_fn(other, theirs);
  CHECK(allocations(heap) == 0 && misuses(heap) == 8);
  CHECK_RC(ipc_heap_on_misuse(heap, 7), IPC_EINVAL);
  CHECK_RC(ipc_heap_on_misuse(NULL, IPC_HEAP_MISUSE_ABORT), IPC_EINVAL);
  CHECK_RC(ipc_heap_misuses(heap, NULL), IPC_EINVAL);
}

/* The child of misuse_aborts: opens the heap by name, asks its view to abort on misuse and frees a
 * block twice. Not reaching the abort is exit code 3 on POSIX; on Windows 3 is the abort itself
 * (ExitProcess(3)), so there the child says it was not reached with 4. */
static int double_free(const char *name) {
  ipc_segment_t *seg = NULL;
  ipc_heap_t *heap = NULL;
  if (ipc_segment_open(name, 0, &seg) != IPC_OK || ipc_heap_attach(seg, &heap) != IPC_OK) return 2;
  if (ipc_heap_on_misuse(heap, IPC_HEAP_MISUSE_ABORT) != IPC_OK) return 2;
  void *p = alloc_fn(heap, 24);
  free_fn(heap, p);
  fprintf(stderr, "(test_heap_callbacks: a double free on purpose; an abort message follows)\n");
  free_fn(heap, p);
  return 4; /* not reached */
}

/* With IPC_HEAP_MISUSE_ABORT a double free aborts the process (here a child), after a description
 * on stderr; a correct free does not. */
static void misuse_aborts(ipc_heap_t *heap, const char *name) {
  fflush(NULL);
  proc_t child = proc_spawn("double-free", name);
  CHECK(proc_expect(&child, 120LL * 1000000000LL, PROC_ABORTED, "double free"));
  CHECK(misuses(heap) == 8); /* the child's view counted its own */
  CHECK(allocations(heap) == 0);
}

/* Without arguments, runs the test; `double-free <heap name>` is misuse_aborts's child. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3 && strcmp(argv[1], "double-free") == 0) return double_free(argv[2]);
#ifndef _WIN32
  alarm(120);
#endif
  ipc_heap_t *heap, *other;
  ipc_segment_t *heap_seg, *other_seg;
  char name[32];
  proc_segment_name(name, sizeof name, "tcb");
  CHECK_RC(ipc_heap_create(name, 0, 0, 16 << 20, &heap_seg, &heap), IPC_OK);
  CHECK_RC(ipc_heap_create(NULL, 0, 0, 1 << 20, &other_seg, &other), IPC_OK);
  c_semantics(heap);
  round_up_agrees(heap);
  misuse_counted(heap, other);
  misuse_aborts(heap, name);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_heap_close(other), IPC_OK);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(other_seg), IPC_OK);
  CHECK_RC(ipc_segment_close(heap_seg), IPC_OK);
  printf("test_heap_callbacks: ok\n");
  return 0;
}
