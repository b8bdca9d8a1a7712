/* event.pml: event set/clear/wait, for the blocking wait and the async step.
 *
 * mirrors: zig/event.zig set sha256:eaadad4c1a736a7a
 * mirrors: zig/event.zig clear sha256:94d0a2be8ecf3aa0
 * mirrors: zig/event.zig tryWait sha256:a3626cf521378832
 * mirrors: zig/event.zig released sha256:6e04dae5a98dc83f
 * mirrors: zig/event.zig waitSet sha256:5746cc5d3fda72f4
 * mirrors: zig/event.zig waitStep sha256:41aff7bb241145f7
 *
 * The word holds the flag (bit 0) and a count of sets (the other bits): set is a CAS to
 * (v | 1) + 2 followed by a wake, clear an AND. A waiter decides on one value of the word and, to
 * wait, waits while the word holds exactly that value, so a set (which changes the count) between
 * the decision and the park ends the park, even when a clear follows it at once.
 *
 * Manual reset (default): W (waitSet) and A (waitStep loop, as the async binding drives it) start
 * waiting; once both have read their start, P sets and clears the event (a pulse). Both must
 * return. AUTO: W and A on an auto-reset event; P sets, waits until a waiter took the set, sets
 * again: both must return. The watchdog (when nothing can move): no waiter parked while the event
 * is set, or, manual reset, while a set happened after its start.
 *
 * OLD_WAIT: waitSet and waitStep before issue 15: waitSet decides with `released(start)`, then
 * loads the word again and waits on that second value; waitStep turns a set seen at registration
 * into `v & ~1`, the value a later clear produces. Both miss a pulse.
 */
#define NP 4
#include "futex.pml"

#define WORD 1
#define SETS(v) ((v) >> 1)
#define NEVER 255

byte state;
byte waiters;
byte started;
byte finished;
byte startOf[NP];

#ifdef AUTO
#define IS_AUTO 1
#else
#define IS_AUTO 0
#endif

/* tryWait: true when set; an auto-reset event is cleared by the call that sees it set. */
inline try_wait(r, v) {
  r = 0;
  v = state;
  do
  :: !(v & 1) -> break
  :: (v & 1) && !IS_AUTO -> r = 1; break
  :: (v & 1) && IS_AUTO ->
     atomic { if :: state == v -> state = v & 254; r = 1; break :: else -> v = state fi }
  od;
  v = 0
}

/* released(start): tryWait, or (manual reset) the count of sets moved since start. */
inline released(start, r, v) {
  try_wait(r, v);
  if
  :: !r && !IS_AUTO -> r = (SETS(state) != SETS(start))
  :: else -> skip
  fi
}

/* WaitWord.wait(expected): spin (one look), register, look, park. */
inline ww_wait(expected, out) {
  if
  :: state != expected -> skip
  :: else ->
    atomic { waiters++ };
    CP;
    if
    :: state != expected -> skip
    :: else -> futex_wait(WORD, state, expected, 0, out)
    fi;
    CP;
    atomic { waiters-- }
  fi;
  out = 0
}

inline waitSet() {
  byte start, v, r, out;
  atomic { start = state; startOf[_pid] = start; started++ };
#ifdef OLD_WAIT
  do
  :: released(start, r, v);
     if
     :: r -> break
     :: else ->
       v = state;
       if
       :: v & 1 -> skip
       :: else -> CP; ww_wait(v, out)
       fi
     fi;
     r = 0; v = 0
  od
#else
  /* Each round decides on one value v: set, or sets moved since start, ends the wait; else wait
   * while the word holds v. */
  do
  :: v = state;
     if
     :: (v & 1) && !IS_AUTO -> break
     :: (v & 1) && IS_AUTO ->
       atomic { if :: state == v -> state = v & 254; break :: else -> skip fi }
     :: !(v & 1) && !IS_AUTO && SETS(v) != SETS(start) -> break
     :: else -> CP; ww_wait(v, out)
     fi;
     v = 0
  od
#endif
}

