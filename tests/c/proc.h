/* For the C tests: one portable way to run this test program again as a child process in a role
 * (`<self> <role> <arg>`), wait for it with a deadline, kill it and read its exit code — on POSIX
 * with posix_spawn and waitpid, on Windows with CreateProcess, WaitForSingleObject and
 * TerminateProcess. Nothing is inherited but stdio: a child finds its segment by name, so a test
 * written on this helper relies on no mapping copied by fork and runs on Windows (under Wine) as on
 * Linux.
 *
 * Exit codes are the child's own; a child ended by a signal (POSIX) reads as 128 + the signal's
 * number, and proc_kill ends a Windows child with exit code 137, so a killed child reads as
 * PROC_KILLED (128 + SIGKILL) everywhere; a child that aborts reads as PROC_ABORTED (128 + SIGABRT
 * on POSIX, 3 on Windows, where abort ends the process with exit code 3). A wait that passes its
 * deadline reads as PROC_TIMEOUT and leaves the child running (the caller kills it). The helpers are static inline so that a test
 * may use any of them without an unused-function warning. */
#ifndef IPC_TEST_PROC_H
#define IPC_TEST_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

#define PROC_KILLED 137
#ifdef _WIN32
#define PROC_ABORTED 3
#else
#define PROC_ABORTED 134
#endif
#define PROC_TIMEOUT (-1)

typedef struct {
#ifdef _WIN32
  HANDLE handle;
#endif
  long pid; /* 0 once reaped */
} proc_t;

/* This program's own path, for proc_spawn: set from main's argv[0] (POSIX runs it again by that path,
 * as its parent gave it; Windows asks the system). */
static const char *proc_self_path = NULL;

/* The current process's id, for names that must not collide with a parallel run. */
static inline long proc_self_id(void) {
#ifdef _WIN32
  return (long)GetCurrentProcessId();
#else
  return (long)getpid();
#endif
}

/* Gives the processor away once, for loops that wait for a word another process changes. */
static inline void proc_yield(void) {
#ifdef _WIN32
  SwitchToThread();
#else
  sched_yield();
#endif
}

/* Sets an environment variable that the children started after it inherit; nonzero when it worked. */
static inline int proc_setenv(const char *name, const char *value) {
#ifdef _WIN32
  return SetEnvironmentVariableA(name, value) && _putenv_s(name, value) == 0;
#else
  return setenv(name, value, 1) == 0;
#endif
}

/* Writes a segment name unique to this process and call ("/<tag>-<pid>-<n>", at most 31 bytes with a
 * tag of up to 8), for a segment the test shares with its children by name. */
static inline void proc_segment_name(char *out, size_t size, const char *tag) {
  static unsigned counter = 0;
  snprintf(out, size, "/%.8s-%ld-%u", tag, proc_self_id(), counter++);
}

/* A control segment beside a test's shared segment `name`: it is called `name` with "c" appended and
 * holds two semaphores, at offsets 0 and 64, by which a test and its children pace each other;
 * from offset 128 on, its 4096 bytes are the test's own. `create` makes it (both semaphores at 0),
 * otherwise it is opened. Exits the test (status 1) when it cannot. */
typedef struct {
  char name[48];
  ipc_segment_t *segment;
  ipc_sem_t *sems[2];
} proc_control_t;

static inline proc_control_t proc_control(const char *name, int create) {
  proc_control_t c;
  memset(&c, 0, sizeof c);
  snprintf(c.name, sizeof c.name, "%sc", name);
  int32_t rc = create ? ipc_segment_create(c.name, 4096, 0, 0, &c.segment) : ipc_segment_open(c.name, 0, &c.segment);
  for (uint64_t i = 0; rc == IPC_OK && i < 2; i++) {
    rc = create ? ipc_sem_init_at(c.segment, 64 * i, 0, 0, &c.sems[i]) : ipc_sem_at(c.segment, 64 * i, &c.sems[i]);
  }
  if (rc != IPC_OK) {
    fprintf(stderr, "proc_control(%s): %s\n", c.name, ipc_strerror(rc));
    exit(1);
  }
  return c;
}

