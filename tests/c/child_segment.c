/* The segment commands of ipc-child (see child.c). <where> is a name, fd:N (an fd this process
 * inherited: POSIX) or handle:N (a handle it inherited: Windows; the same call opens both). An
 * inherited fd or handle is closed with ipc_fd_close once the segment is open (the open duplicated
 * it), as the TS child does:
 *   segment write <where> <offset> <text>   attach, write text (with its NUL) at offset, print
 *                                           "size <bytes>"
 *   segment read <where> <offset>           attach and print the string at offset
 *   segment check <where> <offset> <text>   attach; exit 0 when the string at offset is text, else
 *                                           print "differs <string>" and exit 1
 *   segment hold                            create a segment with a generated name, print the
 *                                           name, then wait to be killed */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "child.h"

static int32_t attach(const char *spec, ipc_segment_t **seg) {
  const char *number = strncmp(spec, "fd:", 3) == 0       ? spec + 3
                       : strncmp(spec, "handle:", 7) == 0 ? spec + 7
                                                          : NULL;
  if (number == NULL) return ipc_segment_open(spec, 0, seg);
  int32_t fd = atoi(number);
  int32_t rc = ipc_segment_open_fd(fd, 0, seg);
  if (rc != IPC_OK) return rc;
  rc = ipc_fd_close(fd);
  if (rc != IPC_OK) ipc_segment_close(*seg);
  return rc;
}

/* The string at `offset` of `seg`, bounded by the segment's end. */
static const char *text_at(ipc_segment_t *seg, uint64_t offset, int *len) {
  *len = (int)(ipc_segment_size(seg) - offset);
  return (const char *)ipc_segment_base(seg) + offset;
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
  int check = argc >= 5 && strcmp(argv[1], "check") == 0;
  if (check || (argc >= 4 && strcmp(argv[1], "read") == 0)) {
    ipc_segment_t *seg = NULL;
    int32_t rc = attach(argv[2], &seg);
    if (rc != IPC_OK) return fail(rc);
    uint64_t offset = strtoull(argv[3], NULL, 10);
    if (offset >= ipc_segment_size(seg)) return fail(IPC_ERANGE);
    int len;
    const char *text = text_at(seg, offset, &len);
    int same = 1;
    if (check) {
      same = strncmp(text, argv[4], (size_t)len) == 0 && strlen(argv[4]) < (size_t)len;
      if (!same) printf("differs %.*s\n", len, text);
    } else {
      printf("%.*s\n", len, text);
    }
    return ipc_segment_close(seg) == IPC_OK && same ? 0 : 1;
  }
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    ipc_segment_t *seg = NULL;
    int32_t rc = ipc_segment_create(NULL, 4096, 0, IPC_SEGMENT_UNIQUE_NAME, &seg);
    if (rc != IPC_OK) return fail(rc);
    printf("%s\n", ipc_segment_name(seg));
    fflush(stdout);
#ifdef _WIN32
    for (;;) Sleep(INFINITE);
#else
    for (;;) pause();
#endif
  }
  return usage("segment write|read|check|hold ...");
}
