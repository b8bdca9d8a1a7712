/**
 * `npm run bench`: builds libipc, runs every benchmark program REPS times (default 5, env
 * BENCH_REPS), each run a fresh process, repeats interleaved across programs so that drift on the
 * machine hits every tool alike; keeps min/median/max per (case, tool) in bench/results/<group>.json
 * and regenerates bench/RESULTS.md from all groups. `bun bench/run.ts ffi` runs one group only.
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { resolve } from "node:path";
import { findWine } from "../scripts/wine_loader.mjs";
import type { Measurement } from "./report.ts";

const root = resolve(import.meta.dirname, "..");
const bun = process.execPath;
const deno = `${root}/node_modules/.bin/deno`;
const denoRun = [deno, "run", "--allow-all"];
// Node runs the benchmarks from source (type stripping, 22.18 or later): Node 26 from the devDependency.
const node = process.env.LIBIPC_NODE || `${root}/node_modules/node/bin/node`;
// The owner-recording mutex (-Dmutex=owner: musl's, macOS's and Windows's protocol), built by this runner
// into zig-out/owner and measured beside the default (kernel robust list) build in the same run. A job
// starting with these entries loads that library, and its rows are named with the suffix; its peer rows
// are dropped (the default jobs measure the peers).
const ownerOut = "zig-out/owner";
const owner = [`BENCH_TOOL_SUFFIX=, owner-recording mutex`, `LIBIPC_PATH=${root}/${ownerOut}/lib/libipc.so`];

interface Group {
  name: string;
  title: string;
  method: string;
  jobs: string[][];
  /** Runs every job beside one CPU-bound busy process per CPU (started before it, killed after it). */
  load?: boolean;
  /** The "vs peer" column lists the row's ratio to every peer of the case whose tool has one of these words. */
  ratioTo?: string[];
}

