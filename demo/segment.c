/* The demo's segment section, C part: attaches to the segment the Bun parent created, by name, and
 * writes its line into slot `slot` (128 bytes each). Usage: ipc-demo segment <name> <slot> */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOT_BYTES 128

#include "demo.h"

int demo_segment(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ipc-demo segment <name> <slot>\n");
    return 64;
  }
  ipc_segment_t *seg = NULL;
  int32_t rc = ipc_segment_open(argv[2], 0, &seg);
  if (rc != IPC_OK) {
    fprintf(stderr, "ipc-demo: cannot open %s: %s (%s)\n", argv[2], ipc_strerror(rc), ipc_errname(rc));
    return 1;
  }
  uint64_t slot = strtoull(argv[3], NULL, 10);
  if ((slot + 1) * SLOT_BYTES > ipc_segment_size(seg)) {
    fprintf(stderr, "ipc-demo: slot %llu does not fit in %llu bytes\n", (unsigned long long)slot,
            (unsigned long long)ipc_segment_size(seg));
    ipc_segment_close(seg);
    return 1;
  }
  char *dst = (char *)ipc_segment_base(seg) + slot * SLOT_BYTES;
  snprintf(dst, SLOT_BYTES, "C (pid %ld, libipc %s) attached by name and wrote this", (long)getpid(),
           ipc_version_string());
  ipc_segment_close(seg);
  return 0;
}
