/* chan.pml: the channel ring's commit/wait protocol and its wake-one pass-on rules.
 *
 * mirrors: zig/chan/ring.zig positions sha256:afee568deef33f72
 * mirrors: zig/chan/ring.zig commit sha256:cee1ad04078f2a0c
 * mirrors: zig/chan/send.zig fits sha256:2f899a7d69146cbb
 * mirrors: zig/chan/send.zig trySendMany sha256:a59073bf8ec489be
 * mirrors: zig/chan/recv.zig tryRecv sha256:d41b70858e5ffde1
 * mirrors: zig/chan/recv.zig consume sha256:6d73918514effd3f
 * mirrors: zig/chan/mvar.zig replace sha256:1bf8f04cf44c5c43
 * mirrors: zig/chan/blocking.zig wakeAfter sha256:efae21e2a1dff208
 * mirrors: zig/chan/blocking.zig sendMany sha256:81c8c684fec00a55
 * mirrors: zig/chan/blocking.zig recv sha256:0c209d199405a918
 * mirrors: zig/chan/locks.zig lockReceivers sha256:478d00fdad954a0e
 * mirrors: zig/chan/locks.zig repairReceivers sha256:932cb71796ef4fc9
 * mirrors: zig/chan/mvar.zig seeBoth sha256:39008008d95231af
 * mirrors: zig/chan/blocking.zig wakeReceivers sha256:4a54c4354d3248c1
 * mirrors: zig/chan/blocking.zig passOn sha256:a7a85976e9e0fc2c
 *
 * Positions count records (every message is one record of one unit; padding, record headers,
 * loans and close are abstracted away) modulo 8; the ring holds C records. Senders hold the send
 * lock, receivers the receive lock (robust: a holder that dies frees it, and the next holder of
 * the receive lock runs lockReceivers' repair). `readable` holds the tail, `writable` the head;
 * each is a wait word with a count of parked waiters. A sender reads the head it saw last
 * (head_seen) and only when that says "no room" the real head; a receiver likewise with tail_seen.
 * A blocked try names the word and the exact value it decided on; the blocking form waits while
 * the word holds it.
 *
 * Scenarios (plain channel of C = 2 unless MVAR):
 *   default  S sends one message; R receives it, X peeks (recv with peek).
 *   SMALL    as default, but X's buffer is too small (recv returns too_small).
 *   MANY     S sends two messages with one send_many; R and X receive one each.
 *   MVAR     a single-message channel: S puts two messages, T takes two, Q replaces three times.
 * Checked: no record is received twice, records are received in order (one sender), used <= C whenever a
 * position is read (positions never say "damage" on a good channel); on single-message channels
 * the cursor equals the head whenever a process holds the receive lock; and, when nothing can
 * move, no live receiver is parked while an unread record is there and no live sender is parked
 * while the ring is empty (lost wake-ups).
 *
 * OLD_WAKE: wakeAfter before issue 15 (one wake per send, however many messages; a woken peek or
 *   too-small receive passes nothing on): default, SMALL and MANY fail.
 * OLD_SEEN: replace moved head and tail but not head_seen, and positions took a stale seen head for
 *   damage: MVAR fails (used > C).
 * OLD_REPAIR: the next holder of a dead receiver's lock repaired nothing: MVAR with CRASH fails
 *   (cursor != head: the MVar is wedged).
 */
#define NP 5
#include "futex.pml"

#ifdef MVAR
#define C 2
#define SINGLE 1
#else
#define C 2
#define SINGLE 0
#endif
#define M 7            /* position mask */
#define READABLE 1
#define WRITABLE 2

byte readable, writable;      /* tail, head */
byte head_seen, tail_seen, rd;
byte ring[C];
byte sendLock, recvLock;      /* holder pid + 1 */
bit recvDied;                 /* the receive lock is in the owner-died state */
byte rwaiters, wwaiters;
byte got[8];
byte last;
byte wantRecv[NP], wantSend[NP];

#define USED ((readable - writable) & M)
#define UNREAD ((readable - rd) & M)

inline lock_send() {
  atomic { sendLock == 0 -> sendLock = _pid + 1 }
}

