/* The demo's heap section, C part.
 *   ipc-demo heap write <name>   allocate a block through the context-first allocator trio, write a
 *                                line into it and publish its handle as the root "from-c"
 *   ipc-demo heap storm <name>   say "storming", then allocate and free forever (to be killed) */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

int demo_heap(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ipc-demo heap write|storm <name>\n");
    return 64;
  }
  ipc_segment_t *seg = NULL;
  ipc_heap_t *heap = NULL;
  int32_t rc = ipc_segment_open(argv[3], 0, &seg);
  if (rc == IPC_OK) rc = ipc_heap_attach(seg, &heap);
  if (rc != IPC_OK) {
    fprintf(stderr, "ipc-demo: %s: %s\n", argv[3], ipc_strerror(rc));
    return 1;
  }
  if (strcmp(argv[2], "write") == 0) {
    /* Any C code that takes an allocator as callbacks can be handed the heap. */
    void *(*alloc)(void *, size_t) = ipc_heap_alloc_fn;
    char *text = alloc(heap, 64);
    if (text == NULL) return 1;
    snprintf(text, 64, "C (pid %d) wrote this through ipc_heap_alloc_fn", (int)getpid());
    uint64_t block, root;
    ipc_heap_handle(heap, text, &block);
    if ((rc = ipc_heap_root(heap, "from-c", 8, &root)) != IPC_OK) return 1;
    *(uint64_t *)ipc_heap_pointer(heap, root) = block;
  } else if (strcmp(argv[2], "storm") == 0) {
    printf("storming\n");
    fflush(stdout);
    uint64_t held[16] = {0}, state = (uint64_t)getpid();
    for (;;) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      int i = (int)((state >> 33) % 16);
      if (held[i] != 0) {
        ipc_heap_free(heap, held[i]);
        held[i] = 0;
      } else if (ipc_heap_malloc(heap, 1 + (state >> 40) % 100000, &held[i]) != IPC_OK) {
        held[i] = 0;
      }
    }
  }
  ipc_heap_close(heap);
  ipc_segment_close(seg);
  return 0;
}
