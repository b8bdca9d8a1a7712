/*
 * libipc: shared memory and process-shared synchronization for C, Bun and Deno.
 *
 * Conventions (every function below follows them):
 * - Functions return int32_t: 0 (IPC_OK) on success, a negative IPC_E* code on failure, and a
 *   positive value only where documented (a count, or IPC_OWNER_DIED). Codes have the same values
 *   on every OS; ipc_errname() and ipc_strerror() turn them into static strings.
 * - Out-parameters come last and are written only on success (handles are set to NULL on failure).
 * - No function needs a language runtime or per-thread setup: each may be passed as a raw function
 *   pointer. Unless a function says otherwise it is safe to call from any thread and any process.
 * - A handle is freed by its close or destroy call: using it afterwards, or while another thread
 *   closes it, is undefined behaviour (like free()). The IPC_ECLOSED results below are a
 *   best-effort diagnosis, not a guarantee.
 * - Nothing here blocks unless its description says so.
 * - Signals: by default a blocking call goes on after a signal handler ran, until its condition,
 *   its timeout or its cancel. A process that calls ipc_interruptible_set(1) chooses interruptible
 *   waits instead: then every blocking wait (ipc_wait, semaphores, events, conditions, barriers,
 *   channel sends and receives, MVar takes, puts and swaps, pipe reads and writes) returns
 *   IPC_EINTR when a signal handler installed without SA_RESTART interrupts it while it is parked,
 *   as sem_wait and read return EINTR, so that Ctrl-C and timers work in C and FFI hosts (Python's
 *   signal handlers are installed without SA_RESTART). Nothing has been done then: retry the call
 *   after acting on the signal. A handler with SA_RESTART restarts the wait, as it restarts read.
 *   Lock waits (ipc_mutex_lock, ipc_rwlock_*_lock, and the internal locks of channels and heaps)
 *   are never interrupted, like pthread_mutex_lock. A signal that arrives in the short spin before
 *   a wait parks (the spin budget, ipc_spin_set) is not seen, as one arriving just before sem_wait
 *   is not. The Bun and Deno bindings never turn it on.
 * - Functions that are not implemented on an OS return IPC_ENOTSUP there (Linux is implemented).
 *
 * This header is checked against the Zig implementation by zig/ipc_h_test.zig: every constant,
 * size and prototype here must match.
 */
#ifndef IPC_H
#define IPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ----------------------------------------------------------------------------------- */

#define IPC_VERSION_MAJOR 0
#define IPC_VERSION_MINOR 1
#define IPC_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch, as returned by ipc_version(). */
#define IPC_VERSION ((IPC_VERSION_MAJOR << 16) | (IPC_VERSION_MINOR << 8) | IPC_VERSION_PATCH)
/* Layout version of everything libipc places in shared memory. A process attaches only to segments
 * of its own ABI version; others are refused with IPC_EVERSION. */
#define IPC_ABI_VERSION 1

/* The version of the loaded library, encoded like IPC_VERSION. */
uint32_t ipc_version(void);
/* The version of the loaded library as "major.minor.patch"; a static string. */
const char *ipc_version_string(void);
/* The ABI version of the loaded library; compare with IPC_ABI_VERSION. */
uint32_t ipc_abi_version(void);

/* ---- Result codes ------------------------------------------------------------------------------ */

#define IPC_OK 0
/* Positive: a lock was acquired, but its previous owner died holding it. */
#define IPC_OWNER_DIED 1
#define IPC_EINVAL (-1)          /* invalid argument */
#define IPC_ENOMEM (-2)          /* out of memory or address space */
#define IPC_ENOSPC (-3)          /* not enough space: larger than the system allows */
#define IPC_EEXIST (-4)          /* already exists */
#define IPC_ENOENT (-5)          /* no such object */
#define IPC_EACCES (-6)          /* permission denied */
#define IPC_ENAMETOOLONG (-7)    /* name too long */
#define IPC_EPROTO (-8)          /* not a libipc object, or its header is corrupt */
#define IPC_EVERSION (-9)        /* made by a libipc of another ABI version */
#define IPC_ERANGE (-10)         /* offset or size out of range */
#define IPC_EALIGN (-11)         /* offset not aligned as required */
#define IPC_ENOTSUP (-12)        /* not supported on this platform */
#define IPC_EMFILE (-13)         /* too many open files */
#define IPC_ECLOSED (-14)        /* object is closed */
#define IPC_ETIMEDOUT (-15)      /* timed out */
#define IPC_ECANCELED (-16)      /* wait canceled */
#define IPC_EBUSY (-17)          /* busy: would have to wait */
#define IPC_EPERM (-18)          /* not the owner */
#define IPC_EDEADLK (-19)        /* already held by the caller */
#define IPC_ENOTRECOVERABLE (-20) /* an owner died and the state was not repaired */
#define IPC_EBROKEN (-21)        /* broken: another party timed out, aborted or died */
#define IPC_EIO (-22)            /* unexpected operating system error */
#define IPC_EKIND (-23)          /* object is of another kind */
#define IPC_EPIPE (-24)          /* closed for sending: the channel was closed */
#define IPC_EOF (-25)            /* end of channel: closed and drained */
#define IPC_EOWNER (-26)         /* owned by another user (IPC_SEGMENT_ANY_OWNER accepts it) */
#define IPC_EINTR (-27)          /* interrupted by a signal handler (see ipc_interruptible_set) */
#define IPC_ENOHELPER (-28)      /* the tracker's helper program was not found (ipc_tracker_start) */

/* A static description of `code` ("invalid argument"); "unknown result code" for other values. */
const char *ipc_strerror(int32_t code);
/* The static name of `code` without the IPC_ prefix ("EINVAL", "OK", "OWNER_DIED"); "EUNKNOWN" for
 * other values. */
const char *ipc_errname(int32_t code);

/* ---- Names ------------------------------------------------------------------------------------- */

/* Longest name in bytes including the leading '/' and excluding the NUL (macOS's limit). */
#define IPC_NAME_MAX 31

/* A name is an optional '/' followed by 1-30 characters from [A-Za-z0-9._-], the first not '.' or
 * '-'. "seg" and "/seg" name the same object. Names starting with "ipc." are reserved for generated
 * names. Returns IPC_OK, IPC_EINVAL (bad character, empty, reserved prefix) or IPC_ENAMETOOLONG. */
int32_t ipc_name_validate(const char *name);

/* Writes a fresh unique name, "/ipc.<pid>.<start>.<random>" in base 36, NUL-terminated, into `buf`
 * of `buf_len` >= IPC_NAME_MAX + 1 bytes (else IPC_ERANGE). The name carries this process's pid and
 * start time: only this process may create a segment with it, and ipc_segment_sweep() removes it
 * once this process has died. */
int32_t ipc_name_generate(char *buf, uint32_t buf_len);

/* ---- Segments ---------------------------------------------------------------------------------- */

/* A mapping of shared memory. Opaque; one per ipc_segment_create/open call, freed by
 * ipc_segment_close. */
typedef struct ipc_segment ipc_segment_t;

/* Bytes of libipc header before the user data of every segment. */
#define IPC_SEGMENT_HEADER_SIZE 128
/* Largest user size of a segment in bytes (2^47). */
#define IPC_SEGMENT_SIZE_MAX 140737488355328ULL

/* ipc_segment_create flags. */
/* Give the segment a generated unique name (pass name == NULL); see ipc_name_generate. */
#define IPC_SEGMENT_UNIQUE_NAME 0x1u
/* Allocate all backing memory now: running out is IPC_ENOSPC here instead of SIGBUS when a page is
 * first touched. Without it pages cost memory only once touched, so segments may be sized
 * generously. */
#define IPC_SEGMENT_RESERVE 0x2u
/* Register the name with this process's tracker (see ipc_tracker_start; started here if it is not
 * running), which removes it once this process has ended, however it ended. Ignored for anonymous
 * segments, which cannot leak. Every ipc_*_create function that takes flags accepts it. */
#define IPC_SEGMENT_TRACK 0x4u

/* ipc_segment_open and ipc_segment_open_fd flags. */
/* Accept a segment owned by another user than this process's effective user. Without it such a
 * segment is refused with IPC_EOWNER: any user can pre-create a name in /dev/shm (squatting) with
 * permissions that let them write into it while this process uses it. Sharing between users (a
 * segment created with a mode such as 0660) needs this flag on the other users' side. */
#define IPC_SEGMENT_ANY_OWNER 0x8u

/* Creates a segment with `size_bytes` (1..IPC_SEGMENT_SIZE_MAX) of zero-filled user data.
 *   name: NULL for an anonymous segment (a memfd on Linux: shared only by fd, never visible in
 *         /dev/shm, freed when the last process closes it), or a name (see ipc_name_validate), or
 *         NULL with IPC_SEGMENT_UNIQUE_NAME for a generated one.
 *   mode: permission bits of a named segment, 0 for the default 0600 (owner only); up to 0777.
 *   flags: IPC_SEGMENT_UNIQUE_NAME, IPC_SEGMENT_RESERVE, IPC_SEGMENT_TRACK.
 * The name appears only once the segment is fully initialized, so a concurrent ipc_segment_open
 * either fails with IPC_ENOENT or sees a complete segment. A named segment exists until
 * ipc_segment_unlink, even after every process closed it — unless it is tracked.
 * Returns IPC_OK, IPC_EINVAL, IPC_ENAMETOOLONG, IPC_ERANGE (size above the maximum), IPC_ENOSPC
 * (more than /dev/shm, or RAM plus swap for anonymous segments, can ever hold, or with
 * IPC_SEGMENT_RESERVE more than is free now), IPC_EEXIST, IPC_EACCES, IPC_EMFILE, IPC_ENOMEM, and
 * with IPC_SEGMENT_TRACK the codes of ipc_tracker_start and ipc_tracker_track. */
