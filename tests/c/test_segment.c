/* Proves the segment API works from plain C: create by name, open, shared writes, fd handoff,
 * unique names, unlink, and the error codes for missing, foreign and damaged segments; and that a
 * child's segments left behind at its death are listed, described and removed (sweep for the
 * generated name, ipc_segment_unlink_dead for the chosen one) while a live process's stay. */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A FIFO, a symlink or another user's segment under a name: every open path returns at once with
 * an error (a FIFO used to block the read-only opens of ipc_segment_info, unlink and unlink_dead). */
static void hostile_files(void) {
  char name[64], path[128], target[64], link_path[128];
  name_for(name, sizeof name, "fifo");
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  CHECK(mkfifo(path, 0666) == 0);
  ipc_segment_t *s = NULL;
  ipc_segment_info_t info;
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_open(name, IPC_SEGMENT_ANY_OWNER, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_info(name, &info), IPC_EPROTO);
  CHECK_RC(ipc_segment_unlink(name), IPC_EPROTO);
  CHECK_RC(ipc_segment_unlink_dead(name), IPC_EPROTO);
  CHECK(ipc_segment_list(NULL, 0) >= 0);
  int fd = open(path, O_RDWR | O_NONBLOCK);
  CHECK(fd >= 0);
  CHECK_RC(ipc_segment_open_fd(fd, 0, &s), IPC_EPROTO);
  close(fd);
  CHECK(unlink(path) == 0);

  ipc_segment_t *real = NULL;
  name_for(target, sizeof target, "target");
  CHECK_RC(ipc_segment_create(target, 64, 0, 0, &real), IPC_OK);
  name_for(name, sizeof name, "link");
  snprintf(link_path, sizeof link_path, "/dev/shm/%s", name);
  snprintf(path, sizeof path, "/dev/shm/%s", target);
  CHECK(symlink(path, link_path) == 0);
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_info(name, &info), IPC_EPROTO);
  CHECK(unlink(link_path) == 0);

  /* Open flags: IPC_SEGMENT_ANY_OWNER only; create refuses it. */
  CHECK_RC(ipc_segment_open(target, 0x10, &s), IPC_EINVAL);
  CHECK_RC(ipc_segment_open(target, IPC_SEGMENT_ANY_OWNER, &s), IPC_OK);
  CHECK_RC(ipc_segment_close(s), IPC_OK);
  CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_ANY_OWNER, &s), IPC_EINVAL);
  if (geteuid() == 0) {
    /* Another user's segment: refused by name and by fd unless any owner is accepted. */
    CHECK(fchown(ipc_segment_fd(real), 65534, 65534) == 0);
    CHECK_RC(ipc_segment_open(target, 0, &s), IPC_EOWNER);
    CHECK_RC(ipc_segment_open_fd(ipc_segment_fd(real), 0, &s), IPC_EOWNER);
    CHECK_RC(ipc_segment_open_fd(ipc_segment_fd(real), IPC_SEGMENT_ANY_OWNER, &s), IPC_OK);
    CHECK_RC(ipc_segment_close(s), IPC_OK);
    CHECK_RC(ipc_segment_info(target, &info), IPC_OK);
    CHECK(info.uid == 65534);
    CHECK_RC(ipc_segment_unlink_dead(target), 0);
  } else {
    printf("test_segment: another owner: skipped: not root, cannot chown a segment to nobody\n");
  }
  CHECK_RC(ipc_segment_close(real), IPC_OK);
  CHECK_RC(ipc_segment_unlink(target), IPC_OK);
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

static int listed(const char *buf, int32_t len, const char *name) {
  for (int32_t i = 0; i < len; i += (int32_t)strlen(buf + i) + 1) {
    if (strcmp(buf + i, name) == 0) return 1;
  }
  return 0;
}

