/* Proves the tracker removes a process's tracked names after it is killed with SIGKILL, and only
 * those: forked children create tracked and untracked segments and are killed; the parent polls
 * /dev/shm (with a deadline, never a timing assert) for the tracked names to go, and checks that
 * untracked names, a live process's segment under a tracked name, and a plain file under a tracked
 * name all stay. Also: bad inputs, a forked child does not inherit its parent's tracker, a killed
 * helper is replaced, IPC_TRACKER_ALL, and ipc_tracker_stop keeps names.
 *
 * argv[1] is the helper program (the build passes zig-out's libipc-tracker). */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *helper;

static void name_for(char *buf, size_t len, const char *what, long pid) {
  snprintf(buf, len, "ipctest-trk-%s-%ld", what, pid);
}

static int exists(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
  return access(path, F_OK) == 0;
}

/* Waits up to 20 s for `name` to disappear from /dev/shm; returns whether it did. */
static int gone_within_deadline(const char *name) {
  for (int i = 0; i < 2000; i++) {
    if (!exists(name)) return 1;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Whether `pid` runs: it exists and is not a zombie (an exited helper whose new parent, init, has
 * not reaped it yet). */
static int running(int32_t pid) {
  char path[64], stat[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  const char *paren = strrchr(stat, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Waits up to 20 s for `pid` to stop running; returns whether it did. */
static int exits_within_deadline(int32_t pid) {
  for (int i = 0; i < 2000; i++) {
    if (!running(pid)) return 1;
    sleep_ms(10);
  }
  return 0;
}

/* A child's report to its parent: the names it made and its tracker's pid. */
struct report {
  char generated[IPC_NAME_MAX + 1];
  int32_t helper_pid;
  int32_t child_helper_pid; /* of a grandchild, in the fork test */
};

static void send_report(int fd, const struct report *r) {
  CHECK(write(fd, r, sizeof *r) == (ssize_t)sizeof *r);
}

static struct report read_report(int fd) {
  struct report r;
  CHECK(read(fd, &r, sizeof r) == (ssize_t)sizeof r);
  return r;
}

static void kill_and_reap(pid_t pid) {
  CHECK(kill(pid, SIGKILL) == 0);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void bad_inputs(void) {
  int32_t pid = -1;
  uint32_t names = 99, flags = 99;
  CHECK_RC(ipc_tracker_status(&pid, &names, &flags), IPC_OK);
  CHECK(pid == 0 && names == 0 && flags == 0);
  CHECK_RC(ipc_tracker_status(NULL, NULL, NULL), IPC_OK);
  CHECK_RC(ipc_tracker_start(helper, 0x80), IPC_EINVAL);
  CHECK_RC(ipc_tracker_start("/nonexistent/libipc-tracker", 0), IPC_ENOENT);
  CHECK_RC(ipc_tracker_start("", 0), IPC_EINVAL);
  /* A program that is not a tracker exits without answering. */
  CHECK_RC(ipc_tracker_start("/bin/true", 0), IPC_EPROTO);
  CHECK_RC(ipc_tracker_track(NULL), IPC_EINVAL);
  CHECK_RC(ipc_tracker_track("bad name"), IPC_EINVAL);
  CHECK_RC(ipc_tracker_track("ipctest-trk-missing"), IPC_ENOENT);
  CHECK_RC(ipc_tracker_untrack("ipctest-trk-missing"), 0);
  CHECK_RC(ipc_tracker_untrack(NULL), IPC_EINVAL);
  CHECK_RC(ipc_tracker_stop(), IPC_OK);
  CHECK_RC(ipc_tracker_status(&pid, NULL, NULL), IPC_OK);
  CHECK(pid == 0);

  /* A plain file cannot be tracked; nor can another process's segment. */
  char name[64], path[128];
  name_for(name, sizeof name, "plain", (long)getpid());
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, "not libipc, long enough to look like a header? no.", 50) == 50);
  close(fd);
  CHECK_RC(ipc_tracker_track(name), IPC_EPROTO);
  CHECK(unlink(path) == 0);
}

/* The tracked child: a generated and a user-chosen tracked name, one untracked, one tracked then
 * untracked, one made by the child that the parent replaces with its own segment, one the parent
 * replaces with a plain file. Reports, then waits to be killed. */
static void tracked_child(int out) {
  long me = (long)getpid();
  char n[6][64];
  const char *what[6] = {"user", "untracked", "cancelled", "replaced", "plain", "sem"};
  for (int i = 0; i < 6; i++) name_for(n[i], sizeof n[i], what[i], me);
  CHECK_RC(ipc_tracker_start(helper, 0), IPC_OK);
  ipc_segment_t *s = NULL;
  CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_UNIQUE_NAME | IPC_SEGMENT_TRACK, &s), IPC_OK);
  struct report r;
  memset(&r, 0, sizeof r);
  snprintf(r.generated, sizeof r.generated, "%s", ipc_segment_name(s));
  CHECK_RC(ipc_segment_create(n[0], 64, 0, IPC_SEGMENT_TRACK, &s), IPC_OK);
  CHECK_RC(ipc_segment_create(n[1], 64, 0, 0, &s), IPC_OK);
  CHECK_RC(ipc_segment_create(n[2], 64, 0, IPC_SEGMENT_TRACK, &s), IPC_OK);
  CHECK_RC(ipc_tracker_untrack(n[2]), 1);
  CHECK_RC(ipc_tracker_untrack(n[2]), 0);
  CHECK_RC(ipc_segment_create(n[3], 64, 0, 0, &s), IPC_OK);
  CHECK_RC(ipc_tracker_track(n[3]), IPC_OK); /* tracked after creation */
  CHECK_RC(ipc_tracker_track(n[3]), IPC_OK); /* twice is fine */
  CHECK_RC(ipc_segment_create(n[4], 64, 0, IPC_SEGMENT_TRACK, &s), IPC_OK);
  ipc_sem_t *sem = NULL;
  CHECK_RC(ipc_sem_create(n[5], 0, IPC_SEGMENT_TRACK, 0, 1, &s, &sem), IPC_OK);
  uint32_t names = 0;
  CHECK_RC(ipc_tracker_status(&r.helper_pid, &names, NULL), IPC_OK);
  CHECK(r.helper_pid > 0 && names == 5);
  /* The same name created again fails and stays tracked. */
  CHECK_RC(ipc_segment_create(n[0], 64, 0, IPC_SEGMENT_TRACK, &s), IPC_EEXIST);
  CHECK_RC(ipc_tracker_status(NULL, &names, NULL), IPC_OK);
  CHECK(names == 5);
  send_report(out, &r);
  for (;;) pause();
}

static void sigkill_removes_tracked_names(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(fds[0]);
    tracked_child(fds[1]);
  }
  close(fds[1]);
  struct report r = read_report(fds[0]);
  close(fds[0]);
  char n[6][64];
  const char *what[6] = {"user", "untracked", "cancelled", "replaced", "plain", "sem"};
  for (int i = 0; i < 6; i++) name_for(n[i], sizeof n[i], what[i], (long)child);
  CHECK(exists(r.generated) && exists(n[0]) && exists(n[1]) && exists(n[2]));
  CHECK(running(r.helper_pid));

  /* Under "replaced", a segment of this (live) process; under "plain", a file that is no segment. */
  ipc_segment_t *mine = NULL;
  CHECK_RC(ipc_segment_unlink(n[3]), IPC_OK);
  CHECK_RC(ipc_segment_create(n[3], 64, 0, 0, &mine), IPC_OK);
  char path[128];
  snprintf(path, sizeof path, "/dev/shm/%s", n[4]);
  CHECK(unlink(path) == 0);
  int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0);
  char junk[256];
  memset(junk, 'x', sizeof junk);
  CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
  close(fd);

  kill_and_reap(child);
  CHECK(gone_within_deadline(r.generated));
  CHECK(gone_within_deadline(n[0]));
  CHECK(gone_within_deadline(n[5]));
  /* The helper exits after its cleanup. */
  CHECK(exits_within_deadline(r.helper_pid));
  /* Kept: untracked, cancelled, a live process's segment, a plain file. */
  CHECK(exists(n[1]) && exists(n[2]) && exists(n[3]) && exists(n[4]));
  CHECK_RC(ipc_segment_unlink(n[1]), IPC_OK);
  CHECK_RC(ipc_segment_unlink(n[2]), IPC_OK);
  CHECK_RC(ipc_segment_unlink(n[3]), IPC_OK);
  CHECK_RC(ipc_segment_close(mine), IPC_OK);
  CHECK(unlink(path) == 0);
}