int32_t ipc_segment_create(const char *name, uint64_t size_bytes, uint32_t mode, uint32_t flags,
                           ipc_segment_t **segment_out);

/* Opens the segment called `name`. `flags`: 0 or IPC_SEGMENT_ANY_OWNER. Only a regular file is
 * opened (never a FIFO, symlink, socket or device: IPC_EPROTO, without blocking), and its owner is
 * checked before anything is read from it.
 * Returns IPC_OK, IPC_ENOENT, IPC_EACCES, IPC_EOWNER (owned by another user than the effective one,
 * without IPC_SEGMENT_ANY_OWNER), IPC_EINVAL/IPC_ENAMETOOLONG (bad name), IPC_EPROTO (the file is
 * not a libipc segment, or is damaged or truncated), IPC_EVERSION (another ABI version),
 * IPC_EMFILE, IPC_ENOMEM. A segment that another process truncates while it is mapped raises SIGBUS
 * on access: keep other users out (mode 0600, the owner check). */
int32_t ipc_segment_open(const char *name, uint32_t flags, ipc_segment_t **segment_out);

/* Opens the segment behind the file descriptor `fd`, for example one a parent process passed to
 * this one. The fd is duplicated (close-on-exec): the caller keeps owning `fd`. `flags`: 0 or
 * IPC_SEGMENT_ANY_OWNER; the file is checked as ipc_segment_open checks it, owner included, since
 * an fd may come from any process.
 * Returns the codes of ipc_segment_open, and IPC_EINVAL when `fd` is not an open descriptor. */
int32_t ipc_segment_open_fd(int32_t fd, uint32_t flags, ipc_segment_t **segment_out);

/* Unmaps the segment and closes its fd; `segment` is freed. Does not remove its name. NULL is
 * IPC_OK. Pointers into the segment are invalid afterwards. */
int32_t ipc_segment_close(ipc_segment_t *segment);

/* The first byte of user data (IPC_SEGMENT_HEADER_SIZE bytes into the mapping, so aligned to at
 * least 128 bytes). The same memory in every process, at a different address in each: store offsets
 * in shared memory, never pointers. NULL for a NULL handle. */
void *ipc_segment_base(const ipc_segment_t *segment);
/* The user size in bytes, as given to ipc_segment_create. 0 for a NULL handle. */
uint64_t ipc_segment_size(const ipc_segment_t *segment);
/* The segment's fd (close-on-exec; owned by the segment: do not close it). Pass it to a child
 * process, which opens the segment with ipc_segment_open_fd. On Windows it is the value of the
 * section's HANDLE (below 2^31, not inheritable): a child started with bInheritHandles TRUE after
 * ipc_fd_inherit(fd, 1) holds the same value and opens it with ipc_segment_open_fd. IPC_ECLOSED for
 * a NULL handle. */
int32_t ipc_segment_fd(const ipc_segment_t *segment);

/* Handing an fd (POSIX) or handle (Windows) to child processes, the same call on every OS.
 * `inherit` 1 lets `fd` reach the children this process starts from now on: on POSIX close-on-exec
 * is cleared (a fork and exec keeps the fd under its number), on Windows HANDLE_FLAG_INHERIT is set
 * (a child created with bInheritHandles TRUE gets the handle under the same value); `inherit` 0
 * undoes it. Every process started meanwhile, by any thread, inherits it too: mark it just before
 * starting the child and unmark it right after. Segments' fds are created not inheritable.
 * Returns IPC_OK, or IPC_EINVAL when `inherit` is neither 0 nor 1 or `fd` names no open fd or handle
 * (negative, 0 on Windows, closed). */
int32_t ipc_fd_inherit(int32_t fd, int32_t inherit);

/* Closes the fd (POSIX) or handle (Windows) `fd`: for a child, the one it inherited, once
 * ipc_segment_open_fd has opened the segment (which duplicated it); kept, it would reach this
 * process's own children. Never close a segment's own fd (ipc_segment_fd) with it.
 * Returns IPC_OK, or IPC_EINVAL when `fd` names no open fd or handle (negative, 0 on Windows,
 * already closed). */
int32_t ipc_fd_close(int32_t fd);
/* Segment kinds (ipc_segment_kind). */
#define IPC_KIND_SEGMENT 1 /* a plain segment (ipc_segment_create) */
#define IPC_KIND_MUTEX 2   /* a standalone mutex (ipc_mutex_create) */
#define IPC_KIND_SEMAPHORE 3 /* ipc_sem_create */
#define IPC_KIND_EVENT 4     /* ipc_event_create */
#define IPC_KIND_CONDITION 5 /* ipc_cond_create: a mutex and a condition */
#define IPC_KIND_BARRIER 6   /* ipc_barrier_create */
#define IPC_KIND_RWLOCK 7    /* ipc_rwlock_create */
#define IPC_KIND_HEAP 8      /* ipc_heap_create */
#define IPC_KIND_CHAN 9      /* ipc_chan_create */

/* The kind of object the segment holds: one of IPC_KIND_*. */
uint32_t ipc_segment_kind(const ipc_segment_t *segment);
/* The canonical name ("/name"), or "" for an anonymous segment. Valid until ipc_segment_close. */
const char *ipc_segment_name(const ipc_segment_t *segment);
/* The pid of the creating process and its start time (an opaque OS-specific stamp that tells a
 * reused pid apart). Either out-parameter may be NULL. */
int32_t ipc_segment_creator(const ipc_segment_t *segment, int32_t *pid_out, uint64_t *start_out);

/* The largest size_bytes ipc_segment_create accepts here: what /dev/shm can hold in total for named
 * segments (`anonymous` = 0), or RAM plus swap for anonymous ones (`anonymous` = 1), capped at
 * IPC_SEGMENT_SIZE_MAX. Not a promise that this much is free now. */
int32_t ipc_segment_capacity(uint32_t anonymous, uint64_t *bytes_out);

/* Removes the name of a libipc segment. Processes that have it open keep using it; its memory is
 * freed when the last one closes it. A tracked name is no longer tracked afterwards. Returns IPC_OK,
 * IPC_ENOENT, IPC_EACCES, IPC_EINVAL / IPC_ENAMETOOLONG (bad name), IPC_EPROTO (a file that is not a
 * libipc segment is never removed). */
int32_t ipc_segment_unlink(const char *name);

/* Removes every generated name (see ipc_name_generate) whose creator process has died, among the
 * segments this user owns that were created in this pid namespace; another user's file is never
 * opened, nor anything but a regular file. Returns how many were removed
 * (>= 0), or a negative code. Reads /dev/shm and /proc; does not block otherwise. Libraries that
 * bind libipc for a runtime (the Bun and Deno entry points) call it once when they load; C programs
 * call it themselves, typically at startup. IPC_ENOTSUP on macOS, whose shm names cannot be
 * listed: there the tracker removes a dead process's names. On Windows it returns 0: a segment
 * dies with its last handle there, so a dead creator leaves nothing to remove. */
int32_t ipc_segment_sweep(void);

/* What ipc_segment_info reports about a segment's creator. */
#define IPC_CREATOR_DEAD 0
#define IPC_CREATOR_ALIVE 1
/* The creator ran in another pid namespace (another container): its pid means nothing here. */
#define IPC_CREATOR_UNKNOWN 2

/* What the header of a named segment says, read without mapping it. */
typedef struct ipc_segment_info {
  uint64_t size_bytes;    /* user size */
  uint64_t creator_start; /* the creator's start time, as ipc_segment_creator reports it */
  int32_t creator_pid;
  uint32_t creator_state; /* IPC_CREATOR_DEAD, IPC_CREATOR_ALIVE or IPC_CREATOR_UNKNOWN, now */
  uint32_t kind;          /* IPC_KIND_* */
  uint32_t uid;           /* owner of the file */
  uint32_t mode;          /* its permission bits */
  uint32_t reserved;      /* 0 */
} ipc_segment_info_t;

/* Reads and validates the header of the segment called `name` (read permission is enough; any
 * owner) and fills `*info_out`. Only a regular file is opened, without blocking. Returns IPC_OK,
 * IPC_ENOENT, IPC_EACCES, IPC_EINVAL / IPC_ENAMETOOLONG (bad name), IPC_EPROTO (not a libipc
 * segment, or damaged, or not a regular file), IPC_EVERSION (another ABI version). */
int32_t ipc_segment_info(const char *name, ipc_segment_info_t *info_out);

/* Writes the names of the libipc segments in /dev/shm ("/name", each followed by a NUL) into `buf`
 * of `buf_len` bytes, and returns how many bytes all of them take (>= 0): when that is more than
 * `buf_len`, `buf` holds only the names that fit, and the caller calls again with a larger buffer
 * (segments come and go meanwhile). `buf` may be NULL when `buf_len` is 0. Listed: every file that
 * starts with libipc's magic (any ABI version) and every generated name, regular files only. Reads
 * /dev/shm; on Windows, the session's object directory (the sections of live segments).
 * IPC_ENOTSUP on macOS (shm names cannot be listed there). */
int32_t ipc_segment_list(char *buf, uint32_t buf_len);

