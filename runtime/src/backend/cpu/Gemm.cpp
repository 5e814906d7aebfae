//===- Gemm.cpp - SGEMM split over the runtime's worker threads -----------===//
//
// OpenBLAS runs single-threaded and the runtime's pool splits each large GEMM
// into column (or row) panels instead. With OpenBLAS's own threads, its
// workers spun in sched_yield while our pool ran the element-wise kernels and
// ours spun while it ran GEMMs: on 2 cores that cost ~10% of a training step
// (perf, Fashion-MNIST net). One pool for everything removes the contention,
// and a GEMM called from inside a pool job (the Winograd convolution's
// per-position products) runs serially on that worker, as it should.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/BlasSetup.h"
#include "backend/cpu/Parallel.h"

#include <cblas.h>

#include <algorithm>

namespace locus::rt::cpu {

namespace {

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
           const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
           int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

} // namespace

void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
          const float *a, const float *b, float beta, float *c) {
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) {
    // BLAS leaves C untouched when k = 0 only if beta = 1; make the result
    // explicit: C = beta * C.
    for (int64_t i = 0; i < m * n; ++i)
      c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  blasSetup();
  const int64_t lda = transA ? m : k, ldb = transB ? k : n;
  const int64_t threads = parallelThreads();
  // Below ~0.5 MFLOP (~10 us on one core) waking the workers costs more than
  // it saves. The per-sample GEMMs of a first layer (K = 9 for one input
  // channel, 1.8 MFLOP) must still split, or that layer runs on one core.
  const bool split = threads > 1 && 2 * m * n * k >= (int64_t(1) << 19);
  if (!split) {
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
    return;
  }
  // Panels of the wider side of C, multiples of 16 so OpenBLAS's micro-kernel
  // tiles stay whole; one per thread (each panel repacks the other operand).
  const bool byColumns = n >= m;
  const int64_t side = byColumns ? n : m;
  const int64_t panel = std::max<int64_t>(16, (side / threads + 15) / 16 * 16);
  const int64_t panels = (side + panel - 1) / panel;
  parallelFor(panels, true, [&](int64_t p) {
    const int64_t lo = p * panel, len = std::min(side, lo + panel) - lo;
    if (byColumns) {
      const float *bp = transB ? b + lo * ldb : b + lo;
      sgemm(transA, transB, m, len, k, alpha, a, lda, bp, ldb, beta, c + lo, n);
    } else {
      const float *ap = transA ? a + lo : a + lo * lda;
      sgemm(transA, transB, len, n, k, alpha, ap, lda, b, ldb, beta, c + lo * n, n);
    }
  });
}

} // namespace locus::rt::cpu
