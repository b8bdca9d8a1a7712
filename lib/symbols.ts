/**
 * The C functions libipc's TypeScript layer calls, with their signatures in a neutral vocabulary
 * that bun.ts and mod.ts translate to bun:ffi and Deno.dlopen types. tests/cases/abi.ts checks this
 * table against zig/ipc.h, which zig/ipc_h_test.zig checks against the implementation.
 *
 * Types: "i32"/"u32" are JS numbers; "u53" is a C uint64_t holding an integer below 2^53, passed in
 * the form `Native.u53` makes (a number in Bun: no BigInt per call); "i64"/"u64" are bigints (both runtimes return BigInt for 64-bit
 * results, and Deno takes BigInt arguments on its fast path); "ptr" is an opaque native pointer;
 * "buf" is a TypedArray (or null) whose memory is passed by address. A `nonblocking` function may
 * block: Deno runs it on a pool thread and returns a Promise; Bun never calls it.
 *
 * @module
 */

/** Argument types. */
export type ArgType = "i32" | "u32" | "i64" | "u64" | "u53" | "ptr" | "buf";
/** Result types. */
export type ReturnType = "i32" | "u32" | "u64" | "ptr" | "void";

/** One C function's signature. */
export interface SymbolSpec {
  readonly args: readonly ArgType[];
  readonly returns: ReturnType;
  readonly nonblocking?: true;
}

