/* Channel benchmarks from C. One JSON line per case (see bench/report.ts); case names match
 * bench/chan.ts. The parent creates two channels (1 MiB rings) in an anonymous segment and forks.
 *   ipc-bench-chan roundtrip [rounds]
 *       A 16-byte message to the child (ipc_chan_send) and back (ipc_chan_recv); CLOCK_MONOTONIC
 *       around each round; the first 10% dropped, p50 and p99 of the rest.
 *   ipc-bench-chan throughput64 [count]
 *       64-byte messages one way, 1->1: sent one by one, then 256 per ipc_chan_send_many; the
 *       receiver takes them with ipc_chan_recv_many and reports its total at the end. Then 2->2:
 *       two forked senders (batches of 256) and two forked receivers on one channel, which take
 *       what comes until the parent ends the channel; their totals must add up.
 *   ipc-bench-chan throughput64k [count]
 *       64 KiB messages one way (ipc_chan_send, ipc_chan_recv): GB/s. */
#define _GNU_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_NS (60LL * 1000000000LL)
#define RING (1u << 20)
#define BATCH 256

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int32_t rc) {
  fprintf(stderr, "ipc-bench-chan: %s: %s\n", what, ipc_errname(rc));
  _exit(1);
}

static void report(const char *name, const char *tool, const char *unit, double value) {
  printf("{\"case\":\"%s\",\"tool\":\"%s\",\"unit\":\"%s\",\"value\":%.4f,\"peer\":false}\n", name, tool, unit, value);
  fflush(stdout);
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static ipc_chan_t *ping, *pong;

/* Receives `count` messages in batches; returns their bytes. */
static uint64_t drain(long count) {
  static uint8_t buffer[RING / 2];
  uint32_t lengths[IPC_CHAN_BATCH_MAX], n;
  uint64_t bytes = 0;
  for (long got = 0; got < count;) {
    int32_t rc = ipc_chan_recv_many(ping, buffer, sizeof buffer, lengths, IPC_CHAN_BATCH_MAX, &n, TIMEOUT_NS);
    if (rc != IPC_OK) die("recv_many", rc);
    for (uint32_t i = 0; i < n; i++) bytes += lengths[i];
    got += n;
  }
  return bytes;
}

static pid_t fork_child(void (*body)(long), long count) {
  pid_t pid = fork();
  if (pid == 0) {
    body(count);
    _exit(0);
  }
  return pid;
}

static void wait_children(void) {
  int status;
  while (wait(&status) > 0) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child", IPC_EIO);
  }
}

static void echo(long rounds) {
  uint8_t buffer[64];
  uint64_t length;
  for (long i = 0; i < rounds; i++) {
    int32_t rc = ipc_chan_recv(ping, buffer, sizeof buffer, &length, TIMEOUT_NS);
    if (rc != IPC_OK) die("child recv", rc);
    if ((rc = ipc_chan_send(pong, buffer, length, TIMEOUT_NS)) != IPC_OK) die("child send", rc);
  }
}

static void receive_and_ack(long count) {
  uint64_t bytes = drain(count);
  int32_t rc = ipc_chan_send(pong, &bytes, sizeof bytes, TIMEOUT_NS);
  if (rc != IPC_OK) die("ack", rc);
}

/* Receives until the channel ends; acknowledges the bytes it got. */
static void receive_until_end(long unused) {
  (void)unused;
  static uint8_t buffer[RING / 2];
  uint32_t lengths[IPC_CHAN_BATCH_MAX], n;
  uint64_t bytes = 0;
  for (;;) {
    int32_t rc = ipc_chan_recv_many(ping, buffer, sizeof buffer, lengths, IPC_CHAN_BATCH_MAX, &n, TIMEOUT_NS);
    if (rc == IPC_EOF) break;
    if (rc != IPC_OK) die("recv_many", rc);
    for (uint32_t i = 0; i < n; i++) bytes += lengths[i];
  }
  int32_t rc = ipc_chan_send(pong, &bytes, sizeof bytes, TIMEOUT_NS);
  if (rc != IPC_OK) die("ack", rc);
}

static void send_batches(long count) {
  static uint8_t data[64 * BATCH];
  uint32_t lengths[BATCH];
  for (int i = 0; i < BATCH; i++) lengths[i] = 64;
  for (long sent = 0; sent < count; sent += BATCH) {
    int32_t rc = ipc_chan_send_many(ping, data, lengths, BATCH, TIMEOUT_NS);
    if (rc != IPC_OK) die("send_many", rc);
  }
}

static uint64_t ack_total(int n) {
  uint64_t total = 0, bytes, length;
  for (int i = 0; i < n; i++) {
    int32_t rc = ipc_chan_recv(pong, &bytes, sizeof bytes, &length, TIMEOUT_NS);
    if (rc != IPC_OK) die("ack recv", rc);
    total += bytes;
  }
  return total;
}