const groups: Group[] = [
  {
    name: "ffi",
    title: "FFI call overhead",
    method: "20 M calls in one loop after 200 k warm-up calls, one process per case, so that the JIT sees " +
      "a single call target; the peer is libc's getpagesize() bound with the runtime's own FFI.",
    jobs: ["trivial", "peer", "handle"].flatMap((c) => [
      [bun, "bench/ffi.bun.ts", c],
      [...denoRun, "bench/ffi.deno.ts", c],
      [node, "bench/ffi.node.ts", c],
    ]),
  },
  {
    name: "segment",
    title: "Segment life cycle",
    method: "20 000 iterations after 1 000 warm-up ones, each touching one byte of the mapping; the peers " +
      "are the raw POSIX calls without libipc's header, validation or atomic publication.",
    jobs: [["zig-out/bin/ipc-bench-segment"], [bun, "bench/segment.bun.ts"], [...denoRun, "bench/segment.deno.ts"]],
  },
  {
    name: "mutex",
    title: "Mutex",
    method: "Uncontended: 20 M lockSync()+unlock() pairs (C: ipc_mutex_lock+unlock) after a warm-up, one case per " +
      "process; the peer is glibc's robust process-shared pthread mutex (the kind libipc <= 0.1 wrapped) locked and " +
      "unlocked directly, from C and through each runtime's raw FFI. Handoff: a C driver holds the mutex, waits " +
      "until the waiter is about to lock, lets a gap pass (2 µs: the waiter is still spinning; 100 µs: it has " +
      "parked), stores CLOCK_MONOTONIC and unlocks; the waiter (another process) reads the clock once it holds " +
      "the mutex. 5 000 rounds (spinning) or 2 000 (parked), the first 10% dropped; p50 and p99 of the rest. " +
      'The peer parks in glibc\'s pthread_mutex_lock. Rows marked "owner-recording mutex" use the build with ' +
      "-Dmutex=owner (the protocol of musl, macOS and Windows: the holder recorded in the lock, a dead one judged " +
      "by its waiters) instead of the kernel's robust list, measured in the same run.",
    jobs: [
      ["zig-out/bin/ipc-bench-mutex", "uncontended"],
      [...owner, `${ownerOut}/bin/ipc-bench-mutex`, "uncontended"],
      [bun, "bench/mutex.bun.ts", "uncontended"],
      [...owner, bun, "bench/mutex.bun.ts", "uncontended"],
      [bun, "bench/mutex.bun.ts", "peer"],
      [...denoRun, "bench/mutex.deno.ts", "uncontended"],
      [...denoRun, "bench/mutex.deno.ts", "peer"],
      [node, "bench/mutex.node.ts", "uncontended"],
      [node, "bench/mutex.node.ts", "peer"],
      ...handoffJobs("handoff to a spinning waiter (2 µs), lockSync", 2000, 5000, [
        ["zig-out/bin/ipc-bench-mutex", "wait", "libipc"],
        [bun, "bench/mutex.bun.ts", "wait", "sync"],
        [...denoRun, "bench/mutex.deno.ts", "wait", "sync"],
      ]),
      ...handoffJobs("handoff to a spinning waiter (2 µs), lockSync", 2000, 5000, [
        [`${ownerOut}/bin/ipc-bench-mutex`, "wait", "libipc"],
        [bun, "bench/mutex.bun.ts", "wait", "sync"],
      ], owner),
      ...handoffJobs("handoff to a parked waiter (100 µs), lockSync", 100_000, 2000, [
        ["zig-out/bin/ipc-bench-mutex", "wait", "pthread"],
        ["zig-out/bin/ipc-bench-mutex", "wait", "libipc-park"],
        [bun, "bench/mutex.bun.ts", "wait", "sync-park"],
        [...denoRun, "bench/mutex.deno.ts", "wait", "sync-park"],
      ]),
      ...handoffJobs("handoff to a parked waiter (100 µs), lockSync", 100_000, 2000, [
        [`${ownerOut}/bin/ipc-bench-mutex`, "wait", "libipc-park"],
        [bun, "bench/mutex.bun.ts", "wait", "sync-park"],
      ], owner),
      ...handoffJobs("handoff to an async lock() (waiter thread parked, 100 µs)", 100_000, 2000, [
        ["zig-out/bin/ipc-bench-mutex", "wait", "pthread"],
        [bun, "bench/mutex.bun.ts", "wait", "async"],
        [...denoRun, "bench/mutex.deno.ts", "wait", "async"],
      ]),
      ...handoffJobs("handoff to an async lock() (waiter thread parked, 100 µs)", 100_000, 2000, [
        [bun, "bench/mutex.bun.ts", "wait", "async"],
      ], owner),
      ...handoffJobs("handoff to an async lock() (waiter thread spinning, 2 µs)", 2000, 2000, [
        [bun, "bench/mutex.bun.ts", "wait", "async"],
        [...denoRun, "bench/mutex.deno.ts", "wait", "async"],
      ]),
    ],
  },
  {
    name: "sync",
    title: "Semaphore, Condition, RwLock",
    method: "Ping-pong: two processes (the second forked, sharing an anonymous segment) pass a token back and forth " +
      "50 000 times; the first reads CLOCK_MONOTONIC around each round trip; the first 10% of rounds are dropped, " +
      "p50 and p99 of the rest reported. Semaphores: A releases s1 and acquires s2, B acquires s1 and releases s2; " +
      "the peer is two glibc sem_t (sem_init pshared=1, sem_post/sem_wait), which park at once where libipc's waits " +
      "spin first (20 µs, 150 µs after waking a parked waiter, while runnable threads do not outnumber CPUs; on a " +
      "crowded machine only words whose spins paid lately spin, 5 µs: DEVELOPERS.md, Waiting); the “parking at " +
      "once” rows are libipc with " +
      "ipc_spin_set(0) in both processes. Condition: a mutex, one condition and a turn word; each side locks, hands " +
      "the turn over, notifies one waiter and waits until the turn comes back; the peer is a glibc pthread_mutex_t + " +
      "pthread_cond_t, both PTHREAD_PROCESS_SHARED. RwLock, uncontended: 5 M read lock+unlock pairs and 500 k write " +
      "lock+unlock pairs (C: ipc_rwlock_read_lock+read_unlock, write_lock+write_unlock) after a warm-up of a tenth; " +
      "the peer is a glibc pthread_rwlock_t (PTHREAD_PROCESS_SHARED, neither robust nor writer-preferring). libipc's " +
      "rwlock is a robust writer mutex and 32 robust reader slots, so that a dead holder releases what it held at " +
      "once: a read lock is a slot trylock plus two checks of the writer's word, a write lock the writer mutex plus a " +
      "scan of the slots. Bun and Deno: the same through the TypeScript API (Semaphore acquireSync/release, Mutex " +
      "lockSync + Condition waitSync/notify, RwLock readLockSync/readUnlock), the second process a child of the same " +
      "runtime.",
    jobs: [
      ["zig-out/bin/ipc-bench-sync", "sem-pingpong", "50000"],
      ["zig-out/bin/ipc-bench-sync", "cond-pingpong", "50000"],
      ["zig-out/bin/ipc-bench-sync", "rwlock-uncontended", "5000000"],
      ...["sem-pingpong", "cond-pingpong", "rwlock-uncontended"].flatMap((c) => [
        [bun, "bench/sync.bun.ts", c],
        [...denoRun, "bench/sync.deno.ts", c],
      ]),
    ],
  },
  {
    name: "heap",
    title: "Shared heap",
    method:
      "Workloads in bench/heap_work.h, the same for every allocator. Rounds: forked processes allocate and free " +
      "at once, in rounds of 1 000 mallocs then 1 000 frees (PEERS.md's op definition: one malloc or one free is " +
      "one op), after a warm-up that creates the pages; 20 M ops per process for 64 B blocks, 4 M for mixed sizes " +
      "(7/8 of them 16 B–1 KiB, the rest up to 64 KiB); aggregate Mops/s from the start signal to the last exit. " +
      "libipc: one 1 GiB heap shared by the processes (handles, ipc_heap_malloc/ipc_heap_free), checked " +
      "afterwards. Random ops (2 M, one process, each workload in a fresh process): each op frees the block of a " +
      "random slot or, if it is empty, allocates one and writes a byte every 4 KiB of it; 20 000 slots of the " +
      "mixed sizes (measured at the end) or 8 000 slots of 16 B–256 KiB log-uniform sizes (the worst of 19 " +
      "checkpoints over the run: steady state); libipc through its C callbacks (ipc_heap_alloc_fn/free_fn). " +
      "Reported: live bytes asked over the allocator's own count of the bytes of pages it holds (each row's " +
      "notes say what that count is), over the growth of the process's resident set (the one measure every " +
      "allocator shares; a libipc heap gives no page back to the system, so its resident set keeps every page " +
      "it ever used), and Mops/s (the clock stopped while measuring). Higher is better for these ratios. Peers, " +
      "built by this runner with the pinned Zig's C/C++ compiler against Debian's packages (scripts/debs.mjs): " +
      "glibc's malloc, jemalloc 5.3 (libjemalloc.a linked in) and mimalloc 2.0 (libmimalloc.so by path), all " +
      "private memory (with 2 processes each has its own: the bound for a shared heap), and Boost.Interprocess " +
      "1.74 managed_shared_memory (rbtree_best_fit behind one process-shared mutex; it keeps no count of pages, so " +
      "only its resident growth is reported). Lua: Debian's Lua 5.4 " +
      "(liblua5.4.a) runs one deterministic string/table churn script (bench/heap_lua.c) on glibc and, through " +
      "lua_newstate's allocator callback, in libipc heaps: glibc's footprint is the larger of its peak resident " +
      "growth and its peak mallinfo2 arena + hblkhd; libipc's the smallest heap size the script completes in (by " +
      "bisection to 1 MiB); lower is better. Bun and Deno: the rounds in one process through SharedHeap " +
      "malloc()/free() (4 M ops for 64 B, 1 M mixed). vs peer: the row's median over each peer's in the same run.",
    ratioTo: ["glibc", "jemalloc", "mimalloc", "Boost"],
    jobs: [
      ...["1", "2", "4"].map((n) => ["zig-out/bin/ipc-bench-heap", "64", n]),
      ...["1", "2", "4"].map((n) => ["zig-out/bin/ipc-bench-heap", "mixed", n]),
      ...["glibc", "jemalloc", "mimalloc", "boost"].flatMap((peer) =>
        ["64", "mixed"].flatMap((c) => ["1", "2"].map((n) => [`zig-out/bin/ipc-bench-heap-${peer}`, c, n]))
      ),
      ...["", "-glibc", "-jemalloc", "-mimalloc", "-boost"].flatMap((tool) =>
        ["mixed", "wide"].map((w) => [`zig-out/bin/ipc-bench-heap${tool}`, "fragmentation", w, "2000000"])
      ),
      ["zig-out/bin/ipc-bench-heap-lua", "4000"],
      ...["64", "mixed"].flatMap((c) => [[bun, "bench/heap.bun.ts", c], [...denoRun, "bench/heap.deno.ts", c]]),
    ],
  },
  {
    name: "chan",
    title: "Message passing",
    method: "Round trip: a 16-byte message to a child process and back through two libipc channels (1 MiB rings; " +
      "send, then a blocking receive; both sides spin briefly before parking), timed per round trip, the first 10% " +
      "dropped, p50 and p99 of the rest (C 200 000 rounds, Bun and Deno 100 000); Bun<->Deno is a Bun parent with a " +
      "Deno child. Throughput: 64-byte messages one way, sent one by one and 256 per batch call, received in batches, " +
      "until the receiver acknowledges its total; 2->2 is two senders and two receivers on one channel (from Bun and " +
      "Deno the four are child processes, their start-up included in the time); 64 KiB " +
      "messages one way. Small objects ({ id, name, ok, score, tags }, about 60 bytes) one way through the json and " +
      "msgpack codecs, decoded by the receiver. Node (koffi, Node 26): Node<->Node and Node<->Bun round trips (50 000), " +
      "64-byte throughput (1 M). Peers, in the same run (bench/ipc_peers/): Bun.spawn with ipc (Bun<->Bun), Node " +
      "child_process.fork IPC, Node worker_threads postMessage (in one process), and a unix stream socket from Bun, " +
      "from Node and from C, 2 000 warm-up then 20 000 timed round trips; their throughput rows send with a credit " +
      "window (IPC never pushes back) or one write per message.",
    jobs: [
      ...["roundtrip", "throughput64", "throughput64k"].flatMap((c) => [
        ["zig-out/bin/ipc-bench-chan", c],
        [bun, "bench/chan.bun.ts", c],
        [...denoRun, "bench/chan.deno.ts", c],
      ]),
      [bun, "bench/chan.bun.ts", "many", "2000000"],
      [...denoRun, "bench/chan.deno.ts", "many", "1000000"],
      ...["json", "msgpack"].flatMap((codec) => [
        [bun, "bench/chan.bun.ts", "objects", codec, "1000000"],
        [...denoRun, "bench/chan.deno.ts", "objects", codec, "500000"],
      ]),
      [
        `CHAN_CHILD=${JSON.stringify([...denoRun, "bench/chan.deno.ts"])}`,
        "CHAN_CHILD_LABEL=Deno",
        bun,
        "bench/chan.bun.ts",
        "roundtrip",
      ],
      // Node (koffi): Node<->Node and a Node parent with a Bun child; its peers are Node's own below.
      [node, "bench/chan.node.ts", "roundtrip", "50000"],
      [
        `CHAN_CHILD=${JSON.stringify([bun, "bench/chan.bun.ts"])}`,
        "CHAN_CHILD_LABEL=Bun",
        node,
        "bench/chan.node.ts",
        "roundtrip",
        "50000",
      ],
      [node, "bench/chan.node.ts", "throughput64", "1000000"],
      ...["roundtrip", "throughput-64", "throughput-64k"].flatMap((c) => [
        [bun, "bench/ipc_peers/bun_ipc.ts", c],
        [node, "bench/ipc_peers/node_ipc.mjs", c],
        [bun, "bench/ipc_peers/unix_socket.ts", c],
        ["node", "bench/ipc_peers/unix_socket_c.mjs", c],
      ]),
      ...["roundtrip", "throughput-64"].flatMap((c) => [
        [node, "bench/ipc_peers/node_worker.ts", c],
        [node, "bench/ipc_peers/unix_socket_node.ts", c],
      ]),
    ],
  },
  {
    name: "load",
    title: "Round trip under load",
    method: "The message-passing group's round trips (a 16-byte message to a child process and back; libipc " +
      "through two Chans, the peer a unix stream socket between the same runtimes), 20 000 timed rounds each (C " +
      "drops the first 10%, the socket peers time theirs after 2 000 warm-up rounds), each job run beside one " +
      "CPU-bound busy process per CPU (a Bun `for (;;) {}`, started before the job and killed after it), so that " +
      "runnable threads outnumber CPUs the whole time. While the kernel's runnable count exceeds the CPUs, libipc " +
      "spins only on words where spinning paid lately, 5 µs at most (DEVELOPERS.md, Waiting). Bun<->Deno is a Bun " +
      "parent with a Deno child for both tools. Node (koffi, Node 26): Node<->Node against Node's own unix socket, " +
      "and Node<->Bun a Node parent with a Bun child.",
    load: true,
    jobs: [
      ["zig-out/bin/ipc-bench-chan", "roundtrip", "22000"],
      ["node", "bench/ipc_peers/unix_socket_c.mjs", "roundtrip"],
      [bun, "bench/chan.bun.ts", "roundtrip", "22000"],
      [bun, "bench/ipc_peers/unix_socket.ts", "roundtrip"],
      [
        `CHAN_CHILD=${JSON.stringify([...denoRun, "bench/chan.deno.ts"])}`,
        "CHAN_CHILD_LABEL=Deno",
        bun,
        "bench/chan.bun.ts",
        "roundtrip",
        "22000",
      ],
      ["SOCKET_CHILD=deno", bun, "bench/ipc_peers/unix_socket.ts", "roundtrip"],
      // Node (koffi, Node 26): Node<->Node against Node's own socket, and a Node parent with a Bun child.
      [node, "bench/chan.node.ts", "roundtrip", "22000"],
      [node, "bench/ipc_peers/unix_socket_node.ts", "roundtrip"],
      [
        `CHAN_CHILD=${JSON.stringify([bun, "bench/chan.bun.ts"])}`,
        "CHAN_CHILD_LABEL=Bun",
        node,
        "bench/chan.node.ts",
        "roundtrip",
        "22000",
      ],
    ],
  },
  {
    name: "process",
    title: "Processes",
    method: 'isolate: `await isolate(module, "times10", 7)` one call at a time, 3 warm-up calls then 30 timed; ' +
      "median and p90 ms per call. Each call starts a fresh runtime that loads libipc, imports the module and answers " +
      "through a memfd Duplex (msgpack). The peer, interleaved call by call in the same process: the same runtime (Deno " +
      "with --allow-all, as isolate runs it) started on a script that imports the same module and prints the result, " +
      "read from its stdout; started with node:child_process spawn (what isolate uses) and, from Bun, Bun.spawn. " +
      "Maps: one process per row; every contender has 2 workers (the machine has 2 CPUs), started and warmed by a " +
      "first map of 2 chunks per worker; only the second map is timed, from the call to its last result, and its " +
      "results are checked at 64 sampled indices. Workloads (bench/process_work.ts): 1 000 000 numbers through a few " +
      "integer operations, chunks of 512; 2 000 Uint8Array of 64 KiB (131 MB) summed, chunks of 8; 10 000 " +
      "allocation-heavy items (each builds 200 records of an object, a string and a two-string array, groups them " +
      "in a Map and serializes 20 to JSON: about 800 small allocations, 50–75 µs serially), chunks of 32. libipc " +
      "Pool: worker processes of the same runtime; each chunk and its results cross as msgpack through one memfd " +
      "Duplex per worker (a chunk of numbers as one Float64Array), and a worker holds at most 2 chunks (the one it " +
      "runs and the next); for the byte arrays also with the items made in one shared segment (before the clock starts, as " +
      "every contender's items are) and only indices in the tasks. Peers: Web " +
      "Workers fed one postMessage per chunk (structured clone), at most 2 chunks in flight per worker; for the byte " +
      "arrays also with their buffers transferred (zero-copy; the parent's arrays end up detached); from Bun, " +
      "Bun.spawn children with ipc (advanced serialization, process.send), dispatched the same way; and the " +
      "function mapped on the main thread (serial). Higher is better for the maps.",
    jobs: [
      [bun, "bench/process.bun.ts", "isolate"],
      [...denoRun, "bench/process.deno.ts", "isolate"],
      ...processMapJobs(),
    ],
  },
  {
    name: "windows",
    title: "Windows, under Wine (not comparable with native Windows)",
    method:
      "libipc built for x86_64-windows-gnu (bench/windows.c, `zig build wintest`) and run under Debian's wine64 " +
      "on this Linux machine; the peers are Win32's own cross-process objects in the same program. Under Wine every " +
      "Win32 wait, release and kernel-object call is a round trip to the wineserver process, so these rows compare " +
      "libipc's Windows backend with Win32 under Wine and say nothing about native Windows (neither absolute times " +
      "nor ratios). Uncontended: 2 M ipc_mutex_lock+unlock pairs after 200 k warm-up ones; the peer a named Win32 " +
      "mutex (abandoned when its holder dies: Windows' robust lock), WaitForSingleObject+ReleaseMutex, 100 k pairs. " +
      "Round trip: 16 bytes to a child process and back, 20 000 rounds through two libipc Chans in a named segment; " +
      "the peer two anonymous pipes inherited by the child, 5 000 rounds. Semaphore ping-pong: a token passed back " +
      "and forth between two processes, 20 000 rounds through two libipc Semaphores; the peer two named Win32 " +
      "semaphores, 5 000 rounds. QueryPerformanceCounter around each round; the first 10% dropped, p50 and p99 of " +
      "the rest.",
    jobs: ["uncontended", "roundtrip", "semaphore"].map((c) => [
      "WINEDEBUG=-all",
      "WINE",
      "zig-out/wintest/ipc-bench-windows.exe",
      c,
    ]),
  },
];

