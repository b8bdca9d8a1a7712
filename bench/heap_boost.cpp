// The peer of bench/heap.c in shared memory: Boost.Interprocess managed_shared_memory
// (rbtree_best_fit + a mutex), the workloads of bench/heap_work.h. Built only for the benchmark
// (bench/run.ts fetches Debian's libboost headers with scripts/debs.mjs and compiles this with the
// pinned Zig's clang++).
//   ipc-bench-heap-boost <64|mixed> <processes> [ops per process]
//   ipc-bench-heap-boost fragmentation <mixed|wide> [ops]    one random workload in a fresh 1 GiB segment
//       (resident set growth only: Boost keeps no count of pages)
#include <boost/interprocess/managed_shared_memory.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "heap_work.h"

namespace bip = boost::interprocess;

static const char *const tool = "C++ Boost.Interprocess managed_shared_memory";

static void work(bip::managed_shared_memory &segment, long ops, bool mixed, uint64_t seed) {
  void *blocks[1000];
  uint64_t state = seed;
  for (long done = 0; done < ops; done += 2000) {
    for (int i = 0; i < 1000; i++) blocks[i] = segment.allocate(bench_next_size(&state, mixed));
    for (int i = 0; i < 1000; i++) segment.deallocate(blocks[i]);
  }
}

static bip::managed_shared_memory *measured;

static void *boost_alloc(size_t size) { return measured->allocate(size, std::nothrow); }
static void boost_release(void *p) { measured->deallocate(p); }

static int fragmentation(int wide, long ops) {
  // Boost has no pages to count (get_free_memory() sees only the bytes handed out): its resident
  // set growth is the one measure it shares with the others.
  static const bench_allocator boost = {tool, 1, boost_alloc, boost_release, nullptr, ""};
  {
    std::string name = "ipc-bench-boost-frag-" + std::to_string(getpid());
    bip::shared_memory_object::remove(name.c_str());
    {
      bip::managed_shared_memory segment(bip::create_only, name.c_str(), 1UL << 30);
      measured = &segment;
      bench_random(&boost, wide, ops);
    }
    bip::shared_memory_object::remove(name.c_str());
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && std::strcmp(argv[1], "fragmentation") == 0)
    return fragmentation(std::strcmp(argv[2], "wide") == 0, argc > 3 ? std::atol(argv[3]) : 5000000);
  if (argc < 3) {
    std::fprintf(stderr, "usage: ipc-bench-heap-boost <64|mixed> <processes> [ops] | fragmentation <mixed|wide> [ops]\n");
    return 64;
  }
  bool mixed = std::strcmp(argv[1], "mixed") == 0;
  int processes = std::atoi(argv[2]);
  long ops = argc > 3 ? std::atol(argv[3]) : (mixed ? 4000000 : 20000000);
  if (processes < 1 || processes > 64) return 64;
  std::string name = "ipc-bench-boost-" + std::to_string(getpid());
  bip::shared_memory_object::remove(name.c_str());
  {
    bip::managed_shared_memory segment(bip::create_only, name.c_str(), 1UL << 30);
    auto *go = segment.construct<std::atomic<int>>("go")(0);
    work(segment, ops / 20, mixed, 99);
    pid_t pids[64];
    for (int p = 0; p < processes; p++) {
      pids[p] = fork();
      if (pids[p] == 0) {
        bip::managed_shared_memory child(bip::open_only, name.c_str());
        auto *flag = child.find<std::atomic<int>>("go").first;
        while (flag->load(std::memory_order_acquire) == 0) {
        }
        work(child, ops, mixed, static_cast<uint64_t>(p) + 1);
        _exit(0);
      }
    }
    uint64_t start = bench_now_ns();
    go->store(1, std::memory_order_release);
    for (int p = 0; p < processes; p++) waitpid(pids[p], nullptr, 0);
    static const bench_allocator boost = {tool, 1, nullptr, nullptr, nullptr, ""};
    bench_print_rounds(&boost, mixed, processes, ops, bench_now_ns() - start);
  }
  bip::shared_memory_object::remove(name.c_str());
  return 0;
}