/* lockReceivers: on OWNER_DIED, move the head over what the dead receiver took (advanceHead with no
 * views: up to the cursor) and wake the senders waiting for that space. */
inline lock_recv() {
  atomic { recvLock == 0 -> recvLock = _pid + 1 };
  if
  :: recvDied ->
#ifndef OLD_REPAIR
    tail_seen = readable;   /* repairReceivers looks fresh */
    if
    :: (writable & M) != rd ->
      atomic { writable = rd };
      CP;
      if :: wwaiters != 0 -> futex_wake(WRITABLE, 255) :: else -> skip fi
    :: else -> skip
    fi;
#endif
    recvDied = 0
  :: else -> skip
  fi;
  assert(!SINGLE || rd == writable)
}

inline unlock_send() { sendLock = 0 }
inline unlock_recv() { recvLock = 0 }

/* A dead process: the kernel frees its robust locks (owner died) and it leaves the futex queue. */
inline died() {
  atomic {
    parkedOn[_pid] = 0;
    wantRecv[_pid] = 0;
    wantSend[_pid] = 0;
    if :: sendLock == _pid + 1 -> sendLock = 0 :: else -> skip fi;
    if :: recvLock == _pid + 1 -> recvLock = 0; recvDied = 1 :: else -> skip fi
  }
}

/* WaitWord.wait on word `wid` (value `val`, waiter count `cnt`). */
inline ww_wait(wid, val, cnt, expected, out) {
  if
  :: val != expected -> skip
  :: else ->
    atomic { cnt++ };
    CP;
    if
    :: val != expected -> skip
    :: else -> futex_wait(wid, val, expected, 0, out)
    fi;
    CP;
    atomic { cnt-- }
  fi;
  out = 0
}

/* trySendMany of n records with ids id, id+1, ...: sent = 1, or the value of `writable` to wait
 * on. */
inline try_send(n, id, sent, expected, tail, head) {
  sent = 0;
  lock_send();
  tail = readable; head = head_seen;
  if
  :: ((tail - head) & M) > C ->
#ifdef OLD_SEEN
    assert(false)   /* error.Protocol on a good channel */
#else
    head = writable; head_seen = head   /* a seen value fell behind: look again */
#endif
  :: else -> skip
  fi;
  if
  :: (SINGLE && tail != head) || C - ((tail - head) & M) < n ->
    head = writable; head_seen = head;
    assert(((tail - head) & M) <= C)
  :: else -> skip
  fi;
  if
  :: (SINGLE && tail != head) || C - ((tail - head) & M) < n -> expected = head
  :: else ->
    ring[tail % C] = id;
    if :: n > 1 -> ring[(tail + 1) % C] = id + 1 :: else -> skip fi;
    CP;
    atomic { readable = (tail + n) & M };   /* commit */
    sent = 1
  fi;
  unlock_send();
  tail = 0; head = 0
}

/* sendMany: try, wait on the word the try names, and wake receivers after sending. */
inline send(n, id) {
  byte sent, expected, tail, head, out;
  wantSend[_pid] = n;
  do
  :: try_send(n, id, sent, expected, tail, head);
     if
     :: sent -> break
     :: else -> CP; ww_wait(WRITABLE, writable, wwaiters, expected, out); expected = 0
     fi
  od;
  wantSend[_pid] = 0;
  CP;
  /* wakeReceivers(n) (OLD_WAKE: wakeAfter, one) */
  if
  :: rwaiters != 0 ->
#ifdef OLD_WAKE
    futex_wake(READABLE, (SINGLE -> 255 : 1))
#else
    futex_wake(READABLE, (SINGLE -> 255 : n))
#endif
  :: else -> skip
  fi;
  sent = 0
}

/* tryRecv; kind 0 receives, 1 peeks, 2 has a buffer too small. result: 1 received (or peeked),
 * 2 too small, 0 blocked with `expected` the value of `readable` to wait on. */
