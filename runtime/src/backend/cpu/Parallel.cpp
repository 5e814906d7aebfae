//===- Parallel.cpp - the CPU kernels' worker threads ---------------------===//
#include "backend/cpu/Parallel.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace locus::rt::cpu {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

int defaultThreads() {
  if (const char *env = std::getenv("LOCUS_CPU_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1)
      return n;
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1)
      return n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n >= 1 ? static_cast<int>(n) : 1;
}

bool &insideJobFlag();

/// A job's iterations are claimed through one 64-bit word, (generation << 32)
/// | next index, so a worker that wakes after its job ended (the generation
/// moved on) can never claim an iteration of the next one with a stale body.
class Pool {
public:
  explicit Pool(int threads) {
    for (int t = 1; t < threads; ++t)
      workers_.emplace_back([this] { workerLoop(); });
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void run(int64_t count, void (*body)(void *, int64_t), void *ctx) {
    std::lock_guard<std::mutex> serial(runMutex_); // one job at a time
    const uint64_t gen = (generation_.load(std::memory_order_relaxed) + 1) & 0xffffffffu;
    body_.store(body, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(gen << 32, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.store(gen, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0)
      wake_.notify_all();
    work(gen);
    // Wait for iterations other threads still run. A worker preempted on a
    // busy machine may need this core to finish: yield after a short spin.
    for (int spin = 0; done_.load(std::memory_order_acquire) < count; ++spin) {
      if (spin < 2000)
        cpuRelax();
      else
        std::this_thread::yield();
    }
  }

private:
  /// Claims and runs iterations of job `gen` until none is left.
  void work(uint64_t gen) {
    for (;;) {
      void (*body)(void *, int64_t) = body_.load(std::memory_order_relaxed);
      void *ctx = ctx_.load(std::memory_order_relaxed);
      const int64_t count = count_.load(std::memory_order_relaxed);
      uint64_t cur = claim_.load(std::memory_order_acquire);
      int64_t index;
      for (;;) {
        if ((cur >> 32) != gen)
          return;
        index = static_cast<int64_t>(cur & 0xffffffffu);
        if (index >= count)
          return;
        if (claim_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel))
          break;
      }
      // The claim succeeded under `gen`, so body, ctx and count were that
      // job's (they change only after all its iterations are done).
      body(ctx, index);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void workerLoop() {
    insideJobFlag() = true;
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      // Spin briefly: kernels often come in quick succession.
      uint64_t gen = seen;
      for (int spin = 0; spin < 4000 && gen == seen; ++spin) {
        cpuRelax();
        gen = generation_.load(std::memory_order_acquire);
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_acq_rel);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_acq_rel);
        gen = generation_.load(std::memory_order_acquire);
      }
      seen = gen;
      work(gen);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex runMutex_, mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> count_{0}, done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<void (*)(void *, int64_t)> body_{nullptr};
  std::atomic<void *> ctx_{nullptr};
};

/// Never destroyed: its threads sleep through exit, and a kernel called from
/// another static's destructor still finds it.
Pool &pool() {
  static Pool *instance = new Pool(parallelThreads());
  return *instance;
}

thread_local bool insideJob = false;
bool &insideJobFlag() { return insideJob; }

} // namespace

int parallelThreads() {
  static const int threads = defaultThreads();
  return threads;
}

void parallelRun(int64_t count, void (*body)(void *, int64_t), void *ctx) {
  // Nested loops (a body that calls parallelFor) and huge counts run serially.
  if (insideJob || count >= (int64_t(1) << 31)) {
    for (int64_t i = 0; i < count; ++i)
      body(ctx, i);
    return;
  }
  insideJob = true;
  pool().run(count, body, ctx);
  insideJob = false;
}

} // namespace locus::rt::cpu
