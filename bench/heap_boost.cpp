// The peer of bench/heap.c: Boost.Interprocess managed_shared_memory (rbtree_best_fit + a mutex),
// the same loop and op definition. Built only for the benchmark (bench/run.ts fetches Debian's
// libboost headers into .boost/ and compiles this with the pinned Zig's clang++).
//   ipc-bench-heap-boost <64|mixed> <processes> [ops per process]
#include <boost/interprocess/managed_shared_memory.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bip = boost::interprocess;

static uint64_t next_size(uint64_t *state, bool mixed) {
  if (!mixed) return 64;
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t r = *state >> 33;
  if (r % 8 != 0) return 16 + r % 1009;
  return 16 + r % 65521;
}

static void work(bip::managed_shared_memory &segment, long ops, bool mixed, uint64_t seed) {
  void *blocks[1000];
  uint64_t state = seed;
  for (long done = 0; done < ops; done += 2000) {
    for (int i = 0; i < 1000; i++) blocks[i] = segment.allocate(next_size(&state, mixed));
    for (int i = 0; i < 1000; i++) segment.deallocate(blocks[i]);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ipc-bench-heap-boost <64|mixed> <processes> [ops]\n");
    return 64;
  }
  bool mixed = std::strcmp(argv[1], "mixed") == 0;
  int processes = std::atoi(argv[2]);
  long ops = argc > 3 ? std::atol(argv[3]) : (mixed ? 4000000 : 20000000);
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
    auto start = std::chrono::steady_clock::now();
    go->store(1, std::memory_order_release);
    for (int p = 0; p < processes; p++) waitpid(pids[p], nullptr, 0);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "{\"case\":\"heap malloc+free %s, %d process%s\",\"tool\":\"C++ Boost.Interprocess managed_shared_memory\","
        "\"unit\":\"Mops/s\",\"value\":%.3f,\"peer\":true}\n",
        mixed ? "mixed 16 B-64 KiB" : "64 B", processes, processes == 1 ? "" : "es",
        static_cast<double>(ops) * processes / seconds / 1e6);
  }
  bip::shared_memory_object::remove(name.c_str());
  return 0;
}