/* Removes the name `name` if it is a libipc segment this user owns, created in this pid namespace
 * by a process that has died — for any name, generated or not (ipc_segment_sweep only considers
 * generated names, because other names may be meant to outlive their creator). Returns 1 when it
 * removed it, 0 when it kept it (creator alive or unknown, or another user's file, which is never
 * opened), or the codes of ipc_segment_info. On Windows it returns 0: a name there lives exactly as
 * long as some process holds its segment, and cannot be removed before. */
int32_t ipc_segment_unlink_dead(const char *name);

/* ---- Tracker ----------------------------------------------------------------------------------- */

/* Names leak when a process dies before unlinking them, and a process killed with SIGKILL runs no
 * code at all. The tracker is a small helper process, `libipc-tracker`, that watches this process
 * and, once it has ended in any way, removes every name registered with it that is still a libipc
 * segment created by this process. Opt-in, one per process; a forked child has none until it
 * starts its own. Named objects are registered with IPC_SEGMENT_TRACK at creation, or with
 * ipc_tracker_track later; ipc_segment_unlink unregisters. */

/* ipc_tracker_start flag: track every named object this process creates from now on, as if each
 * had IPC_SEGMENT_TRACK. */
#define IPC_TRACKER_ALL 0x1u
/* Most names one process's tracker holds. */
#define IPC_TRACKER_NAMES_MAX 65536

/* Starts this process's tracker if it is not running, and sets `flags` (0 or IPC_TRACKER_ALL).
 * `helper_path` is the helper program to run, or NULL to use $LIBIPC_TRACKER, else
 * `libipc-tracker` in ../libexec/libipc (an installed prefix), ../bin (zig-out) or the directory
 * itself of the file libipc was loaded from (libipc.so, or the program libipc.a was linked into),
 * else the path `zig build -p PREFIX` compiled in (PREFIX/libexec/libipc/libipc-tracker).
 * Ignored when the tracker runs already. Blocks until the helper answers (about a
 * millisecond; at most 5 s). The helper runs in a session of its own, holds none of this process's
 * fds, and exits after its cleanup. Returns IPC_OK, IPC_EINVAL (unknown flag),
 * IPC_ENAMETOOLONG (path of 4096 bytes or more), IPC_ENOHELPER (helper_path NULL and no helper
 * found in those places), IPC_ENOENT (helper_path or $LIBIPC_TRACKER names no file), IPC_EACCES,
 * IPC_ETIMEDOUT or IPC_EPROTO (the program did not answer as a libipc tracker of this version),
 * IPC_EMFILE, IPC_ENOMEM. */
int32_t ipc_tracker_start(const char *helper_path, uint32_t flags);

/* Registers `name`, a named segment this process created, with the tracker (starting it with
 * default settings if needed). Registering twice is fine. Returns IPC_OK, IPC_EINVAL /
 * IPC_ENAMETOOLONG (bad name), the codes of ipc_segment_info, IPC_EPERM (another process created
 * it), IPC_ENOSPC (IPC_TRACKER_NAMES_MAX names registered), the codes of ipc_tracker_start, and
 * IPC_ETIMEDOUT (the helper did not read for 10 s). A helper that was killed is replaced by a new
 * one, which learns every registered name. */
int32_t ipc_tracker_track(const char *name);

/* Unregisters `name`: it stays in /dev/shm after this process ends. Returns 1 if it was
 * registered, 0 if not, IPC_EINVAL / IPC_ENAMETOOLONG (bad name). */
int32_t ipc_tracker_untrack(const char *name);

/* Stops the tracker without removing anything: every registered name stays. Waits up to 2 s for
 * the helper to exit. IPC_OK also when no tracker runs. */
int32_t ipc_tracker_stop(void);

/* This process's tracker: the helper's pid (0 when none runs), how many names are registered, and
 * its flags (IPC_TRACKER_ALL). Any out-parameter may be NULL. Returns IPC_OK. */
int32_t ipc_tracker_status(int32_t *pid_out, uint32_t *names_out, uint32_t *flags_out);

/* ---- Waiting on a word ------------------------------------------------------------------------ */

/* The wait machinery every libipc primitive is built on, for C programs and language bindings that
 * build their own: wait while a 32-bit word holds an expected value, spinning briefly before
 * parking in the kernel (futex). Needs Linux 5.16 or newer (futex_waitv); older kernels get
 * IPC_ENOTSUP. */

/* CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine. */
uint64_t ipc_now_ns(void);

/* Default and largest process-wide spin before a wait parks, in nanoseconds. */
#define IPC_SPIN_NS_DEFAULT 20000
#define IPC_SPIN_NS_MAX 10000000
/* Sets how long waits in this process spin before parking (0 parks at once). Spinning turns a
 * hand-off between processes from tens of microseconds (a wake-up on another CPU) into well under
 * one, at the cost of that much CPU time per wait that does not end during the spin. While runnable
 * threads outnumber CPUs, a wait spins at most 5 us (never more than this budget), and only on a
 * word where this thread's spins paid off lately. IPC_ERANGE above IPC_SPIN_NS_MAX. */
int32_t ipc_spin_set(uint32_t spin_ns);
/* The current spin budget in nanoseconds. */
uint32_t ipc_spin_get(void);

/* Chooses for the whole process whether blocking waits return IPC_EINTR when a signal handler
 * interrupts them (`on` = 1) or go on waiting (`on` = 0, the default); see "Signals" at the top of
 * this header for which waits, and why SA_RESTART handlers do not interrupt. Set it once at
 * startup, before threads wait: a wait already parked may see the old setting. IPC_EINVAL for
 * other values. */
int32_t ipc_interruptible_set(uint32_t on);
/* 1 when blocking waits are interruptible in this process, else 0. */
uint32_t ipc_interruptible_get(void);

/* Blocks while *word == expected: until the word changes or is woken (ipc_wake), `timeout_ns`
 * passes (negative: no timeout; 0: check once), or *cancel_word becomes non-zero (cancel_word may
 * be NULL; it must be in this process's own memory, set with ipc_wait_cancel). `word` may be in
 * shared memory and is 4-byte aligned (else IPC_EALIGN).
 * A change made without a wake (its writer was killed before waking) ends the wait within 100 ms:
 * no kernel wait lasts longer before the word is read again.
 * Returns IPC_OK (the word changed or was woken; like every futex, it may also return spuriously:
 * re-check your condition), IPC_ETIMEDOUT, IPC_ECANCELED, IPC_EINTR (a signal handler ran, with
 * ipc_interruptible_set(1)), IPC_EINVAL, IPC_ENOTSUP. */
int32_t ipc_wait(const uint32_t *word, uint32_t expected, int64_t timeout_ns, const uint32_t *cancel_word);
/* Wakes up to `count` threads, in any process, blocked in ipc_wait on `word`; returns how many. */
int32_t ipc_wake(const uint32_t *word, uint32_t count);
/* Sets *cancel_word to 1 and wakes the ipc_wait blocked with it. Safe from any thread. */
int32_t ipc_wait_cancel(uint32_t *cancel_word);

/* ---- Mutexes ----------------------------------------------------------------------------------- */

/* A robust, process-shared, error-checking mutex: IPC_MUTEX_SIZE bytes of shared memory, anywhere in
 * a segment (aligned to IPC_MUTEX_ALIGN; give each its own 64-byte cache line for speed) or alone
 * in a segment of its own (ipc_mutex_create). It is owned by the thread that locked it, which must
 * be the one to unlock it.
 *
 * Robust: when the holder dies (any way, SIGKILL included), the kernel releases the lock at once
 * and the next locker, already waiting or arriving later, gets IPC_OWNER_DIED: it holds the mutex,
 * and the state it protects may be half-updated. It repairs that state and calls
 * ipc_mutex_consistent before unlocking; if it unlocks without doing so, every later lock fails with
 * IPC_ENOTRECOVERABLE. A lock of libipc's own on the kernel's robust futexes, listed in glibc's
 * per-thread robust list: every process sharing a mutex must use glibc and this lock protocol (a
 * layout tag refuses others with IPC_ENOTSUP). On musl and macOS (and with glibc when built with
 * -Dmutex=owner) the lock instead records its holder (pid, start time), and a waiter finds a dead
 * holder when its 100 ms park slice ends (try_lock and lock check at once): the same results within
 * about 100 ms; a holder in another pid namespace is never found dead. The two protocols refuse each
 * other's mutexes with IPC_ENOTSUP (README "Platforms"). A peer that writes garbage into the mutex makes calls fail (IPC_EPERM,
 * IPC_EPROTO) or the lock wrong, never writes outside the mutex.
 *
 * An ipc_mutex_t pointer is the shared object itself: valid while its memory stays mapped. Every
 * call checks the object's magic first, so a pointer to memory that holds no mutex gives IPC_EPROTO.
 * Lock calls return IPC_OK or IPC_OWNER_DIED (both mean: you hold it), or an error. */
typedef struct ipc_mutex ipc_mutex_t;

#define IPC_MUTEX_SIZE 64
#define IPC_MUTEX_ALIGN 8

/* Makes IPC_MUTEX_SIZE bytes at `memory` an unlocked mutex. Exactly one process initializes a mutex,
 * before any other uses it. IPC_EALIGN, IPC_ENOTSUP. */
int32_t ipc_mutex_init(void *memory);
/* ipc_mutex_init on the mutex at `offset` bytes into the segment's data, and returns it. IPC_EALIGN
 * (offset not a multiple of IPC_MUTEX_ALIGN), IPC_ERANGE (does not fit in the segment), IPC_ECLOSED. */