/** The process group's map jobs: for each workload, every Bun contender, then every Deno one. */
function processMapJobs(): string[][] {
  return ["small", "large", "gc"].flatMap((w) => {
    const workers = w === "large" ? ["workers", "workers-transfer"] : ["workers"];
    const pools = w === "large" ? ["pool", "pool-shared"] : ["pool"];
    return [
      ...[...pools, ...workers, "ipc", "serial"].map((c) => [bun, "bench/process.bun.ts", "map", w, c]),
      ...[...pools, ...workers, "serial"].map((c) => [...denoRun, "bench/process.deno.ts", "map", w, c]),
    ];
  });
}

/**
 * Jobs that run `ipc-bench-mutex handoff` with each waiter; the case name travels in HANDOFF_CASE. With
 * `env` = `owner`, the driver and the waiters use the owner-recording build.
 */
function handoffJobs(
  caseName: string,
  gapNs: number,
  rounds: number,
  waiters: string[][],
  env: string[] = [],
): string[][] {
  return waiters.map((w) => [
    ...env,
    `HANDOFF_CASE=${caseName}`,
    env.length > 0 ? `${ownerOut}/bin/ipc-bench-mutex` : "zig-out/bin/ipc-bench-mutex",
    "handoff",
    String(gapNs),
    String(rounds),
    "--",
    ...w,
  ]);
}

