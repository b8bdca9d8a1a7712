/* ipc-demo: the C program of `npm run demo`. Usage: ipc-demo <section> ... */
#include <stdio.h>
#include <string.h>

#include "demo.h"

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "segment") == 0) return demo_segment(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "mutex") == 0) return demo_mutex(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "sync") == 0) return demo_sync(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "heap") == 0) return demo_heap(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "chan") == 0) return demo_chan(argc, argv);
  fprintf(stderr, "usage: ipc-demo segment|mutex|sync|heap ...\n");
  return 64;
}
