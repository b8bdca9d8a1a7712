/* Segment life-cycle cost from C: libipc create+close (anonymous, and named with unlink), open+close
 * of an existing named segment, and the same work done with raw POSIX calls as the peer:
 * memfd_create/shm_open + ftruncate + mmap + munmap + close (+ shm_unlink). One JSON line per case:
 * {"case": ..., "tool": ..., "unit": "us/op", "value": ...}. Usage: ipc-bench-segment [iterations] */
#define _GNU_SOURCE
#include "ipc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE 4096

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void report(const char *name, const char *tool, double us_per_op, int peer) {
  printf("{\"case\":\"%s\",\"tool\":\"%s\",\"unit\":\"us/op\",\"value\":%.4f,\"peer\":%s}\n", name, tool,
         us_per_op, peer ? "true" : "false");
}

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "%s: %s\n", what, ipc_errname(rc));
  exit(1);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  char name[64];
  snprintf(name, sizeof name, "ipcbench-c-%ld", (long)getpid());
  double t;

  t = now_us();
  for (int i = 0; i < n; i++) {
    ipc_segment_t *s;
    int32_t rc = ipc_segment_create(NULL, SIZE, 0, 0, &s);
    if (rc) die("create anonymous", rc);
    ((char *)ipc_segment_base(s))[0] = 1;
    ipc_segment_close(s);
  }
  report("segment create+map+close, anonymous 4 KiB", "C libipc", (now_us() - t) / n, 0);

  t = now_us();
  for (int i = 0; i < n; i++) {
    ipc_segment_t *s;
    int32_t rc = ipc_segment_create(name, SIZE, 0, 0, &s);
    if (rc) die("create named", rc);
    ((char *)ipc_segment_base(s))[0] = 1;
    ipc_segment_unlink(name);
    ipc_segment_close(s);
  }
  report("segment create+map+unlink+close, named 4 KiB", "C libipc", (now_us() - t) / n, 0);

  ipc_segment_t *keep;
  int32_t rc = ipc_segment_create(name, SIZE, 0, 0, &keep);
  if (rc) die("create kept", rc);
  t = now_us();
  for (int i = 0; i < n; i++) {
    ipc_segment_t *s;
    rc = ipc_segment_open(name, 0, &s);
    if (rc) die("open", rc);
    ipc_segment_close(s);
  }
  report("segment open+map+close, named 4 KiB", "C libipc", (now_us() - t) / n, 0);
  ipc_segment_unlink(name);
  ipc_segment_close(keep);

  t = now_us();
  for (int i = 0; i < n; i++) {
    int fd = memfd_create("peer", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, SIZE) != 0) die("memfd", IPC_EIO);
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) die("mmap", IPC_EIO);
    p[0] = 1;
    munmap(p, SIZE);
    close(fd);
  }
  report("segment create+map+close, anonymous 4 KiB", "C memfd_create+mmap (raw, no header)", (now_us() - t) / n, 1);

  t = now_us();
  for (int i = 0; i < n; i++) {
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, SIZE) != 0) die("shm_open", IPC_EIO);
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) die("mmap", IPC_EIO);
    p[0] = 1;
    shm_unlink(name);
    munmap(p, SIZE);
    close(fd);
  }
  report("segment create+map+unlink+close, named 4 KiB", "C shm_open+mmap (raw, no header)", (now_us() - t) / n, 1);
  return 0;
}
