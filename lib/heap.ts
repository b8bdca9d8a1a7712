/**
 * SharedHeap: malloc, realloc and free inside a segment, from Bun, Deno and C processes at once.
 * Blocks are named by handles (numbers, the same block in every process); `view(handle)` gives
 * zero-copy access. See the README's Shared heap section (sizing, crash safety, what is refused).
 *
 * @module
 */

import {
  HEAP_ALIGNMENT_MAX,
  HEAP_ARENAS_MAX,
  HEAP_BLOCK_OFFSET_MASK,
  HEAP_OFFSET,
  HEAP_ROOT_NAME_MAX,
  HEAP_SIZE_MAX,
  HEAP_SIZE_MIN,
  KIND_HEAP,
  RESULT_CODES,
} from "./abi.ts";
import { checked, cString, pointerOut, takePointer } from "./call.ts";
import { checkInteger, codeName, describe, type ErrorCode, IpcError, IpcTypeError } from "./errors.ts";
import { native, type Pointer, type Symbols } from "./native.ts";
import {
  type Dependent,
  type OpenOptions,
  segmentInternals,
  SharedMemory,
  type TypedArrayConstructor,
  unlinkKind,
} from "./segment.ts";
import { type CreateOptions, createStandalone } from "./shared_object.ts";

/** Options of `SharedHeap.create`. */
export interface SharedHeapOptions extends CreateOptions {
  /**
   * Bytes of the heap, HEAP_SIZE_MIN (135 184) to HEAP_SIZE_MAX (1 TiB less 4 097). Untouched pages
   * cost no memory, so size it generously: see the README's sizing rule.
   */
  size: number;
}

/** What `check()` and `stats` report. */
export interface HeapStats {
  /** Bytes of allocated blocks (their usable sizes). */
  readonly inUse: number;
  /** Bytes of pages in use by blocks. */
  readonly reserved: number;
  /** Bytes of pages no block uses. */
  readonly free: number;
  /** The largest block a malloc gets now, in bytes: the longest run of free pages and empty class pages. */
  readonly largestFree: number;
  /** Allocated blocks. */
  readonly allocations: number;
}

const { OK } = RESULT_CODES;
const HANDLE_MAX = 2 ** 52;

function explain(code: ErrorCode): string | undefined {
  switch (code) {
    case "ENOMEM":
      return "the heap is full: free blocks, or create a larger heap";
    case "EKIND":
      return "the handle belongs to another heap";
    case "EINVAL":
      return undefined;
    default:
      return undefined;
  }
}

/** A heap shared between processes. */
export class SharedHeap implements Disposable, Dependent {
  #pointer: Pointer | null;
  readonly #memory: SharedMemory;
  readonly #owned: boolean;
  readonly #s: Symbols;
  readonly #cell = new BigUint64Array(1);
  /** The same cell as two 32-bit halves: a handle (< 2^52) read without making a BigInt. */
  readonly #cellHalves = new Uint32Array(this.#cell.buffer);
  readonly #stats = new BigUint64Array(5);

  private constructor(memory: SharedMemory, pointer: Pointer, owned: boolean) {
    this.#memory = memory;
    this.#pointer = pointer;
    this.#owned = owned;
    this.#s = native().symbols;
    // Closing the segment closes the heap first: the native view must not outlive its segment.
    segmentInternals.depend(memory, this);
  }

  /** Nothing this process holds keeps the heap from closing. */
  closeCheck(): void {}

