/* Live corruption (issue 16, items 4 and 7): while worker processes keep calling the normal API of a
 * heap, a channel, an MVar, a pipe, a mutex and a barrier with short timeouts, a peer process
 * scribbles seeded random values over the object's control words (headers, positions, lock words,
 * holder table, record headers; page table, page states, class lists). Passing means: every call
 * ends with success or a known result code (IPC_EPROTO, IPC_ETIMEDOUT, IPC_EINVAL...), no worker
 * dies of a signal, none runs past the harness deadline, and nothing is written outside the segment:
 * each worker receives into buffers that end at a PROT_NONE guard page and start after a canary,
 * checks its out-parameters' canaries after every call, and checks that every block, view and length
 * the library hands out lies inside the segment before touching it.
 *
 * The workers and the scribbler are this program run again in a role (tests/c/proc.h) on the
 * object's segment, opened by name; what they do is recorded in a status segment the driver made. So
 * the test runs on Windows (under Wine) as on Linux.
 *
 * usage: test_corrupt [seed]   (or IPC_CORRUPT_SEED; IPC_CORRUPT_MS sets each object's run, default
 * 700 ms, the heap's five times that; IPC_CORRUPT_ONLY=heap runs one object). The seed is printed
 * first: the same seed replays the same scribbles (their timing against the workers varies). */
#define _DEFAULT_SOURCE
#include "ipc.h"
#include "check.h"
#include "proc.h"

#include <stdint.h>
#include <string.h>
#ifndef _WIN32
#include <sys/mman.h>
#endif

#define MS_NS 1000000LL
#define WORKERS 3
/* The calls' timeouts, and how long past a run's end a worker may take before it counts as hung (a
 * 4x slower machine ends far inside it). */
#define CALL_TIMEOUT_NS (3 * MS_NS)
#define LATE_NS (10000 * MS_NS)
#define CALL_LATE_NS (5000 * MS_NS)

static int64_t now_ns(void) { return (int64_t)ipc_now_ns(); }

/* Lets about `us` microseconds pass, giving the processor away meanwhile. */
static void pause_us(uint32_t us) {
  int64_t until = now_ns() + (int64_t)us * 1000;
  do proc_yield();
  while (now_ns() < until);
}

/* xorshift64*: seeded, the same sequence for the same seed. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}
static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }
static void seed_rng(uint64_t seed, uint64_t stream) {
  rng_state = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xbf58476d1ce4e5b9ULL;
  if (rng_state == 0) rng_state = 1;
  for (int i = 0; i < 8; i++) rnd();
}

/* What each worker is doing, in the status segment shared with the driver (raw memory, never a
 * libipc object): the call a hung or killed worker was in is reported. */
struct status {
  volatile char op[32];
  volatile uint64_t calls;
  volatile uint64_t errors;
  volatile uint64_t by_code[32]; /* errors by -code */
};
/* The status segment: the start event, the ready semaphore (each child releases it once it has
 * attached; the driver sets the start event when all have, so that process start-up, slow under
 * Wine or on a crowded machine, takes nothing from the run, and no child attaches to an object the
 * scribbler is already damaging), when the run ends, the driver's pid, the object's pristine control
 * words (see keep_pristine), one status per worker and the scribbler's. */
struct shared {
  unsigned char start[IPC_EVENT_SIZE];
  unsigned char ready[IPC_SEM_SIZE];
  volatile uint64_t until;
  uint32_t driver;
  uint32_t pristine_len;
  unsigned char pristine[1 << 16];
  struct status statuses[WORKERS + 1];
};
static struct shared *shared;
static struct status *me;

static void fail(const char *what, const char *op, int32_t rc) {
  fprintf(stderr, "test_corrupt: worker %ld: %s in %s (rc %d %s)\n", proc_self_id(), what, op, (int)rc,
          ipc_errname(rc));
  exit(1);
}

static const char *op_of(const struct status *s) { return s->op[0] != 0 ? (const char *)s->op : "?"; }

/* ---- the workers' private memory: guard page after each buffer, canaries before ---------------- */

#define CANARY_LEN 64
#define BUF_LEN 8192
static unsigned char *buffer;    /* BUF_LEN bytes ending at a PROT_NONE page */
static unsigned char *canary_at; /* CANARY_LEN bytes just before `buffer` */
static uint32_t lengths[17];     /* 16 used, the 17th a canary */
static uint32_t offsets[17];
static uint64_t length_out[2];