static void dead_creators(void) {
  char chosen[64], canonical[80], generated[IPC_NAME_MAX + 1];
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    /* Leaves a generated and a chosen name behind, unlinked by nobody. */
    ipc_segment_t *g = NULL, *c = NULL;
    name_for(chosen, sizeof chosen, "left");
    if (ipc_segment_create(NULL, 100, 0, IPC_SEGMENT_UNIQUE_NAME, &g) != IPC_OK) _exit(1);
    if (ipc_segment_create(chosen, 200, 0, 0, &c) != IPC_OK) _exit(1);
    char out[IPC_NAME_MAX + 1] = {0};
    snprintf(out, sizeof out, "%s", ipc_segment_name(g));
    _exit(write(fds[1], out, sizeof out) == (ssize_t)sizeof out ? 0 : 1);
  }
  close(fds[1]);
  CHECK(read(fds[0], generated, sizeof generated) == (ssize_t)sizeof generated);
  close(fds[0]);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  snprintf(chosen, sizeof chosen, "ipctest-c-left-%ld", (long)child);
  snprintf(canonical, sizeof canonical, "/%s", chosen);

  ipc_segment_info_t info;
  CHECK_RC(ipc_segment_info(chosen, &info), IPC_OK);
  CHECK(info.size_bytes == 200 && info.kind == IPC_KIND_SEGMENT && info.creator_pid == (int32_t)child);
  CHECK(info.creator_state == IPC_CREATOR_DEAD && info.uid == (uint32_t)geteuid() && info.mode == 0600);
  CHECK(info.reserved == 0);

  ipc_segment_t *live = NULL;
  char live_name[64];
  name_for(live_name, sizeof live_name, "alive");
  CHECK_RC(ipc_segment_create(live_name, 64, 0, 0, &live), IPC_OK);
  CHECK_RC(ipc_segment_info(live_name, &info), IPC_OK);
  CHECK(info.creator_state == IPC_CREATOR_ALIVE && info.creator_pid == (int32_t)getpid());

  /* The list: NULL asks for the size; a short buffer gets what fits and the size needed. */
  int32_t needed = ipc_segment_list(NULL, 0);
  CHECK(needed > 0);
  char small[8];
  CHECK(ipc_segment_list(small, sizeof small) > (int32_t)sizeof small); /* our two names alone are longer */
  char *buf = malloc((size_t)needed + 4096);
  CHECK(buf != NULL);
  int32_t got = ipc_segment_list(buf, (uint32_t)needed + 4096);
  CHECK(got > 0 && got <= needed + 4096);
  char live_canonical[80];
  snprintf(live_canonical, sizeof live_canonical, "/%s", live_name);
  CHECK(listed(buf, got, canonical) && listed(buf, got, live_canonical));
  free(buf);
  CHECK_RC(ipc_segment_list(NULL, 8), IPC_EINVAL);

  /* A live creator's segment is kept; a dead creator's chosen name goes only when asked by name. */
  CHECK_RC(ipc_segment_unlink_dead(live_name), 0);
  CHECK_RC(ipc_segment_unlink_dead(chosen), 1);
  CHECK_RC(ipc_segment_info(chosen, &info), IPC_ENOENT);
  CHECK_RC(ipc_segment_unlink_dead(chosen), IPC_ENOENT);
  CHECK_RC(ipc_segment_unlink_dead(NULL), IPC_EINVAL);
  CHECK_RC(ipc_segment_info(NULL, &info), IPC_EINVAL);
  CHECK_RC(ipc_segment_info(live_name, NULL), IPC_EINVAL);
  /* The sweep removes the generated one (another process may have swept it first). */
  CHECK(ipc_segment_sweep() >= 0);
  CHECK_RC(ipc_segment_info(generated, &info), IPC_ENOENT);
  CHECK_RC(ipc_segment_unlink(live_name), IPC_OK);
  CHECK_RC(ipc_segment_close(live), IPC_OK);
}

int main(void) {
  named_round_trip();
  anonymous_by_fd();
  unique_names();
  foreign_files();
  hostile_files();
  bad_arguments();
  mode_bits();
  dead_creators();
  return 0;
}
