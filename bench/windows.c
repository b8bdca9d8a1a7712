/* Windows benchmarks, run under Wine by bench/run.ts (group "windows"): the lock and round-trip rows
 * of the Linux groups, with Win32's own cross-process objects as the peers. Under Wine every Win32
 * wait is a round trip to wineserver, so these rows say how libipc and Win32 compare under Wine and
 * nothing about native Windows. One JSON line per case (see bench/report.ts).
 *   ipc-bench-windows uncontended [pairs]
 *       ipc_mutex_lock+unlock pairs on one thread; the peer: a named Win32 mutex (the kernel's robust
 *       lock: abandoned when its holder dies), WaitForSingleObject+ReleaseMutex.
 *   ipc-bench-windows roundtrip [rounds]
 *       16 bytes to a child process and back: two libipc channels in a named segment; the peer: two
 *       anonymous pipes (ReadFile/WriteFile) inherited by the child. QueryPerformanceCounter around
 *       each round; the first 10% dropped, p50 and p99 of the rest.
 *   ipc-bench-windows semaphore [rounds]
 *       A token passed back and forth between two processes: two libipc semaphores; the peer: two named
 *       Win32 semaphores (ReleaseSemaphore/WaitForSingleObject). Same statistics.
 * The child is this program run again: `ipc-bench-windows echo-<kind> <name or handles> <rounds>`. */
#include "ipc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define TIMEOUT_NS (60LL * 1000000000LL)
#define RING 65536

static const char *case_prefix = "Windows under Wine: ";

static uint64_t now_ns(void) {
  static LARGE_INTEGER frequency;
  LARGE_INTEGER t;
  if (frequency.QuadPart == 0) QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&t);
  return (uint64_t)((double)t.QuadPart * 1e9 / (double)frequency.QuadPart);
}

__attribute__((noreturn)) static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-windows: %s: %s (Win32 error %lu)\n", what, ipc_errname(rc), (unsigned long)GetLastError());
  exit(1);
}

static void report(const char *name, const char *tool, const char *unit, double value, int peer) {
  printf("{\"case\":\"%s%s\",\"tool\":\"%s\",\"unit\":\"%s\",\"value\":%.4f,\"peer\":%s}\n", case_prefix, name, tool, unit,
         value, peer ? "true" : "false");
  fflush(stdout);
}

static int compare(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* p50 and p99 of the rounds after the first 10%, in µs. */
static void report_rounds(const char *name, const char *tool, uint64_t *ns, long rounds, int peer) {
  long skip = rounds / 10, n = rounds - skip;
  qsort(ns + skip, (size_t)n, sizeof *ns, compare);
  char full[160];
  snprintf(full, sizeof full, "%s, p50", name);
  report(full, tool, "us", (double)ns[skip + n / 2] / 1000.0, peer);
  snprintf(full, sizeof full, "%s, p99", name);
  report(full, tool, "us", (double)ns[skip + (long)((double)n * 0.99)] / 1000.0, peer);
}

/* Starts `<self> <role> <arg> <rounds>`, inheriting handles (the pipe peer's ends). */
static HANDLE spawn(const char *role, const char *arg, long rounds) {
  char self[MAX_PATH], cmd[MAX_PATH + 256];
  if (GetModuleFileNameA(NULL, self, sizeof self) == 0) die("GetModuleFileNameA", IPC_EIO);
  snprintf(cmd, sizeof cmd, "\"%s\" %s %s %ld", self, role, arg, rounds);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) die("CreateProcessA", IPC_EIO);
  CloseHandle(pi.hThread);
  return pi.hProcess;
}

static void join(HANDLE child) {
  DWORD code = 1;
  if (WaitForSingleObject(child, 120000) != WAIT_OBJECT_0 || !GetExitCodeProcess(child, &code) || code != 0)
    die("child", IPC_EIO);
  CloseHandle(child);
}

static void unique_name(char *out, size_t size, const char *tag) {
  snprintf(out, size, "/bw%s-%lu", tag, (unsigned long)GetCurrentProcessId());
}

static int uncontended(long n) {
  ipc_segment_t *seg;
  ipc_mutex_t *m;
  int32_t rc = ipc_segment_create(NULL, 4096, 0, 0, &seg);
  if (rc) die("create", rc);
  if ((rc = ipc_mutex_init_at(seg, 0, &m))) die("init", rc);
  for (long i = 0; i < n / 10; i++) {
    ipc_mutex_lock(m);
    ipc_mutex_unlock(m);
  }
  uint64_t t = now_ns();
  for (long i = 0; i < n; i++) {
    if (ipc_mutex_lock(m) != IPC_OK) die("lock", IPC_EIO);
    ipc_mutex_unlock(m);
  }
  report("mutex lock+unlock, uncontended", "C libipc", "ns/pair", (double)(now_ns() - t) / (double)n, 0);
  char name[64];
  snprintf(name, sizeof name, "Local\\bench-mutex-%lu", (unsigned long)GetCurrentProcessId());
  HANDLE w = CreateMutexA(NULL, FALSE, name);
  if (w == NULL) die("CreateMutexA", IPC_EIO);
  long peer_n = n / 20; /* each pair is two trips to wineserver */
  t = now_ns();
  for (long i = 0; i < peer_n; i++) {
    if (WaitForSingleObject(w, INFINITE) != WAIT_OBJECT_0) die("WaitForSingleObject", IPC_EIO);
    ReleaseMutex(w);
  }
  report("mutex lock+unlock, uncontended", "C Win32 named mutex", "ns/pair", (double)(now_ns() - t) / (double)peer_n, 1);
  CloseHandle(w);
  return ipc_segment_close(seg) == IPC_OK ? 0 : 1;
}