static void private_setup(void) {
#ifdef _WIN32
  SYSTEM_INFO info;
  GetSystemInfo(&info);
  size_t page = info.dwPageSize;
  size_t span = ((BUF_LEN + CANARY_LEN + page - 1) / page) * page;
  unsigned char *m = VirtualAlloc(NULL, span + page, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  DWORD was = 0;
  CHECK(m != NULL && VirtualProtect(m + span, page, PAGE_NOACCESS, &was));
#else
  long page = sysconf(_SC_PAGESIZE);
  size_t span = ((BUF_LEN + CANARY_LEN + (size_t)page - 1) / (size_t)page) * (size_t)page;
  unsigned char *m = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  CHECK(mprotect(m + span, (size_t)page, PROT_NONE) == 0);
#endif
  buffer = m + span - BUF_LEN;
  canary_at = buffer - CANARY_LEN;
  memset(canary_at, 0xa5, CANARY_LEN);
}

static void check_private(const char *op) {
  for (int i = 0; i < CANARY_LEN; i++)
    if (canary_at[i] != 0xa5) fail("the canary before the receive buffer was overwritten", op, 0);
  if (lengths[16] != 0x5a5a5a5au || offsets[16] != 0x5a5a5a5au) fail("an out-array canary was overwritten", op, 0);
  if (length_out[1] != 0x5a5a5a5a5a5a5a5aULL) fail("the canary after an out-parameter was overwritten", op, 0);
}

static void reset_out(void) {
  lengths[16] = offsets[16] = 0x5a5a5a5au;
  length_out[1] = 0x5a5a5a5a5a5a5a5aULL;
}

/* Every call goes through here: a known result code, in time, canaries intact. */
static int64_t call_start;
static void begin(const char *op) {
  size_t n = strlen(op);
  if (n >= sizeof me->op) n = sizeof me->op - 1;
  for (size_t i = 0; i <= n; i++) me->op[i] = i < n ? op[i] : 0;
  reset_out();
  call_start = now_ns();
}
static int32_t end(const char *op, int32_t rc) {
  int64_t took = now_ns() - call_start;
  me->calls += 1;
  if (rc < 0) me->errors += 1;
  if (rc < 0 && rc > -32) me->by_code[-rc] += 1;
  if (rc < 0 && strcmp(ipc_errname(rc), "EUNKNOWN") == 0) fail("an unknown result code", op, rc);
  if (took > CALL_LATE_NS) fail("a call ran seconds past its timeout", op, rc);
  check_private(op);
  return rc;
}
#define CALL(op, expr) (begin(op), end(op, (expr)))

/* ---- the objects ----------------------------------------------------------------------------- */

enum target { HEAP, CHAN, MVAR, PIPE, MUTEX, BARRIER, TARGETS };
static const char *const target_names[] = {"heap", "chan", "mvar", "pipe", "mutex", "barrier"};

static ipc_segment_t *segment;
static unsigned char *base; /* the segment's data */
static uint64_t size;       /* its size */
static ipc_heap_t *heap;
static ipc_chan_t *chan;
static ipc_mutex_t *mutex;
static ipc_barrier_t *barrier;

#define CHAN_CAPACITY 4096u
#define HEAP_SIZE (2u << 20)
#define HEAP_BASE 3968u /* IPC_HEAP_OFFSET: the heap's header in the segment's data */

static void inside(const void *p, uint64_t len, const char *op) {
  const unsigned char *c = p;
  if (c < base || c > base + size || len > (uint64_t)(base + size - c)) fail("the library handed out memory outside the segment", op, 0);
}

/* Makes the object under `name`. */
static void make(enum target t, const char *name) {
  switch (t) {
  case HEAP: CHECK_RC(ipc_heap_create(name, 0, 0, HEAP_SIZE, &segment, &heap), IPC_OK); break;
  case CHAN: CHECK_RC(ipc_chan_create(name, 0, 0, CHAN_CAPACITY, 0, &segment, &chan), IPC_OK); break;
  case MVAR: CHECK_RC(ipc_chan_create(name, 0, 0, 256, IPC_CHAN_SINGLE, &segment, &chan), IPC_OK); break;
  case PIPE: CHECK_RC(ipc_chan_create(name, 0, 0, 1024, IPC_CHAN_STREAM, &segment, &chan), IPC_OK); break;
  case MUTEX: CHECK_RC(ipc_mutex_create(name, 0, 0, &segment, &mutex), IPC_OK); break;
  case BARRIER: CHECK_RC(ipc_barrier_create(name, 0, 0, WORKERS, &segment, &barrier), IPC_OK); break;
  default: CHECK(0);
  }
  base = ipc_segment_base(segment);
  size = ipc_segment_size(segment);
}

/* A child's end: the object the driver made under `name`. */
static void attach(enum target t, const char *name) {
  CHECK_RC(ipc_segment_open(name, 0, &segment), IPC_OK);
  switch (t) {
  case HEAP: CHECK_RC(ipc_heap_attach(segment, &heap), IPC_OK); break;
  case CHAN:
  case MVAR:
  case PIPE: CHECK_RC(ipc_chan_at(segment, 0, &chan), IPC_OK); break;
  case MUTEX: CHECK_RC(ipc_mutex_at(segment, 0, &mutex), IPC_OK); break;
  case BARRIER: CHECK_RC(ipc_barrier_at(segment, 0, &barrier), IPC_OK); break;
  default: CHECK(0);
  }
  base = ipc_segment_base(segment);
  size = ipc_segment_size(segment);
}

/* ---- workers --------------------------------------------------------------------------------- */

static unsigned char message[2048];

static void heap_worker(int64_t until) {
  uint64_t blocks[32] = {0};
  while (now_ns() < until) {
    uint32_t slot = below(32);
    uint32_t what = below(16);
    if (blocks[slot] != 0 && what < 6) {
      CALL("heap_free", ipc_heap_free(heap, blocks[slot]));
      blocks[slot] = 0;
      continue;
    }
    if (what == 6 && blocks[slot] != 0) {
      uint64_t moved = 0;
      uint64_t want = below(4) == 0 ? 16385 + below(150000) : 1 + below(2000);
      if (CALL("heap_realloc", ipc_heap_realloc(heap, blocks[slot], want, &moved)) == IPC_OK) {
        blocks[slot] = moved;
        unsigned char *p = ipc_heap_pointer(heap, moved);
        if (p == NULL) fail("realloc gave a block with no address", "heap_realloc", 0);
        inside(p, want, "heap_realloc");
        memset(p, (int)slot, want);
      }
      continue;
    }
    if (what == 7 || what == 11 || what == 12) {
      ipc_heap_stats_t stats;
      const char *problem = NULL;
      CALL("heap_check", ipc_heap_check(heap, &stats, &problem));
      continue;
    }
    if (what == 8) {
      uint64_t root = 0;
      if (CALL("heap_root", ipc_heap_root(heap, "corrupt", 64, &root)) == IPC_OK) {
        unsigned char *p = ipc_heap_pointer(heap, root);
        if (p != NULL) inside(p, 64, "heap_root");
      }
      continue;
    }
    if (what == 9 && blocks[slot] != 0) {
      uint64_t usable = 0;
      if (CALL("heap_usable_size", ipc_heap_usable_size(heap, blocks[slot], &usable)) == IPC_OK) {
        unsigned char *p = ipc_heap_pointer(heap, blocks[slot]);
        if (p != NULL) inside(p, usable, "heap_usable_size");
      }
      continue;
    }
    if (blocks[slot] != 0) continue;
    uint64_t want = below(8) == 0 ? 16385 + below(150000) : 1 + below(2000);
    uint64_t block = 0;
    int32_t rc = what == 10 ? CALL("heap_aligned_alloc", ipc_heap_aligned_alloc(heap, 256, want, &block))
                            : CALL("heap_malloc", ipc_heap_malloc(heap, want, &block));
    if (rc != IPC_OK) continue;
    unsigned char *p = ipc_heap_pointer(heap, block);
    if (p == NULL) fail("malloc gave a block with no address", "heap_malloc", 0);
    inside(p, want, "heap_malloc");
    memset(p, (int)slot, want);
    blocks[slot] = block;
  }
}

static void chan_worker(int index, int64_t until) {
  uint32_t loan[2] = {0, 0};
  int32_t max = ipc_chan_message_max(chan);
  while (now_ns() < until) {
    uint32_t what = below(12);
    uint64_t len = 1 + below((uint32_t)(max > 600 ? 600 : max));
    if (index == 0 || (index == 2 && what < 4)) {
      /* A sender. */
      if (what % 3 == 0) {
        CALL("chan_try_send", ipc_chan_try_send(chan, message, len));
      } else if (what % 3 == 1) {
        uint32_t ls[3] = {(uint32_t)len / 3 + 1, 7, 1};
        CALL("chan_send_many", ipc_chan_send_many(chan, message, ls, 3, CALL_TIMEOUT_NS));
      } else {
        CALL("chan_send", ipc_chan_send(chan, message, len, CALL_TIMEOUT_NS));
      }
      continue;
    }
    int32_t rc;
    switch (what % 6) {
    case 0:
      rc = CALL("chan_recv", ipc_chan_recv(chan, buffer, BUF_LEN, &length_out[0], CALL_TIMEOUT_NS));
      if (rc == IPC_OK && length_out[0] > BUF_LEN) fail("a length past the buffer", "chan_recv", rc);
      break;
    case 1:
      rc = CALL("chan_try_recv", ipc_chan_try_recv(chan, buffer + BUF_LEN - 64, 64, &length_out[0]));
      if (rc == IPC_OK && length_out[0] > 64) fail("a length past the buffer", "chan_try_recv", rc);
      break;
    case 2:
      rc = CALL("chan_peek", ipc_chan_peek(chan, buffer, BUF_LEN, &length_out[0], CALL_TIMEOUT_NS));
      break;
    case 3: {
      uint32_t count = 0;
      rc = CALL("chan_recv_many", ipc_chan_recv_many(chan, buffer, BUF_LEN, lengths, 16, &count, CALL_TIMEOUT_NS));
      if (rc == IPC_OK && count > 16) fail("a count past the lengths array", "chan_recv_many", rc);
      break;
    }
    case 4: {
      uint32_t count = 0;
      rc = CALL("chan_recv_views", ipc_chan_recv_views(chan, offsets, lengths, 16, &count, loan, CALL_TIMEOUT_NS));
      if (rc == IPC_OK) {
        if (count > 16) fail("a count past the arrays", "chan_recv_views", rc);
        for (uint32_t i = 0; i < count; i++) {
          const unsigned char *view = (const unsigned char *)chan + offsets[i];
          inside(view, lengths[i], "chan_recv_views");
          volatile unsigned char sink = view[0];
          (void)sink;
        }
      }
      break;
    }
    default:
      CALL("chan_pending", ipc_chan_pending(chan));
      CALL("chan_views_out", ipc_chan_views_out(chan));
      CALL("chan_flags", ipc_chan_flags(chan));
      CALL("chan_is_closed", ipc_chan_is_closed(chan));
      break;
    }
  }
}

static void mvar_worker(int index, int64_t until) {
  while (now_ns() < until) {
    uint32_t what = below(8);
    uint64_t len = 1 + below(100);
    int32_t rc;
    if (index == 0 || what < 2) {
      CALL("mvar_put", ipc_chan_send(chan, message, len, CALL_TIMEOUT_NS));
    } else if (what < 4) {
      rc = CALL("mvar_take", ipc_chan_recv(chan, buffer, BUF_LEN, &length_out[0], CALL_TIMEOUT_NS));
      if (rc == IPC_OK && length_out[0] > BUF_LEN) fail("a length past the buffer", "mvar_take", rc);
    } else if (what < 6) {
      rc = CALL("mvar_swap", ipc_chan_swap(chan, message, len, buffer + BUF_LEN - 16, 16, &length_out[0], CALL_TIMEOUT_NS));
      if (rc == IPC_OK && length_out[0] > 16) fail("a length past the buffer", "mvar_swap", rc);
    } else {
      rc = CALL("mvar_peek", ipc_chan_peek(chan, buffer + BUF_LEN - 32, 32, &length_out[0], CALL_TIMEOUT_NS));
      if (rc == IPC_OK && length_out[0] > 32) fail("a length past the buffer", "mvar_peek", rc);
    }
  }
}

static void pipe_worker(int index, int64_t until) {
  if (index == 0) CALL("pipe_writer_attach", ipc_chan_writer_attach(chan));
  while (now_ns() < until) {
    uint32_t what = below(8);
    if (index == 0 || what == 0) {
      CALL("pipe_write", ipc_chan_write(chan, message, 1 + below(700), CALL_TIMEOUT_NS));
    } else if (what == 1) {
      CALL("pipe_writer_attach", ipc_chan_writer_attach(chan));
      CALL("pipe_writer_detach", ipc_chan_writer_detach(chan));
    } else {
      uint64_t want = 1 + below(BUF_LEN);
      int32_t rc = CALL("pipe_read", ipc_chan_read(chan, buffer + BUF_LEN - want, want, &length_out[0], CALL_TIMEOUT_NS));
      if (rc == IPC_OK && length_out[0] > want) fail("a length past the buffer", "pipe_read", rc);
    }
  }
}

static void mutex_worker(int64_t until) {
  while (now_ns() < until) {
    uint32_t what = below(4);
    int32_t rc = what == 0 ? CALL("mutex_try_lock", ipc_mutex_try_lock(mutex))
                           : CALL("mutex_timed_lock", ipc_mutex_timed_lock(mutex, CALL_TIMEOUT_NS));
    if (rc == IPC_OWNER_DIED) CALL("mutex_consistent", ipc_mutex_consistent(mutex));
    if (rc >= 0) CALL("mutex_unlock", ipc_mutex_unlock(mutex));
    CALL("mutex_holder", ipc_mutex_holder(mutex));
    CALL("mutex_held", ipc_mutex_held(mutex));
  }
}

static void barrier_worker(int64_t until) {
  while (now_ns() < until) {
    int32_t rc = CALL("barrier_wait", ipc_barrier_wait(barrier, CALL_TIMEOUT_NS));
    if (rc == IPC_EBROKEN) CALL("barrier_reset", ipc_barrier_reset(barrier));
    CALL("barrier_parties", ipc_barrier_parties(barrier));
    CALL("barrier_waiting", ipc_barrier_waiting(barrier));
    CALL("barrier_broken", ipc_barrier_broken(barrier));
  }
}

static void worker(enum target t, int index, int64_t until) {
  private_setup();
  reset_out();
  for (size_t i = 0; i < sizeof message; i++) message[i] = (unsigned char)i;
  switch (t) {
  case HEAP: heap_worker(until); break;
  case CHAN: chan_worker(index, until); break;
  case MVAR: mvar_worker(index, until); break;
  case PIPE: pipe_worker(index, until); break;
  case MUTEX: mutex_worker(until); break;
  case BARRIER: barrier_worker(until); break;
  default: break;
  }
  check_private("the end");
}

/* ---- the scribbler --------------------------------------------------------------------------- */

/* A word to scribble over: its offset in the segment's data and what it holds, so that some values
 * written are plausible ones (a valid kind with a wrong class, a link one past the table, a position
 * a record further) and reach the checks behind the first ones. */
enum word_type {
  ANY,
  LOCK_FREE_ONLY, /* a lock some call takes without a timeout: a forged owner there would be a hang
                   * the API allows, not a bug; only the waiters and owner-died bits are written */
  HEAP_KIND,      /* an entry's kind, class and reserved bytes */
  HEAP_LINK,      /* a page number + 1: a class list head or an entry's next */
  HEAP_PAGES,     /* a large head's page count */
  HEAP_STATE,     /* a page state word: live bit, generation, class */
  CHAN_POSITION,  /* a position word (closed bit, 31-bit counter) */
  CHAN_RECORD,    /* a ring word: a record's length or kind */
  HOLDER_PID,
  CHAN_FLAGS,     /* a channel's flags: stream, single */
  PARTIES,        /* a barrier's party count */
};
struct spot {
  uint32_t offset;
  enum word_type type;
};
static struct spot spots[4096];
static int spot_count;
/* Words that every call checks first (versions, capacities, flags, layout tags): scribbled rarely,
 * since a wrong one only makes every call IPC_EPROTO at once, which hides the deeper paths. */
static struct spot cold[256];
static int cold_count;
static uint32_t page_count; /* heaps: pages in the table */

static void add_words(uint32_t from, uint32_t len, enum word_type type) {
  for (uint32_t o = from; o + 4 <= from + len && spot_count < (int)(sizeof spots / sizeof spots[0]); o += 4)
    spots[spot_count++] = (struct spot){o, type};
}

static void add_cold(uint32_t from, uint32_t len, enum word_type type) {
  for (uint32_t o = from; o + 4 <= from + len && cold_count < (int)(sizeof cold / sizeof cold[0]); o += 4)
    cold[cold_count++] = (struct spot){o, type};
}

/* The control words of each kind (see zig/chan/layout.zig `Chan`, zig/heap/layout.zig `Header`, `Entry`,
 * `PageState`, zig/mutex.zig, zig/barrier.zig). The magic words are left out: a wrong magic only
 * makes every call IPC_EPROTO at once. */
static void choose_spots(enum target t) {
  spot_count = 0;
  cold_count = 0;
  switch (t) {
  case HEAP: {
    const uint32_t *h = (const uint32_t *)(base + HEAP_BASE);
    page_count = h[4];
    uint64_t states_offset = *(const uint64_t *)(base + HEAP_BASE + 40);
    add_cold(HEAP_BASE + 4, 60, ANY);      /* version, tag, geometry (read when attaching) */
    add_cold(HEAP_BASE + 64 + 4, 12, ANY); /* the page lock's layout tag and reserved words */
    add_words(HEAP_BASE + 64 + 16, 4, LOCK_FREE_ONLY); /* its word: taken without a timeout */
    add_words(HEAP_BASE + 128, 52 * 4, HEAP_LINK);     /* class list heads (52 classes) */
    for (uint32_t p = 0; p < page_count; p++) {
      uint32_t e = HEAP_BASE + 4096 + p * 16;
      add_words(e, 4, HEAP_KIND);
      add_words(e + 4, 4, HEAP_LINK);
      add_words(e + 8, 4, HEAP_PAGES);
      add_words(e + 12, 4, ANY); /* owner */
      add_words(HEAP_BASE + (uint32_t)states_offset + p * 576, 4, HEAP_STATE);
      add_words(HEAP_BASE + (uint32_t)states_offset + p * 576 + 64, 32, ANY); /* the bitmap's first words */
    }
    break;
  }
  case CHAN:
  case MVAR:
  case PIPE:
    add_cold(4, 8, ANY);               /* version, capacity */
    add_cold(12, 4, CHAN_FLAGS);
    for (uint32_t o = 16; o < 64; o += 16) add_words(o, 4, HOLDER_PID); /* holders 3..5 */
    add_words(20, 44, ANY);
    add_cold(64 + 4, 12, ANY);            /* the send lock's layout tag */
    add_words(64 + 16, 48, ANY);       /* its word and robust-list node */
    add_cold(128 + 4, 12, ANY);           /* the receive lock's */
    add_words(128 + 16, 48, ANY);
    add_words(192, 4, CHAN_POSITION);  /* readable */
    add_words(196, 4, ANY);            /* its waiters */
    add_words(200, 4, CHAN_POSITION);  /* head_seen */
    add_words(256, 4, CHAN_POSITION);  /* writable */
    add_words(260, 4, ANY);
    add_words(264, 8, CHAN_POSITION);  /* tail_seen, read */
    add_words(272, 48, HOLDER_PID);    /* holders 0..2 */
    add_cold(320 + 4, 12, ANY);           /* the stream writer's lock */
    add_words(320 + 16, 48, ANY);
    add_words(384, 1024, CHAN_RECORD); /* the ring's first records */
    break;
  case MUTEX:
    add_cold(4, 12, ANY);
    add_words(16, 48, ANY);
    break;
  case BARRIER:
    add_cold(4, 4, PARTIES);
    add_words(8, 56, ANY); /* the state word and its history */
    break;
  default: break;
  }
}

static uint32_t any_value(uint32_t old) {
  switch (below(10)) {
  case 0: return 0;
  case 1: return 0xffffffffu;
  case 2: return 0x80000000u | below(8);
  case 3: return old ^ (1u << below(32));
  case 4: return old + below(64) - 32;
  case 5: return below(64);
  case 6: return old + 8 * below(4);
  default: return (uint32_t)rnd();
  }
}

static uint32_t scribble_value(enum word_type type, uint32_t old) {
  if (type == LOCK_FREE_ONLY) return any_value(old) & 0xc0000000u;
  if (below(4) == 0) return any_value(old);
  switch (type) {
  case HEAP_KIND: return below(5) | below(48) << 8 | (below(8) == 0 ? (uint32_t)rnd() << 16 : 0);
  case HEAP_LINK: return below(page_count + 3);
  case HEAP_PAGES: return below(page_count + 3);
  case HEAP_STATE: return (below(2) << 31) | (old & 0x7fffff00u) | below(48);
  case CHAN_POSITION: return (old & 0x80000000u) | ((old + 8 * below(1100) - 4096 * below(2) + (below(8) == 0 ? below(8) : 0)) & 0x7fffffffu);
  case CHAN_RECORD: return below(2) ? below(CHAN_CAPACITY + 16) : below(3) | below(8) << 8;
  case CHAN_FLAGS: return below(4);
  case PARTIES: return below(2) ? below(8) : 0xfffffff0u + below(16);
  case HOLDER_PID: return below(2) ? shared->driver : below(4) == 0 ? 0 : (uint32_t)rnd();
  default: return any_value(old);
  }
}

/* The pristine control words, taken (into the status segment) before any worker starts and restored
 * now and then by the scribbler, so that the object keeps working enough to reach its deeper paths. */
static void keep_pristine(void) {
  uint64_t len = size < sizeof shared->pristine ? size : sizeof shared->pristine;
  if (heap != NULL && HEAP_BASE + 4096 + 64 * 16 < len) len = HEAP_BASE + 4096 + 64 * 16;
  shared->pristine_len = (uint32_t)len;
  memcpy(shared->pristine, base, len);
}

/* The other value of a burst: one that a check made on the word's own value would refuse (a class
 * past the table, a run past the heap, a slot past the holder table, the other channel kind). */
static uint32_t burst_value(enum word_type type, uint32_t was) {
  switch (type) {
  case HEAP_KIND: return (was & ~0xff00u) | (40 + below(200)) << 8;
  case HEAP_PAGES: return was + page_count;
  case HEAP_STATE: return (was & ~0xffu) | (40 + below(200));
  case CHAN_RECORD: return was ^ (1u << (8 + below(24)));
  case CHAN_FLAGS: return was ^ (1 + below(3));
  case PARTIES: return 0x10000u + below(16);
  default: return scribble_value(type, was);
  }
}

static void scribbler(int64_t until) {
  int writes = 0;
  while (now_ns() < until) {
    int is_cold = cold_count > 0 && below(16) == 0;
    struct spot s = is_cold ? cold[below((uint32_t)cold_count)] : spots[below((uint32_t)spot_count)];
    volatile uint32_t *w = (volatile uint32_t *)(base + s.offset);
    if (below(8) == 0 && s.type != LOCK_FREE_ONLY) {
      /* (Not on a lock word taken without a timeout: putting back the value it had would forge
       * an owner that may have let go meanwhile.) */
      /* A burst: the word flips between its value and another many times, so that a call that
       * checks a word and reads it again later sees it change in between. */
      uint32_t was = *w, other = below(2) ? burst_value(s.type, was) : scribble_value(s.type, was);
      for (int i = 0; i < 20000; i++) *w = i % 2 ? was : other;
      *w = was;
    } else {
      *w = scribble_value(s.type, *w);
    }
    writes += 1;
    pause_us(below(300));
    /* A cold word goes back at once; everything else now and then. */
    if (is_cold) memcpy((void *)w, shared->pristine + s.offset, 4);
    if (writes % 16 == 0) memcpy(base, shared->pristine, shared->pristine_len);
  }
}

/* ---- getters of scribbled fields ------------------------------------------------------------ */

/* The getters that return a field another process can write (a semaphore's maximum, an event's
 * flags, a barrier's parties, a channel's flags) report a value out of range as IPC_EPROTO, never
 * as a negative number that is no result code (ReleaseFast) or a panic (ReleaseSafe). Runs in a
 * child, so that a panic is reported as a signal. */
static void getters(void) {
  ipc_segment_t *seg = NULL;
  ipc_sem_t *sem = NULL;
  CHECK_RC(ipc_sem_create(NULL, 0, 0, 1, 4, &seg, &sem), IPC_OK);
  ((volatile uint32_t *)sem)[1] = 0x80000001u; /* max */
  CHECK_RC(ipc_sem_max(sem), IPC_EPROTO);
  CHECK_RC(ipc_sem_value(sem), IPC_EPROTO);
  CHECK_RC(ipc_sem_release(sem, 1), IPC_EPROTO);
  ipc_segment_close(seg);

  ipc_event_t *event = NULL;
  CHECK_RC(ipc_event_create(NULL, 0, 0, 0, &seg, &event), IPC_OK);
  ((volatile uint32_t *)event)[1] = 0x80000000u; /* flags */
  CHECK_RC(ipc_event_flags(event), IPC_EPROTO);
  ipc_segment_close(seg);

  ipc_barrier_t *b = NULL;
  CHECK_RC(ipc_barrier_create(NULL, 0, 0, 2, &seg, &b), IPC_OK);
  ((volatile uint32_t *)b)[1] = 0xfffffff0u; /* parties */
  CHECK_RC(ipc_barrier_parties(b), IPC_EPROTO);
  CHECK_RC(ipc_barrier_wait(b, 0), IPC_EPROTO);
  ipc_segment_close(seg);

  ipc_chan_t *c = NULL;
  CHECK_RC(ipc_chan_create(NULL, 0, 0, 256, 0, &seg, &c), IPC_OK);
  ((volatile uint32_t *)c)[3] = 0x80000000u; /* flags */
  CHECK_RC(ipc_chan_flags(c), IPC_EPROTO);
  ipc_segment_close(seg);
}

static int run_getters(void) {
  fflush(NULL);
  proc_t child = proc_spawn("getters", NULL);
  int code = proc_wait(&child, 120LL * 1000000000LL);
  if (code == 0) return 0;
  if (code == PROC_TIMEOUT) {
    proc_kill(&child);
    proc_wait(&child, -1);
  }
  fprintf(stderr, "test_corrupt: getters of scribbled fields: ended with %d (128 + n: signal n)\n", code);
  return 1;
}

/* ---- the driver ------------------------------------------------------------------------------ */

static char status_name[32];
static ipc_event_t *start;
static ipc_sem_t *ready;

/* Opens (or, for the driver, makes) the status segment. */
static void open_shared(const char *name, int create) {
  ipc_segment_t *seg = NULL;
  if (create) CHECK_RC(ipc_segment_create(name, sizeof *shared, 0, 0, &seg), IPC_OK);
  else CHECK_RC(ipc_segment_open(name, 0, &seg), IPC_OK);
  CHECK(ipc_segment_size(seg) >= sizeof *shared);
  shared = ipc_segment_base(seg);
  if (create) {
    CHECK_RC(ipc_event_init_at(seg, 0, 0, &start), IPC_OK);
    CHECK_RC(ipc_sem_init_at(seg, IPC_EVENT_SIZE, 0, 0, &ready), IPC_OK);
  } else {
    CHECK_RC(ipc_event_at(seg, 0, &start), IPC_OK);
    CHECK_RC(ipc_sem_at(seg, IPC_EVENT_SIZE, &ready), IPC_OK);
  }
}

static void report_end(enum target t, int i, int code, const char *when, uint64_t seed) {
  fprintf(stderr, "test_corrupt: %s: %s %d ended with %d (128 + n: signal n)%s in %s (seed %llu)\n", target_names[t],
          i == WORKERS ? "scribbler" : "worker", i, code, when, op_of(&shared->statuses[i]), (unsigned long long)seed);
}

/* A child: `<worker|scribbler>-<target>-<index>-<seed> <object's segment>`, the status segment's name
 * in IPC_CORRUPT_STATUS. Starts when the driver sets the start event. */
static int child(const char *role, const char *name) {
  char kind[16] = {0};
  unsigned t = 0, index = 0;
  unsigned long long seed = 0;
  const char *status = getenv("IPC_CORRUPT_STATUS");
  if (sscanf(role, "%15[a-z]-%u-%u-%llu", kind, &t, &index, &seed) != 4 || t >= TARGETS || index > WORKERS ||
      status == NULL) {
    fprintf(stderr, "test_corrupt: no role %s\n", role);
    return 64;
  }
  open_shared(status, 0);
  attach((enum target)t, name);
  me = &shared->statuses[index];
  seed_rng(seed, (uint64_t)t * 16 + index);
  int scribbles = strcmp(kind, "scribbler") == 0;
  if (scribbles) choose_spots((enum target)t);
  CHECK_RC(ipc_sem_release(ready, 1), IPC_OK);
  CHECK_RC(ipc_event_wait(start, 120LL * 1000000000LL), IPC_OK);
  if (scribbles) scribbler((int64_t)shared->until);
  else worker((enum target)t, (int)index, (int64_t)shared->until);
  return 0;
}

static int run(enum target t, uint64_t seed, int64_t run_ns) {
  heap = NULL;
  chan = NULL;
  mutex = NULL;
  barrier = NULL;
  char name[32];
  proc_segment_name(name, sizeof name, "tcor");
  make(t, name);
  keep_pristine();
  memset(shared->statuses, 0, sizeof shared->statuses);
  CHECK_RC(ipc_event_clear(start), IPC_OK);
  while (ipc_sem_try_acquire(ready, 1) == IPC_OK) continue; /* what a failed run's late children left */
  proc_t children[WORKERS + 1];
  fflush(NULL);
  for (int i = 0; i <= WORKERS; i++) {
    char role[96];
    snprintf(role, sizeof role, "%s-%d-%d-%llu", i == WORKERS ? "scribbler" : "worker", (int)t, i, (unsigned long long)seed);
    children[i] = proc_spawn(role, name);
  }
  int failed = 0;
  int left = WORKERS + 1;
  /* Until every child has attached; one that ends before fails the run (and the rest start at once). */
  int64_t give_up = now_ns() + 120000 * MS_NS;
  for (int attached = 0; attached < WORKERS + 1 && !failed;) {
    int32_t rc = ipc_sem_acquire(ready, 1, 100 * MS_NS);
    if (rc == IPC_OK) {
      attached += 1;
      continue;
    }
    CHECK_RC(rc, IPC_ETIMEDOUT);
    for (int i = 0; i <= WORKERS; i++) {
      if (children[i].pid == 0) continue;
      int code = proc_wait(&children[i], 0);
      if (code == PROC_TIMEOUT) continue;
      left -= 1;
      report_end(t, i, code, " before it was ready", seed);
      failed = 1;
    }
    if (!failed && now_ns() > give_up) {
      fprintf(stderr, "test_corrupt: %s: %d of %d children ready after 120 s (seed %llu)\n", target_names[t], attached,
              WORKERS + 1, (unsigned long long)seed);
      failed = 1;
    }
  }
  int64_t until = now_ns() + run_ns;
  shared->until = (uint64_t)until;
  CHECK_RC(ipc_event_set(start), IPC_OK);
  int64_t deadline = until + LATE_NS;
  while (left > 0) {
    /* Waits up to 5 ms on the first child still running, then looks at the others. */
    int64_t wait_ns = 5 * MS_NS;
    for (int i = 0; i <= WORKERS; i++) {
      if (children[i].pid == 0) continue;
      int code = proc_wait(&children[i], wait_ns);
      wait_ns = 0;
      if (code == PROC_TIMEOUT) continue;
      left -= 1;
      if (code == 0) continue;
      if (code == PROC_KILLED && deadline == INT64_MAX) continue; /* reported */
      report_end(t, i, code, "", seed);
      failed = 1;
    }
    if (left > 0 && now_ns() > deadline) {
      for (int i = 0; i <= WORKERS; i++) {
        if (children[i].pid == 0) continue;
        fprintf(stderr, "test_corrupt: %s: %s %d hung in %s (seed %llu)\n", target_names[t],
                i == WORKERS ? "scribbler" : "worker", i, op_of(&shared->statuses[i]), (unsigned long long)seed);
        proc_kill(&children[i]);
      }
      failed = 1;
      deadline = INT64_MAX;
    }
  }
  uint64_t calls = 0, errors = 0, by_code[32] = {0};
  for (int i = 0; i < WORKERS; i++) {
    calls += shared->statuses[i].calls;
    errors += shared->statuses[i].errors;
    for (int c = 0; c < 32; c++) by_code[c] += shared->statuses[i].by_code[c];
  }
  printf("test_corrupt: %-8s %8llu calls, %8llu errors:", target_names[t], (unsigned long long)calls,
         (unsigned long long)errors);
  for (int c = 1; c < 32; c++)
    if (by_code[c] > 0) printf(" %s %llu", ipc_errname(-c), (unsigned long long)by_code[c]);
  printf("%s\n", failed ? "  FAILED" : "");
  if (heap != NULL) ipc_heap_close(heap);
  ipc_segment_unlink(name);
  ipc_segment_close(segment);
  return failed;
}

int main(int argc, char **argv) {
  proc_self_path = argv[0];
  if (argc == 2 && strcmp(argv[1], "getters") == 0) {
    getters();
    return 0;
  }
  if (argc == 3) return child(argv[1], argv[2]);
  const char *given = argc > 1 ? argv[1] : getenv("IPC_CORRUPT_SEED");
  uint64_t seed = given != NULL ? strtoull(given, NULL, 0) : (uint64_t)now_ns() ^ ((uint64_t)proc_self_id() << 32);
  const char *ms = getenv("IPC_CORRUPT_MS");
  int64_t run_ns = (ms != NULL ? atoll(ms) : 700) * MS_NS;
  printf("test_corrupt: seed %llu (replay: test_corrupt %llu)\n", (unsigned long long)seed, (unsigned long long)seed);
  fflush(stdout);
  proc_segment_name(status_name, sizeof status_name, "tcors");
  open_shared(status_name, 1);
  shared->driver = (uint32_t)proc_self_id();
  CHECK(proc_setenv("IPC_CORRUPT_STATUS", status_name));
  int failed = run_getters();
  const char *only = getenv("IPC_CORRUPT_ONLY");
  for (int t = 0; t < TARGETS; t++) {
    if (only != NULL && strcmp(only, target_names[t]) != 0) continue;
    /* The heap has the most paths to reach (lists, page table, states, recovery): it runs longest. */
    failed |= run((enum target)t, seed, t == HEAP ? 5 * run_ns : run_ns);
    fflush(stdout);
  }
  ipc_segment_unlink(status_name);
  if (failed) {
    fprintf(stderr, "test_corrupt: FAILED (seed %llu)\n", (unsigned long long)seed);
    return 1;
  }
  printf("test_corrupt: ok\n");
  return 0;
}