/* waitStep(registered, expected, r, v, attempt): true when the wait is over; else the caller (the
 * async binding) waits while the word holds `expected` and steps again with registered = true.
 * As the code: a registered step unregisters and checks released(expected); then every step
 * registers and decides on the value `register` loaded: clear, wait while the word holds it;
 * set on a manual-reset event, done; set on an auto-reset event, take it by CAS, deciding again
 * on the value a failed CAS returns, and after cas_attempts_max failures (contended: here after
 * any one, nondeterministically) wait while the word holds that value with the flag cleared. The
 * wait's start (for P and the watchdog) is the value the first registration loaded. */
inline waitStep(registered, expected, r, v, attempt) {
  r = 0;
  if
  :: registered ->
    atomic { waiters-- };
    CP;
    released(expected, r, v)
  :: else -> skip
  fi;
#ifdef OLD_WAIT
  /* Before issue 15: a tryWait first, then a set seen at registration became `v & ~1`, the value
   * a later clear produces, for both kinds. */
  if
  :: !r -> try_wait(r, v)
  :: else -> skip
  fi;
#endif
  if
  :: !r ->
    CP;
    atomic { waiters++; v = state; if :: !registered -> startOf[_pid] = v; started++ :: else -> skip fi };
#ifndef OLD_WAIT
    /* A set+clear between released's load and this one released a manual-reset wait too. */
    if
    :: registered && !IS_AUTO && SETS(v) != SETS(expected) -> atomic { waiters-- }; r = 1
    :: else -> skip
    fi;
#endif
  :: else -> skip
  fi;
  if
  :: !r ->
#ifdef OLD_WAIT
    if
    :: v & 1 -> expected = v & 254
    :: else -> expected = v
    fi
#else
    attempt = 0;
    do
    :: !(v & 1) -> expected = v; break
    :: (v & 1) && !IS_AUTO -> atomic { waiters-- }; r = 1; break
    :: (v & 1) && IS_AUTO && attempt -> expected = v & 254; break
    :: (v & 1) && IS_AUTO ->
      atomic { if :: state == v -> state = v & 254; r = 1 :: else -> v = state; attempt = 1 fi };
      if
      :: r -> atomic { waiters-- }; break
      :: else -> skip
      fi
    od
#endif
  :: else -> skip
  fi;
  v = 0; attempt = 0
}

active proctype W() {
  waitSet();
  atomic { finished++ };
  goto finish;
crashed:
  skip;
finish:
  skip
}

/* The async binding: step, wait while the word holds `expected`, step again. */
active proctype A() {
  byte expected, r, v, attempt, out;
  waitStep(0, expected, r, v, attempt);
  do
  :: r -> break
  :: else ->
    CP;
    futex_wait(WORD, state, expected, 0, out);
    out = 0;
    waitStep(1, expected, r, v, attempt)
  od;
  atomic { finished++ };
  goto finish;
crashed:
  skip;
finish:
  skip
}

inline set_() {
  byte v;
  do
  :: v = state;
     atomic { if :: state == v -> state = (v | 1) + 2; break :: else -> skip fi }
  od;
  v = 0;
  CP;
  if
  :: waiters == 0 -> skip
  :: else -> futex_wake(WORD, (IS_AUTO -> 1 : 255))
  fi
}

active proctype P() {
  started == 2;
  set_();
#ifdef AUTO
  !(state & 1);
  set_();
#else
  CP;
  atomic { state = state & 254 }
#endif
  ;
crashed:
  skip
}

/* A live waiter parked while what it waits for holds: a lost wake-up. */
#define STUCK(i) (parkedOn[i] != 0 && ((state & 1) || !IS_AUTO && SETS(state) != SETS(startOf[i])))
active proctype watchdog() {
  timeout -> assert(!STUCK(0) && !STUCK(1))
}
