/* mutex.pml: the timed wait of the robust mutex, and its give-up pass-on.
 *
 * mirrors: zig/mutex.zig lockContended sha256:4c05f53303fa0c9f
 * mirrors: zig/mutex.zig prepare sha256:adf584e236764f32
 * mirrors: zig/mutex.zig waitValue sha256:d20548b12f1506f5
 * mirrors: zig/mutex.zig passOnWake sha256:90fd572e8ba47c12
 * mirrors: zig/mutex.zig tryAcquire sha256:92ced256fa8e9125
 *
 * The lock word is glibc's robust mutex word: the owner's thread id, FUTEX_WAITERS (WB) and
 * FUTEX_OWNER_DIED (OD). glibc's trylock takes a free word by CAS to the bare id (clearing WB);
 * its unlock exchanges 0 and wakes one waiter when WB was set; the kernel, for a holder that dies,
 * stores OD keeping WB and wakes one waiter when WB was set.
 *
 * Processes: H holds the lock at the start and unlocks it; W1 locks with a deadline that may pass
 * at any point; W2 locks with no deadline; S is a try_lock (or a spinner) that takes the lock when
 * it sees it free. Checked: mutual exclusion; W2 always gets the lock (end state); nobody stays
 * parked on a free lock (the watchdog, when nothing can move).
 *
 * OLD_PASS_ON: passOnWake before issue 15 (wake one only when the lock is free; nothing when it is
 * held), which loses W2's wake when S took the lock between the unlock's wake and W1's give-up.
 */
#define NP 5
#include "futex.pml"

#define TID(v) ((v) & 7)
#define WB 8
#define OD 16
#define LOCKWORD 1

byte word = 1;   /* H (pid 0, tid 1) holds it */
byte inside = 1;

inline trylock(ok) {
  atomic {
    if
    :: TID(word) == 0 -> word = (_pid + 1) | (word & WB); ok = 1; inside++; assert(inside == 1)
    :: else -> ok = 0
    fi
  }
}

inline unlock_(old) {
  atomic { assert(TID(word) == _pid + 1); inside--; old = word; word = 0 }
  CP;
  if
  :: old & WB -> futex_wake(LOCKWORD, 1)
  :: else -> skip
  fi;
  old = 0
}

/* What the kernel does for a process that dies (robust list): a held lock gets OD, keeping WB,
 * and one waiter is woken when WB was set; the dead process leaves the futex queue. */
inline died() {
  atomic {
    parkedOn[_pid] = 0;
    if
    :: TID(word) == _pid + 1 ->
      inside--;
      word = (word & WB) | OD;
      if
      :: word & WB -> futex_wake(LOCKWORD, 1)
      :: else -> skip
      fi
    :: else -> skip
    fi
  }
}

/* passOnWake: after giving up, the wake this waiter may have consumed goes on. */
inline pass_on(v) {
#ifdef OLD_PASS_ON
  if
  :: TID(word) == 0 -> futex_wake(LOCKWORD, 1)
  :: else -> skip
  fi
#else
  do
  :: v = word;
     if
     :: TID(v) == 0 -> futex_wake(LOCKWORD, 1); v = 0; break
     :: TID(v) != 0 && (v & WB) -> v = 0; break
     :: else -> atomic { if :: word == v -> word = v | WB; v = 0; break :: else -> skip fi }
     fi
  od
#endif
}

/* lockContended (after its spin), with prepare/waitValue/tryAcquire(contended = true). */
inline lock_contended(timed, got) {
  got = 0;
  /* The spin: retry trylock while the owner bits are clear. */
  do
  :: TID(word) == 0 -> trylock(ok); if :: ok -> ok = 0; got = 1; break :: else -> skip fi
  :: break
  od;
  do
  :: got -> break
  :: else ->
    CP;
    if
    :: timed -> pass_on(v); break          /* the deadline passed */
    :: true -> skip
    fi;
    /* prepare */
    do
    :: v = word;
       if
       :: TID(v) == 0 ->
         trylock(ok);
         if
         :: ok -> ok = 0; CP; atomic { word = word | WB }; got = 1; v = 0; break
         :: else -> skip
         fi
       :: TID(v) != 0 && (v & WB) -> expected = v; v = 0; break
       :: TID(v) != 0 && !(v & WB) ->
         atomic { if :: word == v -> word = v | WB; expected = v | WB; v = 0; break :: else -> skip fi }
       fi
    od;
    if
    :: got -> break
    :: else -> skip
    fi;
    CP;
    futex_wait(LOCKWORD, word, expected, timed, out);
    out = 0; expected = 0; v = 0
  od
}


bit w2done;

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

active proctype W1() {
  bit got;
  byte v, expected, out, ok, old;
  lock_contended(1, got);
  if
  :: got -> CP; unlock_(old)
  :: else -> skip
  fi;
  goto done;
crashed:
  died();
done:
  skip
}

active proctype W2() {
  bit got;
  byte v, expected, out, ok, old;
  lock_contended(0, got);
  assert(got);
  CP;
  unlock_(old);
  w2done = 1;
  goto done;
crashed:
  died();
done:
  skip
}

active proctype S() {
  byte ok, old;
  TID(word) == 0;
  trylock(ok);
  if
  :: ok -> CP; unlock_(old)
  :: else -> skip
  fi;
  goto done;
crashed:
  died();
done:
  skip
}

/* When nothing can move: nobody live is parked on a free lock. */
active proctype watchdog() {
  timeout ->
  assert(!(TID(word) == 0 && (parkedOn[1] == LOCKWORD || parkedOn[2] == LOCKWORD)))
}