/* The channels: ping at 0, pong at `size`, in the named segment `name`. */
static void channels(ipc_segment_t *seg, int init, ipc_chan_t **ping, ipc_chan_t **pong) {
  uint64_t size;
  int32_t rc = ipc_chan_size(RING, &size);
  if (rc) die("chan size", rc);
  if (init) {
    if ((rc = ipc_chan_init_at(seg, 0, RING, 0, ping)) || (rc = ipc_chan_init_at(seg, size, RING, 0, pong))) die("init", rc);
  } else {
    if ((rc = ipc_chan_at(seg, 0, ping)) || (rc = ipc_chan_at(seg, size, pong))) die("chan at", rc);
  }
}

static int echo_chan(const char *name, long rounds) {
  ipc_segment_t *seg;
  ipc_chan_t *ping, *pong;
  int32_t rc = ipc_segment_open(name, 0, &seg);
  if (rc) die("child open", rc);
  channels(seg, 0, &ping, &pong);
  uint8_t buffer[64];
  uint64_t length;
  for (long i = 0; i < rounds; i++) {
    if ((rc = ipc_chan_recv(ping, buffer, sizeof buffer, &length, TIMEOUT_NS))) die("child recv", rc);
    if ((rc = ipc_chan_send(pong, buffer, length, TIMEOUT_NS))) die("child send", rc);
  }
  return 0;
}

static int echo_pipe(const char *handles, long rounds) {
  unsigned long long in = 0, out = 0;
  if (sscanf(handles, "%llu:%llu", &in, &out) != 2) die("child handles", IPC_EINVAL);
  uint8_t buffer[16];
  for (long i = 0; i < rounds; i++) {
    DWORD got = 0, put = 0;
    if (!ReadFile((HANDLE)(uintptr_t)in, buffer, sizeof buffer, &got, NULL) || got != sizeof buffer) die("child read", IPC_EIO);
    if (!WriteFile((HANDLE)(uintptr_t)out, buffer, sizeof buffer, &put, NULL) || put != sizeof buffer) die("child write", IPC_EIO);
  }
  return 0;
}

