/**
 * SharedMemory: a segment of shared memory that Bun, Deno and C processes can create, find by name
 * or receive by fd, and read and write through zero-copy views.
 *
 * Lifetime: `close()` detaches every ArrayBuffer this object handed out before the memory is
 * unmapped, so a stale view reads as empty instead of crashing the process. A segment that is
 * garbage-collected without `close()` is closed by a FinalizationRegistry, but only once no buffer
 * or view of it is reachable either.
 *
 * @module
 */

import {
  CREATOR_ALIVE,
  CREATOR_DEAD,
  SEGMENT_ANY_OWNER,
  SEGMENT_RESERVE,
  SEGMENT_SIZE_MAX,
  SEGMENT_TRACK,
  SEGMENT_UNIQUE_NAME,
} from "./abi.ts";
import { checked, cString, pointerOut, takePointer } from "./call.ts";
import { checkInteger, describe, type ErrorCode, IpcError, IpcRangeError, IpcTypeError } from "./errors.ts";
import { explainName, uniqueName } from "./names.ts";
import { native, type Pointer } from "./native.ts";
import { explainTracker } from "./tracker.ts";
import { forgetWaits } from "./wait.ts";

/** An object that lives inside a segment (such as a Mutex) and must be closed before it is unmapped. */
export interface Dependent {
  /** Throws when the segment must not be unmapped now (a mutex in it is held by this thread). */
  closeCheck(): void;
  close(): void;
}

/** Access to a segment's internals for the other classes of lib/; not exported to users. */
export interface SegmentInternals {
  /** The native handle; throws ECLOSED when closed. */
  handle(memory: SharedMemory, op: string): Pointer;
  /** Wraps a native handle returned by a create call. */
  adopt(handle: Pointer): SharedMemory;
  /** The kind stored in the segment's header. */
  kind(memory: SharedMemory): number;
  /**
   * Closes `dependent` before the segment is closed, and keeps the segment mapped until then: it is
   * never unmapped by the collector while an object lives in it (the kernel needs the mapping to
   * release a lock held by a dying process).
   */
  depend(memory: SharedMemory, dependent: Dependent): void;
  undepend(memory: SharedMemory, dependent: Dependent): void;
}

export let segmentInternals: SegmentInternals;

/** Options of `SharedMemory.create`. */
export interface SharedMemoryOptions {
  /** Bytes of user data: an integer from 1 to 2^47. The memory starts zero-filled. */
  size: number;
  /**
   * A name other processes can open it by (see `SharedMemory.open`); `true` for a generated unique
   * name that is swept once this process has died; absent or `false` for an anonymous segment,
   * shared only by passing its `fd` to a child, which can never leak a name.
   */
  name?: string | boolean;
  /** Permission bits of a named segment; default 0o600 (this user only). */
  mode?: number;
  /** Allocate all memory now, failing with ENOSPC here rather than crashing later if it runs out. */
  reserve?: boolean;
  /**
   * Register the name with this process's tracker (see `Tracker`; started here if needed), which
   * removes it once this process has ended, however it ended. Ignored for anonymous segments.
   */
  track?: boolean;
}

/**
 * Options of every `open` and `fromFd` (SharedMemory and each object that lives in a segment of its
 * own).
 */
export interface OpenOptions {
  /**
   * Accept a segment owned by another user than this process's effective user. Without it such a
   * segment is refused with EOWNER: any user can create a name in /dev/shm before you do
   * (squatting), with permissions that let them write into it while you use it. Sharing between
   * users (a segment created with a `mode` such as 0o660) needs this on the other users' side.
   */
  anyOwner?: boolean;
}

/** The native open flags for `options`, checked. */
function openFlags(op: string, options: unknown): number {
  if (options === undefined) return 0;
  if (typeof options !== "object" || options === null) {
    throw new IpcTypeError(op, `options must be an object such as { anyOwner: true }, got ${describe(options)}`);
  }
  const anyOwner = (options as OpenOptions).anyOwner;
  if (anyOwner !== undefined && typeof anyOwner !== "boolean") {
    throw new IpcTypeError(op, `anyOwner must be a boolean, got ${describe(anyOwner)}`);
  }
  return anyOwner ? SEGMENT_ANY_OWNER : 0;
}