int32_t ipc_mutex_init_at(ipc_segment_t *segment, uint64_t offset, ipc_mutex_t **mutex_out);
/* The mutex another process initialized at `offset` into the segment's data. IPC_EALIGN,
 * IPC_ERANGE, IPC_EPROTO (no mutex there), IPC_ENOTSUP (made with another libc), IPC_ECLOSED. */
int32_t ipc_mutex_at(ipc_segment_t *segment, uint64_t offset, ipc_mutex_t **mutex_out);
/* Creates a segment of kind IPC_KIND_MUTEX holding one initialized mutex at offset 0, published
 * only once initialized. `name`, `mode` and `flags` (IPC_SEGMENT_UNIQUE_NAME, IPC_SEGMENT_TRACK)
 * are as for ipc_segment_create. Other processes use ipc_segment_open then ipc_mutex_at(segment, 0).
 * Close the segment with ipc_segment_close; unlink a named one with ipc_segment_unlink. */
int32_t ipc_mutex_create(const char *name, uint32_t mode, uint32_t flags, ipc_segment_t **segment_out,
                         ipc_mutex_t **mutex_out);

/* Blocks until the calling thread holds the mutex: spins up to the spin budget (ipc_spin_set), then
 * parks. IPC_OK, IPC_OWNER_DIED, IPC_EDEADLK (the caller holds it already), IPC_ENOTRECOVERABLE.
 * Never IPC_EINTR: a signal handler runs and the lock wait goes on, even with
 * ipc_interruptible_set(1), as with pthread_mutex_lock (use ipc_mutex_timed_lock to bound it). */
int32_t ipc_mutex_lock(ipc_mutex_t *mutex);
/* ipc_mutex_lock giving up after `timeout_ns` (negative: never) with IPC_ETIMEDOUT. */
int32_t ipc_mutex_timed_lock(ipc_mutex_t *mutex, int64_t timeout_ns);
/* Takes the mutex if nobody holds it, else IPC_EBUSY. Never blocks. */
int32_t ipc_mutex_try_lock(ipc_mutex_t *mutex);
/* Releases the mutex. IPC_EPERM when the calling thread does not hold it (including a second
 * unlock). Wakes one waiter. */
int32_t ipc_mutex_unlock(ipc_mutex_t *mutex);
/* Declares the state protected by a mutex acquired with IPC_OWNER_DIED repaired, so that unlocking
 * hands it on normally. IPC_EPERM unless the caller holds it; IPC_EINVAL when it is not in that
 * state. */
int32_t ipc_mutex_consistent(ipc_mutex_t *mutex);
/* Retires a mutex nobody holds (IPC_EBUSY otherwise); later calls on it fail with IPC_EPROTO. */
int32_t ipc_mutex_destroy(ipc_mutex_t *mutex);
/* The kernel thread id of the holder (in the holder's pid namespace), or 0 when free. */
int32_t ipc_mutex_holder(ipc_mutex_t *mutex);
/* 1 when the calling thread holds the mutex, else 0. Never unmap (ipc_segment_close) a mutex the
 * calling thread holds: the kernel could then not release it if the process dies, and the thread's
 * next robust-mutex operation (libipc's or glibc's) would touch the unmapped memory. */
int32_t ipc_mutex_held(ipc_mutex_t *mutex);

/* For bindings that wait elsewhere (an event loop's async lock), built on the waits below:
 * ipc_mutex_word is the 32-bit lock word to wait on (NULL if `mutex` is not a mutex), and
 * ipc_mutex_lock_step takes the mutex if it is free (IPC_OK, IPC_OWNER_DIED), or marks it as having
 * waiters, stores the word value to wait for in *expected_out and returns IPC_EBUSY. Wait while the
 * word holds that value (ipc_wait, ipc_waiter_submit), then step again with `contended` = 1, which
 * makes the caller wake the next waiter when it unlocks. The lock belongs to the thread that stepped. */
const uint32_t *ipc_mutex_word(ipc_mutex_t *mutex);
int32_t ipc_mutex_lock_step(ipc_mutex_t *mutex, uint32_t contended, uint32_t *expected_out);

/* ---- Synchronization objects: conventions --------------------------------------------------------
 *
 * Semaphores, events, conditions, barriers and rwlocks follow the mutex's conventions: a handle is
 * the object itself in shared memory; `*_init` makes one in raw memory, `*_init_at` at an offset in
 * a segment, `*_at` finds one another process made (IPC_EALIGN, IPC_ERANGE, IPC_EPROTO when the
 * memory holds no such object, IPC_ECLOSED), and `*_create` makes a segment of the object's kind
 * holding one, published only once initialized (`name`, `mode`, `flags` as for ipc_mutex_create).
 * Blocking calls take `timeout_ns` (negative: no limit) and spin up to the spin budget before
 * parking. With ipc_interruptible_set(1) the blocking waits of semaphores, events, conditions and
 * barriers return IPC_EINTR when a signal handler interrupts them (rwlock locks never do, like
 * mutex locks); each leaves the object as a timeout would (see each family). Every call checks the object's magic; values read from shared memory that this library
 * never writes are refused with IPC_EPROTO.
 *
 * For bindings that wait elsewhere (an event loop): `*_word` is the word to wait on; a `*_step`
 * call does what it can without waiting and returns IPC_EBUSY with the value to wait for in
 * *expected_out; the caller waits while the word holds it (ipc_wait, ipc_waiter_submit), then steps
 * again with `registered` = 1. A step that returned IPC_EBUSY counts the caller as a parked waiter
 * (so that wakers issue a wake); a caller that gives up instead of stepping again calls `*_unwait`. */

/* ---- Semaphores -------------------------------------------------------------------------------- */

/* A counting semaphore with a maximum (releasing past it is IPC_ERANGE, nothing released). Units
 * have no owner: any thread of any process may release, and a unit held by a process that dies is
 * not returned (as with sem_t). */
typedef struct ipc_sem ipc_sem_t;

#define IPC_SEM_SIZE 64
#define IPC_SEM_ALIGN 8
#define IPC_SEM_VALUE_MAX 2147483647

/* `value` initial units, at most `max` (0: IPC_SEM_VALUE_MAX). IPC_ERANGE when value > max. */
int32_t ipc_sem_init(void *memory, uint32_t value, uint32_t max);
int32_t ipc_sem_init_at(ipc_segment_t *segment, uint64_t offset, uint32_t value, uint32_t max, ipc_sem_t **sem_out);
int32_t ipc_sem_at(ipc_segment_t *segment, uint64_t offset, ipc_sem_t **sem_out);
int32_t ipc_sem_create(const char *name, uint32_t mode, uint32_t flags, uint32_t value, uint32_t max,
                       ipc_segment_t **segment_out, ipc_sem_t **sem_out);
/* Takes `n` units (1..max; IPC_EINVAL for 0, IPC_ERANGE above max), waiting up to `timeout_ns`.
 * IPC_EINTR (interruptible waits chosen, a signal handler ran): no unit taken. */
int32_t ipc_sem_acquire(ipc_sem_t *sem, uint32_t n, int64_t timeout_ns);
/* Takes `n` units if available, else IPC_EBUSY. */
int32_t ipc_sem_try_acquire(ipc_sem_t *sem, uint32_t n);
/* Returns `n` units; IPC_ERANGE (and nothing released) when the value would exceed the maximum. */
int32_t ipc_sem_release(ipc_sem_t *sem, uint32_t n);
/* The current value (>= 0), or an error. */
int32_t ipc_sem_value(ipc_sem_t *sem);
/* The maximum (>= 1), or an error. */
int32_t ipc_sem_max(ipc_sem_t *sem);
const uint32_t *ipc_sem_word(ipc_sem_t *sem);
int32_t ipc_sem_acquire_step(ipc_sem_t *sem, uint32_t n, uint32_t registered, uint32_t *expected_out);
int32_t ipc_sem_unwait(ipc_sem_t *sem, uint32_t n);

/* ---- Events ------------------------------------------------------------------------------------ */

/* Set or clear. A manual-reset event stays set, releasing every waiter, until cleared (a waiter is
 * released by any set during its wait, even one cleared again at once); with IPC_EVENT_AUTO_RESET one
 * waiter is released per set and the event clears as it returns. */
typedef struct ipc_event ipc_event_t;

#define IPC_EVENT_SIZE 64
#define IPC_EVENT_ALIGN 8
#define IPC_EVENT_AUTO_RESET 0x1u

int32_t ipc_event_init(void *memory, uint32_t event_flags);
int32_t ipc_event_init_at(ipc_segment_t *segment, uint64_t offset, uint32_t event_flags, ipc_event_t **event_out);
int32_t ipc_event_at(ipc_segment_t *segment, uint64_t offset, ipc_event_t **event_out);
int32_t ipc_event_create(const char *name, uint32_t mode, uint32_t flags, uint32_t event_flags,
                         ipc_segment_t **segment_out, ipc_event_t **event_out);
int32_t ipc_event_set(ipc_event_t *event);
int32_t ipc_event_clear(ipc_event_t *event);
/* 1 when set, 0 when clear, or an error. Never clears. */
int32_t ipc_event_is_set(ipc_event_t *event);
/* The event's flags (IPC_EVENT_AUTO_RESET or 0), or an error. */
int32_t ipc_event_flags(ipc_event_t *event);
/* Waits until the event is set (an auto-reset event is cleared by the waiter it releases).
 * IPC_EINTR (interruptible waits chosen, a signal handler ran): returned without clearing. */