inline try_recv(kind, result, expected, tail, id) {
  result = 0;
  lock_recv();
  tail = tail_seen;
  if
  :: ((tail - rd) & M) == 0 || ((tail - writable) & M) > C ->
    tail = readable; tail_seen = tail     /* empty, or a seen value fell behind: look again */
  :: else -> skip
  fi;
  assert(((tail - writable) & M) <= C);
  if
  :: ((tail - rd) & M) == 0 -> expected = tail
  :: kind == 2 && ((tail - rd) & M) != 0 -> result = 2
  :: kind != 2 && ((tail - rd) & M) != 0 ->
    id = ring[rd % C];
    result = 1;
    if
    :: kind == 0 ->
      assert(SINGLE || id > last); last = id; got[id]++; assert(got[id] == 1);
      /* consume: the cursor, then the head */
      rd = (rd + 1) & M;
      CP;
      atomic { writable = rd }
    :: else -> skip
    fi
  fi;
  unlock_recv();
  tail = 0; id = 0
}

inline recv(kind) {
  byte result, expected, tail, id, out;
  bit waited;
  wantRecv[_pid] = 1;
  do
  :: try_recv(kind, result, expected, tail, id);
     if
     :: result != 0 -> break
     :: else -> CP; ww_wait(READABLE, readable, rwaiters, expected, out); expected = 0; waited = 1
     fi
  od;
  wantRecv[_pid] = 0;
  CP;
  if
  :: result == 1 && kind == 0 ->
    if :: wwaiters != 0 -> futex_wake(WRITABLE, 255) :: else -> skip fi   /* wakeAfter(writable) */
#ifndef OLD_WAKE
  :: (result == 2 || kind == 1) && waited && !SINGLE ->
    if :: rwaiters != 0 -> futex_wake(READABLE, 1) :: else -> skip fi    /* passOn */
#endif
  :: else -> skip
  fi;
  result = 0; waited = 0
}

/* replace (single-message channels): both locks, drop the record there is, put `id`. */
inline replace(id) {
  byte tail;
  lock_recv();
  lock_send();
  tail = readable;
  if
  :: ((tail - rd) & M) != 0 ->
    rd = (rd + 1) & M;
    CP;
    atomic { writable = rd }
  :: else -> skip
  fi;
  assert(USED == 0);
  ring[tail % C] = id;
  CP;
  atomic { readable = (tail + 1) & M };
  CP;
  /* seeBoth */
#ifndef OLD_SEEN
  head_seen = writable;
#endif
  tail_seen = readable;
  /* wakeAfter both words, still holding both locks (their unlocks are deferred) */
  if :: rwaiters != 0 -> futex_wake(READABLE, 255) :: else -> skip fi;
  if :: wwaiters != 0 -> futex_wake(WRITABLE, 255) :: else -> skip fi;
  unlock_send();
  unlock_recv();
  tail = 0
}

#ifdef MVAR
active proctype S() {
  send(1, 1);
  send(1, 2);
  goto finish;
crashed:
  died();
finish:
  skip
}
active proctype T() {
  recv(0);
  recv(0);
  goto finish;
crashed:
  died();
finish:
  skip
}
active proctype Q() {
  replace(3);
  replace(4);
#ifndef CRASH
  replace(5);   /* (two replaces suffice for the crash runs, and keep them small) */
#endif
  goto finish;
crashed:
  died();
finish:
  skip
}
#else
active proctype S() {
#ifdef MANY
  send(2, 1);
#else
  send(1, 1);
#endif
  goto finish;
crashed:
  died();
finish:
  skip
}
active proctype R() {
  recv(0);
  goto finish;
crashed:
  died();
finish:
  skip
}
active proctype X() {
#if defined(MANY)
  recv(0);
#elif defined(SMALL)
  recv(2);
#else
  recv(1);
#endif
  goto finish;
crashed:
  died();
finish:
  skip
}
#endif

/* A live receiver parked beside an unread record, or a live sender parked beside an empty ring. */
#define STUCK(i) (parkedOn[i] == READABLE && wantRecv[i] && UNREAD != 0 || parkedOn[i] == WRITABLE && wantSend[i] && USED == 0)
active proctype watchdog() {
  timeout -> assert(!STUCK(0) && !STUCK(1) && !STUCK(2))
}