/** What `SharedMemory.inspect` reads from a segment's header. */
export interface SegmentInfo {
  /** The canonical name, "/name". */
  name: string;
  /** Bytes of user data. */
  size: number;
  /** What it holds: "segment", "mutex", "semaphore", "event", "condition", "barrier", "rwlock", "heap", "chan". */
  kind: string;
  creator: SegmentCreator;
  /** Whether the creator still runs; null when it ran in another pid namespace (cannot tell). */
  alive: boolean | null;
  /** A generated name (`name: true`): removed by `sweep()` once its creator has died. */
  generated: boolean;
  /** Owner and permission bits of the name. */
  uid: number;
  mode: number;
}

/** Who created a segment. */
export interface SegmentCreator {
  pid: number;
  /** The OS's start-time stamp of that process; with the pid it identifies the process. */
  startTime: bigint;
}

/** A constructor of typed arrays, such as Int32Array. */
export interface TypedArrayConstructor<T> {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

const finalizer = new FinalizationRegistry<Pointer>((handle) => {
  native().symbols.ipc_segment_close(handle);
});
// Keeps a segment reachable while any buffer of it is, so the finalizer never unmaps memory that a
// live view still points into.
const owners = new WeakMap<ArrayBuffer, SharedMemory>();
const windowsMax = 64;
// Segments with objects in them: reachable, so never closed by the collector.
const pinned = new Set<SharedMemory>();

function detach(buffer: ArrayBuffer | undefined): void {
  if (buffer === undefined || buffer.detached) return;
  const n = native();
  if (n.detach === undefined) buffer.transfer(0);
  else n.detach(buffer);
}

/** A segment of shared memory. */
export class SharedMemory implements Disposable {
  #handle: Pointer | null;
  readonly #base: Pointer;
  readonly #size: number;
  readonly #name: string | null;
  readonly #fd: number;
  #buffer: ArrayBuffer | undefined;
  #windows: WeakRef<ArrayBuffer>[] = [];
  readonly #kind: number;
  readonly #dependents = new Set<Dependent>();