int32_t ipc_event_wait(ipc_event_t *event, int64_t timeout_ns);
/* IPC_OK when set (clearing an auto-reset event), else IPC_EBUSY. */
int32_t ipc_event_try_wait(ipc_event_t *event);
const uint32_t *ipc_event_word(ipc_event_t *event);
/* With `registered` = 1, *expected_out must still hold what the previous step stored: a manual-reset
 * event set and cleared again between two steps then still releases the wait. */
int32_t ipc_event_wait_step(ipc_event_t *event, uint32_t registered, uint32_t *expected_out);
int32_t ipc_event_unwait(ipc_event_t *event);

/* ---- Conditions -------------------------------------------------------------------------------- */

/* A condition variable used with an ipc_mutex_t. A waiter may wake without a notify (spurious
 * wake-up): wait in a loop that re-checks the predicate. */
typedef struct ipc_cond ipc_cond_t;

#define IPC_COND_SIZE 64
#define IPC_COND_ALIGN 8

int32_t ipc_cond_init(void *memory);
int32_t ipc_cond_init_at(ipc_segment_t *segment, uint64_t offset, ipc_cond_t **cond_out);
int32_t ipc_cond_at(ipc_segment_t *segment, uint64_t offset, ipc_cond_t **cond_out);
/* A segment of kind IPC_KIND_CONDITION holding a mutex at offset 0 and a condition at offset 64. */
int32_t ipc_cond_create(const char *name, uint32_t mode, uint32_t flags, ipc_segment_t **segment_out,
                        ipc_cond_t **cond_out, ipc_mutex_t **mutex_out);
/* Unlocks `mutex` (which the calling thread must hold: IPC_EPERM otherwise), waits for a notify,
 * and locks it again before returning, whatever ended the wait. IPC_OK: notified (or spuriously
 * woken); IPC_ETIMEDOUT: `timeout_ns` passed; IPC_OWNER_DIED: relocked, and the mutex's previous
 * holder died (repair, then ipc_mutex_consistent); IPC_EINTR: relocked, a signal handler interrupted
 * the wait (with ipc_interruptible_set(1); IPC_OWNER_DIED wins when both happened). */
int32_t ipc_cond_wait(ipc_cond_t *cond, ipc_mutex_t *mutex, int64_t timeout_ns);
/* Wakes up to `n` waiters. */
int32_t ipc_cond_notify(ipc_cond_t *cond, uint32_t n);
int32_t ipc_cond_notify_all(ipc_cond_t *cond);
const uint32_t *ipc_cond_word(ipc_cond_t *cond);
/* The first half of a wait done elsewhere: checks that the caller holds `mutex` (IPC_EPERM), counts
 * it as a waiter, stores the word value to wait for, and unlocks the mutex. Then: wait, call
 * ipc_cond_unwait, and lock the mutex again. */
int32_t ipc_cond_prepare(ipc_cond_t *cond, ipc_mutex_t *mutex, uint32_t *expected_out);
int32_t ipc_cond_unwait(ipc_cond_t *cond);

/* ---- Barriers ---------------------------------------------------------------------------------- */

/* `parties` waiters pass together; each wait returns a distinct arrival index in [0, parties). A
 * wait that times out (it returns IPC_ETIMEDOUT) or ipc_barrier_abort breaks the barrier: every
 * wait in progress and every later one returns IPC_EBROKEN until ipc_barrier_reset, which also
 * breaks the waits in progress. A party that dies before arriving never arrives: use timeouts. */
typedef struct ipc_barrier ipc_barrier_t;

#define IPC_BARRIER_SIZE 64
#define IPC_BARRIER_ALIGN 8
#define IPC_BARRIER_PARTIES_MAX 65535
/* ipc_barrier_arrive's ticket when that arrival was the last: the barrier has opened. */
#define IPC_BARRIER_PASSED 0xffffffffu

/* IPC_EINVAL for 0 parties, IPC_ERANGE above IPC_BARRIER_PARTIES_MAX. */
int32_t ipc_barrier_init(void *memory, uint32_t parties);
int32_t ipc_barrier_init_at(ipc_segment_t *segment, uint64_t offset, uint32_t parties, ipc_barrier_t **barrier_out);
int32_t ipc_barrier_at(ipc_segment_t *segment, uint64_t offset, ipc_barrier_t **barrier_out);
int32_t ipc_barrier_create(const char *name, uint32_t mode, uint32_t flags, uint32_t parties,
                           ipc_segment_t **segment_out, ipc_barrier_t **barrier_out);
/* Arrives and waits for the others: the arrival index (>= 0), IPC_ETIMEDOUT (this wait timed out
 * and broke the barrier), IPC_EINTR (a signal handler interrupted it, with ipc_interruptible_set(1):
 * it broke the barrier, as a timeout does, since this party will not wait any more), or
 * IPC_EBROKEN. */
int32_t ipc_barrier_wait(ipc_barrier_t *barrier, int64_t timeout_ns);
/* The async form: ipc_barrier_arrive returns the arrival index and a ticket; ipc_barrier_check
 * returns IPC_OK (passed), IPC_EBROKEN, or IPC_EBUSY with the word value to wait for. A waiter that
 * gives up calls ipc_barrier_break: IPC_OK when the barrier is now broken, 1 when that generation
 * had already ended (check again). */
int32_t ipc_barrier_arrive(ipc_barrier_t *barrier, uint32_t *ticket_out);
int32_t ipc_barrier_check(ipc_barrier_t *barrier, uint32_t ticket, uint32_t *expected_out);
int32_t ipc_barrier_break(ipc_barrier_t *barrier, uint32_t ticket);
int32_t ipc_barrier_abort(ipc_barrier_t *barrier);
int32_t ipc_barrier_reset(ipc_barrier_t *barrier);
int32_t ipc_barrier_parties(ipc_barrier_t *barrier);
/* Parties waiting now (0 while broken). */
int32_t ipc_barrier_waiting(ipc_barrier_t *barrier);
/* 1 when broken, else 0. */
int32_t ipc_barrier_broken(ipc_barrier_t *barrier);
const uint32_t *ipc_barrier_word(ipc_barrier_t *barrier);

/* ---- Readers-writer locks ---------------------------------------------------------------------- */

/* Many readers or one writer; a waiting writer stops new readers, so readers cannot starve it.
 * Built from robust mutexes (a writer mutex and IPC_RWLOCK_SLOTS reader slots), so the death of any
 * holder releases what it held at once. After a writer died holding the write lock, every
 * acquisition returns IPC_OWNER_DIED until a writer repairs the data and calls
 * ipc_rwlock_consistent (a writer that dies while still waiting for readers wrote nothing and
 * leaves no such state). Locks
 * belong to the calling thread. A thread holding a read lock cannot take the write lock
 * (IPC_EDEADLK: no upgrades); a thread may take several read locks, but not while a writer waits. */
typedef struct ipc_rwlock ipc_rwlock_t;

#define IPC_RWLOCK_SIZE 2176
#define IPC_RWLOCK_ALIGN 64
#define IPC_RWLOCK_SLOTS 32

int32_t ipc_rwlock_init(void *memory);
int32_t ipc_rwlock_init_at(ipc_segment_t *segment, uint64_t offset, ipc_rwlock_t **rwlock_out);
int32_t ipc_rwlock_at(ipc_segment_t *segment, uint64_t offset, ipc_rwlock_t **rwlock_out);
int32_t ipc_rwlock_create(const char *name, uint32_t mode, uint32_t flags, ipc_segment_t **segment_out,
                          ipc_rwlock_t **rwlock_out);
/* IPC_OK, IPC_OWNER_DIED, IPC_ETIMEDOUT, IPC_EDEADLK (the caller holds the write lock). Like mutex
 * locks, rwlock locks are never interrupted by signals (no IPC_EINTR). */
int32_t ipc_rwlock_read_lock(ipc_rwlock_t *rwlock, int64_t timeout_ns);
int32_t ipc_rwlock_try_read_lock(ipc_rwlock_t *rwlock);
/* IPC_EPERM when the calling thread holds no read lock. */
int32_t ipc_rwlock_read_unlock(ipc_rwlock_t *rwlock);
/* IPC_OK, IPC_OWNER_DIED, IPC_ETIMEDOUT, IPC_EDEADLK (the caller holds a read or the write lock). */
int32_t ipc_rwlock_write_lock(ipc_rwlock_t *rwlock, int64_t timeout_ns);
int32_t ipc_rwlock_try_write_lock(ipc_rwlock_t *rwlock);
int32_t ipc_rwlock_write_unlock(ipc_rwlock_t *rwlock);
/* Clears the owner-died state; the caller must hold the write lock (IPC_EPERM), IPC_EINVAL when not
 * in that state. */
int32_t ipc_rwlock_consistent(ipc_rwlock_t *rwlock);
/* Read locks held now (a diagnostic). */
int32_t ipc_rwlock_readers(ipc_rwlock_t *rwlock);
/* 1 when the calling thread holds a read or the write lock, else 0. Never unmap an rwlock the thread
 * holds (see ipc_mutex_held). */
int32_t ipc_rwlock_held(ipc_rwlock_t *rwlock);
/* Steps for waits done elsewhere; the word to wait on changes between steps, so it is returned in
 * *word_out. A read step's `waited` is the word the previous step returned (NULL on the first
 * step); a reader that gives up after a step returned IPC_EBUSY calls ipc_rwlock_unwait with that
 * word. A write lock given up part way is released with ipc_rwlock_write_abandon. */
int32_t ipc_rwlock_read_step(ipc_rwlock_t *rwlock, const uint32_t *waited, const uint32_t **word_out,
                             uint32_t *expected_out);