/** Every libipc function the TypeScript layer binds. */
export const symbols = {
  ipc_version: { args: [], returns: "u32" },
  ipc_version_string: { args: [], returns: "ptr" },
  ipc_abi_version: { args: [], returns: "u32" },
  ipc_strerror: { args: ["i32"], returns: "ptr" },
  ipc_errname: { args: ["i32"], returns: "ptr" },
  ipc_name_validate: { args: ["buf"], returns: "i32" },
  ipc_name_generate: { args: ["buf", "u32"], returns: "i32" },
  ipc_segment_create: { args: ["buf", "u64", "u32", "u32", "buf"], returns: "i32" },
  ipc_segment_open: { args: ["buf", "u32", "buf"], returns: "i32" },
  ipc_segment_open_fd: { args: ["i32", "u32", "buf"], returns: "i32" },
  ipc_segment_close: { args: ["ptr"], returns: "i32" },
  ipc_segment_base: { args: ["ptr"], returns: "ptr" },
  ipc_segment_size: { args: ["ptr"], returns: "u64" },
  ipc_segment_fd: { args: ["ptr"], returns: "i32" },
  ipc_fd_inherit: { args: ["i32", "i32"], returns: "i32" },
  ipc_fd_close: { args: ["i32"], returns: "i32" },
  ipc_segment_kind: { args: ["ptr"], returns: "u32" },
  ipc_segment_name: { args: ["ptr"], returns: "ptr" },
  ipc_segment_creator: { args: ["ptr", "buf", "buf"], returns: "i32" },
  ipc_segment_capacity: { args: ["u32", "buf"], returns: "i32" },
  ipc_segment_unlink: { args: ["buf"], returns: "i32" },
  ipc_segment_sweep: { args: [], returns: "i32" },
  ipc_segment_info: { args: ["buf", "buf"], returns: "i32" },
  ipc_segment_list: { args: ["buf", "u32"], returns: "i32" },
  ipc_segment_unlink_dead: { args: ["buf"], returns: "i32" },
  ipc_tracker_start: { args: ["buf", "u32"], returns: "i32" },
  ipc_tracker_track: { args: ["buf"], returns: "i32" },
  ipc_tracker_untrack: { args: ["buf"], returns: "i32" },
  ipc_tracker_stop: { args: [], returns: "i32" },
  ipc_tracker_status: { args: ["buf", "buf", "buf"], returns: "i32" },
  ipc_now_ns: { args: [], returns: "u64" },
  ipc_spin_set: { args: ["u32"], returns: "i32" },
  ipc_spin_get: { args: [], returns: "u32" },
  ipc_interruptible_set: { args: ["u32"], returns: "i32" },
  ipc_interruptible_get: { args: [], returns: "u32" },
  ipc_wait: { args: ["ptr", "u32", "i64", "buf"], returns: "i32" },
  ipc_wake: { args: ["ptr", "u32"], returns: "i32" },
  ipc_wait_cancel: { args: ["buf"], returns: "i32" },
  ipc_mutex_init: { args: ["ptr"], returns: "i32" },
  ipc_mutex_init_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_mutex_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_mutex_create: { args: ["buf", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_mutex_lock: { args: ["ptr"], returns: "i32" },
  ipc_mutex_timed_lock: { args: ["ptr", "i64"], returns: "i32" },
  ipc_mutex_try_lock: { args: ["ptr"], returns: "i32" },
  ipc_mutex_unlock: { args: ["ptr"], returns: "i32" },
  ipc_mutex_consistent: { args: ["ptr"], returns: "i32" },
  ipc_mutex_destroy: { args: ["ptr"], returns: "i32" },
  ipc_mutex_holder: { args: ["ptr"], returns: "i32" },
  ipc_mutex_held: { args: ["ptr"], returns: "i32" },
  ipc_mutex_word: { args: ["ptr"], returns: "ptr" },
  ipc_mutex_lock_step: { args: ["ptr", "u32", "buf"], returns: "i32" },
  ipc_sem_init: { args: ["ptr", "u32", "u32"], returns: "i32" },
  ipc_sem_init_at: { args: ["ptr", "u64", "u32", "u32", "buf"], returns: "i32" },
  ipc_sem_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_sem_create: { args: ["buf", "u32", "u32", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_sem_acquire: { args: ["ptr", "u32", "i64"], returns: "i32" },
  ipc_sem_try_acquire: { args: ["ptr", "u32"], returns: "i32" },
  ipc_sem_release: { args: ["ptr", "u32"], returns: "i32" },
  ipc_sem_value: { args: ["ptr"], returns: "i32" },
  ipc_sem_max: { args: ["ptr"], returns: "i32" },
  ipc_sem_word: { args: ["ptr"], returns: "ptr" },
  ipc_sem_acquire_step: { args: ["ptr", "u32", "u32", "buf"], returns: "i32" },
  ipc_sem_unwait: { args: ["ptr", "u32"], returns: "i32" },
  ipc_event_init: { args: ["ptr", "u32"], returns: "i32" },
  ipc_event_init_at: { args: ["ptr", "u64", "u32", "buf"], returns: "i32" },
  ipc_event_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_event_create: { args: ["buf", "u32", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_event_set: { args: ["ptr"], returns: "i32" },
  ipc_event_clear: { args: ["ptr"], returns: "i32" },
  ipc_event_is_set: { args: ["ptr"], returns: "i32" },
  ipc_event_flags: { args: ["ptr"], returns: "i32" },
  ipc_event_wait: { args: ["ptr", "i64"], returns: "i32" },
  ipc_event_try_wait: { args: ["ptr"], returns: "i32" },
  ipc_event_word: { args: ["ptr"], returns: "ptr" },
  ipc_event_wait_step: { args: ["ptr", "u32", "buf"], returns: "i32" },
  ipc_event_unwait: { args: ["ptr"], returns: "i32" },
  ipc_cond_init: { args: ["ptr"], returns: "i32" },
  ipc_cond_init_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_cond_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_cond_create: { args: ["buf", "u32", "u32", "buf", "buf", "buf"], returns: "i32" },
  ipc_cond_wait: { args: ["ptr", "ptr", "i64"], returns: "i32" },
  ipc_cond_notify: { args: ["ptr", "u32"], returns: "i32" },
  ipc_cond_notify_all: { args: ["ptr"], returns: "i32" },
  ipc_cond_word: { args: ["ptr"], returns: "ptr" },
  ipc_cond_prepare: { args: ["ptr", "ptr", "buf"], returns: "i32" },
  ipc_cond_unwait: { args: ["ptr"], returns: "i32" },
  ipc_barrier_init: { args: ["ptr", "u32"], returns: "i32" },
  ipc_barrier_init_at: { args: ["ptr", "u64", "u32", "buf"], returns: "i32" },
  ipc_barrier_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_barrier_create: { args: ["buf", "u32", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_barrier_wait: { args: ["ptr", "i64"], returns: "i32" },
  ipc_barrier_arrive: { args: ["ptr", "buf"], returns: "i32" },
  ipc_barrier_check: { args: ["ptr", "u32", "buf"], returns: "i32" },
  ipc_barrier_break: { args: ["ptr", "u32"], returns: "i32" },
  ipc_barrier_abort: { args: ["ptr"], returns: "i32" },
  ipc_barrier_reset: { args: ["ptr"], returns: "i32" },
  ipc_barrier_parties: { args: ["ptr"], returns: "i32" },
  ipc_barrier_waiting: { args: ["ptr"], returns: "i32" },
  ipc_barrier_broken: { args: ["ptr"], returns: "i32" },
  ipc_barrier_word: { args: ["ptr"], returns: "ptr" },
  ipc_rwlock_init: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_init_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_rwlock_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_rwlock_create: { args: ["buf", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_rwlock_read_lock: { args: ["ptr", "i64"], returns: "i32" },
  ipc_rwlock_try_read_lock: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_read_unlock: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_write_lock: { args: ["ptr", "i64"], returns: "i32" },
  ipc_rwlock_try_write_lock: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_write_unlock: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_consistent: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_readers: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_held: { args: ["ptr"], returns: "i32" },
  ipc_rwlock_read_step: { args: ["ptr", "ptr", "buf", "buf"], returns: "i32" },
  ipc_rwlock_unwait: { args: ["ptr", "ptr"], returns: "i32" },
  ipc_rwlock_write_step: { args: ["ptr", "u32", "buf", "buf"], returns: "i32" },
  ipc_rwlock_write_abandon: { args: ["ptr"], returns: "i32" },
  ipc_heap_create: { args: ["buf", "u32", "u32", "u64", "buf", "buf"], returns: "i32" },
  ipc_heap_attach: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_close: { args: ["ptr"], returns: "i32" },
  ipc_heap_malloc: { args: ["ptr", "u53", "buf"], returns: "i32" },
  ipc_heap_aligned_alloc: { args: ["ptr", "u53", "u53", "buf"], returns: "i32" },
  ipc_heap_calloc: { args: ["ptr", "u53", "u53", "buf"], returns: "i32" },
  ipc_heap_realloc: { args: ["ptr", "u53", "u53", "buf"], returns: "i32" },
  ipc_heap_free: { args: ["ptr", "u53"], returns: "i32" },
  ipc_heap_usable_size: { args: ["ptr", "u53", "buf"], returns: "i32" },
  ipc_heap_pointer: { args: ["ptr", "u53"], returns: "ptr" },
  ipc_heap_handle: { args: ["ptr", "ptr", "buf"], returns: "i32" },
  ipc_heap_check: { args: ["ptr", "buf", "buf"], returns: "i32" },
  ipc_heap_root: { args: ["ptr", "buf", "u53", "buf"], returns: "i32" },
  ipc_heap_root_remove: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_alloc_fn: { args: ["ptr", "u53"], returns: "ptr" },
  ipc_heap_free_fn: { args: ["ptr", "ptr"], returns: "void" },
  ipc_heap_realloc_fn: { args: ["ptr", "ptr", "u53"], returns: "ptr" },
  ipc_heap_calloc_fn: { args: ["ptr", "u53", "u53"], returns: "ptr" },
  ipc_heap_aligned_alloc_fn: { args: ["ptr", "u53", "u53"], returns: "ptr" },
  ipc_heap_usable_size_fn: { args: ["ptr", "ptr"], returns: "u64" },
  ipc_heap_round_up_fn: { args: ["ptr", "u53"], returns: "u64" },
  ipc_heap_round_up: { args: ["ptr", "u53", "buf"], returns: "i32" },
  ipc_heap_on_misuse: { args: ["ptr", "u32"], returns: "i32" },
  ipc_heap_misuses: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_arena_create: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_arena_open: { args: ["ptr", "u32", "buf"], returns: "i32" },
  ipc_heap_arena_close: { args: ["ptr"], returns: "i32" },
  ipc_heap_arena_id: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_arena_owner: { args: ["ptr", "buf"], returns: "i32" },
  ipc_heap_arena_malloc: { args: ["ptr", "u53", "buf"], returns: "i32" },
  ipc_heap_arena_reset: { args: ["ptr"], returns: "i32" },
  ipc_heap_arena_destroy: { args: ["ptr"], returns: "i32" },
  ipc_heap_arena_hand_over: { args: ["ptr", "i32"], returns: "i32" },
  ipc_heap_arena_reap: { args: ["ptr", "buf"], returns: "i32" },
  ipc_chan_size: { args: ["u53", "buf"], returns: "i32" },
  ipc_chan_init: { args: ["ptr", "u53", "u32", "u32"], returns: "i32" },
  ipc_chan_init_at: { args: ["ptr", "u64", "u32", "u32", "buf"], returns: "i32" },
  ipc_chan_at: { args: ["ptr", "u64", "buf"], returns: "i32" },
  ipc_chan_create: { args: ["buf", "u32", "u32", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_chan_send: { args: ["ptr", "buf", "u53", "i64"], returns: "i32" },
  ipc_chan_try_send: { args: ["ptr", "buf", "u53"], returns: "i32" },
  ipc_chan_send_many: { args: ["ptr", "buf", "buf", "u32", "i64"], returns: "i32" },
  ipc_chan_recv: { args: ["ptr", "buf", "u53", "buf", "i64"], returns: "i32" },
  ipc_chan_try_recv: { args: ["ptr", "buf", "u53", "buf"], returns: "i32" },
  ipc_chan_peek: { args: ["ptr", "buf", "u53", "buf", "i64"], returns: "i32" },
  ipc_chan_recv_many: { args: ["ptr", "buf", "u53", "buf", "u32", "buf", "i64"], returns: "i32" },
  ipc_chan_swap: { args: ["ptr", "buf", "u53", "buf", "u53", "buf", "i64"], returns: "i32" },
  ipc_chan_replace: { args: ["ptr", "buf", "u53"], returns: "i32" },
  ipc_chan_write: { args: ["ptr", "buf", "u53", "i64"], returns: "i32" },
  ipc_chan_read: { args: ["ptr", "buf", "u53", "buf", "i64"], returns: "i32" },
  ipc_chan_close: { args: ["ptr"], returns: "i32" },
  ipc_chan_is_closed: { args: ["ptr"], returns: "i32" },
  ipc_chan_pending: { args: ["ptr"], returns: "i32" },
  ipc_chan_capacity: { args: ["ptr"], returns: "i32" },
  ipc_chan_flags: { args: ["ptr"], returns: "i32" },
  ipc_chan_message_max: { args: ["ptr"], returns: "i32" },
  ipc_chan_word: { args: ["ptr", "u32"], returns: "ptr" },
  ipc_chan_send_step: { args: ["ptr", "buf", "u53", "u32", "buf"], returns: "i32" },
  ipc_chan_send_many_step: { args: ["ptr", "buf", "buf", "u32", "u32", "buf"], returns: "i32" },
  ipc_chan_recv_step: { args: ["ptr", "buf", "u53", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_chan_recv_many_step: { args: ["ptr", "buf", "u53", "buf", "u32", "u32", "buf", "buf"], returns: "i32" },
  ipc_chan_swap_step: { args: ["ptr", "buf", "u53", "buf", "u53", "u32", "buf", "buf"], returns: "i32" },
  ipc_chan_write_step: { args: ["ptr", "buf", "u53", "u32", "buf", "buf"], returns: "i32" },
  ipc_chan_read_step: { args: ["ptr", "buf", "u53", "u32", "buf", "buf", "buf"], returns: "i32" },
  ipc_chan_writer_attach: { args: ["ptr"], returns: "i32" },
  ipc_chan_writer_detach: { args: ["ptr"], returns: "i32" },
  ipc_chan_writer_word: { args: ["ptr"], returns: "ptr" },
  ipc_chan_unwait: { args: ["ptr", "u32"], returns: "i32" },
  ipc_chan_recv_views: { args: ["ptr", "buf", "buf", "u32", "buf", "buf", "i64"], returns: "i32" },
  ipc_chan_recv_views_step: { args: ["ptr", "buf", "buf", "u32", "buf", "buf", "u32", "buf"], returns: "i32" },
  ipc_chan_release: { args: ["ptr", "buf"], returns: "i32" },
  ipc_chan_views_out: { args: ["ptr"], returns: "i32" },
  ipc_waiter_create: { args: ["ptr", "buf"], returns: "i32" },
  ipc_waiter_submit: { args: ["ptr", "ptr", "u32", "i64", "u32"], returns: "i32" },
  ipc_waiter_cancel: { args: ["ptr", "u32"], returns: "i32" },
  ipc_waiter_forget: { args: ["ptr", "ptr", "u64"], returns: "i32" },
  ipc_waiter_next: { args: ["ptr", "buf", "buf", "u32"], returns: "i32", nonblocking: true },
  ipc_waiter_destroy: { args: ["ptr"], returns: "i32" },
} as const;

// Every entry is a valid signature.
const checkedSymbols: Readonly<Record<string, SymbolSpec>> = symbols;
void checkedSymbols;

/** The name of a bound libipc function. */
export type SymbolName = keyof typeof symbols;

declare const pointerBrand: unique symbol;
/** A native pointer: a number in Bun, a pointer object in Deno. Only native code looks inside. */
export type Pointer = { readonly [pointerBrand]: true };

/** The JS type of an argument of type T. */
export type ArgValue<T extends ArgType> = T extends "u53" ? number | bigint
  : T extends "i32" | "u32" ? number
  : T extends "i64" | "u64" ? bigint
  : T extends "ptr" ? Pointer | null
  : ArrayBufferView | null;

/** The JS type of a result of type T. */
export type ReturnValue<T extends ReturnType> = T extends "i32" | "u32" ? number
  : T extends "u64" ? bigint
  : T extends "ptr" ? Pointer | null
  : void;

type Args<A extends readonly ArgType[]> = { -readonly [I in keyof A]: ArgValue<A[I]> };

/** The bound functions, typed from the table. */
export type Symbols = {
  readonly [K in SymbolName]: (
    ...args: Args<(typeof symbols)[K]["args"]>
  ) => ReturnValue<(typeof symbols)[K]["returns"]>;
};