  static {
    segmentInternals = {
      handle: (memory, op) => memory.#live(op),
      adopt: (handle) => new SharedMemory(handle),
      kind: (memory) => memory.#kind,
      depend: (memory, dependent) => {
        memory.#dependents.add(dependent);
        pinned.add(memory);
      },
      undepend: (memory, dependent) => {
        memory.#dependents.delete(dependent);
        if (memory.#dependents.size === 0) pinned.delete(memory);
      },
    };
  }

  private constructor(handle: Pointer) {
    const s = native().symbols;
    this.#handle = handle;
    this.#base = s.ipc_segment_base(handle)!;
    this.#size = Number(s.ipc_segment_size(handle));
    this.#fd = s.ipc_segment_fd(handle);
    this.#kind = s.ipc_segment_kind(handle);
    const name = native().cstring(s.ipc_segment_name(handle)!);
    this.#name = name === "" ? null : name;
    finalizer.register(this, handle, this);
  }

  /** Creates a segment. See `SharedMemoryOptions`. */
  static create(options: SharedMemoryOptions): SharedMemory {
    const op = "SharedMemory.create";
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { size: 4096 }, got ${describe(options)}`);
    }
    const size = checkInteger(op, "size", options.size, 1, SEGMENT_SIZE_MAX);
    const mode = options.mode === undefined ? 0 : checkInteger(op, "mode", options.mode, 0, 0o777);
    for (const key of ["reserve", "track"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "boolean") {
        throw new IpcTypeError(op, `${key} must be a boolean, got ${describe(options[key])}`);
      }
    }
    const name = options.name;
    let flags = (options.reserve ? SEGMENT_RESERVE : 0) | (options.track ? SEGMENT_TRACK : 0);
    let nameBuf: Uint8Array | null = null;
    if (name === true) flags |= SEGMENT_UNIQUE_NAME;
    else if (typeof name === "string") nameBuf = cString(op, "name", name);
    else if (name !== undefined && name !== false) {
      throw new IpcTypeError(op, `name must be a string or a boolean, got ${describe(name)}`);
    }
    const anonymous = name === undefined || name === false;
    const cell = pointerOut();
    const rc = native().symbols.ipc_segment_create(nameBuf, BigInt(size), mode, flags, cell);
    checked(op, rc, (code) => explainCreate(code, name, size, anonymous, options.track === true));
    return new SharedMemory(takePointer(op, cell));
  }

  /**
   * Opens the segment called `name`, created by any process (Bun, Deno, C) of this user; another
   * user's segment only with `{ anyOwner: true }`. Only a regular file is opened (never a FIFO,
   * symlink or device), and its owner is checked before anything is read from it.
   */
  static open(name: string, options?: OpenOptions): SharedMemory {
    const op = "SharedMemory.open";
    const nameBuf = cString(op, "name", name);
    const flags = openFlags(op, options);
    const cell = pointerOut();
    checked(op, native().symbols.ipc_segment_open(nameBuf, flags, cell), (code) => explainOpen(code, name));
    return new SharedMemory(takePointer(op, cell));
  }

  /**
   * Opens the segment behind file descriptor `fd`, typically one a parent passed to this process
   * (a Bun.spawn or node:child_process stdio slot of 3 or more; on Windows, where the native "fd" is
   * a HANDLE's value, an inherited handle: lib/handoff.ts). The fd is duplicated; the caller
   * keeps owning `fd`. The file is checked as `open` checks it, owner included: an fd can come from
   * anyone.
   */
  static fromFd(fd: number, options?: OpenOptions): SharedMemory {
    const op = "SharedMemory.fromFd";
    const checkedFd = checkInteger(op, "fd", fd, 0, 0x7fffffff);
    const flags = openFlags(op, options);
    const cell = pointerOut();
    checked(op, native().symbols.ipc_segment_open_fd(checkedFd, flags, cell), (code) => explainOpen(code, `fd ${fd}`));
    return new SharedMemory(takePointer(op, cell));
  }

  /**
   * Removes the name `name`. Processes that have the segment open keep using it; its memory is
   * freed when the last one closes it. Files that are not libipc segments are never removed.
   */
  static unlink(name: string): void {
    const op = "SharedMemory.unlink";
    const nameBuf = cString(op, "name", name);
    checked(op, native().symbols.ipc_segment_unlink(nameBuf), (code) => explainOpen(code, name));
  }

  /**
   * Removes the generated names (see `name: true`) of segments whose creator process has died, and
   * returns how many it removed. Only this user's segments from this pid namespace are considered.
   */
  static sweep(): number {
    return checked("SharedMemory.sweep", native().symbols.ipc_segment_sweep());
  }

  /** A fresh generated name for this process; see `SharedMemoryOptions.name`. */
  static uniqueName(): string {
    return uniqueName();
  }

  /**
   * The names of the libipc segments in /dev/shm: files that start with libipc's magic (any ABI
   * version) and generated names. See `inspect` for what each holds.
   */
  static list(): string[] {
    const op = "SharedMemory.list";
    let buf = new Uint8Array(16384);
    // Segments come and go between calls: ask again while the list outgrows the buffer.
    for (let attempt = 0; attempt < 8; attempt++) {
      const needed = checked(op, native().symbols.ipc_segment_list(buf, buf.length));
      if (needed <= buf.length) {
        const text = new TextDecoder().decode(buf.subarray(0, needed));
        return text.split("\0").filter((name) => name !== "");
      }
      buf = new Uint8Array(needed * 2);
    }
    throw new IpcError(op, "EBUSY", "/dev/shm kept growing faster than it could be listed");
  }

  /**
   * Reads the header of the segment called `name` without mapping it. Throws ENOENT, EACCES,
   * EPROTO (not a libipc segment, or damaged), EVERSION (another ABI version).
   */
  static inspect(name: string): SegmentInfo {
    return inspectAs("SharedMemory.inspect", name);
  }

  /**
   * Removes the name `name` if it is a libipc segment of this user whose creator has died, whether
   * the name is generated or not (`sweep()` leaves user-chosen names alone, since they may be meant
   * to outlive their creator). Returns whether it removed it.
   */
  static unlinkDead(name: string): boolean {
    const op = "SharedMemory.unlinkDead";
    const rc = native().symbols.ipc_segment_unlink_dead(cString(op, "name", name));
    return checked(op, rc, (code) => explainOpen(code, name)) === 1;
  }

  /** The canonical name ("/name"), or null for an anonymous segment. */
  get name(): string | null {
    return this.#name;
  }

  /** Bytes of user data. */
  get size(): number {
    return this.#size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /** The segment's file descriptor, to hand to a child process. Owned by the segment. */
  get fd(): number {
    this.#live("SharedMemory.fd");
    return this.#fd;
  }

  /** The process that created the segment. */
  get creator(): SegmentCreator {
    const handle = this.#live("SharedMemory.creator");
    const pid = new Int32Array(1);
    const start = new BigUint64Array(1);
    checked("SharedMemory.creator", native().symbols.ipc_segment_creator(handle, pid, start));
    return { pid: pid[0], startTime: start[0] };
  }

  /**
   * A zero-copy ArrayBuffer over all user bytes. Writes are seen by every process at once. The same
   * object is returned on every call; it is detached (length 0) by `close()`.
   */
  get buffer(): ArrayBuffer {
    this.#live("SharedMemory.buffer");
    if (this.#buffer === undefined) {
      const max = native().maxArrayBufferBytes;
      if (this.#size > max) {
        throw new IpcRangeError(
          "SharedMemory.buffer",
          "ERANGE",
          `the segment's ${this.#size} bytes exceed the ${max}-byte limit of one ArrayBuffer in ` +
            `${native().runtime}; use view(), bytes() or dataView() with an offset and a length`,
        );
      }
      this.#buffer = native().arrayBuffer(this.#base, 0, this.#size);
      owners.set(this.#buffer, this);
    }
    return this.#buffer;
  }