int32_t ipc_rwlock_unwait(ipc_rwlock_t *rwlock, const uint32_t *waited);
int32_t ipc_rwlock_write_step(ipc_rwlock_t *rwlock, uint32_t continuing, const uint32_t **word_out,
                              uint32_t *expected_out);
int32_t ipc_rwlock_write_abandon(ipc_rwlock_t *rwlock);

/* ---- Shared heaps ------------------------------------------------------------------------------ */

/* malloc/free inside a segment, from many processes at once.
 *
 * Blocks are named by handles: offsets tagged with the heap's own random tag, the same block in
 * every process; ipc_heap_pointer turns one into this process's address. Blocks up to 256 KiB come
 * from size classes (four per doubling: under a quarter wasted) in runs of 1 to 7 pages, and are
 * taken and returned with one atomic operation each, so a process killed at any instant leaves the
 * heap consistent (at worst a block it was taking stays allocated); larger blocks take whole 64 KiB
 * pages (4 KiB-aligned) under a robust lock. A class page or run whose blocks are all freed goes
 * back to the page pool, for any size: when its allocating process has moved on from it and frees
 * its last block, else when a malloc finds no free pages (it sweeps them all back first). Sizing
 * for mixed sizes: the most held at once × 1.25, plus 8 MiB per allocating process (one partly used
 * page or run per class). Freeing a block twice,
 * a handle that was never allocated, or another heap's handle is refused — except a second free
 * after the block was allocated again, which frees the new block (handles carry no generation).
 * Blocks a killed process held in the shared pool stay allocated (no per-block owner is recorded):
 * allocate from an arena (below) what must go back when its process dies. */
typedef struct ipc_heap ipc_heap_t;

/* What ipc_heap_check reports. */
typedef struct ipc_heap_stats_t {
  uint64_t in_use;       /* bytes of allocated blocks (their usable sizes) */
  uint64_t reserved;     /* bytes of pages in use by blocks */
  uint64_t free_pages;   /* bytes of pages no block uses */
  uint64_t largest_free; /* the largest block a malloc gets now: the longest run of pages that are
                          * free or hold an empty class page or run (swept back when needed) */
  uint64_t allocations;  /* allocated blocks */
} ipc_heap_stats_t;

/* The sizes ipc_heap_create accepts, exactly (IPC_ERANGE outside): IPC_HEAP_SIZE_MIN holds one 64 KiB
 * page of blocks; IPC_HEAP_SIZE_MAX is 1 TiB less 4097 bytes (block offsets take 40 bits, and the
 * heap's memory starts on the segment's first system page). Of `size_bytes`, 1104 bytes per page go
 * to bookkeeping, the rest (less a 20 KiB header with the arena table, and alignment padding) to
 * pages. */
#define IPC_HEAP_SIZE_MIN 151568
#define IPC_HEAP_SIZE_MAX 1099511623679ULL
/* Creates a heap of `size_bytes` (IPC_HEAP_SIZE_MIN to IPC_HEAP_SIZE_MAX; untouched pages cost no memory) in a segment of
 * kind IPC_KIND_HEAP, returned in *segment_out (close it with ipc_segment_close after
 * ipc_heap_close; unlink a named one with ipc_segment_unlink); `name`, `mode`, `flags` as for
 * ipc_segment_create. Other processes ipc_segment_open (or ipc_segment_open_fd) it, then
 * ipc_heap_attach. */
int32_t ipc_heap_create(const char *name, uint32_t mode, uint32_t flags, uint64_t size_bytes,
                        ipc_segment_t **segment_out, ipc_heap_t **heap_out);
/* This process's view of the heap in `segment` (IPC_EKIND for a segment of another kind). */
int32_t ipc_heap_attach(ipc_segment_t *segment, ipc_heap_t **heap_out);
/* Frees this process's view (the heap and its blocks stay). Close it before its segment. */
int32_t ipc_heap_close(ipc_heap_t *heap);
/* IPC_EINVAL for size 0, IPC_ENOMEM when the heap is full. */
int32_t ipc_heap_malloc(ipc_heap_t *heap, uint64_t size, uint64_t *block_out);
int32_t ipc_heap_calloc(ipc_heap_t *heap, uint64_t count, uint64_t size, uint64_t *block_out);
/* A block whose address is a multiple of `alignment`, a power of two up to IPC_HEAP_ALIGNMENT_MAX
 * (IPC_EINVAL otherwise; IPC_ERANGE above). Every block is at least 16-aligned. */
#define IPC_HEAP_ALIGNMENT_MAX 4096
int32_t ipc_heap_aligned_alloc(ipc_heap_t *heap, uint64_t alignment, uint64_t size, uint64_t *block_out);
int32_t ipc_heap_realloc(ipc_heap_t *heap, uint64_t block, uint64_t size, uint64_t *block_out);
/* IPC_EINVAL: not an allocated block (a double free, or never allocated); IPC_EKIND: another heap's
 * handle; IPC_ERANGE: outside the heap. Block 0 is ignored. */
int32_t ipc_heap_free(ipc_heap_t *heap, uint64_t block);
int32_t ipc_heap_usable_size(ipc_heap_t *heap, uint64_t block, uint64_t *size_out);
void *ipc_heap_pointer(ipc_heap_t *heap, uint64_t block);
int32_t ipc_heap_handle(ipc_heap_t *heap, const void *ptr, uint64_t *block_out);
/* Walks every structure of the heap: IPC_OK, or IPC_EPROTO with a description in *problem_out.
 * IPC_EBUSY (with a description) when the page lock stays held for 5 s: its holder is stuck, or a
 * process damaged the lock word; nothing was walked. Either out-parameter may be NULL. */
int32_t ipc_heap_check(ipc_heap_t *heap, ipc_heap_stats_t *stats_out, const char **problem_out);
/* Named roots, so that an unrelated process finds what another built: the block called `name` (1 to
 * IPC_HEAP_ROOT_NAME_MAX bytes); with `size` > 0 it is made, zero-filled, if none exists (two
 * processes making it at once get the same block), with `size` 0 IPC_ENOENT if none exists; an
 * existing root smaller than `size` is IPC_ERANGE.
 * IPC_ENOSPC when IPC_HEAP_ROOTS_MAX roots exist. Removing a root leaves its block allocated. */
#define IPC_HEAP_ROOTS_MAX 32
/* Where the heap's memory starts in its segment's data: a block's bytes are at data offset
 * IPC_HEAP_OFFSET + (block & IPC_HEAP_BLOCK_OFFSET_MASK). Handles are below 2^52. */
#define IPC_HEAP_OFFSET 3968
#define IPC_HEAP_BLOCK_OFFSET_MASK 0xffffffffffULL
#define IPC_HEAP_ROOT_NAME_MAX 47
int32_t ipc_heap_root(ipc_heap_t *heap, const char *name, uint64_t size, uint64_t *block_out);
int32_t ipc_heap_root_remove(ipc_heap_t *heap, const char *name);
/* The size a request of `size` bytes gets: what ipc_heap_usable_size will say of the block that
 * ipc_heap_malloc(size) returns (size 0 counts as 1 byte, as in the callbacks below); IPC_ERANGE
 * above IPC_HEAP_BLOCK_OFFSET_MASK. The same for every heap (the size classes are fixed). */
int32_t ipc_heap_round_up(ipc_heap_t *heap, uint64_t size, uint64_t *size_out);

/* Callbacks with the context first, for C code that takes an allocator as function pointers; the
 * context is the ipc_heap_t. C semantics:
 *   - size 0 (malloc, calloc, aligned_alloc, realloc(NULL, 0)) returns a unique block of the smallest
 *     class, which ipc_heap_free_fn frees;
 *   - realloc(p, 0) frees p and returns NULL (glibc's choice); realloc(NULL, n) is malloc(n); a
 *     realloc that fails (NULL) leaves p allocated and intact;
 *   - calloc zero-fills, and returns NULL when count * size overflows;
 *   - aligned_alloc takes C11's order (alignment, size), a power of two up to
 *     IPC_HEAP_ALIGNMENT_MAX, and returns NULL for any other;
 *   - usable_size is what the block holds (0 for NULL); round_up is ipc_heap_round_up (0 for a
 *     size no heap can hold): SQLite's xSize and xRoundup each in one call.
 * They return NULL (or 0) on any error. A pointer given to free, realloc or usable_size that is no
 * allocated block of this heap (a double free, a pointer inside a block or outside the heap) is a
 * misuse: never obeyed, always counted in this view (ipc_heap_misuses), and with
 * ipc_heap_on_misuse(heap, IPC_HEAP_MISUSE_ABORT) described on stderr before the process aborts.
 * (A second free after the block was allocated again frees the new block: handles carry no
 * generation, so that one misuse is not seen.) The handle functions above report the same cases as
 * results (IPC_EINVAL, IPC_ERANGE, IPC_EKIND) and do not count them. */
void *ipc_heap_alloc_fn(void *context, size_t size);
void *ipc_heap_calloc_fn(void *context, size_t count, size_t size);
void *ipc_heap_aligned_alloc_fn(void *context, size_t alignment, size_t size);
void ipc_heap_free_fn(void *context, void *ptr);
void *ipc_heap_realloc_fn(void *context, void *ptr, size_t size);
size_t ipc_heap_usable_size_fn(void *context, const void *ptr);
size_t ipc_heap_round_up_fn(void *context, size_t size);
/* What a misuse of the callbacks does in this view of the heap (this process's ipc_heap_t), besides
 * being counted: IPC_HEAP_MISUSE_COUNT (the default) or IPC_HEAP_MISUSE_ABORT; IPC_EINVAL for
 * another value. */
