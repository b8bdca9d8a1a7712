/* ipc-fuzz-open: opens every file named in a list (one /dev/shm name per line) through every open
 * path libipc has, and after each successful open calls the object's cheap operations. Every call
 * must return (a result code is fine, any code); a signal or a hang fails the run, and the parent
 * (tests/mp/fuzz_open.ts) reports the last name this program wrote to stderr before it began on a
 * file. With --destructive it also calls ipc_segment_unlink_dead and ipc_segment_unlink on each
 * name (the last of the children over a batch runs so).
 *
 * usage: ipc-fuzz-open <list file> [--destructive]   prints "ok <files> <opens>" on success
 *        ipc-fuzz-open --probe <name>                prints "<path> <result>" for each open path
 *                                                    of one name (the second-user test) */

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

static unsigned char message[1 << 16];

/* The cheap operations of the object in `segment`, chosen by the kind its header states. Results are
 * ignored: only returning matters. */
static void exercise(ipc_segment_t *segment) {
  volatile unsigned char *base = ipc_segment_base(segment);
  uint64_t size = ipc_segment_size(segment);
  if (base != NULL && size > 0) (void)(base[0] + base[size - 1]);
  switch (ipc_segment_kind(segment)) {
  case IPC_KIND_MUTEX: {
    ipc_mutex_t *m;
    if (ipc_mutex_at(segment, 0, &m) == IPC_OK && ipc_mutex_try_lock(m) >= 0) ipc_mutex_unlock(m);
    break;
  }
  case IPC_KIND_SEMAPHORE: {
    ipc_sem_t *s;
    if (ipc_sem_at(segment, 0, &s) == IPC_OK) {
      ipc_sem_value(s);
      ipc_sem_max(s);
      if (ipc_sem_try_acquire(s, 1) == IPC_OK) ipc_sem_release(s, 1);
    }
    break;
  }
  case IPC_KIND_EVENT: {
    ipc_event_t *e;
    if (ipc_event_at(segment, 0, &e) == IPC_OK) {
      ipc_event_is_set(e);
      ipc_event_flags(e);
      ipc_event_try_wait(e);
    }
    break;
  }
  case IPC_KIND_CONDITION: {
    ipc_mutex_t *m;
    ipc_cond_t *c;
    if (ipc_mutex_at(segment, 0, &m) == IPC_OK && ipc_mutex_try_lock(m) >= 0) ipc_mutex_unlock(m);
    if (ipc_cond_at(segment, 64, &c) == IPC_OK) ipc_cond_notify(c, 1);
    break;
  }
  case IPC_KIND_BARRIER: {
    ipc_barrier_t *b;
    if (ipc_barrier_at(segment, 0, &b) == IPC_OK) {
      ipc_barrier_parties(b);
      ipc_barrier_waiting(b);
      ipc_barrier_broken(b);
    }
    break;
  }
  case IPC_KIND_RWLOCK: {
    ipc_rwlock_t *r;
    if (ipc_rwlock_at(segment, 0, &r) == IPC_OK) {
      if (ipc_rwlock_try_read_lock(r) >= 0) ipc_rwlock_read_unlock(r);
      if (ipc_rwlock_try_write_lock(r) >= 0) ipc_rwlock_write_unlock(r);
      ipc_rwlock_readers(r);
    }
    break;
  }
  case IPC_KIND_HEAP: {
    ipc_heap_t *h;
    if (ipc_heap_attach(segment, &h) == IPC_OK) {
      ipc_heap_stats_t stats;
      const char *problem = NULL;
      ipc_heap_check(h, &stats, &problem);
      ipc_heap_close(h);
    }
    break;
  }
  case IPC_KIND_CHAN: {
    ipc_chan_t *c;
    if (ipc_chan_at(segment, 0, &c) == IPC_OK) {
      uint64_t length;
      ipc_chan_pending(c);
      ipc_chan_capacity(c);
      ipc_chan_is_closed(c);
      ipc_chan_try_recv(c, message, sizeof message, &length);
    }
    break;
  }
  default:
    break;
  }
}

static int opens = 0;

static void attempt(int32_t rc, ipc_segment_t *segment) {
  opens += 1;
  if (rc == IPC_OK) {
    exercise(segment);
    ipc_segment_close(segment);
  }
}

static const char *result(int32_t rc) {
  return rc >= 0 ? "OK" : ipc_errname(rc);
}

/* Each open path once on `name`, with its result code: what the second-user test checks. */
static int probe(const char *name) {
  ipc_segment_t *segment = NULL;
  int32_t rc = ipc_segment_open(name, 0, &segment);
  printf("open %s\n", result(rc));
  if (rc == IPC_OK) ipc_segment_close(segment);
  rc = ipc_segment_open(name, IPC_SEGMENT_ANY_OWNER, &segment);
  printf("open_any %s\n", result(rc));
  if (rc == IPC_OK) {
    exercise(segment);
    ipc_segment_close(segment);
  }
  char path[96];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    rc = ipc_segment_open_fd(fd, 0, &segment);
    printf("open_fd %s\n", result(rc));
    if (rc == IPC_OK) ipc_segment_close(segment);
    close(fd);
  }
  ipc_segment_info_t info;
  printf("info %s\n", result(ipc_segment_info(name, &info)));
  static char names[1 << 16];
  printf("list %s\n", result(ipc_segment_list(names, sizeof names)));
  printf("unlink_dead %s\n", result(ipc_segment_unlink_dead(name)));
  printf("sweep %s\n", result(ipc_segment_sweep()));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--probe") == 0) return probe(argv[2]);
  if (argc < 2) {
    fprintf(stderr, "usage: ipc-fuzz-open <list file> [--destructive]\n");
    return 2;
  }
  int destructive = argc > 2 && strcmp(argv[2], "--destructive") == 0;
  FILE *list = fopen(argv[1], "r");
  if (list == NULL) {
    perror(argv[1]);
    return 2;
  }
  ipc_segment_sweep();
  static char names[1 << 16];
  ipc_segment_list(names, sizeof names);
  char name[64];
  int files = 0;
  while (fgets(name, sizeof name, list) != NULL) {
    name[strcspn(name, "\n")] = 0;
    if (name[0] == 0) continue;
    fprintf(stderr, "@ %s\n", name);
    files += 1;
    ipc_segment_t *segment = NULL;
    attempt(ipc_segment_open(name, 0, &segment), segment);
    segment = NULL;
    attempt(ipc_segment_open(name, IPC_SEGMENT_ANY_OWNER, &segment), segment);
    /* By fd: the fd this process got for the name (following a symlink, as a parent's open would). */
    char path[96];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      segment = NULL;
      attempt(ipc_segment_open_fd(fd, 0, &segment), segment);
      segment = NULL;
      attempt(ipc_segment_open_fd(fd, IPC_SEGMENT_ANY_OWNER, &segment), segment);
      close(fd);
    }
    ipc_segment_info_t info;
    ipc_segment_info(name, &info);
    if (destructive) {
      ipc_segment_unlink_dead(name);
      ipc_segment_unlink(name);
    }
  }
  fclose(list);
  ipc_segment_list(names, sizeof names);
  ipc_segment_sweep();
  printf("ok %d %d\n", files, opens);
  return 0;
}