/* A process with a tracker forks a child that does not exec: the child has no tracker (its copy of
 * the socket is closed, so the parent's helper still sees the parent die) and starts its own. */
static void fork_child_gets_no_tracker(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t parent = fork();
  CHECK(parent >= 0);
  if (parent == 0) {
    close(fds[0]);
    ipc_segment_t *s = NULL;
    CHECK_RC(ipc_tracker_start(helper, 0), IPC_OK);
    CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_UNIQUE_NAME | IPC_SEGMENT_TRACK, &s), IPC_OK);
    struct report r;
    memset(&r, 0, sizeof r);
    snprintf(r.generated, sizeof r.generated, "%s", ipc_segment_name(s));
    CHECK_RC(ipc_tracker_status(&r.helper_pid, NULL, NULL), IPC_OK);
    int inner[2];
    CHECK(pipe(inner) == 0);
    pid_t grandchild = fork();
    CHECK(grandchild >= 0);
    if (grandchild == 0) {
      close(inner[0]);
      int32_t pid = -1;
      uint32_t names = 99;
      CHECK_RC(ipc_tracker_status(&pid, &names, NULL), IPC_OK);
      CHECK(pid == 0 && names == 0);
      ipc_segment_t *g = NULL;
      CHECK_RC(ipc_segment_create(NULL, 64, 0, IPC_SEGMENT_UNIQUE_NAME | IPC_SEGMENT_TRACK, &g), IPC_OK);
      struct report gr;
      memset(&gr, 0, sizeof gr);
      snprintf(gr.generated, sizeof gr.generated, "%s", ipc_segment_name(g));
      CHECK_RC(ipc_tracker_status(&gr.helper_pid, NULL, NULL), IPC_OK);
      send_report(inner[1], &gr);
      for (;;) pause();
    }
    close(inner[1]);
    struct report gr = read_report(inner[0]);
    CHECK(gr.helper_pid > 0 && gr.helper_pid != r.helper_pid);
    r.child_helper_pid = grandchild; /* the grandchild's pid, for the test to kill */
    send_report(fds[1], &r);
    send_report(fds[1], &gr);
    for (;;) pause();
  }
  close(fds[1]);
  struct report r = read_report(fds[0]);
  struct report gr = read_report(fds[0]);
  close(fds[0]);
  pid_t grandchild = r.child_helper_pid;
  CHECK(exists(r.generated) && exists(gr.generated));
  /* Kill the parent while its forked child lives on: the parent's names go, the child's stay. */
  kill_and_reap(parent);
  CHECK(gone_within_deadline(r.generated));
  CHECK(exists(gr.generated));
  CHECK(kill(grandchild, SIGKILL) == 0);
  CHECK(gone_within_deadline(gr.generated));
}

