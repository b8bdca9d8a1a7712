/* The heap's footprint under a real C library: Debian's Lua 5.4 (liblua5.4.a, unmodified) runs one
 * deterministic script on glibc's malloc and on a libipc heap through lua_newstate's allocator
 * callback (ipc_heap_realloc_fn / ipc_heap_free_fn with the heap as context). bench/run.ts builds
 * this with the pinned Zig's C compiler after scripts/debs.mjs unpacked liblua5.4-dev.
 *
 *   ipc-bench-heap-lua [rounds]     (default 4 000)
 *
 * The script churns strings and tables: each round replaces one of 600 slots with a string of
 * 16 KiB-256 KiB (log-uniform; string.rep grows a buffer by doubling, so each string also makes
 * mid-size buffers that die at once), or a table of 50-250 small strings built by appending (array
 * resizes), or a hash table of string keys (hash resizes), or empties it. Lua's own collector
 * (incremental, default pause) decides when garbage goes, and it counts requested bytes only, so
 * both allocators see the same requests in the same order.
 *
 * Every run is a forked child, so that each starts from a fresh process. Measured:
 *   glibc       the peak growth of the resident set (VmHWM after resetting it through
 *               /proc/self/clear_refs, less VmRSS at the start) and the peak of mallinfo2's
 *               arena + hblkhd (sampled every 1 024 allocator calls); the larger is glibc's
 *               footprint.
 *   libipc      the smallest heap size (ipc_heap_create's size_bytes, bookkeeping included) in
 *               which the script completes, by bisection to 1 MiB: a run that fails gets LUA_ERRMEM
 *               from the heap's ENOMEM. Then one run in a heap of twice that size samples
 *               ipc_heap_check every 1 024 calls and reports, at the sample where `reserved` (bytes
 *               of pages holding blocks) peaked, the live blocks per size class (ipc_heap_round_up
 *               of the requested size): how many, the bytes asked, the bytes they use, so that the
 *               waste inside blocks shows per class and the rest (reserved less the blocks' usable
 *               bytes: empty slots of class pages and runs) as one figure.
 * Prints the JSON rows of bench/report.ts and, on stderr, the per-class table. */
#define _GNU_SOURCE
#include "ipc.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char script[] =
    "local rounds = ...\n"
    "local seed = 12345\n"
    "local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end\n"
    "local slots, keep, sum = 600, {}, 0\n"
    "for round = 1, rounds do\n"
    "  local i, r = rand(slots) + 1, rand(100)\n"
    "  if r < 55 then\n"
    "    local base = 16384 << rand(4)\n"
    "    local s = string.rep('x', base + rand(base) - 24) .. tostring(round)\n"
    "    keep[i] = s; sum = sum + #s\n"
    "  elseif r < 75 then\n"
    "    local t = {}\n"
    "    for k = 1, 50 + rand(200) do t[#t + 1] = 'k' .. k .. ':' .. round end\n"
    "    keep[i] = t; sum = sum + #t\n"
    "  elseif r < 90 then\n"
    "    local h = {}\n"
    "    for k = 1, 20 + rand(300) do h['key' .. k .. '/' .. round] = k end\n"
    "    keep[i] = h\n"
    "  else\n"
    "    keep[i] = nil\n"
    "  end\n"
    "end\n"
    "return sum\n";

enum { CLASSES = 128 }; /* distinct block sizes tracked (the heap has 52 classes; larger blocks round to pages) */

/* What a child reports to its parent through a shared anonymous page. */
typedef struct {
  int status; /* 0 completed, 1 out of memory, 2 another failure */
  double seconds;
  uint64_t asked_peak; /* the most requested bytes live at once */
  uint64_t rss_peak;   /* peak resident growth */
  uint64_t info_peak;  /* glibc: peak mallinfo2 arena + hblkhd; libipc: peak reserved */
  long long result;    /* the script's return value, the same for both allocators */
  uint64_t class_size[CLASSES], class_blocks[CLASSES], class_asked[CLASSES]; /* at the peak of reserved */
  uint64_t peak_in_use;
} report_t;

static report_t *shared;

/* Live requested bytes and, for libipc's profile run, the live blocks per class. */
static uint64_t asked_live, calls;
static uint64_t live_size[CLASSES], live_blocks[CLASSES], live_asked[CLASSES];
static ipc_heap_t *heap;
static int profile;

static uint64_t status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kib = 0;
  size_t n = strlen(field);
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, field, n) == 0) kib = strtoull(line + n, NULL, 10);
  if (f != NULL) fclose(f);
  return kib * 1024;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int class_index(uint64_t size) {
  size_t usable = ipc_heap_round_up_fn(heap, size);
  for (int c = 0; c < CLASSES; c++) {
    if (live_size[c] == usable) return c;
    if (live_size[c] == 0) {
      live_size[c] = usable;
      return c;
    }
  }
  return CLASSES - 1; /* never reached: the heap has 52 classes, and large blocks round to pages */
}

