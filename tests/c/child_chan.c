/* The chan commands of ipc-child: the same commands and message format as tests/mp/child_chan.ts
 * (see there). */
#define _DEFAULT_SOURCE
#include "ipc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

static uint32_t length_of(uint32_t id, uint32_t i) { return 5 + (i * 7919u + id * 13u) % 300u; }

static void make(uint8_t *m, uint32_t id, uint32_t i, uint32_t length) {
  m[0] = (uint8_t)id;
  memcpy(m + 1, &i, 4);
  for (uint32_t k = 5; k < length; k++) m[k] = (uint8_t)(i + k);
}

/* The ledger of the kill test (tests/mp/child_chan.ts describes it; the constants agree). */
enum {
  LEDGER_PRODUCERS = 32,
  LEDGER_SLOTS_AT = 128,
  LEDGER_SLOT_BYTES = 512,
  LEDGER_MESSAGE_AT = 16,
  LEDGER_BATCH = 16,
  LEDGER_IDLE = 0,
  LEDGER_RECEIVING = 1,
};
static const uint64_t LEDGER_MARKS_AT = 1 << 16, LEDGER_IDS = 1 << 19;

/* Whether `m` (`length` bytes) is message i of producer id, whole. */
static int valid(const uint8_t *m, uint64_t length, uint32_t *id_out, uint32_t *i_out) {
  uint32_t id = m[0], i;
  memcpy(&i, m + 1, 4);
  if (id >= LEDGER_PRODUCERS || i >= LEDGER_IDS || length != length_of(id, i)) return 0;
  for (uint32_t k = 5; k < length; k++) {
    if (m[k] != (uint8_t)(i + k)) return 0;
  }
  *id_out = id;
  *i_out = i;
  return 1;
}

/* produce-ledger: send messages 0..count-1, storing after each send how many were sent. */
static int produce_ledger(ipc_chan_t *chan, uint8_t *ledger, uint32_t id, uint32_t count) {
  uint32_t *committed = (uint32_t *)ledger + id;
  uint8_t m[512];
  printf("producing\n");
  fflush(stdout);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t length = length_of(id, i);
    make(m, id, i, length);
    int32_t rc = ipc_chan_send(chan, m, length, -1);
    if (rc != IPC_OK) return fail(rc);
    __atomic_store_n(committed, i + 1, __ATOMIC_SEQ_CST);
  }
  printf("ok\n");
  return 0;
}

/* consume-ledger: receive into ledger slot `slot` (copies straight into it; the offsets and lengths
 * of views too), marking each message's id, until the channel ends. */
static int consume_ledger(ipc_chan_t *chan, uint8_t *ledger, uint32_t slot, int views) {
  uint8_t *at = ledger + LEDGER_SLOTS_AT + (uint64_t)slot * LEDGER_SLOT_BYTES;
  uint32_t *state = (uint32_t *)at, *received = state + 2;
  uint8_t *message = at + LEDGER_MESSAGE_AT;
  uint32_t *view_offsets = (uint32_t *)message, *view_lengths = view_offsets + LEDGER_BATCH;
  uint32_t *view_count = view_lengths + LEDGER_BATCH, *loan = view_count + 1;
  uint8_t *marks = ledger + LEDGER_MARKS_AT;
  int32_t last[LEDGER_PRODUCERS];
  for (int p = 0; p < LEDGER_PRODUCERS; p++) last[p] = -1;
  uint32_t lengths[LEDGER_BATCH], count = 0;
  printf("consuming\n");
  fflush(stdout);
  for (;;) {
    const uint8_t *got[LEDGER_BATCH];
    uint64_t length = 0;
    int32_t rc;
    if (views) {
      /* The outputs land in the slot; lengths poisoned first, so the parent tells the entries this
       * receive wrote (before it committed) from stale ones. */
      memset(view_lengths, 0xff, LEDGER_BATCH * 4);
      __atomic_store_n(state, LEDGER_RECEIVING, __ATOMIC_SEQ_CST);
      rc = ipc_chan_recv_views(chan, view_offsets, view_lengths, LEDGER_BATCH, view_count, loan, -1);
      count = *view_count;
      for (uint32_t j = 0; j < count; j++) {
        got[j] = (const uint8_t *)chan + view_offsets[j];
        lengths[j] = view_lengths[j];
      }
    } else {
      /* Poisoned first: a copy the kill interrupts is never a whole message. */
      memset(message, 0xee, LEDGER_SLOT_BYTES - LEDGER_MESSAGE_AT);
      __atomic_store_n(state, LEDGER_RECEIVING, __ATOMIC_SEQ_CST);
      rc = ipc_chan_recv(chan, message, LEDGER_SLOT_BYTES - LEDGER_MESSAGE_AT, &length, -1);
      got[0] = message;
      lengths[0] = (uint32_t)length;
      count = 1;
    }
    if (rc == IPC_EOF) break;
    if (rc != IPC_OK) return fail(rc);
    for (uint32_t j = 0; j < count; j++) {
      uint32_t id, i;
      if (!valid(got[j], lengths[j], &id, &i) || (int32_t)i <= last[id]) {
        fprintf(stderr, "consume-ledger: message %u of %u malformed or out of order\n", j, count);
        return 3;
      }
      last[id] = (int32_t)i;
      __atomic_fetch_add(&marks[(uint64_t)id * LEDGER_IDS + i], 1, __ATOMIC_SEQ_CST);
    }
    __atomic_fetch_add(received, count, __ATOMIC_SEQ_CST);
    __atomic_store_n(state, LEDGER_IDLE, __ATOMIC_SEQ_CST);
  }
  if (ipc_chan_release(chan, loan) != IPC_OK) return 3;
  printf("ok\n");
  return 0;
}