  /** Creates a heap in a segment of its own (anonymous by default; `name` to open it elsewhere). */
  static create(options: SharedHeapOptions): SharedHeap {
    const op = "SharedHeap.create";
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { size: 1 << 30 }, got ${describe(options)}`);
    }
    const size = checkInteger(op, "size", options.size, 1, Number.MAX_SAFE_INTEGER);
    const { memory, pointer } = createStandalone(
      op,
      options,
      (a, seg, out) => native().symbols.ipc_heap_create(a.name, a.mode, a.flags, BigInt(size), seg, out),
      (code) =>
        code === "ERANGE"
          ? `size ${size} is outside what a heap can be (${HEAP_SIZE_MIN} to ${HEAP_SIZE_MAX} bytes)`
          : explain(code),
    );
    return new SharedHeap(memory, pointer, true);
  }

  /**
   * Removes the name of a heap in a segment of its own, as `SharedMemory.unlink` does: processes that have it open
   * keep using it. EKIND when the name holds another kind of object, ENOENT when there is none.
   */
  static unlink(name: string): void {
    unlinkKind("SharedHeap.unlink", name, "heap");
  }

  /** Opens the heap called `name`. */
  static open(name: string, options: OpenOptions = {}): SharedHeap {
    return SharedHeap.attach(SharedMemory.open(name, options), true);
  }

  /** Opens the heap behind `fd` (one a parent passed to this process). */
  static fromFd(fd: number, options: OpenOptions = {}): SharedHeap {
    return SharedHeap.attach(SharedMemory.fromFd(fd, options), true);
  }

  /** The heap in `memory` (a segment of kind heap); `owned`: closing the heap closes `memory`. */
  static attach(memory: SharedMemory, owned = false): SharedHeap {
    const op = "SharedHeap.attach";
    if (!(memory instanceof SharedMemory)) {
      throw new IpcTypeError(op, `memory must be a SharedMemory, got ${describe(memory)}`);
    }
    if (typeof owned !== "boolean") throw new IpcTypeError(op, `owned must be a boolean, got ${describe(owned)}`);
    try {
      if (segmentInternals.kind(memory) !== KIND_HEAP) {
        throw new IpcError(op, "EKIND", "the segment holds no heap");
      }
      const cell = pointerOut();
      checked(op, native().symbols.ipc_heap_attach(segmentInternals.handle(memory, op), cell));
      return new SharedHeap(memory, takePointer(op, cell), owned);
    } catch (error) {
      if (owned) memory.close();
      throw error;
    }
  }

  /** The heap's segment (its name, fd and size). */
  get memory(): SharedMemory {
    return this.#memory;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#pointer === null;
  }

  #live(op: string): Pointer {
    if (this.#pointer === null) throw new IpcError(op, "ECLOSED", "the heap is closed");
    return this.#pointer;
  }

  readonly #u53 = native().u53;

  #size(op: string, size: unknown): number | bigint {
    return this.#u53(checkInteger(op, "size", size, 1, Number.MAX_SAFE_INTEGER));
  }

  #handle(op: string, handle: unknown): number | bigint {
    return this.#u53(checkInteger(op, "handle", handle, 1, HANDLE_MAX));
  }

  #out(op: string, rc: number, what?: (code: ErrorCode) => string | undefined): number {
    if (rc !== OK) checked(op, rc, what ?? explain);
    return this.#cellHalves[0] + this.#cellHalves[1] * 0x1_0000_0000;
  }

  /**
   * Allocates `size` bytes (their contents are undefined unless `zero`); returns the block's handle.
   * Blocks are 16-byte aligned; `alignment` (a power of two up to 4096) asks for more.
   */
  malloc(size: number, options?: { alignment?: number; zero?: boolean }): number {
    const op = "SharedHeap.malloc";
    const alignment = options?.alignment;
    let block: number;
    if (alignment === undefined) {
      block = this.#out(op, this.#s.ipc_heap_malloc(this.#live(op), this.#size(op, size), this.#cell));
    } else {
      const a = checkInteger(op, "alignment", alignment, 1, HEAP_ALIGNMENT_MAX);
      const rc = this.#s.ipc_heap_aligned_alloc(this.#live(op), this.#u53(a), this.#size(op, size), this.#cell);
      block = this.#out(op, rc, (code) => code === "EINVAL" ? `alignment ${a} is not a power of two` : explain(code));
    }
    if (options?.zero) this.view(block).fill(0, 0, size);
    return block;
  }

  /**
   * The bytes a request of `size` gets: what `usableSize` says of the block `malloc(size)` returns.
   * The same for every heap (the size classes are fixed); useful to size requests without waste.
   */
  roundUp(size: number): number {
    const op = "SharedHeap.roundUp";
    const n = checkInteger(op, "size", size, 0, Number.MAX_SAFE_INTEGER);
    return this.#out(op, this.#s.ipc_heap_round_up(this.#live(op), this.#u53(n), this.#cell));
  }

  /** Allocates `count * size` zeroed bytes. */
  calloc(count: number, size: number): number {
    const op = "SharedHeap.calloc";
    const n = this.#u53(checkInteger(op, "count", count, 1, Number.MAX_SAFE_INTEGER));
    return this.#out(op, this.#s.ipc_heap_calloc(this.#live(op), n, this.#size(op, size), this.#cell));
  }

  /** Moves the block to one of `size` bytes if needed, keeping its contents; returns its handle. */
  realloc(handle: number, size: number): number {
    const op = "SharedHeap.realloc";
    const rc = this.#s.ipc_heap_realloc(this.#live(op), this.#handle(op, handle), this.#size(op, size), this.#cell);
    return this.#out(op, rc, (code) => this.#explainHandle(code, handle));
  }

  /** Frees the block. EINVAL for a block that is not allocated (a double free), EKIND for another heap's. */
  free(handle: number): void {
    const op = "SharedHeap.free";
    const rc = this.#s.ipc_heap_free(this.#live(op), this.#handle(op, handle));
    if (rc !== OK) checked(op, rc, (code) => this.#explainHandle(code, handle));
  }

  #explainHandle(code: ErrorCode, handle: number): string | undefined {
    if (code === "EINVAL") {
      return `handle ${handle} is not an allocated block of this heap (freed already, or never allocated)`;
    }
    if (code === "ERANGE") return `handle ${handle} points outside this heap`;
    return explain(code);
  }

  /** Bytes the block can hold (at least what was asked). */
  usableSize(handle: number): number {
    const op = "SharedHeap.usableSize";
    const rc = this.#s.ipc_heap_usable_size(this.#live(op), this.#handle(op, handle), this.#cell);
    return this.#out(op, rc, (code) => this.#explainHandle(code, handle));
  }

  /**
   * A zero-copy view of the block: `type` elements (default Uint8Array), `length` of them (default:
   * as many as the usable size holds). Valid while the heap is open and the block allocated.
   */
  view(handle: number): Uint8Array;
  view<T>(handle: number, type: TypedArrayConstructor<T>, length?: number): T;
  view<T>(handle: number, type?: TypedArrayConstructor<T>, length?: number): T | Uint8Array {
    const op = "SharedHeap.view";
    const elementType = (type ?? Uint8Array) as TypedArrayConstructor<T>;
    if (typeof elementType !== "function" || typeof elementType.BYTES_PER_ELEMENT !== "number") {
      throw new IpcTypeError(op, `type must be a typed array constructor such as Int32Array, got ${describe(type)}`);
    }
    if (length !== undefined) checkInteger(op, "length", length, 0, Number.MAX_SAFE_INTEGER);
    const usable = this.usableSize(handle);
    const count = length === undefined ? Math.floor(usable / elementType.BYTES_PER_ELEMENT) : length + 0;
    if (count * elementType.BYTES_PER_ELEMENT > usable) {
      throw new IpcError(
        op,
        "ERANGE",
        `${count} elements of ${elementType.BYTES_PER_ELEMENT} bytes exceed the block's ${usable} bytes`,
      );
    }
    const offset = HEAP_OFFSET + (handle % (HEAP_BLOCK_OFFSET_MASK + 1));
    return this.#memory.view(elementType, offset, count);
  }

  /**
   * The block called `name`, which any process can find (Boost's find_or_construct): with `size`,
   * made zero-filled if it does not exist yet; without, ENOENT if it does not.
   */
  root(name: string, size?: number): number {
    const op = "SharedHeap.root";
    const bytes = cString(op, "name", name);
    if (bytes.length - 1 > HEAP_ROOT_NAME_MAX || bytes.length === 1) {
      throw new IpcError(op, "EINVAL", `a root name is 1 to ${HEAP_ROOT_NAME_MAX} bytes, got ${bytes.length - 1}`);
    }
    const n = size === undefined ? this.#u53(0) : this.#size(op, size);
    const rc = this.#s.ipc_heap_root(this.#live(op), bytes, n, this.#cell);
    return this.#out(
      op,
      rc,
      (code) =>
        code === "ENOENT"
          ? `no root called ${describe(name)}`
          : code === "ENOSPC"
          ? "the heap holds the most roots it can (32)"
          : explain(code),
    );
  }

  /** Forgets the root called `name`; its block stays allocated. */
  removeRoot(name: string): void {
    const op = "SharedHeap.removeRoot";
    checked(
      op,
      this.#s.ipc_heap_root_remove(this.#live(op), cString(op, "name", name)),
      (code) => code === "ENOENT" ? `no root called ${describe(name)}` : explain(code),
    );
  }

  /**
   * A new arena owned by this process: blocks that all go back at once, on `reset()`/`destroy()` or
   * once this process is dead (noticed by the next allocation that finds no room, `check()`, opening
   * the heap, or `reapArenas()`), unless handed over first (`handOver`). See the README's Arenas.
   */
  createArena(): HeapArena {
    const op = "SharedHeap.createArena";
    const cell = pointerOut();
    checked(
      op,
      this.#s.ipc_heap_arena_create(this.#live(op), cell),
      (code) => code === "ENOSPC" ? `the heap holds the most arenas it can (${HEAP_ARENAS_MAX})` : explain(code),
    );
    return new HeapArena(this, takePointer(op, cell));
  }

  /** A view of the existing arena `id` (its `id` in any process); ENOENT when it is gone. */
  openArena(id: number): HeapArena {
    const op = "SharedHeap.openArena";
    const n = checkInteger(op, "id", id, 1, 0xffff_ffff);
    const cell = pointerOut();
    checked(
      op,
      this.#s.ipc_heap_arena_open(this.#live(op), n, cell),
      (code) => code === "ENOENT" ? `no arena ${n} (destroyed, or given back when its owner died)` : explain(code),
    );
    return new HeapArena(this, takePointer(op, cell));
  }

  /** Gives back now every arena whose owner is dead; how many. */
  reapArenas(): number {
    const op = "SharedHeap.reapArenas";
    const count = new Uint32Array(1);
    checked(op, this.#s.ipc_heap_arena_reap(this.#live(op), count));
    return count[0];
  }

  /**
   * Walks every structure of the heap; throws EPROTO naming the problem, else returns the statistics.
   * EBUSY when the page lock stays held for 5 s (a stuck holder, or a lock word another process damaged).
   */
  check(): HeapStats {
    const op = "SharedHeap.check";
    const problem = pointerOut();
    const rc = this.#s.ipc_heap_check(this.#live(op), this.#stats, problem);
    if (rc !== OK) {
      const p = native().readPointer(problem);
      const what = p === null ? "unknown problem" : native().cstring(p);
      const code = codeName(rc);
      throw new IpcError(op, code, code === "EPROTO" ? `the heap is damaged: ${what}` : what);
    }
    const s = this.#stats;
    return {
      inUse: Number(s[0]),
      reserved: Number(s[1]),
      free: Number(s[2]),
      largestFree: Number(s[3]),
      allocations: Number(s[4]),
    };
  }

  /** Statistics (a full walk: `check()`). */
  get stats(): HeapStats {
    return this.check();
  }

  /** Stops using the heap in this process; a heap opened by name or fd also closes its segment. */
  close(): void {
    const pointer = this.#pointer;
    if (pointer === null) return;
    this.#pointer = null;
    this.#s.ipc_heap_close(pointer);
    segmentInternals.undepend(this.#memory, this);
    if (this.#owned) this.#memory.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * An arena of a SharedHeap (from `createArena` or `openArena`): its owner allocates from it; its
 * blocks are ordinary blocks of the heap (`heap.view`, `heap.free` work on them) and all go back at
 * once on `reset()`/`destroy()`, or when its owner is dead, unless handed over first. Closing the
 * view leaves the arena as it is.
 */
export class HeapArena implements Disposable {
  #pointer: Pointer | null;
  readonly #heap: SharedHeap;
  readonly #s: Symbols = native().symbols;
  readonly #cell = new BigUint64Array(1);
  readonly #cellHalves = new Uint32Array(this.#cell.buffer);
  readonly #word = new Int32Array(1);
  /** The arena's id: the same in every process (pass it to `openArena`). */
  readonly id: number;

  /** @internal */
  constructor(heap: SharedHeap, pointer: Pointer) {
    this.#heap = heap;
    this.#pointer = pointer;
    checked("HeapArena.id", this.#s.ipc_heap_arena_id(pointer, this.#word));
    this.id = this.#word[0] >>> 0;
  }

  /** The heap the arena is in. */
  get heap(): SharedHeap {
    return this.#heap;
  }

  /** Whether this view is closed (by `close()` or `destroy()`). */
  get closed(): boolean {
    return this.#pointer === null;
  }

  #live(op: string): Pointer {
    if (this.#pointer === null || this.#heap.closed) throw new IpcError(op, "ECLOSED", "the arena view is closed");
    return this.#pointer;
  }

  #explain(code: ErrorCode): string | undefined {
    if (code === "EPERM") return "this process does not own the arena";
    if (code === "ENOENT") return `arena ${this.id} is gone (destroyed, or given back when its owner died)`;
    return explain(code);
  }

  /** The owner's pid; 0 when the arena is unowned. */
  get owner(): number {
    const op = "HeapArena.owner";
    checked(op, this.#s.ipc_heap_arena_owner(this.#live(op), this.#word), (code) => this.#explain(code));
    return this.#word[0];
  }

  /** Allocates `size` bytes from the arena (EPERM unless this process owns it); the block's handle. */
  malloc(size: number): number {
    const op = "HeapArena.malloc";
    const n = native().u53(checkInteger(op, "size", size, 1, Number.MAX_SAFE_INTEGER));
    const rc = this.#s.ipc_heap_arena_malloc(this.#live(op), n, this.#cell);
    if (rc !== OK) checked(op, rc, (code) => this.#explain(code));
    return this.#cellHalves[0] + this.#cellHalves[1] * 0x1_0000_0000;
  }

  /** Frees every block of the arena at once; the arena stays, empty, with its owner. */
  reset(): void {
    const op = "HeapArena.reset";
    checked(op, this.#s.ipc_heap_arena_reset(this.#live(op)), (code) => this.#explain(code));
  }

  /** Frees every block of the arena and the arena itself, and closes this view. */
  destroy(): void {
    const op = "HeapArena.destroy";
    checked(op, this.#s.ipc_heap_arena_destroy(this.#live(op)), (code) => this.#explain(code));
    this.#pointer = null;
  }

  /**
   * Hands the arena to process `pid` (of this pid namespace), or to nobody with 0: an unowned arena
   * outlives every process until destroyed. Only the owner hands an owned arena over.
   */
  handOver(pid: number): void {
    const op = "HeapArena.handOver";
    const p = checkInteger(op, "pid", pid, 0, 0x7fff_ffff);
    checked(
      op,
      this.#s.ipc_heap_arena_hand_over(this.#live(op), p),
      (code) => code === "ENOENT" ? `no process ${p} runs` : this.#explain(code),
    );
  }

  /** Closes this view; the arena and its blocks stay. */
  close(): void {
    const pointer = this.#pointer;
    if (pointer === null) return;
    this.#pointer = null;
    this.#s.ipc_heap_arena_close(pointer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