/* Starts `<self> <role> <arg>` (arg may be NULL). Exits the test (status 1) when it cannot. */
static inline proc_t proc_spawn(const char *role, const char *arg) {
  proc_t p;
  memset(&p, 0, sizeof p);
#ifdef _WIN32
  char self[MAX_PATH], cmd[MAX_PATH + 256];
  if (GetModuleFileNameA(NULL, self, sizeof self) == 0) {
    fprintf(stderr, "proc_spawn: GetModuleFileNameA failed (%lu)\n", (unsigned long)GetLastError());
    exit(1);
  }
  snprintf(cmd, sizeof cmd, "\"%s\" %s %s", self, role, arg != NULL ? arg : "");
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  /* The child writes its failures to this process's stderr. */
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  /* Under Wine on a crowded machine (load average ~30 on 2 CPUs), CreateProcess now and then fails
   * with ERROR_INTERNAL_ERROR before the child runs any code of ours (seen once in five loaded
   * runs): that error is retried, at most 5 times, 100 ms apart. Any other error ends the test. */
  for (int attempt = 1;; attempt++) {
    if (CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) break;
    DWORD error = GetLastError();
    if (error != ERROR_INTERNAL_ERROR || attempt == 5) {
      fprintf(stderr, "proc_spawn: CreateProcessA(%s) failed (%lu)\n", cmd, (unsigned long)error);
      exit(1);
    }
    fprintf(stderr, "proc_spawn: CreateProcessA(%s) failed (%lu, an internal error): retrying\n", cmd, (unsigned long)error);
    Sleep(100);
  }
  CloseHandle(pi.hThread);
  p.handle = pi.hProcess;
  p.pid = (long)pi.dwProcessId;
#else
  if (proc_self_path == NULL) {
    fprintf(stderr, "proc_spawn: proc_self_path is not set (main must set it from argv[0])\n");
    exit(1);
  }
  char *argv[4] = {(char *)proc_self_path, (char *)role, (char *)arg, NULL};
  pid_t pid = 0;
  int err = posix_spawn(&pid, proc_self_path, NULL, NULL, argv, environ);
  if (err != 0) {
    fprintf(stderr, "proc_spawn: posix_spawn(%s) failed (%d)\n", proc_self_path, err);
    exit(1);
  }
  p.pid = (long)pid;
#endif
  return p;
}

/* Waits until the child ends or `timeout_ns` passes: its exit code, or PROC_TIMEOUT. */
static inline int proc_wait(proc_t *p, int64_t timeout_ns) {
#ifdef _WIN32
  DWORD ms = timeout_ns < 0 ? INFINITE : (DWORD)(timeout_ns / 1000000);
  DWORD got = WaitForSingleObject(p->handle, ms);
  if (got == WAIT_TIMEOUT) return PROC_TIMEOUT;
  DWORD code = 1;
  if (got != WAIT_OBJECT_0 || !GetExitCodeProcess(p->handle, &code)) {
    fprintf(stderr, "proc_wait: waiting for process %ld failed (%lu)\n", p->pid, (unsigned long)GetLastError());
    exit(1);
  }
  CloseHandle(p->handle);
  p->handle = NULL;
  p->pid = 0;
  return (int)code;
#else
  /* waitpid has no deadline: WNOHANG, then a 1 ms nap, until the child ends or time is up. */
  const struct timespec ms = {0, 1000000L};
  uint64_t t0 = ipc_now_ns();
  for (;;) {
    int status = 0;
    pid_t got = waitpid((pid_t)p->pid, &status, timeout_ns < 0 ? 0 : WNOHANG);
    if (got == (pid_t)p->pid) {
      p->pid = 0;
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return WEXITSTATUS(status);
    }
    if (got < 0) {
      fprintf(stderr, "proc_wait: waitpid(%ld) failed\n", p->pid);
      exit(1);
    }
    if (ipc_now_ns() - t0 >= (uint64_t)timeout_ns) return PROC_TIMEOUT;
    nanosleep(&ms, NULL);
  }
#endif
}

/* Kills the child at once (SIGKILL, TerminateProcess with exit code PROC_KILLED); proc_wait reaps it. */
static inline void proc_kill(proc_t *p) {
#ifdef _WIN32
  if (!TerminateProcess(p->handle, PROC_KILLED)) {
    fprintf(stderr, "proc_kill: TerminateProcess(%ld) failed (%lu)\n", p->pid, (unsigned long)GetLastError());
    exit(1);
  }
#else
  if (kill((pid_t)p->pid, SIGKILL) != 0) {
    fprintf(stderr, "proc_kill: kill(%ld) failed\n", p->pid);
    exit(1);
  }
#endif
}

/* Waits (up to `timeout_ns`) for the child and expects exit code `want`; on a timeout the child is
 * killed and reaped. Returns whether it ended as wanted (and says why not on stderr). */
static inline int proc_expect(proc_t *p, int64_t timeout_ns, int want, const char *what) {
  int code = proc_wait(p, timeout_ns);
  if (code == PROC_TIMEOUT) {
    fprintf(stderr, "%s: child %ld still running after the deadline: killed\n", what, p->pid);
    proc_kill(p);
    proc_wait(p, -1);
    return 0;
  }
  if (code != want) fprintf(stderr, "%s: child exited %d, expected %d\n", what, code, want);
  return code == want;
}

#endif
