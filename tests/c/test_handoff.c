/* Handing an anonymous segment to a child process, the same test on POSIX and on Windows (under
 * Wine here): the parent creates an anonymous segment, writes a text, marks the segment's fd (POSIX)
 * or handle (Windows) inheritable with ipc_fd_inherit, and starts the C child (ipc-child: fork and
 * exec with "fd:N" on POSIX, CreateProcess with bInheritHandles TRUE and "handle:N" on Windows).
 * The child opens the segment from that number, checks the parent's text, writes its own, and
 * closes what it inherited with ipc_fd_close. Checked:
 *   - without ipc_fd_inherit the child cannot open the number (segments are created not
 *     inheritable), and after ipc_fd_inherit(fd, 0) it cannot again;
 *   - with it, the child reads the parent's text and the parent sees the child's;
 *   - ipc_fd_close closes an fd or handle once, and bad values (negative, closed, `inherit` other
 *     than 0 or 1) are IPC_EINVAL, never a crash.
 * argv[1] is the ipc-child program (the build passes it); without it, ipc-child(.exe) beside this
 * program (how scripts/wine.mjs runs it). */
#define _POSIX_C_SOURCE 200809L
#include "ipc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#ifdef _WIN32
#include <windows.h>
#define PREFIX "handle:"
#else
#include <sys/wait.h>
#include <unistd.h>
#define PREFIX "fd:"
#endif

static char child_path[1024];

/* Runs ipc-child with `args` (at most 5) and returns its exit code. */
static int run_child(const char *const *args, int count) {
#ifdef _WIN32
  char cmd[2048];
  int len = snprintf(cmd, sizeof cmd, "\"%s\"", child_path);
  for (int i = 0; i < count; i++) len += snprintf(cmd + len, sizeof cmd - (size_t)len, " \"%s\"", args[i]);
  CHECK(len < (int)sizeof cmd);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  CHECK(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
  CHECK(WaitForSingleObject(pi.hProcess, 120000) == WAIT_OBJECT_0);
  DWORD code = 1;
  CHECK(GetExitCodeProcess(pi.hProcess, &code));
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  return (int)code;
#else
  char *argv[8];
  argv[0] = child_path;
  for (int i = 0; i < count; i++) argv[i + 1] = (char *)args[i];
  argv[count + 1] = NULL;
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    execv(child_path, argv);
    _exit(127);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
#endif
}

/* A second fd or handle for the segment's file, which the caller owns. */
static int32_t duplicate(int32_t fd) {
#ifdef _WIN32
  HANDLE out;
  CHECK(DuplicateHandle(GetCurrentProcess(), (HANDLE)(intptr_t)fd, GetCurrentProcess(), &out, 0, FALSE,
                        DUPLICATE_SAME_ACCESS));
  return (int32_t)(intptr_t)out;
#else
  int out = dup(fd);
  CHECK(out >= 0);
  return out;
#endif
}

static void find_child(int argc, char **argv) {
  if (argc > 1) {
    CHECK(strlen(argv[1]) < sizeof child_path);
    strcpy(child_path, argv[1]);
    return;
  }
#ifdef _WIN32
  DWORD n = GetModuleFileNameA(NULL, child_path, sizeof child_path);
  CHECK(n > 0 && n < sizeof child_path);
  char *slash = strrchr(child_path, '\\');
  CHECK(slash != NULL && (size_t)(slash - child_path) + 16 < sizeof child_path);
  strcpy(slash + 1, "ipc-child.exe");
#else
  fprintf(stderr, "usage: test_handoff <ipc-child>\n");
  exit(64);
#endif
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  find_child(argc, argv);

  ipc_segment_t *seg = NULL;
  CHECK_RC(ipc_segment_create(NULL, 4096, 0, 0, &seg), IPC_OK);
  int32_t fd = ipc_segment_fd(seg);
  CHECK(fd > 0);
  strcpy((char *)ipc_segment_base(seg), "from the parent");
  char where[32];
  snprintf(where, sizeof where, PREFIX "%d", (int)fd);
  const char *check[] = {"segment", "check", where, "0", "from the parent"};
  const char *write[] = {"segment", "write", where, "64", "from the child"};

  /* Segments are created not inheritable: the child finds nothing under that number. */
  CHECK(run_child(check, 5) == 2);
  printf("ok - without ipc_fd_inherit the child cannot open %s\n", where);

  CHECK_RC(ipc_fd_inherit(fd, 1), IPC_OK);
  CHECK_RC(ipc_fd_inherit(fd, 1), IPC_OK); /* twice is once */
  CHECK(run_child(check, 5) == 0);
  CHECK(run_child(write, 5) == 0);
  CHECK(strcmp((char *)ipc_segment_base(seg) + 64, "from the child") == 0);
  printf("ok - with ipc_fd_inherit the child read the parent's text and the parent sees the child's\n");

  CHECK_RC(ipc_fd_inherit(fd, 0), IPC_OK);
  CHECK(run_child(check, 5) == 2);
  printf("ok - after ipc_fd_inherit(fd, 0) the child cannot open it again\n");

  /* ipc_fd_close closes a number once; bad values are IPC_EINVAL. */
  int32_t extra = duplicate(fd);
  CHECK_RC(ipc_fd_close(extra), IPC_OK);
  CHECK_RC(ipc_fd_close(extra), IPC_EINVAL);
  CHECK_RC(ipc_fd_inherit(extra, 1), IPC_EINVAL);
  CHECK_RC(ipc_fd_inherit(-1, 1), IPC_EINVAL);
  CHECK_RC(ipc_fd_inherit(INT32_MIN, 0), IPC_EINVAL);
  CHECK_RC(ipc_fd_inherit(fd, 2), IPC_EINVAL);
  CHECK_RC(ipc_fd_inherit(fd, -1), IPC_EINVAL);
  CHECK_RC(ipc_fd_close(-1), IPC_EINVAL);
  CHECK_RC(ipc_fd_close(INT32_MIN), IPC_EINVAL);
#ifdef _WIN32
  CHECK_RC(ipc_fd_inherit(0, 1), IPC_EINVAL);
  CHECK_RC(ipc_fd_close(0), IPC_EINVAL);
#endif
  /* The segment's own number was untouched by all this. */
  CHECK(strcmp((char *)ipc_segment_base(seg), "from the parent") == 0);
  CHECK_RC(ipc_segment_close(seg), IPC_OK);
  printf("ok - ipc_fd_close closes once; bad values are IPC_EINVAL\n");
  printf("all handoff tests passed\n");
  return 0;
}
