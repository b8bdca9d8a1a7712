/* owner_mutex.pml: the owner-recording mutex (zig/platform/owner_mutex.zig): a holder records
 * itself after taking the word, and a waiter whose park slice ends judges the recorded holder and
 * frees a dead one's lock with OWNER_DIED, as the kernel does for a robust futex.
 *
 * mirrors: zig/platform/owner_mutex.zig acquire sha256:a4b6dc083c3b3ff8
 * mirrors: zig/platform/owner_mutex.zig unlock sha256:0faa979f74e764f8
 * mirrors: zig/platform/owner_mutex.zig writeRecord sha256:095f722df3e4ca0d
 * mirrors: zig/platform/owner_mutex.zig clearRecord sha256:1895a85779eed96b
 * mirrors: zig/platform/owner_mutex.zig readRecord sha256:85e45e2e8b7f98bc
 * mirrors: zig/platform/owner_mutex.zig judge sha256:13c2654a30f9048c
 * mirrors: zig/platform/owner_mutex.zig reapWith sha256:9a695c559ce2f91e
 * mirrors: zig/platform/owner_mutex.zig release_dead sha256:f5ec2fc57aa1c149
 * mirrors: zig/wait.zig parkLoop sha256:70e77c8086c74d4e
 *
 * The cell: the word -- the holder's thread id (a process here: tid = _pid + 1), WB (waiters), OD
 * (owner died) -- and the holder's pid (`cpid`), written together by the taking CAS. The record: a
 * sequence (odd while written), the tag (the tid the record is for) and what completes the pid
 * (`rwho`: start time and pid namespace; here the process itself). `dead[p]` is what
 * platform.processAlive answers. With a whole record the judge asks about the record's process;
 * without one (the holder died or is between its CAS and its record) about the cell's pid (one pid
 * namespace here: the model has no `mixed` flag). A process dies at a crash point (CP) and nothing
 * is done for it: no kernel list, its lock stays held until a waiter judges it.
 *
 * Processes: H holds the lock at the start (recorded) and unlocks it; W1 and W2 lock with no
 * deadline and unlock. Any one of them may die at any crash point.
 *
 * Checked: mutual exclusion among live holders; a reaper frees only a lock whose holder is dead
 * (never a live holder's); and, when nothing can move (watchdog), no live waiter is parked on a
 * free lock, nor beside a dead holder (the documented bound: it is judged at the next slice), the
 * holder that died between its CAS and its record's last store included.
 *
 * The park slice (wait.recheck_ns) ends, in the model, only when that leads somewhere: the word
 * changed, or the recorded holder is dead (a slice on a live holder is a stutter).
 *
 * OLD_TAG: a judge that uses the record without checking that its tag is the word's holder; a
 * record left by a dead holder then condemns the live thread that took the lock after it.
 * OLD_NOCELL: the first design -- no pid in the taking CAS, so a holder without a whole record
 * cannot be judged: a holder killed between its CAS and its record leaves waiters parked forever
 * (tests/c/test_heap.c's kill storm hung this way).
 */
#define NP 4
#include "futex.pml"

#define TID(v) ((v) & 3)
#define WB 4
#define OD 8
#define LOCKWORD 1

byte word = 1;     /* H (pid 0, tid 1) holds it */
byte seq = 2;      /* even: the record is whole */
byte tag = 1;
byte rwho = 0;
byte cpid = 0;
bit dead[NP];
byte inside = 1;   /* live holders in the critical section */

#ifdef OLD_TAG
#define CURRENT(v) (seq % 2 == 0)
#else
#define CURRENT(v) (seq % 2 == 0 && tag == TID(v))
#endif
#ifdef OLD_NOCELL
#define CONDEMNED(v) (CURRENT(v) && dead[rwho])
#else
#define CONDEMNED(v) ((CURRENT(v) && dead[rwho]) || (!CURRENT(v) && dead[cpid]))
#endif
/* A slice end that leads somewhere: the held word's holder is judged dead. */
#define REAPABLE (TID(word) != 0 && TID(word) != _pid + 1 && CONDEMNED(word))

/* writeRecord / clearRecord: the holder's seqlock writes. */
inline write_record() {
  seq = seq | 1; CP;
  tag = _pid + 1; CP;
  rwho = _pid; CP;
  seq = (seq + 1) % 8
}

inline clear_record() {
  seq = seq | 1; CP;
  tag = 0; CP;
  seq = (seq + 1) % 8
}