static int roundtrip(long rounds) {
  uint64_t *ns = malloc((size_t)rounds * sizeof *ns);
  if (ns == NULL) die("malloc", IPC_ENOMEM);
  char name[32];
  unique_name(name, sizeof name, "chan");
  uint64_t size;
  int32_t rc = ipc_chan_size(RING, &size);
  ipc_segment_t *seg;
  if (rc || (rc = ipc_segment_create(name, 2 * size, 0, 0, &seg))) die("create", rc);
  ipc_chan_t *ping, *pong;
  channels(seg, 1, &ping, &pong);
  HANDLE child = spawn("echo-chan", name, rounds);
  uint8_t message[16] = {1}, buffer[64];
  uint64_t length;
  for (long i = 0; i < rounds; i++) {
    uint64_t t = now_ns();
    if ((rc = ipc_chan_send(ping, message, sizeof message, TIMEOUT_NS))) die("send", rc);
    if ((rc = ipc_chan_recv(pong, buffer, sizeof buffer, &length, TIMEOUT_NS))) die("recv", rc);
    ns[i] = now_ns() - t;
  }
  join(child);
  report_rounds("round trip, 16 B", "C libipc Chan", ns, rounds, 0);
  ipc_segment_unlink(name);
  ipc_segment_close(seg);

  /* The peer: anonymous pipes, the child's ends inherited. */
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE to_read, to_write, from_read, from_write;
  if (!CreatePipe(&to_read, &to_write, &inherit, 0) || !CreatePipe(&from_read, &from_write, &inherit, 0)) die("CreatePipe", IPC_EIO);
  SetHandleInformation(to_write, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(from_read, HANDLE_FLAG_INHERIT, 0);
  char handles[64];
  snprintf(handles, sizeof handles, "%llu:%llu", (unsigned long long)(uintptr_t)to_read, (unsigned long long)(uintptr_t)from_write);
  long peer_rounds = rounds / 4;
  child = spawn("echo-pipe", handles, peer_rounds);
  CloseHandle(to_read);
  CloseHandle(from_write);
  for (long i = 0; i < peer_rounds; i++) {
    DWORD put = 0, got = 0;
    uint64_t t = now_ns();
    if (!WriteFile(to_write, message, sizeof message, &put, NULL) || put != sizeof message) die("write", IPC_EIO);
    if (!ReadFile(from_read, buffer, sizeof message, &got, NULL) || got != sizeof message) die("read", IPC_EIO);
    ns[i] = now_ns() - t;
  }
  join(child);
  report_rounds("round trip, 16 B", "C Win32 anonymous pipes", ns, peer_rounds, 1);
  CloseHandle(to_write);
  CloseHandle(from_read);
  free(ns);
  return 0;
}

static int echo_semaphore(const char *name, long rounds) {
  ipc_segment_t *seg;
  ipc_sem_t *s1, *s2;
  int32_t rc = ipc_segment_open(name, 0, &seg);
  if (rc || (rc = ipc_sem_at(seg, 0, &s1)) || (rc = ipc_sem_at(seg, 64, &s2))) die("child open", rc);
  for (long i = 0; i < rounds; i++) {
    if ((rc = ipc_sem_acquire(s1, 1, TIMEOUT_NS)) || (rc = ipc_sem_release(s2, 1))) die("child pass", rc);
  }
  return 0;
}

static void win32_semaphores(const char *tag, HANDLE *s1, HANDLE *s2, int create) {
  char n1[80], n2[80];
  snprintf(n1, sizeof n1, "Local\\bench-%s-1", tag);
  snprintf(n2, sizeof n2, "Local\\bench-%s-2", tag);
  *s1 = create ? CreateSemaphoreA(NULL, 0, 1, n1) : OpenSemaphoreA(SEMAPHORE_ALL_ACCESS, FALSE, n1);
  *s2 = create ? CreateSemaphoreA(NULL, 0, 1, n2) : OpenSemaphoreA(SEMAPHORE_ALL_ACCESS, FALSE, n2);
  if (*s1 == NULL || *s2 == NULL) die("semaphores", IPC_EIO);
}

static int echo_win32_semaphore(const char *tag, long rounds) {
  HANDLE s1, s2;
  win32_semaphores(tag, &s1, &s2, 0);
  for (long i = 0; i < rounds; i++) {
    if (WaitForSingleObject(s1, 60000) != WAIT_OBJECT_0 || !ReleaseSemaphore(s2, 1, NULL)) die("child pass", IPC_EIO);
  }
  return 0;
}

static int semaphore(long rounds) {
  uint64_t *ns = malloc((size_t)rounds * sizeof *ns);
  if (ns == NULL) die("malloc", IPC_ENOMEM);
  char name[32];
  unique_name(name, sizeof name, "sem");
  ipc_segment_t *seg;
  ipc_sem_t *s1, *s2;
  int32_t rc = ipc_segment_create(name, 4096, 0, 0, &seg);
  if (rc || (rc = ipc_sem_init_at(seg, 0, 0, 1, &s1)) || (rc = ipc_sem_init_at(seg, 64, 0, 1, &s2))) die("create", rc);
  HANDLE child = spawn("echo-semaphore", name, rounds);
  for (long i = 0; i < rounds; i++) {
    uint64_t t = now_ns();
    if ((rc = ipc_sem_release(s1, 1)) || (rc = ipc_sem_acquire(s2, 1, TIMEOUT_NS))) die("pass", rc);
    ns[i] = now_ns() - t;
  }
  join(child);
  report_rounds("semaphore ping-pong", "C libipc Semaphore", ns, rounds, 0);
  ipc_segment_unlink(name);
  ipc_segment_close(seg);

  char tag[32];
  snprintf(tag, sizeof tag, "sem-%lu", (unsigned long)GetCurrentProcessId());
  HANDLE w1, w2;
  win32_semaphores(tag, &w1, &w2, 1);
  long peer_rounds = rounds / 4;
  child = spawn("echo-win32-semaphore", tag, peer_rounds);
  for (long i = 0; i < peer_rounds; i++) {
    uint64_t t = now_ns();
    if (!ReleaseSemaphore(w1, 1, NULL) || WaitForSingleObject(w2, 60000) != WAIT_OBJECT_0) die("pass", IPC_EIO);
    ns[i] = now_ns() - t;
  }
  join(child);
  report_rounds("semaphore ping-pong", "C Win32 named semaphores", ns, peer_rounds, 1);
  CloseHandle(w1);
  CloseHandle(w2);
  free(ns);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4) {
    long rounds = atol(argv[3]);
    if (strcmp(argv[1], "echo-chan") == 0) return echo_chan(argv[2], rounds);
    if (strcmp(argv[1], "echo-pipe") == 0) return echo_pipe(argv[2], rounds);
    if (strcmp(argv[1], "echo-semaphore") == 0) return echo_semaphore(argv[2], rounds);
    if (strcmp(argv[1], "echo-win32-semaphore") == 0) return echo_win32_semaphore(argv[2], rounds);
  }
  long n = argc > 2 ? atol(argv[2]) : 0;
  if (argc >= 2 && strcmp(argv[1], "uncontended") == 0) return uncontended(n > 0 ? n : 2000000);
  if (argc >= 2 && strcmp(argv[1], "roundtrip") == 0) return roundtrip(n > 0 ? n : 20000);
  if (argc >= 2 && strcmp(argv[1], "semaphore") == 0) return semaphore(n > 0 ? n : 20000);
  fprintf(stderr, "usage: ipc-bench-windows uncontended|roundtrip|semaphore [count]\n");
  return 64;
}