#define IPC_HEAP_MISUSE_COUNT 0
#define IPC_HEAP_MISUSE_ABORT 1
int32_t ipc_heap_on_misuse(ipc_heap_t *heap, uint32_t action);
/* Misuses of the callbacks through this view so far. */
int32_t ipc_heap_misuses(ipc_heap_t *heap, uint64_t *count_out);

/* Arenas: blocks that belong to one owner and all go back at once.
 *
 * A process allocates from an arena it owns, with ipc_heap_arena_malloc or through the callbacks
 * above with the ipc_heap_arena_t as their context (so a C library such as Lua or SQLite allocates
 * from it unmodified). An arena's blocks are ordinary blocks: any process reads them, and any
 * process frees one (ipc_heap_free, or the callbacks with any context of the heap). Its pages are
 * the arena's own until all of its blocks go back to the heap at once:
 *   - on request: ipc_heap_arena_reset (the arena stays, empty) or ipc_heap_arena_destroy (the
 *     arena goes too), by its owner, by anyone when it is unowned, or by anyone once its owner is
 *     dead. The caller vouches, as for free, that nothing still uses the blocks: a block of a reset
 *     arena freed later is a double free;
 *   - automatically once its owner is dead: by the next process that notices — an allocation that
 *     finds no free pages, ipc_heap_check, opening the heap (ipc_heap_create, ipc_heap_attach, when the
 *     heap is not locked at that moment) or
 *     ipc_heap_arena_reap.
 * Dead means: the owner's pid, with the start time it had when it took the arena, runs no thread
 * (a zombie is dead; a stopped — SIGSTOPped, traced — process is alive, and its arena is never
 * touched). An owner in another pid namespace than the judging process is never judged dead: only
 * a process of its own namespace gives its arena back. A process killed at any instant of an arena
 * operation leaves the heap consistent; the next process to take the heap's page lock finishes a
 * give-back it left half done.
 * Only the owner allocates from an arena (others get IPC_EPERM); ipc_heap_arena_hand_over names a
 * new owner (a running process of the caller's pid namespace) or nobody (pid 0: an unowned arena
 * outlives every process until destroyed; anyone adopts it by handing it over to a process). The
 * new owner opens the arena by its id (ipc_heap_arena_id, the same in every process). An arena keeps
 * the pages it emptied until reset or destroyed. At most IPC_HEAP_ARENAS_MAX arenas at once. */
typedef struct ipc_heap_arena ipc_heap_arena_t;
#define IPC_HEAP_ARENAS_MAX 64
/* A new arena owned by the calling process, and this process's view of it (close the view with
 * ipc_heap_arena_close or ipc_heap_arena_destroy, before the heap's segment). IPC_ENOSPC when
 * IPC_HEAP_ARENAS_MAX arenas exist (after giving back the arenas of dead owners). */
int32_t ipc_heap_arena_create(ipc_heap_t *heap, ipc_heap_arena_t **arena_out);
/* A view of the existing arena `id` (from ipc_heap_arena_id in any process): IPC_ENOENT when it
 * was destroyed or given back since. Opening an arena does not make the caller its owner. */
int32_t ipc_heap_arena_open(ipc_heap_t *heap, uint32_t id, ipc_heap_arena_t **arena_out);
/* Frees this process's view; the arena and its blocks stay. NULL is ignored. */
int32_t ipc_heap_arena_close(ipc_heap_arena_t *arena);
/* The arena's id: nonzero, the same in every process, never reused for another arena's lifetime. */
int32_t ipc_heap_arena_id(ipc_heap_arena_t *arena, uint32_t *id_out);
/* The owner's pid, 0 when the arena is unowned; IPC_ENOENT when it is gone. */
int32_t ipc_heap_arena_owner(ipc_heap_arena_t *arena, int32_t *pid_out);
/* ipc_heap_malloc from the arena: IPC_EPERM unless the calling process owns it, IPC_ENOENT when
 * it is gone, IPC_ENOMEM when the heap is full. */
int32_t ipc_heap_arena_malloc(ipc_heap_arena_t *arena, uint64_t size, uint64_t *block_out);
/* Frees every block of the arena at once; the arena stays, empty, with its owner. IPC_EPERM when
 * another process owns it and is alive. */
int32_t ipc_heap_arena_reset(ipc_heap_arena_t *arena);
/* Frees every block of the arena and the arena, and closes this view (on success only). IPC_EPERM
 * as for reset. */
int32_t ipc_heap_arena_destroy(ipc_heap_arena_t *arena);
/* Hands the arena to process `pid` of the caller's pid namespace, or with `pid` 0 to nobody. Only
 * the owner hands an owned arena over; anyone hands over an unowned one. IPC_ENOENT when no
 * process `pid` runs, IPC_EINVAL for a negative pid. From then on the old owner's allocations from
 * it fail with IPC_EPERM, and it is given back when the new owner dies. */
int32_t ipc_heap_arena_hand_over(ipc_heap_arena_t *arena, int32_t pid);
/* Gives back every arena whose owner is dead, now; how many in *count_out (may be NULL). */
int32_t ipc_heap_arena_reap(ipc_heap_t *heap, uint32_t *count_out);

/* ---- Channels ---------------------------------------------------------------------------------- */

/* A bounded ring of bytes in shared memory that any number of processes send to and receive from at
 * once: whole messages (a Chan; with IPC_CHAN_SINGLE at most one message, an MVar) or a byte stream
 * (IPC_CHAN_STREAM, a Pipe). A 384-byte header, then `capacity` bytes of ring (a power of two from
 * IPC_CHAN_CAPACITY_MIN to IPC_CHAN_CAPACITY_MAX); 64-aligned.
 *
 * Every operation commits under a robust mutex, so a process killed at any instant leaves the
 * channel as its last committed operation left it: a message half sent was never sent, a message
 * half copied out is still there for the next receiver; once a receive has taken the message (its
 * one commit), it is gone even if the receiver dies before returning it, and views a killed
 * receiver held are dropped, not redelivered. Waiting spins briefly, then parks; a waiter whose
 * waker died between its commit and its wake-up notices within about 100 ms. Messages are at most capacity / 2 - 8 bytes (IPC_ERANGE above: then a message always fits
 * an empty ring). Receives copy into the caller's buffer; one too small gets IPC_ERANGE with the
 * needed length in *length_out and the message stays. After ipc_chan_close, sends fail with
 * IPC_EPIPE and receives drain what is left, then return IPC_EOF. Try forms return IPC_EBUSY where
 * the blocking form would wait, and also when another process holds the channel's internal send or
 * receive lock (they never wait for it); blocking forms take `timeout_ns` (negative: no limit), which
 * bounds the wait for those locks too: a peer stopped inside one makes them IPC_ETIMEDOUT. Steps
 * that find an internal lock held return IPC_EBUSY with 0xffffffff in *expected_out: wait a short
 * while (no word announces the release), then step again. Calls without a timeout (close, replace,
 * release) wait for a stopped holder. With ipc_interruptible_set(1) every blocking form (send,
 * receive, peek, swap, write, read, their batch and view forms) returns IPC_EINTR when a signal
 * handler interrupts its wait: nothing was sent or received by that call (a write returns IPC_EINTR
 * even after some bytes went in, as a timeout does). The channel's internal lock is never
 * interrupted.
 *
 * An ipc_chan_t is the channel's address in this process, valid for calls only once this process
 * attached it (ipc_chan_init, ipc_chan_init_at, ipc_chan_at, ipc_chan_create) and until the segment
 * holding it is closed; other pointers get IPC_EINVAL. Each call uses the capacity this process
 * checked against its mapping when it attached the channel: a header another process changed
 * since is IPC_EPROTO, never followed past the mapping. */
typedef struct ipc_chan ipc_chan_t;

#define IPC_CHAN_HEADER_SIZE 384
#define IPC_CHAN_ALIGN 64
#define IPC_CHAN_CAPACITY_MIN 64
#define IPC_CHAN_CAPACITY_MAX 1073741824
#define IPC_CHAN_STREAM 1 /* a byte stream (Pipe) */
#define IPC_CHAN_SINGLE 2 /* at most one message (MVar) */
#define IPC_CHAN_BATCH_MAX 1024 /* messages per ipc_chan_send_many / ipc_chan_recv_many call */

/* Bytes a channel of `capacity` takes (header included). IPC_ERANGE for a bad capacity. */
int32_t ipc_chan_size(uint64_t capacity, uint64_t *size_out);
/* Makes `size` bytes of raw shared memory (64-aligned) an empty channel; `(ipc_chan_t *)memory` is
 * its handle in this process. */
int32_t ipc_chan_init(void *memory, uint64_t size, uint32_t capacity, uint32_t flags);
int32_t ipc_chan_init_at(ipc_segment_t *segment, uint64_t offset, uint32_t capacity, uint32_t flags,
                         ipc_chan_t **chan_out);
/* The channel another process made at `offset`, checked (IPC_EPROTO when it is not one). */
int32_t ipc_chan_at(ipc_segment_t *segment, uint64_t offset, ipc_chan_t **chan_out);
/* A segment of kind IPC_KIND_CHAN holding one channel; others ipc_segment_open it and
 * ipc_chan_at(segment, 0). */
int32_t ipc_chan_create(const char *name, uint32_t mode, uint32_t flags, uint32_t capacity, uint32_t chan_flags,
                        ipc_segment_t **segment_out, ipc_chan_t **chan_out);