static void ack_wait(int n) {
  uint64_t bytes, length;
  for (int i = 0; i < n; i++) {
    int32_t rc = ipc_chan_recv(pong, &bytes, sizeof bytes, &length, TIMEOUT_NS);
    if (rc != IPC_OK) die("ack recv", rc);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ipc-bench-chan <roundtrip|throughput64|throughput64k> [count]\n");
    return 2;
  }
  const char *kind = argv[1];
  ipc_segment_t *seg;
  uint64_t size;
  ipc_chan_size(RING, &size);
  int32_t rc = ipc_segment_create(NULL, 2 * size, 0, 0, &seg);
  if (rc != IPC_OK) die("segment", rc);
  if ((rc = ipc_chan_init_at(seg, 0, RING, 0, &ping)) != IPC_OK) die("init", rc);
  if ((rc = ipc_chan_init_at(seg, size, RING, 0, &pong)) != IPC_OK) die("init", rc);

  if (strcmp(kind, "roundtrip") == 0) {
    long rounds = argc > 2 ? atol(argv[2]) : 200000;
    double *us = malloc(sizeof(double) * (size_t)rounds);
    fork_child(echo, rounds);
    uint8_t message[16] = {0}, buffer[64];
    uint64_t length;
    for (long i = 0; i < rounds; i++) {
      uint64_t start = now_ns();
      if ((rc = ipc_chan_send(ping, message, sizeof message, TIMEOUT_NS)) != IPC_OK) die("send", rc);
      if ((rc = ipc_chan_recv(pong, buffer, sizeof buffer, &length, TIMEOUT_NS)) != IPC_OK) die("recv", rc);
      us[i] = (double)(now_ns() - start) / 1000.0;
    }
    wait_children();
    long skip = rounds / 10;
    qsort(us + skip, (size_t)(rounds - skip), sizeof(double), compare);
    report("round trip, small message, p50", "C<->C libipc ipc_chan_t", "us", us[skip + (rounds - skip) / 2]);
    report("round trip, small message, p99", "C<->C libipc ipc_chan_t", "us", us[skip + (rounds - skip) * 99 / 100]);
  } else if (strcmp(kind, "throughput64") == 0) {
    long count = argc > 2 ? atol(argv[2]) : 20000000;
    count -= count % BATCH;
    uint8_t message[64] = {0};
    fork_child(receive_and_ack, count);
    uint64_t start = now_ns();
    for (long i = 0; i < count; i++) {
      if ((rc = ipc_chan_send(ping, message, sizeof message, TIMEOUT_NS)) != IPC_OK) die("send", rc);
    }
    ack_wait(1);
    double single = (double)(now_ns() - start);
    wait_children();
    report("throughput, 64 B messages, 1->1", "C<->C libipc ipc_chan_t (ipc_chan_send)", "M msg/s", (double)count / single * 1000.0);
    fork_child(receive_and_ack, count);
    start = now_ns();
    send_batches(count);
    ack_wait(1);
    double batched = (double)(now_ns() - start);
    wait_children();
    report("throughput, 64 B messages, 1->1", "C<->C libipc ipc_chan_t (ipc_chan_send_many, 256 per call)", "M msg/s",
           (double)count / batched * 1000.0);
    /* 2->2: two senders, two receivers taking whatever comes until the channel ends. */
    long half = count / 2;
    half -= half % BATCH;
    start = now_ns();
    fork_child(receive_until_end, 0);
    fork_child(receive_until_end, 0);
    pid_t senders[2] = {fork_child(send_batches, half), fork_child(send_batches, half)};
    for (int i = 0; i < 2; i++) {
      int status;
      if (waitpid(senders[i], &status, 0) != senders[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        die("sender", IPC_EIO);
      }
    }
    ipc_chan_close(ping);
    uint64_t total = ack_total(2);
    double both = (double)(now_ns() - start);
    wait_children();
    if (total != (uint64_t)(2 * half) * 64) die("2->2 lost or duplicated messages", IPC_EIO);
    report("throughput, 64 B messages, 2->2", "C<->C libipc ipc_chan_t (ipc_chan_send_many, 256 per call)", "M msg/s",
           (double)(2 * half) / both * 1000.0);
  } else if (strcmp(kind, "throughput64k") == 0) {
    long count = argc > 2 ? atol(argv[2]) : 200000;
    static uint8_t message[64 * 1024];
    memset(message, 7, sizeof message);
    fork_child(receive_and_ack, count);
    uint64_t start = now_ns();
    for (long i = 0; i < count; i++) {
      if ((rc = ipc_chan_send(ping, message, sizeof message, TIMEOUT_NS)) != IPC_OK) die("send", rc);
    }
    ack_wait(1);
    double ns = (double)(now_ns() - start);
    wait_children();
    report("throughput, 64 KiB messages, 1->1", "C<->C libipc ipc_chan_t (ipc_chan_send)", "GB/s",
           (double)count * sizeof message / ns);
  } else {
    fprintf(stderr, "unknown case %s\n", kind);
    return 2;
  }
  ipc_segment_close(seg);
  return 0;
}