static void account(void *ptr, size_t osize, size_t nsize, int ok) {
  if (!ok) return;
  if (ptr != NULL) asked_live -= osize; /* osize is the block's size only when ptr is not NULL */
  asked_live += nsize;
  if (asked_live > shared->asked_peak) shared->asked_peak = asked_live;
  if (heap != NULL && profile) {
    if (ptr != NULL) {
      int c = class_index(osize);
      live_blocks[c]--;
      live_asked[c] -= osize;
    }
    if (nsize != 0) {
      int c = class_index(nsize);
      live_blocks[c]++;
      live_asked[c] += nsize;
    }
  }
  if (++calls % 1024 != 0) return;
  if (heap == NULL) {
    struct mallinfo2 info = mallinfo2();
    uint64_t held = (uint64_t)info.arena + (uint64_t)info.hblkhd;
    if (held > shared->info_peak) shared->info_peak = held;
  } else if (profile) {
    ipc_heap_stats_t stats;
    if (ipc_heap_check(heap, &stats, NULL) != IPC_OK) _exit(2);
    if (stats.reserved > shared->info_peak) {
      shared->info_peak = stats.reserved;
      shared->peak_in_use = stats.in_use;
      memcpy(shared->class_size, live_size, sizeof live_size);
      memcpy(shared->class_blocks, live_blocks, sizeof live_blocks);
      memcpy(shared->class_asked, live_asked, sizeof live_asked);
    }
  }
}

static void *glibc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  void *p = NULL;
  if (nsize == 0)
    free(ptr);
  else
    p = realloc(ptr, nsize);
  account(ptr, osize, nsize, nsize == 0 || p != NULL);
  return p;
}

static void *ipc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  void *p = NULL;
  if (nsize == 0)
    ipc_heap_free_fn(ud, ptr);
  else
    p = ipc_heap_realloc_fn(ud, ptr, nsize);
  account(ptr, osize, nsize, nsize == 0 || p != NULL);
  return p;
}

/* Runs the script in this (child) process on glibc (heap_size 0) or in a fresh heap. */
static void run(uint64_t heap_size, long rounds) {
  ipc_segment_t *segment = NULL;
  if (heap_size != 0 && ipc_heap_create(NULL, 0, 0, heap_size, &segment, &heap) != IPC_OK) _exit(2);
  FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5" resets VmHWM to the current resident set */
  if (f != NULL) {
    fputs("5", f);
    fclose(f);
  }
  uint64_t rss_start = status_kib("VmRSS:");
  double t = now_s();
  lua_State *L = heap_size != 0 ? lua_newstate(ipc_alloc, heap) : lua_newstate(glibc_alloc, NULL);
  if (L == NULL) _exit(1);
  luaL_openlibs(L);
  int rc = luaL_loadstring(L, script);
  if (rc == LUA_OK) {
    lua_pushinteger(L, rounds);
    rc = lua_pcall(L, 1, 1, 0);
  }
  if (rc == LUA_OK) shared->result = (long long)lua_tointeger(L, -1);
  if (rc != LUA_OK && rc != LUA_ERRMEM) fprintf(stderr, "ipc-bench-heap-lua: %s\n", lua_tostring(L, -1));
  lua_close(L);
  shared->seconds = now_s() - t;
  shared->rss_peak = status_kib("VmHWM:") - rss_start;
  if (heap != NULL) {
    const char *problem = NULL;
    uint64_t misuses = 0;
    if (ipc_heap_check(heap, NULL, &problem) != IPC_OK || ipc_heap_misuses(heap, &misuses) != IPC_OK || misuses != 0) {
      fprintf(stderr, "ipc-bench-heap-lua: heap check: %s, %llu misuses\n", problem ? problem : "",
              (unsigned long long)misuses);
      _exit(2);
    }
  }
  shared->status = rc == LUA_OK ? 0 : rc == LUA_ERRMEM ? 1 : 2;
  _exit(0);
}