/* Messages. */
int32_t ipc_chan_send(ipc_chan_t *chan, const void *message, uint64_t length, int64_t timeout_ns);
int32_t ipc_chan_try_send(ipc_chan_t *chan, const void *message, uint64_t length);
/* `count` messages packed back to back in `data`, lengths in `lengths`: all sent at once, in order,
 * or none (their records must fit in half the capacity). */
int32_t ipc_chan_send_many(ipc_chan_t *chan, const void *data, const uint32_t *lengths, uint32_t count,
                           int64_t timeout_ns);
int32_t ipc_chan_recv(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint64_t *length_out, int64_t timeout_ns);
int32_t ipc_chan_try_recv(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint64_t *length_out);
/* Copies the next message without taking it (an MVar's read). Safe on any message channel: a peek
 * woken by a send passes the wake-up on to another waiting receiver. On a plain channel another
 * receiver may take the message before this one does. */
int32_t ipc_chan_peek(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint64_t *length_out, int64_t timeout_ns);
/* Waits for at least one message, then takes as many as fit in `buffer` (each at an 8-aligned
 * offset) up to `max`; their lengths in `lengths`, their count in *count_out. */
int32_t ipc_chan_recv_many(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint32_t *lengths, uint32_t max,
                           uint32_t *count_out, int64_t timeout_ns);
/* Zero-copy receive: waits for at least one message, then takes up to `max` as a loan: message i is
 * the lengths[i] bytes at (const uint8_t *)chan + offsets[i], in the ring itself, and stays there
 * (senders cannot reuse its space) until the loan is given back. `loan` ({from, to}, start {0, 0})
 * is in and out: a loan still out on entry is given back first, so a loop of calls holds one loan
 * at a time; give the last back with ipc_chan_release. Loans of a process that dies (all its threads
 * exited) are given back by senders of its pid namespace that find the ring full; a live process's
 * loans never are. At most 6 processes hold loans of one channel at a time: IPC_EBUSY for a seventh
 * (after the loans of dead holders were given back). Plain message channels only (IPC_EKIND otherwise). */
int32_t ipc_chan_recv_views(ipc_chan_t *chan, uint32_t *offsets, uint32_t *lengths, uint32_t max, uint32_t *count_out,
                            uint32_t *loan, int64_t timeout_ns);
/* Gives back a loan (IPC_EINVAL when it is not one still out) and empties it; an empty loan is a no-op. */
int32_t ipc_chan_release(ipc_chan_t *chan, uint32_t *loan);
/* 1 when loans hold ring space, 0 when none do. */
int32_t ipc_chan_views_out(ipc_chan_t *chan);
/* IPC_CHAN_SINGLE: takes the message and puts `message` in its place in one step (waits while empty). */
int32_t ipc_chan_swap(ipc_chan_t *chan, const void *message, uint64_t length, void *buffer, uint64_t capacity,
                      uint64_t *length_out, int64_t timeout_ns);

/* IPC_CHAN_SINGLE as a shared value: drops the message there is, if any, and puts `message` in its
 * place; never waits (read it with ipc_chan_peek, or ipc_chan_recv with peek semantics). */
int32_t ipc_chan_replace(ipc_chan_t *chan, const void *message, uint64_t length);

/* Streams (IPC_CHAN_STREAM): write waits until every byte is in; read returns what is there (at
 * least one byte) in *read_out, or IPC_EOF once closed (or its attached writer died) and drained. */
int32_t ipc_chan_write(ipc_chan_t *chan, const void *bytes, uint64_t length, int64_t timeout_ns);
int32_t ipc_chan_read(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint64_t *read_out, int64_t timeout_ns);

/* Streams: the writer whose death ends the pipe. ipc_chan_writer_attach makes the calling thread that
 * writer (IPC_EBUSY while another live one is); when its process dies (or the thread exits)
 * without ipc_chan_close, readers see IPC_EOF once they have read what it wrote. Detach before
 * handing writing over to another process. */
int32_t ipc_chan_writer_attach(ipc_chan_t *chan);
int32_t ipc_chan_writer_detach(ipc_chan_t *chan);
const uint32_t *ipc_chan_writer_word(ipc_chan_t *chan);

/* State. */
int32_t ipc_chan_close(ipc_chan_t *chan);
int32_t ipc_chan_is_closed(ipc_chan_t *chan);
/* Bytes sent and not yet received (records included for messages). */
int32_t ipc_chan_pending(ipc_chan_t *chan);
int32_t ipc_chan_capacity(ipc_chan_t *chan);
int32_t ipc_chan_flags(ipc_chan_t *chan);
int32_t ipc_chan_message_max(ipc_chan_t *chan);

/* Steps for event-loop bindings (see "Synchronization objects: conventions"): each tries once; on
 * IPC_EBUSY the caller is counted as parked on the word of `side` (0: readable, for receives; 1:
 * writable, for sends) until its next step (registered = 1) or ipc_chan_unwait. */
const uint32_t *ipc_chan_word(ipc_chan_t *chan, uint32_t side);
int32_t ipc_chan_send_step(ipc_chan_t *chan, const void *message, uint64_t length, uint32_t registered,
                           uint32_t *expected_out);
int32_t ipc_chan_send_many_step(ipc_chan_t *chan, const void *data, const uint32_t *lengths, uint32_t count,
                                uint32_t registered, uint32_t *expected_out);
int32_t ipc_chan_recv_step(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint32_t peek, uint32_t registered,
                           uint64_t *length_out, uint32_t *expected_out);
int32_t ipc_chan_recv_many_step(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint32_t *lengths, uint32_t max,
                                uint32_t registered, uint32_t *count_out, uint32_t *expected_out);
int32_t ipc_chan_recv_views_step(ipc_chan_t *chan, uint32_t *offsets, uint32_t *lengths, uint32_t max,
                                 uint32_t *count_out, uint32_t *loan, uint32_t registered, uint32_t *expected_out);
int32_t ipc_chan_swap_step(ipc_chan_t *chan, const void *message, uint64_t length, void *buffer, uint64_t capacity,
                           uint32_t registered, uint64_t *length_out, uint32_t *expected_out);
int32_t ipc_chan_write_step(ipc_chan_t *chan, const void *bytes, uint64_t length, uint32_t registered,
                            uint64_t *written_out, uint32_t *expected_out);
/* Also stores in *writer_expected_out the value of the writer's lock word (ipc_chan_writer_word) to wait
 * on beside the data, 0 when no writer is attached: a wait that ends because it changed means the
 * writer may have died, and the next step sees IPC_EOF if so. */
int32_t ipc_chan_read_step(ipc_chan_t *chan, void *buffer, uint64_t capacity, uint32_t registered, uint64_t *read_out,
                           uint32_t *expected_out, uint32_t *writer_expected_out);
int32_t ipc_chan_unwait(ipc_chan_t *chan, uint32_t side);

/* ---- Waiters ----------------------------------------------------------------------------------- */

/* Many waits on words (like ipc_wait), multiplexed into one kernel wait, for event loops that must
 * not block: each submitted wait ends with IPC_OK (its word changed or was woken), IPC_ETIMEDOUT or
 * IPC_ECANCELED, reported with the caller's token. Up to IPC_WAITER_SLOTS waits per waiter.
 * Completions arrive one of two ways, chosen at creation:
 * - callback: a thread owned by the waiter calls callback(token, result) for each completion. It
 *   starts at the first submit and exits about 100 ms after the last wait ended.
 * - poll (callback == NULL): the caller runs ipc_waiter_next, which blocks until some wait ends.
 * Neither is ended by signals, whatever ipc_interruptible_set chose: the waiter serves event loops,
 * which must see each completion, not IPC_EINTR. */
typedef struct ipc_waiter ipc_waiter_t;
typedef void (*ipc_waiter_callback_t)(uint32_t token, int32_t result);

#define IPC_WAITER_SLOTS 127

int32_t ipc_waiter_create(ipc_waiter_callback_t callback, ipc_waiter_t **waiter_out);
/* Waits in the background while *word == expected, for at most `timeout_ns` (negative: no limit).
 * IPC_EBUSY when all slots are in use, IPC_EALIGN, IPC_ECLOSED. The word must stay mapped until the
 * wait completes or is forgotten. As with ipc_wait, a change made without a wake completes the wait
 * (IPC_OK) within 100 ms. */
int32_t ipc_waiter_submit(ipc_waiter_t *waiter, const uint32_t *word, uint32_t expected, int64_t timeout_ns,
                          uint32_t token);
/* Ends the pending wait with `token` with IPC_ECANCELED (reported like any completion). IPC_ENOENT
 * when none is pending. */
int32_t ipc_waiter_cancel(ipc_waiter_t *waiter, uint32_t token);
/* Cancels the waits on words in [base, base + len_bytes) (reported with IPC_ECANCELED) and returns
 * their count only once the waiter will not read those words again: call it before unmapping them. */
int32_t ipc_waiter_forget(ipc_waiter_t *waiter, const void *base, uint64_t len_bytes);
/* Poll mode: blocks until at least one wait ends and stores up to `capacity` completions; returns
 * their count, 0 at once when nothing is pending. IPC_EBUSY when another ipc_waiter_next runs. */
int32_t ipc_waiter_next(ipc_waiter_t *waiter, uint32_t *tokens_out, int32_t *results_out, uint32_t capacity);
/* Cancels what is pending (callback mode: reported before this returns), stops the thread and frees
 * the waiter. Not from the callback, and not while ipc_waiter_next runs in another thread. */
int32_t ipc_waiter_destroy(ipc_waiter_t *waiter);

#ifdef __cplusplus
}
#endif

#endif /* IPC_H */