/* The seed chapter's examples (see tests/mp/child_chan.ts). A duplex pair is a segment holding a
 * tag word, then end A's sending channel at 64 and end B's right after it. */
static int seed_examples(const char *command, ipc_segment_t *seg) {
  int32_t rc;
  if (strcmp(command, "bites") == 0) {
    ipc_chan_t *pipe;
    if ((rc = ipc_chan_at(seg, 0, &pipe)) != IPC_OK) return fail(rc);
    static const char line[] = "Another one bites the dust\n";
    for (int i = 0; i < 10; i++) {
      if ((rc = ipc_chan_write(pipe, line, sizeof line - 1, -1)) != IPC_OK) return fail(rc);
    }
    return ipc_chan_close(pipe) == IPC_OK ? 0 : 1;
  }
  ipc_chan_t *to_b, *to_a;
  if ((rc = ipc_chan_at(seg, 64, &to_b)) != IPC_OK) return fail(rc);
  if ((rc = ipc_chan_at(seg, 64 + IPC_CHAN_HEADER_SIZE + (uint64_t)ipc_chan_capacity(to_b), &to_a)) != IPC_OK) {
    return fail(rc);
  }
  char m[512];
  for (;;) {
    uint64_t length;
    rc = ipc_chan_recv(to_b, m, sizeof m - 32, &length, -1);
    if (rc == IPC_EOF) break;
    if (rc != IPC_OK) return fail(rc);
    memcpy(m + length, " accomplished!", 14);
    if ((rc = ipc_chan_send(to_a, m, length + 14, -1)) != IPC_OK) return fail(rc);
  }
  return ipc_chan_close(to_a) == IPC_OK ? 0 : 1;
}