interface Row {
  case: string;
  tool: string;
  unit: string;
  values: number[];
  peer?: boolean;
  note?: string;
}

interface GroupResult {
  name: string;
  title: string;
  method: string;
  measuredAt: string;
  reps: number;
  rows: Row[];
}

/** Runs one job: argv, after leading NAME=value environment entries. */
function runJob(job: string[]): Measurement[] {
  const env = { ...process.env };
  let argv = job;
  while (/^[A-Z_]+=/.test(argv[0])) {
    const [key, ...value] = argv[0].split("=");
    env[key] = value.join("=");
    argv = argv.slice(1);
  }
  const result = spawnSync(argv[0], argv.slice(1), { cwd: root, env, encoding: "utf8", timeout: 10 * 60_000 });
  if (result.status !== 0) {
    throw new Error(`${argv.join(" ")} failed (${result.status ?? result.signal}):\n${result.stderr}`);
  }
  const measured: Measurement[] = result.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line)
  );
  const suffix = env.BENCH_TOOL_SUFFIX;
  if (suffix === undefined) return measured;
  return measured.filter((m) => !m.peer).map((m) => ({ ...m, tool: `${m.tool}${suffix}` }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function fmt(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** One CPU-bound busy process per CPU, for the groups measured under load; returns their killer. */
function startBurners(): () => void {
  const burners = cpus().map(() => spawn(bun, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  return () => {
    for (const b of burners) b.kill("SIGKILL");
  };
}

function measure(group: Group, reps: number): GroupResult {
  const rows = new Map<string, Row>();
  for (let rep = 1; rep <= reps; rep++) {
    for (const job of group.jobs) {
      process.stderr.write(`bench ${group.name} ${rep}/${reps}: ${job.slice(-2).join(" ")}\n`);
      const stopBurners = group.load ? startBurners() : () => {};
      let measured: Measurement[];
      try {
        measured = runJob(job);
      } finally {
        stopBurners();
      }
      for (const m of measured) {
        if (group.load) m.case = m.case.replace("round trip,", "round trip under load,");
        const key = `${m.case}\u0000${m.tool}`;
        const row = rows.get(key) ??
          { case: m.case, tool: m.tool, unit: m.unit, values: [], peer: m.peer, note: m.note };
        row.values.push(m.value);
        rows.set(key, row);
      }
    }
  }
  return {
    name: group.name,
    title: group.title,
    method: group.method,
    measuredAt: new Date().toISOString(),
    reps,
    rows: [...rows.values()],
  };
}

function version(argv: string[]): string {
  const out = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return (out.stdout || out.stderr || "").split("\n")[0].trim();
}

function environment(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const zig = version(["node", `${root}/scripts/zig.mjs`, "version"]);
  return [
    "| item | value |",
    "|---|---|",
    `| CPU | ${cpu} × ${cpus().length} |`,
    `| kernel | Linux ${release()} |`,
    `| Bun | ${version([bun, "--version"])} |`,
    `| Deno | ${version([deno, "--version"])} |`,
    `| Zig | ${zig} (libipc built ReleaseSafe) |`,
  ].join("\n");
}

function table(result: GroupResult): string {
  const ratioTo = groups.find((g) => g.name === result.name)?.ratioTo;
  const lines = [
    `## ${result.title}`,
    "",
    `${result.method} Repeats: ${result.reps} processes per row; measured ${result.measuredAt.slice(0, 16)} UTC.`,
    "",
    "| case | tool | unit | min | median | max | vs peer | notes |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const cases = [...new Set(result.rows.map((r) => r.case))];
  for (const c of cases) {
    const rows = result.rows.filter((r) => r.case === c);
    const peers = rows.filter((r) => r.peer);
    for (const row of rows) {
      const med = median(row.values);
      // The peer between the same runtimes ("C<->C", "Bun<->Deno" in both names), else the same first word.
      const pairOf = (tool: string) => /\b(\w+<->\w+)\b/.exec(tool)?.[1];
      const peer = peers.find((p) => pairOf(p.tool) !== undefined && pairOf(p.tool) === pairOf(row.tool)) ??
        peers.find((p) => p.tool.split(" ")[0] === row.tool.split(" ")[0]) ?? peers[0];
      let ratio = row.peer || peer === undefined ? "" : `${(med / median(peer.values)).toFixed(2)}×`;
      if (ratioTo !== undefined && !row.peer) {
        ratio = ratioTo.flatMap((word) => {
          const p = peers.find((q) => q.tool.includes(word));
          return p === undefined ? [] : [`${(med / median(p.values)).toFixed(2)}× ${word}`];
        }).join(", ");
      }
      const values = [Math.min(...row.values), med, Math.max(...row.values)].map(fmt);
      lines.push(
        `| ${c} | ${row.tool}${row.peer ? " (peer)" : ""} | ${row.unit} | ${values.join(" | ")} | ${ratio} | ${
          row.note ?? ""
        } |`,
      );
    }
  }
  return lines.join("\n");
}

const wanted = process.argv.slice(2);
const reps = Number(process.env.BENCH_REPS ?? 5);
const build = spawnSync("node", [`${root}/scripts/zig.mjs`, "build", "install", "helpers"], {
  cwd: root,
  stdio: "inherit",
});
if (build.status !== 0) process.exit(1);
if (wanted.length === 0 || wanted.includes("mutex")) {
  const ownerBuild = spawnSync("node", [
    `${root}/scripts/zig.mjs`,
    "build",
    "install",
    "helpers",
    "-Dmutex=owner",
    "--prefix",
    `${root}/${ownerOut}`,
  ], { cwd: root, stdio: "inherit" });
  if (ownerBuild.status !== 0) process.exit(1);
}

/**
 * The heap group's peers and its Lua program, built with the pinned Zig's compilers against Debian's
 * packages, which scripts/debs.mjs fetches and unpacks into .debs/root (nothing is installed on the
 * system): Boost.Interprocess's headers, jemalloc (static), mimalloc (shared, found through the
 * program's run path) and Lua 5.4 (static). Returns the programs that could not be built; their
 * jobs are left out.
 */
function prepareHeapPeers(): string[] {
  const packages = [
    "libboost1.74-dev",
    "libjemalloc-dev",
    "libjemalloc2",
    "libmimalloc-dev",
    "libmimalloc2.0",
    "liblua5.4-dev",
  ];
  const fetched = spawnSync("node", [`${root}/scripts/debs.mjs`, ...packages], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const programs = ["boost", "glibc", "jemalloc", "mimalloc", "lua"].map((p) => `zig-out/bin/ipc-bench-heap-${p}`);
  if (fetched.status !== 0) return programs;
  const deb = fetched.stdout.trim();
  const include = `${deb}/usr/include`;
  const lib = `${deb}/usr/lib/x86_64-linux-gnu`;
  const out = (name: string) => ["-o", `${root}/zig-out/bin/ipc-bench-heap-${name}`];
  const cc = ["node", `${root}/scripts/zig.mjs`, "cc", "-O2", "-std=gnu11", `-I${root}/bench`];
  const builds: Record<string, string[]> = {
    boost: [
      "node",
      `${root}/scripts/zig.mjs`,
      "c++",
      "-O2",
      "-std=c++17",
      "-w",
      `-I${include}`,
      `${root}/bench/heap_boost.cpp`,
      ...out("boost"),
      "-lpthread",
      "-lrt",
    ],
    glibc: [...cc, "-DPEER_GLIBC", `${root}/bench/heap_peers.c`, ...out("glibc")],
    // Debian's libjemalloc.a replaces malloc/free; its profiler wants an unwinder (Zig's libunwind).
    jemalloc: [
      ...cc,
      "-DPEER_JEMALLOC",
      `${root}/bench/heap_peers.c`,
      `${lib}/libjemalloc.a`,
      "-lpthread",
      "-ldl",
      "-lm",
      "-lunwind",
      ...out("jemalloc"),
    ],
    // Debian ships mimalloc as a shared library only: linked by path, found at run time by the run path.
    mimalloc: [
      ...cc,
      "-DPEER_MIMALLOC",
      `${root}/bench/heap_peers.c`,
      `${lib}/libmimalloc.so.2`,
      `-Wl,-rpath,${lib}`,
      ...out("mimalloc"),
    ],
    lua: [
      ...cc,
      `-I${root}/zig`,
      `-I${include}/lua5.4`,
      `-I${include}/x86_64-linux-gnu`,
      `${root}/bench/heap_lua.c`,
      `${lib}/liblua5.4.a`,
      `${root}/zig-out/lib/libipc.a`,
      "-lm",
      "-ldl",
      "-lpthread",
      ...out("lua"),
    ],
  };
  return Object.entries(builds).flatMap(([name, argv]) => {
    const built = spawnSync(argv[0], argv.slice(1), { stdio: "inherit" });
    return built.status === 0 ? [] : [`zig-out/bin/ipc-bench-heap-${name}`];
  });
}

if (wanted.length === 0 || wanted.includes("heap")) {
  const missing = prepareHeapPeers();
  if (missing.length > 0) {
    process.stderr.write(`bench heap: could not build ${missing.join(", ")}; their rows are left out\n`);
    const heap = groups.find((g) => g.name === "heap")!;
    heap.jobs = heap.jobs.filter((job) => !missing.includes(job[0]));
  }
}

/** Groups that cannot run here this time; their stored results stay as they are. */
const skipped = new Set<string>();
if (wanted.length === 0 || wanted.includes("windows")) {
  const windows = groups.find((g) => g.name === "windows")!;
  const wine: string | undefined = findWine();
  const built = wine === undefined ? undefined : spawnSync("node", [`${root}/scripts/zig.mjs`, "build", "wintest"], {
    cwd: root,
    stdio: "inherit",
  });
  if (wine === undefined || built?.status !== 0) {
    process.stderr.write(
      wine === undefined
        ? "bench windows: no wine64 (node scripts/test.mjs wine installs it); the group is left out\n"
        : "bench windows: zig build wintest failed; the group is left out\n",
    );
    skipped.add(windows.name);
  } else {
    windows.jobs = windows.jobs.map((job) => job.map((arg) => arg === "WINE" ? wine : arg));
  }
}

const resultsDir = `${root}/bench/results`;
mkdirSync(resultsDir, { recursive: true });
for (const group of groups) {
  if ((wanted.length > 0 && !wanted.includes(group.name)) || skipped.has(group.name)) continue;
  writeFileSync(`${resultsDir}/${group.name}.json`, JSON.stringify(measure(group, reps), null, 2) + "\n");
}

const stored = readdirSync(resultsDir)
  .filter((f) => f.endsWith(".json"))
  .map((f) => JSON.parse(readFileSync(`${resultsDir}/${f}`, "utf8")) as GroupResult)
  .sort((a, b) => groups.findIndex((g) => g.name === a.name) - groups.findIndex((g) => g.name === b.name));

const markdown = [
  "# libipc benchmark results",
  "",
  "Generated by `npm run bench` (bench/run.ts) from bench/results/*.json; do not edit by hand. Each row is",
  'the min / median / max over separate process runs; "vs peer" divides the row\'s median by the median of',
  "the peer row of the same case and runtime, measured in the same run. Lower is better for times (ns, us,",
  "ms), higher for rates (per second).",
  "",
  environment(),
  "",
  ...stored.map(table).flatMap((t) => [t, ""]),
].join("\n");
writeFileSync(`${root}/bench/RESULTS.md`, markdown);
console.log(markdown);