/* IPC_TRACKER_ALL tracks objects made without IPC_SEGMENT_TRACK; a killed helper is replaced and
 * the new one learns the names; ipc_tracker_stop keeps names. */
static void all_flag_restart_and_stop(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    close(fds[0]);
    long me = (long)getpid();
    char kept[64], first[64], second[64];
    name_for(kept, sizeof kept, "kept", me);
    name_for(first, sizeof first, "first", me);
    name_for(second, sizeof second, "second", me);
    ipc_segment_t *s = NULL;
    /* Stopping keeps what was tracked. */
    CHECK_RC(ipc_tracker_start(helper, 0), IPC_OK);
    CHECK_RC(ipc_segment_create(kept, 64, 0, IPC_SEGMENT_TRACK, &s), IPC_OK);
    int32_t old = 0;
    CHECK_RC(ipc_tracker_status(&old, NULL, NULL), IPC_OK);
    CHECK_RC(ipc_tracker_stop(), IPC_OK);
    CHECK(!running(old)); /* exited and reaped */
    CHECK(exists(kept));
    /* Track everything; then someone kills the helper. */
    CHECK_RC(ipc_tracker_start(helper, IPC_TRACKER_ALL), IPC_OK);
    uint32_t flags = 0;
    CHECK_RC(ipc_tracker_status(&old, NULL, &flags), IPC_OK);
    CHECK(flags == IPC_TRACKER_ALL);
    ipc_mutex_t *m = NULL;
    CHECK_RC(ipc_mutex_create(first, 0, 0, &s, &m), IPC_OK);
    CHECK(kill(old, SIGKILL) == 0);
    for (int i = 0; i < 2000 && kill(old, 0) == 0; i++) {
      int status;
      waitpid(old, &status, WNOHANG);
      sleep_ms(10);
    }
    CHECK_RC(ipc_segment_create(second, 64, 0, 0, &s), IPC_OK);
    struct report r;
    memset(&r, 0, sizeof r);
    uint32_t names = 0;
    CHECK_RC(ipc_tracker_status(&r.helper_pid, &names, NULL), IPC_OK);
    CHECK(r.helper_pid > 0 && r.helper_pid != old && names == 2);
    send_report(fds[1], &r);
    for (;;) pause();
  }
  close(fds[1]);
  struct report r = read_report(fds[0]);
  close(fds[0]);
  char kept[64], first[64], second[64];
  name_for(kept, sizeof kept, "kept", (long)child);
  name_for(first, sizeof first, "first", (long)child);
  name_for(second, sizeof second, "second", (long)child);
  CHECK(exists(first) && exists(second));
  kill_and_reap(child);
  CHECK(gone_within_deadline(first));
  CHECK(gone_within_deadline(second));
  CHECK(exits_within_deadline(r.helper_pid));
  CHECK(exists(kept));
  CHECK_RC(ipc_segment_unlink(kept), IPC_OK);
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  helper = argv[1];
  bad_inputs();
  sigkill_removes_tracked_names();
  fork_child_gets_no_tracker();
  all_flag_restart_and_stop();
  puts("test_tracker: ok");
  return 0;
}
