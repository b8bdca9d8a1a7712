/*
 * Peer for message passing: a unix domain socket (SOCK_STREAM) between two C processes, the parent
 * listening on a path in a fresh temp directory (removed as soon as the child is connected) and a
 * fork()ed child connecting to it. Blocking write()/read(); one write() per message; the reader takes
 * whatever each read() brings, up to 256 KiB.
 *
 *   ipc-peer-unix-socket roundtrip          16-byte message echoed back: p50, p99 of 20 000 (2 000 warm-up)
 *   ipc-peer-unix-socket throughput-64      64 B messages one way, M msg/s
 *   ipc-peer-unix-socket throughput-64k     64 KiB messages one way, GB/s
 *
 * Throughput: the receiver writes back its byte total (a double) every `batch` messages; the sender
 * collects these without blocking every `batch` messages and stops the clock once the total reaches
 * everything it sent. The warm-up's rate sizes the timed phase to about 1.5 s; an optional last
 * argument fixes the number of timed messages. Same cases and counts as common.ts.
 * Build and run through bench/ipc_peers/unix_socket_c.mjs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WARM 2000
#define ROUNDS 20000
#define TARGET_SECONDS 1.5
#define TOOL "unix socket (C<->C)"

struct tput {
  const char *arg, *name, *unit;
  size_t size, warm, max, batch;
};

static const struct tput cases[] = {
  {"throughput-64", "throughput, 64 B messages, 1->1", "M msg/s", 64, 65536, 8388608, 4096},
  {"throughput-64k", "throughput, 64 KiB messages, 1->1", "GB/s", 65536, 1024, 131072, 16},
};

static void die(const char *what) {
  fprintf(stderr, "unix_socket: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_all(int fd, const void *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    p = (const char *)p + w;
    n -= (size_t)w;
  }
}

static void read_all(int fd, void *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die("read");
    p = (char *)p + r;
    n -= (size_t)r;
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The child: echo (ack_every == 0) or count bytes and write the total back every ack_every bytes. */
static void child(int fd, size_t ack_every) {
  static char buf[256 * 1024];
  double bytes = 0, next = (double)ack_every;
  for (;;) {
    ssize_t r = read(fd, buf, ack_every ? sizeof buf : 16);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("child read");
    if (r == 0) return;
    if (!ack_every) {
      write_all(fd, buf, (size_t)r);
      continue;
    }
    bytes += (double)r;
    while (bytes >= next) {
      write_all(fd, &next, sizeof next);
      next += (double)ack_every;
    }
  }
}

/* Sender side of throughput: the receiver's latest byte total, read blocking or not. */
static double acked;
static char ackbuf[4096];
static size_t ackfill;

static void read_acks(int fd, int block) {
  for (;;) {
    ssize_t r = recv(fd, ackbuf + ackfill, sizeof ackbuf - ackfill, block ? 0 : MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) die("ack read");
    ackfill += (size_t)r;
    size_t whole = ackfill - ackfill % 8;
    if (whole > 0) {
      memcpy(&acked, ackbuf + whole - 8, 8);
      memmove(ackbuf, ackbuf + whole, ackfill - whole);
      ackfill -= whole;
    }
    if (block) return;
  }
}

/* Sends `n` more messages and waits until the receiver has acknowledged everything sent so far. */
static void run(int fd, const struct tput *c, const char *msg, size_t n, size_t *sent) {
  for (size_t i = 0; i < n; i++) {
    write_all(fd, msg, c->size);
    if (++*sent % c->batch == 0) read_acks(fd, 0);
  }
  while (acked < (double)*sent * (double)c->size) read_acks(fd, 1);
}