/* acquire: the CAS, then the record. */
inline acquire(contended, ok) {
  atomic {
    if
    :: TID(word) == 0 ->
      word = (_pid + 1) | (word & WB) | (contended -> WB : 0);
      cpid = _pid;
      inside++; assert(inside == 1); ok = 1
    :: else -> ok = 0
    fi
  }
  if
  :: ok -> CP; write_record()
  :: else -> skip
  fi
}

inline unlock_(old) {
  CP;
  clear_record();
  CP;
  atomic { assert(TID(word) == _pid + 1); inside--; old = word; word = 0 }
  CP;
  if
  :: old & WB -> futex_wake(LOCKWORD, 1)
  :: else -> skip
  fi;
  old = 0
}

/* readRecord + judge + reapWith + release_dead, for the cell value (v, p) the waiter saw. */
inline reap(v, s1, t, w) {
  atomic { v = word; p = cpid };
  if
  :: TID(v) != 0 && TID(v) != _pid + 1 ->
    s1 = seq;
    t = tag;
    w = rwho;
    if
    :: s1 % 2 == 0 && s1 == seq && t == TID(v) -> skip   /* a whole record: its process */
    :: else ->
#if defined(OLD_TAG)
      if
      :: s1 % 2 == 0 && s1 == seq -> skip                 /* another holder's record, used anyway */
      :: else -> w = p
      fi
#elif defined(OLD_NOCELL)
      w = 255                                             /* no record, no pid: nobody to judge */
#else
      w = p                                               /* no whole record: the cell's pid */
#endif
    fi;
    if
    :: w != 255 && dead[w] ->
      CP;
      do
      :: atomic {
           word == v ->
           assert(dead[TID(v) - 1]);   /* never a live holder's lock */
           word = (v & WB) | OD;
           if
           :: word & WB -> futex_wake(LOCKWORD, 1)
           :: else -> skip
           fi;
           break
         }
      :: atomic { word != v && TID(word) == TID(v) -> v = word }   /* WB added meanwhile */
      :: atomic { TID(word) != TID(v) -> break }                     /* moved on */
      od
    :: else -> skip
    fi
  :: else -> skip
  fi;
  v = 0; p = 0; s1 = 0; t = 0; w = 0
}

/* lockContended with prepare/waitValue, parking in slices (parkLock). */
inline lock_wait(got) {
  got = 0;
  do
  :: got -> break
  :: else ->
    acquire(1, ok);
    if
    :: ok -> got = 1
    :: else ->
      v = word;
      if
      :: TID(v) == 0 -> skip
      :: else ->
        atomic { if :: word == v -> word = v | WB; expected = v | WB :: else -> expected = 255 fi };
        CP;
        /* futex_wait with a slice that may end on a dead recorded holder */
        atomic {
          if
          :: word != expected -> out = AGAIN
          :: else -> parkedOn[_pid] = LOCKWORD; out = PARKED
          fi
        }
        if
        :: out == PARKED ->
          if
          :: parkedOn[_pid] == 0 -> out = WOKEN
          :: atomic { SLICE(word != expected) -> parkedOn[_pid] = 0; out = WOKEN }
          :: atomic { REAPABLE -> parkedOn[_pid] = 0; out = TIMEDOUT }
          fi
        :: else -> skip
        fi;
        if
        :: out == TIMEDOUT -> reap(v, s1, t, w)
        :: else -> skip
        fi;
        out = 0; expected = 0
      fi;
      v = 0
    fi
  od
}

inline died() {
  atomic {
    dead[_pid] = 1;
    parkedOn[_pid] = 0;
    if
    :: TID(word) == _pid + 1 -> inside--
    :: else -> skip
    fi
  }
}

active proctype H() {
  byte old;
  CP;
  unlock_(old);
  goto done;
crashed:
  died();
done:
  skip
}

active [2] proctype W() {
  bit got, ok;
  byte v, p, expected, out, old, s1, t, w;
  lock_wait(got);
  CP;
  unlock_(old);
  goto done;
crashed:
  died();
done:
  skip
}

/* When nothing can move: no live waiter is parked on a free lock, or beside a dead holder. */
active proctype watchdog() {
  timeout ->
  assert(!((parkedOn[1] == LOCKWORD && !dead[1]) || (parkedOn[2] == LOCKWORD && !dead[2])) ||
         (TID(word) != 0 && !dead[TID(word) - 1]))
}
