//===- Parallel.h - loop helpers shared by the CPU kernels ------*- C++ -*-===//
//
// parallelFor(count, enable, fn) runs fn(i) for i in [0, count), on the
// runtime's worker threads when `enable` (enough work to pay for waking them)
// and serially otherwise. Iterations are handed out one at a time, so a worker
// that wakes late (the machine is shared, or OpenBLAS's own threads still hold
// the other core) costs nothing: the calling thread takes what is left.
//
// Not OpenMP: libgomp's workers spin for milliseconds after each region, and
// OpenBLAS's workers spin after each GEMM; mixed, they halved the convolutions'
// speed on two cores. These workers spin ~50 us, then sleep on a condition
// variable. LOCUS_CPU_THREADS sets the thread count (default: the CPUs this
// process may run on); 1 turns the pool off.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_PARALLEL_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_PARALLEL_H

#include <cstdint>
#include <type_traits>

namespace locus::rt::cpu {

/// Threads parallelFor uses (the caller included).
int parallelThreads();

/// Runs body(ctx, i) for i in [0, count) on the pool; returns when all are done.
void parallelRun(int64_t count, void (*body)(void *, int64_t), void *ctx);

template <typename Fn> inline void parallelFor(int64_t count, bool enable, Fn &&fn) {
  if (!enable || count <= 1 || parallelThreads() <= 1) {
    for (int64_t i = 0; i < count; ++i)
      fn(i);
    return;
  }
  using F = std::remove_reference_t<Fn>;
  parallelRun(
      count, [](void *ctx, int64_t i) { (*static_cast<F *>(ctx))(i); },
      const_cast<void *>(static_cast<const void *>(&fn)));
}

/// Sum of n floats with eight float partial sums (vectorisable without
/// -ffast-math), returned in double.
inline double sumFloats(const float *x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l)
      acc[l] += x[i + l];
  double total = 0.0;
  for (int l = 0; l < 8; ++l)
    total += acc[l];
  for (; i < n; ++i)
    total += x[i];
  return total;
}

} // namespace locus::rt::cpu

#endif