int child_chan(int argc, char **argv) {
  if (argc < 3) return usage("chan produce <name> <id> <count> | consume <name> | bites <name> | serve <name>");
  ipc_segment_t *seg = NULL;
  ipc_chan_t *chan = NULL;
  int32_t rc = ipc_segment_open(argv[2], 0, &seg);
  if (rc == IPC_OK && (strcmp(argv[1], "bites") == 0 || strcmp(argv[1], "serve") == 0)) return seed_examples(argv[1], seg);
  if (rc == IPC_OK && strcmp(argv[1], "hold") == 0) {
    /* A pipe's writer that writes a line, says so, then waits to be killed. */
    if ((rc = ipc_chan_at(seg, 0, &chan)) != IPC_OK || (rc = ipc_chan_writer_attach(chan)) != IPC_OK) return fail(rc);
    static const char line[] = "written before dying\n";
    if ((rc = ipc_chan_write(chan, line, sizeof line - 1, -1)) != IPC_OK) return fail(rc);
    printf("written\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (rc == IPC_OK && strcmp(argv[1], "drain") == 0) {
    /* A pipe's reader: read until the end (which a writer's death brings too), then say how much. */
    if ((rc = ipc_chan_at(seg, 0, &chan)) != IPC_OK) return fail(rc);
    printf("draining\n");
    fflush(stdout);
    uint64_t total = 0;
    for (;;) {
      char buffer[4096];
      uint64_t n = 0;
      rc = ipc_chan_read(chan, buffer, sizeof buffer, &n, -1);
      if (rc == IPC_EOF) break;
      if (rc != IPC_OK) return fail(rc);
      total += n;
    }
    printf("eof %llu\n", (unsigned long long)total);
    return 0;
  }
  if (rc == IPC_OK && strcmp(argv[1], "value") == 0 && argc >= 4) {
    /* A shared value: replace it with the JSON text given. */
    if ((rc = ipc_chan_at(seg, 0, &chan)) != IPC_OK) return fail(rc);
    if ((rc = ipc_chan_replace(chan, argv[3], strlen(argv[3]))) != IPC_OK) return fail(rc);
    return 0;
  }
  if (rc == IPC_OK) rc = ipc_chan_at(seg, 0, &chan);
  if (rc != IPC_OK) return fail(rc);
  if ((strcmp(argv[1], "produce-ledger") == 0 && argc >= 6) || (strcmp(argv[1], "consume-ledger") == 0 && argc >= 5)) {
    ipc_segment_t *ledger_seg;
    if ((rc = ipc_segment_open(argv[3], 0, &ledger_seg)) != IPC_OK) return fail(rc);
    uint8_t *ledger = ipc_segment_base(ledger_seg);
    uint32_t n = (uint32_t)atol(argv[4]);
    if (argv[1][0] == 'p') return produce_ledger(chan, ledger, n, (uint32_t)atol(argv[5]));
    return consume_ledger(chan, ledger, n, argc > 5 && strcmp(argv[5], "views") == 0);
  }
  uint8_t m[512];
  if (strcmp(argv[1], "views-hold") == 0) {
    /* Take what there is as views (a loan of ring space), say how many, then wait to be killed. */
    uint32_t offsets[64], lengths[64], count = 0, loan[2] = {0, 0};
    if ((rc = ipc_chan_recv_views(chan, offsets, lengths, 64, &count, loan, -1)) != IPC_OK) return fail(rc);
    printf("holding %u\n", count);
    fflush(stdout);
    for (;;) pause();
  }
  if (strcmp(argv[1], "produce") == 0 && argc >= 5) {
    uint32_t id = (uint32_t)atoi(argv[3]);
    long count = atol(argv[4]); /* negative: forever (to be killed) */
    printf("producing\n");
    fflush(stdout);
    for (uint32_t i = 0; count < 0 || i < (uint32_t)count; i++) {
      uint32_t length = length_of(id, i);
      make(m, id, i, length);
      if ((rc = ipc_chan_send(chan, m, length, -1)) != IPC_OK) return fail(rc);
    }
    printf("ok\n");
    return 0;
  }
  if (strcmp(argv[1], "consume") == 0) {
    /* Per producer id (0..15): messages, the sum of their indices, the last index. */
    long counts[16] = {0};
    long long sums[16] = {0};
    long last[16];
    for (int p = 0; p < 16; p++) last[p] = -1;
    int bad = 0;
    printf("consuming\n");
    fflush(stdout);
    /* "views": zero-copy, up to 64 messages per call, checked in the ring itself. */
    int views = argc > 3 && strcmp(argv[3], "views") == 0;
    uint32_t offsets[64], lengths[64], count = 0, loan[2] = {0, 0};
    for (;;) {
      const uint8_t *got[64];
      uint64_t got_length[64];
      if (views) {
        rc = ipc_chan_recv_views(chan, offsets, lengths, 64, &count, loan, -1);
        for (uint32_t j = 0; j < count; j++) {
          got[j] = (const uint8_t *)chan + offsets[j];
          got_length[j] = lengths[j];
        }
      } else {
        rc = ipc_chan_recv(chan, m, sizeof m, &got_length[0], -1);
        got[0] = m;
        count = 1;
      }
      if (rc == IPC_EOF) break;
      if (rc != IPC_OK) return fail(rc);
      for (uint32_t j = 0; j < count; j++) {
        const uint8_t *msg = got[j];
        uint64_t length = got_length[j];
        uint32_t id = msg[0], i;
        memcpy(&i, msg + 1, 4);
        if (id >= 16 || length != length_of(id, i) || (long)i <= last[id]) {
          bad++;
          continue;
        }
        for (uint32_t k = 5; k < length; k++) {
          if (msg[k] != (uint8_t)(i + k)) {
            bad++;
            break;
          }
        }
        last[id] = (long)i;
        counts[id]++;
        sums[id] += i;
      }
    }
    if ((rc = ipc_chan_release(chan, loan)) != IPC_OK) return fail(rc);
    printf("bad %d", bad);
    for (int p = 0; p < 16; p++) {
      if (counts[p] > 0) printf(" %d:%ld:%lld", p, counts[p], sums[p]);
    }
    printf("\n");
    return bad == 0 ? 0 : 3;
  }
  return usage("chan produce <name> <id> <count> | consume <name> [views]");
}
