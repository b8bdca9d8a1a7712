/* The segment commands of ipc-child (see child.c):
 *   segment write <name|fd:N> <offset> <text>   attach, write text (with its NUL) at offset, print
 *                                               "size <bytes>"
 *   segment read <name|fd:N> <offset>           attach and print the string at offset
 *   segment hold                                create a segment with a generated name, print the
 *                                               name, then wait to be killed */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

static int32_t attach(const char *spec, ipc_segment_t **seg) {
  if (strncmp(spec, "fd:", 3) == 0) return ipc_segment_open_fd(atoi(spec + 3), 0, seg);
  return ipc_segment_open(spec, 0, seg);
}

int child_segment(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "write") == 0) {
    ipc_segment_t *seg = NULL;
    int32_t rc = attach(argv[2], &seg);
    if (rc != IPC_OK) return fail(rc);
    uint64_t offset = strtoull(argv[3], NULL, 10);
    size_t len = strlen(argv[4]) + 1;
    if (offset + len > ipc_segment_size(seg)) return fail(IPC_ERANGE);
    memcpy((char *)ipc_segment_base(seg) + offset, argv[4], len);
    printf("size %llu\n", (unsigned long long)ipc_segment_size(seg));
    return ipc_segment_close(seg) == IPC_OK ? 0 : 1;
  }
  if (argc >= 4 && strcmp(argv[1], "read") == 0) {
    ipc_segment_t *seg = NULL;
    int32_t rc = attach(argv[2], &seg);
    if (rc != IPC_OK) return fail(rc);
    uint64_t offset = strtoull(argv[3], NULL, 10);
    if (offset >= ipc_segment_size(seg)) return fail(IPC_ERANGE);
    const char *text = (const char *)ipc_segment_base(seg) + offset;
    printf("%.*s\n", (int)(ipc_segment_size(seg) - offset), text);
    return ipc_segment_close(seg) == IPC_OK ? 0 : 1;
  }
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    ipc_segment_t *seg = NULL;
    int32_t rc = ipc_segment_create(NULL, 4096, 0, IPC_SEGMENT_UNIQUE_NAME, &seg);
    if (rc != IPC_OK) return fail(rc);
    printf("%s\n", ipc_segment_name(seg));
    fflush(stdout);
    for (;;) pause();
  }
  return usage("segment write|read|hold ...");
}
