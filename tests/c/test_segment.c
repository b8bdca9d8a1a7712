/* Proves the segment API works from plain C: create by name, open, shared writes, fd handoff,
 * unique names, unlink, and the error codes for missing, foreign and damaged segments; and that a
 * child's segments left behind at its death are listed, described and removed (sweep for the
 * generated name, ipc_segment_unlink_dead for the chosen one) while a live process's stay.
 *
 * The same program runs on Windows (under Wine), where a named segment lives as long as a handle to
 * it (DEVELOPERS.md, Windows): there an unlinked name still opens while its segment is open, a dead
 * child's segments are gone with it, and the foreign object is a section some other program made
 * under libipc's name. The child is this program run again in a role (tests/c/proc.h). What only
 * POSIX has (files in /dev/shm: FIFOs, symlinks, owners, mode bits) is tested on POSIX only. */
#define _DEFAULT_SOURCE
#include "ipc.h"
#include "check.h"
#include "proc.h"

#include <string.h>
#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#endif

static void name_for(char *buf, size_t len, const char *what) {
  snprintf(buf, len, "ipctest-c-%s-%ld", what, proc_self_id());
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
  CHECK(pid == (int32_t)proc_self_id() && start > 0);

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
#ifdef _WIN32
  /* The name goes with the segment's last handle, not before. */
  CHECK_RC(ipc_segment_open(name, 0, &b), IPC_OK);
  CHECK(((unsigned char *)ipc_segment_base(b))[4095] == 0xAB);
  CHECK_RC(ipc_segment_close(b), IPC_OK);
#else
  CHECK_RC(ipc_segment_open(name, 0, &b), IPC_ENOENT);
#endif
  /* The mapping survives the unlink. */
  CHECK(((unsigned char *)ipc_segment_base(a))[4095] == 0xAB);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
  CHECK_RC(ipc_segment_open(name, 0, &b), IPC_ENOENT);
  CHECK_RC(ipc_segment_unlink(name), IPC_ENOENT);
}

/* A name that starts like one of libipc's own objects (Windows: the creator mutex of `/x` once was
 * `Local\libipc-c-x`, the section of a segment `/c-x`) names a segment like any other: `/c-x` and
 * `/x` coexist, in either order. */
static void lookalike_names(void) {
  char plain[64], prefixed[64];
  name_for(plain, sizeof plain, "twin");
  snprintf(prefixed, sizeof prefixed, "c-%s", plain);
  ipc_segment_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  CHECK_RC(ipc_segment_create(prefixed, 64, 0, 0, &a), IPC_OK);
  CHECK_RC(ipc_segment_create(plain, 64, 0, 0, &b), IPC_OK);
  memcpy(ipc_segment_base(a), "a", 2);
  memcpy(ipc_segment_base(b), "b", 2);
  CHECK_RC(ipc_segment_open(prefixed, 0, &c), IPC_OK);
  CHECK_RC(ipc_segment_open(plain, 0, &d), IPC_OK);
  CHECK(strcmp(ipc_segment_base(c), "a") == 0 && strcmp(ipc_segment_base(d), "b") == 0);
  CHECK_RC(ipc_segment_close(c), IPC_OK);
  CHECK_RC(ipc_segment_close(d), IPC_OK);
  CHECK_RC(ipc_segment_unlink(plain), IPC_OK);
  CHECK_RC(ipc_segment_unlink(prefixed), IPC_OK);
  CHECK_RC(ipc_segment_close(b), IPC_OK);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
  /* The other order. */
  CHECK_RC(ipc_segment_create(plain, 64, 0, 0, &b), IPC_OK);
  CHECK_RC(ipc_segment_create(prefixed, 64, 0, 0, &a), IPC_OK);
  CHECK_RC(ipc_segment_unlink(plain), IPC_OK);
  CHECK_RC(ipc_segment_unlink(prefixed), IPC_OK);
  CHECK_RC(ipc_segment_close(b), IPC_OK);
  CHECK_RC(ipc_segment_close(a), IPC_OK);
}

static void anonymous_by_fd(void) {
  ipc_segment_t *a = NULL, *b = NULL;
  CHECK_RC(ipc_segment_create(NULL, 100, 0, IPC_SEGMENT_RESERVE, &a), IPC_OK);
  CHECK(ipc_segment_name(a)[0] == '\0');
  int32_t fd = ipc_segment_fd(a);
  CHECK(fd >= 0);
#ifdef _WIN32
  DWORD handle_flags = 0;
  CHECK(GetHandleInformation((HANDLE)(intptr_t)fd, &handle_flags) && !(handle_flags & HANDLE_FLAG_INHERIT));
#else
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
#endif
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

#ifdef _WIN32
/* A section another program made under libipc's name for segment `name`, with no header: every open
 * path refuses it, and the name cannot be created over. */
static void foreign_files(void) {
  char name[64], object[96];
  name_for(name, sizeof name, "plain");
  snprintf(object, sizeof object, "Local\\libipc-%s", name);
  HANDLE section = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 256, object);
  CHECK(section != NULL);
  char *view = MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 256);
  CHECK(view != NULL);
  memset(view, 'x', 256);
  ipc_segment_t *s = NULL;
  ipc_segment_info_t info;
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_open_fd((int32_t)(intptr_t)section, 0, &s), IPC_EPROTO);
  CHECK_RC(ipc_segment_info(name, &info), IPC_EPROTO);
  CHECK_RC(ipc_segment_create(name, 64, 0, 0, &s), IPC_EEXIST);
  CHECK(s == NULL);
  /* All zero: too short a header is no header either. */
  memset(view, 0, 256);
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_EPROTO);
  CHECK(UnmapViewOfFile(view));
  CHECK(CloseHandle(section));
  CHECK_RC(ipc_segment_open(name, 0, &s), IPC_ENOENT);
}
#else
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
#endif

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