static void roundtrip(int fd) {
  static double us[ROUNDS];
  char msg[16], back[16];
  memset(msg, 'x', sizeof msg);
  for (int i = 0; i < WARM + ROUNDS; i++) {
    double t = now();
    write_all(fd, msg, sizeof msg);
    read_all(fd, back, sizeof back);
    double dt = now() - t;
    if (memcmp(msg, back, sizeof msg) != 0) {
      fprintf(stderr, "unix_socket: echo mismatch\n");
      exit(1);
    }
    if (i >= WARM) us[i - WARM] = dt * 1e6;
  }
  qsort(us, ROUNDS, sizeof us[0], cmp_double);
  const char *note = "16-byte message, blocking write/read";
  printf("{\"case\":\"round trip, small message, p50\",\"tool\":\"" TOOL "\",\"unit\":\"us\",\"value\":%.3f,"
         "\"peer\":true,\"note\":\"%s\"}\n", us[ROUNDS / 2], note);
  printf("{\"case\":\"round trip, small message, p99\",\"tool\":\"" TOOL "\",\"unit\":\"us\",\"value\":%.3f,"
         "\"peer\":true,\"note\":\"%s\"}\n", us[ROUNDS * 99 / 100], note);
}

static void throughput(int fd, const struct tput *c, size_t fixed) {
  char *msg = malloc(c->size);
  if (!msg) die("malloc");
  memset(msg, 'x', c->size);
  size_t sent = 0;
  double w0 = now();
  run(fd, c, msg, c->warm, &sent);
  size_t count = fixed;
  if (!count) {
    double wanted = (double)c->warm / (now() - w0) * TARGET_SECONDS;
    size_t batches = (size_t)(wanted / (double)c->batch + 0.5);
    count = (batches < 8 ? 8 : batches) * c->batch;
    if (count > c->max) count = c->max;
  }
  double t0 = now();
  run(fd, c, msg, count, &sent);
  double seconds = now() - t0;
  if (acked != (double)sent * (double)c->size) {
    fprintf(stderr, "unix_socket: receiver total mismatch\n");
    exit(1);
  }
  double value = c->size > 1024 ? (double)count * (double)c->size / seconds / 1e9 : (double)count / seconds / 1e6;
  printf("{\"case\":\"%s\",\"tool\":\"" TOOL "\",\"unit\":\"%s\",\"value\":%.6g,\"peer\":true,"
         "\"note\":\"one write() per message, receiver's byte total back every %zu messages; %zu messages timed\"}\n",
         c->name, c->unit, value, c->batch, count);
  free(msg);
}

int main(int argc, char **argv) {
  const struct tput *c = NULL;
  int rt = argc >= 2 && strcmp(argv[1], "roundtrip") == 0;
  for (size_t i = 0; !rt && argc >= 2 && i < sizeof cases / sizeof cases[0]; i++) {
    if (strcmp(argv[1], cases[i].arg) == 0) c = &cases[i];
  }
  if (!rt && !c) {
    fprintf(stderr, "usage: %s roundtrip|throughput-64|throughput-64k [messages]\n", argv[0]);
    return 2;
  }
  size_t fixed = 0;
  if (c && argc >= 3) {
    size_t batches = (size_t)(strtod(argv[2], NULL) / (double)c->batch + 0.5);
    fixed = (batches ? batches : 1) * c->batch;
  }

  const char *tmp = getenv("TMPDIR");
  char dir[256], path[300];
  snprintf(dir, sizeof dir, "%s/ipc-peer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp");
  snprintf(path, sizeof path, "%s/s.sock", dir);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "unix_socket: socket path too long: %s\n", path);
    rmdir(dir);
    return 1;
  }
  strcpy(addr.sun_path, path);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0) {
    int e = errno;
    unlink(path);
    rmdir(dir);
    errno = e;
    die("listen");
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(listener);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    child(fd, c ? c->batch * c->size : 0);
    _exit(0);
  }
  int fd = accept(listener, NULL, NULL);
  int e = errno;
  close(listener);
  unlink(path);
  rmdir(dir);
  errno = e;
  if (fd < 0) die("accept");

  if (rt) roundtrip(fd);
  else throughput(fd, c, fixed);
  fflush(stdout);

  shutdown(fd, SHUT_WR);
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid");
  close(fd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "unix_socket: the child failed\n");
    return 1;
  }
  return 0;
}
