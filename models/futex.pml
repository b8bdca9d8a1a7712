/* futex.pml: the kernel and wait-word pieces every model shares (included, mirrors no Zig function
 * by itself; the models that include it name the functions they mirror).
 *
 * The futex: a process parks on a word only if the word still holds the value it expects (the
 * kernel checks and queues in one step), and stays parked until a wake picks it (any one of the
 * parked: wake order is not FIFO), its own deadline passes (timed waits only), or -- with RECHECK,
 * the fix for a committer that dies between its commit and its wake -- its park slice
 * (recheck_ns, 100 ms) expires and a re-read finds the word changed. A slice that expires on an
 * unchanged word parks again: that is a stutter, so the model only takes the slice when the
 * re-read would see a change.
 *
 * Crash points: `CP` between two steps lets the process stop forever there (at most MAXCRASH
 * processes per run), jumping to its `crashed:` label where the model does what the kernel does
 * for a dead process (robust-list handling, leaving the futex queue).
 *
 * Kernels without futex_waitv (zig/platform/linux_futex.zig, "wait" mode): a wait on several words
 * parks a proxy thread on each; a wake a proxy takes either ends its caller's wait (as futex_waitv
 * would) or, its caller gone, is passed on to the word at once. To the model that is a wake that
 * picks one parked process, possibly after a delay, which the nondeterministic wake order covers.
 *
 * Everything is sequentially consistent: each Promela statement is one atomic step in one total
 * order, as the seq_cst read-modify-writes and loads of the code give on x86-64 and aarch64.
 */

#ifndef NP
#define NP 6
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif

/* Park outcomes. */
#define AGAIN 1     /* the word differed already: never parked */
#define WOKEN 2     /* a wake picked this process, or a slice re-read saw a change */
#define TIMEDOUT 3  /* its own deadline (timed waits only) */
#define PARKED 4

byte parkedOn[NP];   /* the word id a process is parked on; 0 = not parked */
byte nw;             /* scratch for futex_wake (reset inside its atomic step) */
byte ncrash;

#ifdef CRASH
#define CP if :: (ncrash < MAXCRASH) -> ncrash++; goto crashed :: true -> skip fi
#else
#define CP skip
#endif

#ifdef RECHECK
#define SLICE(cond) (cond)
#else
#define SLICE(cond) false
#endif

/* FUTEX_WAKE of up to n processes parked on word id `wid`; the count woken is lost (callers
 * here ignore it). */
#define WAKE1(i, wid) :: parkedOn[i] == wid -> parkedOn[i] = 0; nw++
inline futex_wake(wid, n) {
  atomic {
    nw = 0;
    do
    :: nw >= n -> break
    :: else ->
      if
      WAKE1(0, wid)
      WAKE1(1, wid)
      WAKE1(2, wid)
      WAKE1(3, wid)
#if NP > 4
      WAKE1(4, wid)
#endif
#if NP > 5
      WAKE1(5, wid)
#endif
      :: else -> break
      fi
    od;
    nw = 0
  }
}

/* FUTEX_WAIT on word id `wid` whose current value is the expression `val`, while it equals
 * `expected`. `timed`: the wait has a deadline that may pass at any point. */
inline futex_wait(wid, val, expected, timed, out) {
  atomic {
    if
    :: val != expected -> out = AGAIN
    :: else -> parkedOn[_pid] = wid; out = PARKED
    fi
  }
  if
  :: out == PARKED ->
    if
    :: parkedOn[_pid] == 0 -> out = WOKEN
    :: atomic { SLICE(val != expected) -> parkedOn[_pid] = 0; out = WOKEN }
    :: atomic { timed -> if :: parkedOn[_pid] != 0 -> parkedOn[_pid] = 0; out = TIMEDOUT :: else -> out = WOKEN fi }
    fi
  :: else -> skip
  fi
}
