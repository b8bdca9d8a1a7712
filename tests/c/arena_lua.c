/* The arena acceptance test: child processes run real, unmodified Lua 5.4 (Debian's liblua5.4.a,
 * linked statically) with lua_newstate given the heap's callbacks and an arena as their context, and
 * churn strings and tables until they are killed with SIGKILL at a random moment. After each kill,
 * once the death is noticed (ipc_heap_check notices it), the heap is back at its baseline: the check
 * is clean, no block is allocated, and the whole heap is allocatable as one block. */
#define _DEFAULT_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ipc.h"

#define HEAP_SIZE (64u * 1024 * 1024)
#define ROUNDS 20

/* Lua's allocator on the heap's C callbacks; `ud` is the arena. */
static void *lua_on_arena(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)osize;
  if (nsize == 0) {
    ipc_heap_free_fn(ud, ptr);
    return NULL;
  }
  return ipc_heap_realloc_fn(ud, ptr, nsize);
}

static const char *churn =
    "local t, i = {}, 0\n"
    "while true do\n"
    "  i = i + 1\n"
    "  local k = i % 4000\n"
    "  if i % 7 == 0 then t[k] = { i, tostring(i), { k = string.rep('z', i % 64) } }\n"
    "  elseif i % 101 == 0 then t[k] = string.rep('y', (i % 40) * 1000 + 17)\n"
    "  else t[k] = string.rep('x', i % 300) .. tostring(i) end\n"
    "  if i % 50000 == 0 then t = {} end\n"
    "end\n";

static void child(ipc_heap_t *heap, int ready) {
  ipc_heap_arena_t *arena;
  if (ipc_heap_arena_create(heap, &arena) != IPC_OK) _exit(3);
  lua_State *L = lua_newstate(lua_on_arena, arena);
  if (L == NULL) _exit(4);
  luaL_openlibs(L);
  if (luaL_loadstring(L, churn) != LUA_OK) _exit(5);
  if (write(ready, "r", 1) != 1) _exit(6);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    _exit(7);
  }
  _exit(0);
}

static void sleep_us(long us) {
  struct timespec t = {us / 1000000, (us % 1000000) * 1000L};
  nanosleep(&t, NULL);
}

int main(void) {
  ipc_segment_t *seg;
  ipc_heap_t *heap;
  CHECK_RC(ipc_heap_create(NULL, 0, 0, HEAP_SIZE, &seg, &heap), IPC_OK);
  ipc_heap_stats_t s;
  const char *problem = NULL;
  CHECK_RC(ipc_heap_check(heap, &s, &problem), IPC_OK);
  const uint64_t pages_bytes = s.free_pages;
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  uint64_t most_blocks = 0, most_bytes = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      close(ready[0]);
      child(heap, ready[1]);
    }
    close(ready[1]);
    char byte;
    CHECK(read(ready[0], &byte, 1) == 1);
    close(ready[0]);
    /* A random moment: 1 to 300 ms into the churn. */
    sleep_us(1000 + rand() % 300000);
    CHECK_RC(ipc_heap_check(heap, &s, &problem), IPC_OK);
    if (s.allocations > most_blocks) most_blocks = s.allocations;
    if (s.in_use > most_bytes) most_bytes = s.in_use;
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      fprintf(stderr, "round %d: the Lua child ended by itself (status %d) before the kill\n", round, status);
      return 1;
    }
    /* The death is noticed here: the heap is back at its baseline. */
    int32_t rc = ipc_heap_check(heap, &s, &problem);
    if (rc != IPC_OK) fprintf(stderr, "round %d: heap check: %s\n", round, problem ? problem : "?");
    CHECK(rc == IPC_OK);
    if (s.allocations != 0) fprintf(stderr, "round %d: %llu blocks left\n", round, (unsigned long long)s.allocations);
    CHECK(s.allocations == 0);
    uint64_t all;
    CHECK_RC(ipc_heap_malloc(heap, pages_bytes, &all), IPC_OK);
    CHECK_RC(ipc_heap_free(heap, all), IPC_OK);
  }
  printf("arena_lua: %d Lua children killed -9; the heap was back at its baseline after each "
         "(up to %llu blocks, %llu bytes of an arena given back at once)\n",
         ROUNDS, (unsigned long long)most_blocks, (unsigned long long)most_bytes);
  CHECK_RC(ipc_heap_close(heap), IPC_OK);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  return 0;
}
