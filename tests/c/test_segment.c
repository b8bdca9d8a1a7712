/* Proves the segment API works from plain C: create by name, open, shared writes, fd handoff,
 * unique names, unlink, and the error codes for missing, foreign and damaged segments. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static void name_for(char *buf, size_t len, const char *what) {
  snprintf(buf, len, "ipctest-c-%s-%ld", what, (long)getpid());
}

static void named_round_trip(void) {
  char name[64];
  name_for(name, sizeof name, "rt");
  ipc_segment_t *a = NULL, *b = NULL;
  CHECK_RC(ipc_segment_create(name, 4096, 0, 0, &a), IPC_OK);
  CHECK(ipc_segment_size(a) == 4096);
  CHECK(ipc_segment_kind(a) == 1);
  CHECK(ipc_segment_name(a)[0] == '/');
  CHECK(strcmp(ipc_segment_name(a) + 1, name) == 0);
  CHECK(((uintptr_t)ipc_segment_base(a) % 128) == 0);
  int32_t pid = 0;
  uint64_t start = 0;
  CHECK_RC(ipc_segment_creator(a, &pid, &start), IPC_OK);
  CHECK(pid == (int32_t)getpid() && start > 0);

  CHECK_RC(ipc_segment_open(name, 0, &b), IPC_OK);
  memcpy(ipc_segment_base(a), "hello", 6);
  CHECK(strcmp((const char *)ipc_segment_base(b), "hello") == 0);
  ((unsigned char *)ipc_segment_base(b))[4095] = 0xAB;
  CHECK(((unsigned char *)ipc_segment_base(a))[4095] == 0xAB);

  ipc_segment_t *dup = NULL;
  CHECK_RC(ipc_segment_create(name, 16, 0, 0, &dup), IPC_EEXIST);
  CHECK(dup == NULL);
  CHECK_RC(ipc_segment_close(b), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_open(name, 0, &b), IPC_ENOENT);
  /* The mapping survives the unlink. */
  CHECK(((unsigned char *)ipc_segment_base(a))[4095] == 0xAB);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
  CHECK_RC(ipc_segment_unlink(name), IPC_ENOENT);
}

static void anonymous_by_fd(void) {
  ipc_segment_t *a = NULL, *b = NULL;
  CHECK_RC(ipc_segment_create(NULL, 100, 0, IPC_SEGMENT_RESERVE, &a), IPC_OK);
  CHECK(ipc_segment_name(a)[0] == '\0');
  int32_t fd = ipc_segment_fd(a);
  CHECK(fd >= 0);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK_RC(ipc_segment_open_fd(fd, 0, &b), IPC_OK);
  ((char *)ipc_segment_base(b))[99] = 'z';
  CHECK(((char *)ipc_segment_base(a))[99] == 'z');
  CHECK(ipc_segment_size(b) == 100);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
  /* The fd handed over was duplicated: b keeps working after a closed. */
  CHECK(((char *)ipc_segment_base(b))[99] == 'z');
  CHECK_RC(ipc_segment_close(b), IPC_OK);
  CHECK_RC(ipc_segment_open_fd(-1, 0, &b), IPC_EINVAL);
  CHECK_RC(ipc_segment_open_fd(1000000, 0, &b), IPC_EINVAL);
}

static void unique_names(void) {
  ipc_segment_t *a = NULL, *b = NULL;
  CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_UNIQUE_NAME, &a), IPC_OK);
  CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_UNIQUE_NAME, &b), IPC_OK);
  const char *na = ipc_segment_name(a), *nb = ipc_segment_name(b);
  CHECK(strncmp(na, "/ipc.", 5) == 0 && strlen(na) <= IPC_NAME_MAX);
  CHECK(strcmp(na, nb) != 0);
  /* A sweep leaves a live creator's segments alone. */
  CHECK(ipc_segment_sweep() >= 0);
  ipc_segment_t *again = NULL;
  CHECK_RC(ipc_segment_open(na, 0, &again), IPC_OK);
  CHECK_RC(ipc_segment_close(again), IPC_OK);
  CHECK_RC(ipc_segment_unlink(na), IPC_OK);
  CHECK_RC(ipc_segment_unlink(nb), IPC_OK);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
  CHECK_RC(ipc_segment_close(b), IPC_OK);
}

static void foreign_files(void) {
  char name[64], path[128];
  name_for(name, sizeof name, "plain");
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0);
  char junk[256];
  memset(junk, 'x', sizeof junk);
  CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
  ipc_segment_t *s = NULL;
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_open_fd(fd, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_unlink(name), IPC_EPROTO);
  /* Empty file: too short to hold a header. */
  CHECK(ftruncate(fd, 0) == 0);
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK(s == NULL);
  close(fd);
  CHECK(unlink(path) == 0);
}

static void bad_arguments(void) {
  ipc_segment_t *s = NULL;
  CHECK_RC(ipc_segment_create(NULL, 0, 0, 0, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_create(NULL, IPC_SEGMENT_SIZE_MAX + 1, 0, 0, &s), IPC_ERANGE);
  CHECK_RC(ipc_segment_create(NULL, IPC_SEGMENT_SIZE_MAX, 0, 0, &s), IPC_ENOSPC);
  CHECK_RC(ipc_segment_create("x", 16, 01000, 0, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_create(NULL, 16, 0, 0x80, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_create("a/b", 16, 0, 0, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_create("", 16, 0, 0, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_create("0123456789012345678901234567890", 16, 0, 0, &s), IPC_ENAMETOOLONG);
  CHECK_RC(ipc_segment_create(NULL, 16, 0, 0, NULL), IPC_EINVAL);
  CHECK_RC(ipc_segment_open(NULL, 0, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_open("x", 1, &s), IPC_EINVAL);
  CHECK(ipc_segment_base(NULL) == NULL);
  CHECK(ipc_segment_size(NULL) == 0);
  CHECK(ipc_segment_fd(NULL) == IPC_ECLOSED);
  CHECK_RC(ipc_segment_close(NULL), IPC_OK);
}

static void mode_bits(void) {
  char name[64], path[128];
  name_for(name, sizeof name, "mode");
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  ipc_segment_t *s = NULL;
  CHECK_RC(ipc_segment_create(name, 16, 0, 0, &s), IPC_OK);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_close(s), IPC_OK);
  CHECK_RC(ipc_segment_create(name, 16, 0664, 0, &s), IPC_OK);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0664);
  CHECK_RC(ipc_segment_unlink(name), IPC_OK);
  CHECK_RC(ipc_segment_close(s), IPC_OK);
}

int main(void) {
  named_round_trip();
  anonymous_by_fd();
  unique_names();
  foreign_files();
  bad_arguments();
  mode_bits();
  return 0;
}
