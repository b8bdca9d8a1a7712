/* semaphore.pml: the counting semaphore's acquire/release over its wait word.
 *
 * mirrors: zig/semaphore.zig tryAcquire sha256:bc56a4f6eeb04acc
 * mirrors: zig/semaphore.zig acquire sha256:ae37ffd5e7897095
 * mirrors: zig/semaphore.zig passOnWake sha256:98bd2e965234ab46
 * mirrors: zig/semaphore.zig release sha256:99ea027205d1b399
 * mirrors: zig/wait.zig WaitWord sha256:84ea943f510591eb
 *
 * The count is the value of a WaitWord with a count of parked waiters beside it (a Dekker pair:
 * a waiter increments `waiters`, then reads the value, then parks; a releaser changes the value
 * by CAS, then reads `waiters` and wakes only if it is not 0). `bulk` counts parked waiters that
 * want more than one unit: a release then wakes everyone.
 *
 * Processes: W1 acquires 1 unit with a deadline that may pass at any point (then one last try and
 * passOnWake); W2 acquires 2 units, no deadline; R releases 1 unit three times (max 3). W2 must
 * get its units (end state); nobody live stays parked while the count covers what it wants (the
 * watchdog); the count never exceeds the maximum (assertion).
 *
 * The old behaviour this model shows failing is the one of issue 15's defect 9: CRASH without
 * RECHECK (a releaser killed between its CAS and its wake leaves W2 parked beside its units).
 * OLD_DEKKER, a releaser that reads `waiters` before its CAS, shows the model sees the Dekker
 * order.
 */
#define NP 4
#include "futex.pml"

#define WORD 1
#define MAX 3

byte count;
byte waiters;
byte bulk;
byte want[NP];

inline try_acquire(n, ok, v) {
  ok = 0;
  do
  :: v = count;
     if
     :: v < n -> break
     :: else -> atomic { if :: count == v -> count = v - n; ok = 1; break :: else -> skip fi }
     fi
  od;
  v = 0
}

/* WaitWord.wait(expected): one look (the spin), register, look, park, unregister. */
inline ww_wait(expected, timed, out) {
  if
  :: count != expected -> out = WOKEN
  :: else ->
    atomic { waiters++ };
    CP;
    if
    :: count != expected -> out = WOKEN
    :: else -> futex_wait(WORD, count, expected, timed, out)
    fi;
    CP;
    atomic { waiters-- }
  fi
}

inline acquire(n, timed, got) {
  byte ok, v, out;
  want[_pid] = n;
  got = 0;
  do
  :: try_acquire(n, ok, v);
     if
     :: ok -> got = 1; ok = 0; break
     :: else -> skip
     fi;
     v = count;
     if
     :: v >= n -> skip
     :: else ->
       if :: n > 1 -> atomic { bulk++ } :: else -> skip fi;
       CP;
       ww_wait(v, timed, out);
       if :: n > 1 -> atomic { bulk-- } :: else -> skip fi;
       if
       :: out == TIMEDOUT ->
         try_acquire(n, ok, v);
         if
         :: ok -> got = 1; ok = 0
         :: else ->
           CP;
           /* passOnWake: the count, then (WaitWord.wake) the waiter count */
           if
           :: count > 0 ->
             if
             :: waiters != 0 -> futex_wake(WORD, 1)
             :: else -> skip
             fi
           :: else -> skip
           fi
         fi;
         break
       :: else -> skip
       fi
     fi;
     out = 0; v = 0
  od;
  want[_pid] = 0
}

/* release: CAS, then `everyone` from bulk, then WaitWord.wake (reads `waiters`, wakes if any). */
inline release(n) {
  byte v;
  bit everyone, any;
#ifdef OLD_DEKKER
  any = (waiters != 0);
#endif
  do
  :: v = count;
     assert(v + n <= MAX);
     atomic { if :: count == v -> count = v + n; break :: else -> skip fi }
  od;
  v = 0;
  CP;
  everyone = (n > 1 || bulk != 0);
#ifndef OLD_DEKKER
  any = (waiters != 0);
#endif
  if
  :: any -> futex_wake(WORD, (everyone -> 255 : n))
  :: else -> skip
  fi;
  everyone = 0; any = 0
}

active proctype W1() {
  bit got;
  acquire(1, 1, got);
crashed:
  want[_pid] = 0
}

active proctype W2() {
  bit got;
  acquire(2, 0, got);
  assert(got);
crashed:
  want[_pid] = 0
}

active proctype R() {
  release(1);
  release(1);
  release(1);
crashed:
  skip
}

/* A live waiter parked while the count covers what it wants: a lost wake-up. */
#define STUCK(i) (parkedOn[i] != 0 && want[i] != 0 && count >= want[i])
active proctype watchdog() {
  timeout -> assert(!STUCK(0) && !STUCK(1))
}