#ifndef _WIN32
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
#endif

static int listed(const char *buf, int32_t len, const char *name) {
  for (int32_t i = 0; i < len; i += (int32_t)strlen(buf + i) + 1) {
    if (strcmp(buf + i, name) == 0) return 1;
  }
  return 0;
}

/* The child of dead_creators (`leave <control segment>`): leaves a generated and a chosen name
 * behind, unlinked by nobody, and the generated one in the control segment. */
static int leave(const char *control) {
  ipc_segment_t *ctl = NULL, *g = NULL, *c = NULL;
  char chosen[64];
  name_for(chosen, sizeof chosen, "left");
  CHECK_RC(ipc_segment_open(control, 0, &ctl), IPC_OK);
  CHECK_RC(ipc_segment_create(NULL, 100, 0, IPC_SEGMENT_UNIQUE_NAME, &g), IPC_OK);
  CHECK_RC(ipc_segment_create(chosen, 200, 0, 0, &c), IPC_OK);
  snprintf((char *)ipc_segment_base(ctl), IPC_NAME_MAX + 1, "%s", ipc_segment_name(g));
  return 0;
}

static void dead_creators(void) {
  char chosen[64], canonical[80], generated[IPC_NAME_MAX + 1], control[32];
  ipc_segment_t *ctl = NULL;
  proc_segment_name(control, sizeof control, "tseg");
  CHECK_RC(ipc_segment_create(control, 4096, 0, 0, &ctl), IPC_OK);
  fflush(NULL);
  proc_t child = proc_spawn("leave", control);
  long child_pid = child.pid;
  CHECK(proc_expect(&child, 120LL * 1000000000LL, 0, "leave"));
  snprintf(generated, sizeof generated, "%s", (const char *)ipc_segment_base(ctl));
  CHECK(generated[0] == '/');
  CHECK_RC(ipc_segment_unlink(control), IPC_OK);
  CHECK_RC(ipc_segment_close(ctl), IPC_OK);
  snprintf(chosen, sizeof chosen, "ipctest-c-left-%ld", child_pid);
  snprintf(canonical, sizeof canonical, "/%s", chosen);

  ipc_segment_info_t info;
#ifdef _WIN32
  /* Gone with their creator, the last process that held them. */
  CHECK_RC(ipc_segment_info(chosen, &info), IPC_ENOENT);
  CHECK_RC(ipc_segment_info(generated, &info), IPC_ENOENT);
#else
  CHECK_RC(ipc_segment_info(chosen, &info), IPC_OK);
  CHECK(info.size_bytes == 200 && info.kind == IPC_KIND_SEGMENT && info.creator_pid == (int32_t)child_pid);
  CHECK(info.creator_state == IPC_CREATOR_DEAD && info.uid == (uint32_t)geteuid() && info.mode == 0600);
  CHECK(info.reserved == 0);
#endif

  ipc_segment_t *live = NULL;
  char live_name[64];
  name_for(live_name, sizeof live_name, "alive");
  CHECK_RC(ipc_segment_create(live_name, 64, 0, 0, &live), IPC_OK);
  CHECK_RC(ipc_segment_info(live_name, &info), IPC_OK);
  CHECK(info.creator_state == IPC_CREATOR_ALIVE && info.creator_pid == (int32_t)proc_self_id());

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
#ifdef _WIN32
  CHECK(!listed(buf, got, canonical) && listed(buf, got, live_canonical));
#else
  CHECK(listed(buf, got, canonical) && listed(buf, got, live_canonical));
#endif
  free(buf);
  CHECK_RC(ipc_segment_list(NULL, 8), IPC_EINVAL);

  /* A live creator's segment is kept; a dead creator's chosen name goes only when asked by name. */
  CHECK_RC(ipc_segment_unlink_dead(live_name), 0);
#ifndef _WIN32
  CHECK_RC(ipc_segment_unlink_dead(chosen), 1);
#endif
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

/* Without arguments, runs every test; `leave <control segment>` is dead_creators's child. */
int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 3 && strcmp(argv[1], "leave") == 0) return leave(argv[2]);
  named_round_trip();
  lookalike_names();
  anonymous_by_fd();
  unique_names();
  foreign_files();
#ifndef _WIN32
  hostile_files();
  mode_bits();
#endif
  bad_arguments();
  dead_creators();
  printf("test_segment: ok\n");
  return 0;
}