  /**
   * A typed array of `length` elements (default: as many as fit) at `byteOffset`, which must be a
   * multiple of the element size.
   */
  view<T>(type: TypedArrayConstructor<T>, byteOffset = 0, length?: number): T {
    const op = "SharedMemory.view";
    this.#live(op);
    if (typeof type !== "function" || typeof type.BYTES_PER_ELEMENT !== "number") {
      throw new IpcTypeError(op, `type must be a typed array constructor such as Int32Array, got ${describe(type)}`);
    }
    const unit = type.BYTES_PER_ELEMENT;
    byteOffset = checkInteger(op, "byteOffset", byteOffset, 0, this.#size);
    if (byteOffset % unit !== 0) {
      throw new IpcRangeError(
        op,
        "EALIGN",
        `byteOffset ${byteOffset} is not a multiple of ${unit}, the element size of ${type.name}`,
      );
    }
    const fit = Math.floor((this.#size - byteOffset) / unit);
    const count = length === undefined ? fit : checkInteger(op, "length", length, 0, Number.MAX_SAFE_INTEGER);
    if (count > fit) {
      throw new IpcRangeError(
        op,
        "ERANGE",
        `${count} elements of ${type.name} at byteOffset ${byteOffset} end at byte ` +
          `${byteOffset + count * unit}, past the segment's ${this.#size} bytes`,
      );
    }
    const [buffer, start] = this.#region(op, byteOffset, count * unit);
    return new type(buffer, start, count);
  }

  /** A Uint8Array over `length` bytes (default: the rest) at `byteOffset`. */
  bytes(byteOffset = 0, length?: number): Uint8Array {
    return this.view(Uint8Array, byteOffset, length);
  }

  /** A DataView over `byteLength` bytes (default: the rest) at `byteOffset`. */
  dataView(byteOffset = 0, byteLength?: number): DataView {
    const bytes = this.view(Uint8Array, byteOffset, byteLength);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Removes this segment's name; see `SharedMemory.unlink`. An anonymous segment has none. */
  unlink(): void {
    if (this.#name === null) {
      throw new IpcError("SharedMemory.unlink", "EINVAL", "an anonymous segment has no name to unlink");
    }
    SharedMemory.unlink(this.#name);
  }

  /**
   * Detaches every buffer and view of this segment, then unmaps it and closes its fd. Idempotent.
   * The name, if any, stays until `unlink()`.
   */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    for (const dependent of this.#dependents) dependent.closeCheck();
    for (const dependent of [...this.#dependents]) dependent.close();
    this.#dependents.clear();
    pinned.delete(this);
    this.#handle = null;
    finalizer.unregister(this);
    forgetWaits(this.#base, this.#size);
    detach(this.#buffer);
    this.#buffer = undefined;
    for (const ref of this.#windows) detach(ref.deref());
    this.#windows = [];
    checked("SharedMemory.close", native().symbols.ipc_segment_close(handle));
  }

  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(op: string): Pointer {
    if (this.#handle === null) throw new IpcError(op, "ECLOSED", "the segment is closed");
    return this.#handle;
  }

  /** An ArrayBuffer and the offset in it where `byteLength` bytes at `byteOffset` of user data start. */
  #region(op: string, byteOffset: number, byteLength: number): [ArrayBuffer, number] {
    const max = native().maxArrayBufferBytes;
    if (this.#size <= max) return [this.buffer, byteOffset];
    if (byteLength > max) {
      throw new IpcRangeError(
        op,
        "ERANGE",
        `a view of ${byteLength} bytes exceeds the ${max}-byte limit of one ArrayBuffer in ${native().runtime}`,
      );
    }
    const window = native().arrayBuffer(this.#base, byteOffset, byteLength);
    owners.set(window, this);
    if (this.#windows.length >= windowsMax) this.#windows = this.#windows.filter((ref) => ref.deref());
    this.#windows.push(new WeakRef(window));
    return [window, 0];
  }
}

/**
 * Removes the name `name` if it holds `kind` (an `inspect` kind such as "mutex"): each named class's
 * static `unlink` (`Mutex.unlink`, `Chan.unlink`, …), so a name is removed through the class that made
 * it, and one class never removes another's object by mistake (EKIND naming what the name holds).
 */
export function unlinkKind(op: string, name: string, kind: string): void {
  const found = inspectAs(op, name).kind;
  if (found !== kind) {
    throw new IpcError(
      op,
      "EKIND",
      `${describe(name)} holds a ${found}, not a ${kind}: remove it through its own class`,
    );
  }
  const nameBuf = cString(op, "name", name);
  checked(op, native().symbols.ipc_segment_unlink(nameBuf), (code) => explainOpen(code, name));
}

/** SharedMemory.inspect, with errors naming `op`. */
function inspectAs(op: string, name: string): SegmentInfo {
  const info = new DataView(new ArrayBuffer(40));
  const rc = native().symbols.ipc_segment_info(cString(op, "name", name), new Uint8Array(info.buffer));
  checked(op, rc, (code) => explainOpen(code, name));
  const canonical = name.startsWith("/") ? name : "/" + name;
  const state = info.getUint32(20, true);
  return {
    name: canonical,
    size: Number(info.getBigUint64(0, true)),
    kind: kindNames[info.getUint32(24, true)] ?? `unknown(${info.getUint32(24, true)})`,
    creator: { pid: info.getInt32(16, true), startTime: info.getBigUint64(8, true) },
    alive: state === CREATOR_ALIVE ? true : state === CREATOR_DEAD ? false : null,
    generated: canonical.startsWith("/ipc."),
    uid: info.getUint32(28, true),
    mode: info.getUint32(32, true),
  };
}

const kindNames: Record<number, string> = {
  1: "segment",
  2: "mutex",
  3: "semaphore",
  4: "event",
  5: "condition",
  6: "barrier",
  7: "rwlock",
  8: "heap",
  9: "chan",
};

function explainCreate(
  code: ErrorCode,
  name: unknown,
  size: number,
  anonymous: boolean,
  track: boolean,
): string | undefined {
  if (track && !anonymous && (code === "ENOENT" || code === "EPROTO" || code === "ETIMEDOUT")) {
    return explainTracker(code, undefined);
  }
  switch (code) {
    case "EEXIST":
      return `a segment named ${describe(name)} already exists`;
    case "ENOSPC": {
      const cell = new BigUint64Array(1);
      const where = anonymous ? "RAM plus swap" : "/dev/shm";
      if (native().symbols.ipc_segment_capacity(anonymous ? 1 : 0, cell) !== 0) {
        return `size ${size} bytes is more than ${where} can hold`;
      }
      return `size ${size} bytes is more than the ${cell[0]} bytes ${where} can hold`;
    }
    case "EACCES":
      return `permission denied creating ${describe(name)}`;
    default:
      return explainName(code, name);
  }
}

function explainOpen(code: ErrorCode, what: string): string | undefined {
  switch (code) {
    case "ENOENT":
      return `no segment named ${describe(what)}`;
    case "EACCES":
      return `permission denied for ${describe(what)}`;
    case "EPROTO":
      return `${describe(what)} is not a libipc segment (or not a regular file), or its header is damaged or truncated`;
    case "EOWNER":
      return explainOwner(what);
    case "EVERSION":
      return `${describe(what)} was made by a libipc of another ABI version`;
    case "EINVAL":
      return what.startsWith("fd ") ? `${what} is not an open file descriptor` : explainName(code, what);
    default:
      return explainName(code, what);
  }
}

/** The message for EOWNER: who owns the segment, and the option that accepts it. */
function explainOwner(what: string): string {
  const accept = "pass { anyOwner: true } to open it anyway";
  if (what.startsWith("fd ")) return `the segment behind ${what} belongs to another user; ${accept}`;
  const info = new Uint8Array(40);
  const rc = native().symbols.ipc_segment_info(cString("SharedMemory.open", "name", what), info);
  if (rc !== 0) return `${describe(what)} belongs to another user; ${accept}`;
  const uid = new DataView(info.buffer).getUint32(28, true);
  return `${describe(what)} belongs to uid ${uid}, another user than this process's; ${accept}`;
}