/* One run in a forked child; returns its status (0 completed, 1 out of memory). */
static int child(uint64_t heap_size, long rounds, int with_profile) {
  memset(shared, 0, sizeof *shared);
  shared->status = 2;
  pid_t pid = fork();
  if (pid == 0) {
    profile = with_profile;
    run(heap_size, rounds);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "ipc-bench-heap-lua: the run in a heap of %llu bytes failed\n", (unsigned long long)heap_size);
    exit(1);
  }
  if (shared->status == 2) exit(1);
  return shared->status;
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 4000;
  shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 1;
  const double MiB = 1048576.0;

  if (child(0, rounds, 0) != 0) return 1;
  report_t glibc = *shared;
  uint64_t footprint = glibc.rss_peak > glibc.info_peak ? glibc.rss_peak : glibc.info_peak;

  /* Bisection: `low` fails (or is below anything useful), `high` completes. */
  uint64_t step = 1 << 20, low = glibc.asked_peak / step * step, high = 4 * footprint / step * step;
  if (low < IPC_HEAP_SIZE_MIN) low = IPC_HEAP_SIZE_MIN;
  while (child(high, rounds, 0) != 0) high *= 2;
  report_t fits = *shared;
  while (high - low > step) {
    uint64_t mid = (low + high) / 2 / step * step;
    if (mid <= low) break;
    if (child(mid, rounds, 0) == 0) {
      high = mid;
      fits = *shared;
    } else {
      low = mid;
    }
  }
  if (fits.result != glibc.result) {
    fprintf(stderr, "ipc-bench-heap-lua: the script's results differ (%lld, %lld)\n", fits.result, glibc.result);
    return 1;
  }
  if (child(2 * high, rounds, 1) != 0) return 1;
  report_t prof = *shared;

  fprintf(stderr, "Lua on libipc, live blocks per size class at the peak of reserved (%.1f MiB):\n",
          prof.info_peak / MiB);
  fprintf(stderr, "%10s %8s %10s %10s %10s %6s\n", "class", "blocks", "asked MiB", "usable MiB", "waste MiB", "waste");
  uint64_t usable_total = 0, asked_total = 0;
  for (int a = 0; a < CLASSES; a++) /* by size: the classes were numbered in order of first use */
    for (int b = a + 1; b < CLASSES; b++)
      if (prof.class_size[b] != 0 && (prof.class_size[a] == 0 || prof.class_size[b] < prof.class_size[a])) {
        uint64_t *columns[] = {prof.class_size, prof.class_blocks, prof.class_asked};
        for (int k = 0; k < 3; k++) {
          uint64_t swap = columns[k][a];
          columns[k][a] = columns[k][b];
          columns[k][b] = swap;
        }
      }
  for (int c = 0; c < CLASSES; c++) {
    if (prof.class_size[c] == 0 || prof.class_blocks[c] == 0) continue;
    uint64_t usable = prof.class_size[c] * prof.class_blocks[c];
    usable_total += usable;
    asked_total += prof.class_asked[c];
    if (usable < 256 * 1024) continue; /* classes holding less than 256 KiB are summed only */
    fprintf(stderr, "%10llu %8llu %10.2f %10.2f %10.2f %5.1f%%\n", (unsigned long long)prof.class_size[c],
            (unsigned long long)prof.class_blocks[c], prof.class_asked[c] / MiB, usable / MiB,
            (usable - prof.class_asked[c]) / MiB, 100.0 * (double)(usable - prof.class_asked[c]) / (double)usable);
  }
  fprintf(stderr, "all classes: %.2f MiB asked, %.2f MiB usable (%.1f%% inside blocks); reserved less usable "
                  "(empty slots of class pages and runs): %.2f MiB\n",
          asked_total / MiB, usable_total / MiB, 100.0 * (double)(usable_total - asked_total) / (double)usable_total,
          ((double)prof.info_peak - (double)usable_total) / MiB);
  printf("{\"case\":\"Lua 5.4 string/table churn (%ld rounds): footprint\",\"tool\":\"C glibc malloc (private)\","
         "\"unit\":\"MiB\",\"value\":%.1f,\"peer\":true,\"note\":\"the larger of the peak resident growth (%.1f MiB) "
         "and of mallinfo2 arena + hblkhd (%.1f MiB); peak requested %.1f MiB; %.2f s\"}\n",
         rounds, footprint / MiB, glibc.rss_peak / MiB, glibc.info_peak / MiB, glibc.asked_peak / MiB, glibc.seconds);
  printf("{\"case\":\"Lua 5.4 string/table churn (%ld rounds): footprint\",\"tool\":\"C libipc ipc_heap\","
         "\"unit\":\"MiB\",\"value\":%.1f,\"peer\":false,\"note\":\"the smallest heap (size_bytes, to 1 MiB) the "
         "script completes in: %.2f× glibc's footprint, %.2f× the peak requested bytes; in a heap twice that size "
         "reserved peaked at %.1f MiB: blocks' usable bytes %.1f MiB (%.1f%% of them unasked), empty slots of class pages and runs %.1f MiB; the resident set grew by %.1f MiB; %.2f s\"}\n",
         rounds, high / MiB, (double)high / (double)footprint, (double)high / (double)glibc.asked_peak,
         prof.info_peak / MiB, usable_total / MiB, 100.0 * (double)(usable_total - asked_total) / (double)usable_total,
         ((double)prof.info_peak - (double)usable_total) / MiB, prof.rss_peak / MiB, fits.seconds);

  return 0;
}
