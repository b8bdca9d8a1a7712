/**
 * Tracker: an opt-in helper process (`libipc-tracker`) that removes this process's tracked names
 * from /dev/shm once this process has ended — normally, by an uncaught error, or killed with
 * SIGKILL, when no JS or native exit hook runs. Track one object with `track: true` on any
 * `create`, every named object with `Tracker.start({ all: true })`, or an existing one with
 * `Tracker.track(name)`. The helper only removes a name that is still a libipc segment created by
 * this process, and only after this process has died.
 *
 * @module
 */

import { dirname, sep } from "node:path";
import { TRACKER_ALL, TRACKER_NAMES_MAX } from "./abi.ts";
import { checked, cString } from "./call.ts";
import { describe, type ErrorCode, IpcTypeError, optionsOf } from "./errors.ts";
import { explainName } from "./names.ts";
import { native } from "./native.ts";

/** Options of `Tracker.start`. */
export interface TrackerOptions {
  /**
   * Track every named object this process creates from now on, as if each had `track: true`.
   * Default false; calling `start` again sets it again.
   */
  all?: boolean;
  /**
   * The helper program to run. Default: `$LIBIPC_TRACKER`, else `libipc-tracker` in `../libexec/libipc`
   * (or `../bin`, or the same directory) beside the loaded libipc.so. Ignored when it runs already.
   */
  helper?: string;
}

/** What `Tracker.status()` reports. */
export interface TrackerStatus {
  /** The helper's pid, or null when no tracker runs in this process. */
  pid: number | null;
  /** How many names are tracked. */
  names: number;
  /** Whether every named object is tracked (`all: true`). */
  all: boolean;
}

/** This process's tracker. One per process; a forked child has none until it starts its own. */
export class Tracker {
  private constructor() {}

  /**
   * Starts the tracker if it is not running (about a millisecond: it spawns the helper and waits
   * for its answer) and sets `all`. Throws ENOHELPER when no helper is found, ENOENT when `helper`
   * or $LIBIPC_TRACKER names no file.
   */
  static start(options: TrackerOptions = {}): TrackerStatus {
    options = optionsOf("Tracker.start", options, "{ all: true }");
    const op = "Tracker.start";
    if (typeof options !== "object" || options === null) {
      throw new IpcTypeError(op, `options must be an object such as { all: true }, got ${describe(options)}`);
    }
    if (options.all !== undefined && typeof options.all !== "boolean") {
      throw new IpcTypeError(op, `all must be a boolean, got ${describe(options.all)}`);
    }
    const helper = options.helper === undefined ? null : cString(op, "helper", options.helper);
    const rc = native().symbols.ipc_tracker_start(helper, options.all ? TRACKER_ALL : 0);
    checked(op, rc, (code) => explainTracker(code, options.helper));
    return Tracker.status();
  }

  /**
   * Tracks `name`, a named object this process created (starting the tracker if needed). Tracking
   * twice is fine. Throws EPERM for another process's object, EPROTO for a file that is not a
   * libipc segment, ENOSPC beyond 65536 names.
   */
  static track(name: string): void {
    const op = "Tracker.track";
    const rc = native().symbols.ipc_tracker_track(cString(op, "name", name));
    checked(op, rc, (code) => explainTracked(code, name));
  }

  /** Stops tracking `name`: it stays after this process ends. Returns whether it was tracked. */
  static untrack(name: string): boolean {
    const op = "Tracker.untrack";
    const rc = native().symbols.ipc_tracker_untrack(cString(op, "name", name));
    return checked(op, rc, (code) => explainName(code, name)) === 1;
  }

  /** Stops the helper without removing anything: every tracked name stays. Idempotent. */
  static stop(): void {
    checked("Tracker.stop", native().symbols.ipc_tracker_stop());
  }

  /** Whether a tracker runs in this process, and what it holds. */
  static status(): TrackerStatus {
    const pid = new Int32Array(1);
    const names = new Uint32Array(1);
    const flags = new Uint32Array(1);
    checked("Tracker.status", native().symbols.ipc_tracker_status(pid, names, flags));
    return { pid: pid[0] === 0 ? null : pid[0], names: names[0], all: (flags[0] & TRACKER_ALL) !== 0 };
  }
}

/** The message for a tracker error of `Tracker.start` or of a create with `track: true`. */
export function explainTracker(code: ErrorCode, helper: string | undefined): string | undefined {
  switch (code) {
    case "ENOENT":
      return `the tracker helper ${describe(helper ?? "$LIBIPC_TRACKER")} does not exist`;
    case "ENOHELPER": {
      const lib = native().path;
      // This OS's separator (node:path): on Windows the library's path has backslashes.
      const dir = dirname(lib);
      const at = (...parts: string[]) => [dir, ...parts].join(sep);
      return `no tracker helper found: looked for $LIBIPC_TRACKER, ${
        at("..", "libexec", "libipc", "libipc-tracker")
      }, ` +
        `${at("..", "bin", "libipc-tracker")} and ${at("libipc-tracker")}; build it (npm install, or node ` +
        `scripts/zig.mjs build), set LIBIPC_TRACKER, or pass { helper } to Tracker.start`;
    }
    case "EACCES":
      return `the tracker helper ${describe(helper ?? "libipc-tracker")} is not executable`;
    case "EPROTO":
    case "ETIMEDOUT":
      return `${describe(helper ?? "libipc-tracker")} did not answer as a libipc tracker of this version ` +
        `(rebuild it with npm install)`;
    case "ENAMETOOLONG":
      return `the helper path is ${helper?.length ?? 0} characters; the limit is 4095 bytes`;
    case "EINVAL":
      return helper === "" ? "the helper path is empty" : undefined;
    default:
      return undefined;
  }
}

function explainTracked(code: ErrorCode, name: string): string | undefined {
  switch (code) {
    case "ENOENT": {
      // The segment is checked first: when it exists, what is missing is the helper.
      const exists =
        native().symbols.ipc_segment_info(cString("Tracker.track", "name", name), new Uint8Array(40)) === 0;
      return exists ? explainTracker(code, undefined) : `no segment named ${describe(name)}`;
    }
    case "ENOHELPER":
      return explainTracker(code, undefined);
    case "EPERM":
      return `${describe(name)} was created by another process; only its creator may track it`;
    case "EPROTO":
      return `${describe(name)} is not a libipc segment`;
    case "ENOSPC":
      return `this process tracks ${TRACKER_NAMES_MAX} names already, the limit`;
    default:
      return explainName(code, name) ?? explainTracker(code, undefined);
  }
}
