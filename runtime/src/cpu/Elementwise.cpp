//===- Elementwise.cpp - relu, triangle, GEMM -----------------------------===//
#include "locus/runtime/cpu/Kernels.h"

#include "cpu/Parallel.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace locus::rt::cpu {

namespace {
constexpr int64_t kChunk = 1 << 14; // floats per parallel chunk of a flat loop

template <typename Fn> void chunked(int64_t count, Fn &&fn) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallelFor(chunks, chunks >= 4, [&](int64_t ci) {
    const int64_t lo = ci * kChunk, hi = std::min(count, lo + kChunk);
    fn(lo, hi);
  });
}
} // namespace

void reluForward(const float *x, float *y, int64_t count) {
  chunked(count, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  });
}

void reluBackward(const float *y, const float *dy, float *dx, int64_t count) {
  chunked(count, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  });
}

void triangleForward(const float *x, Shape4 xs, float *y) {
  const int64_t c = xs.c, p = xs.plane();
  if (c == 0)
    return;
  const float inv = 1.0f / static_cast<float>(c);
  parallelFor(xs.n, xs.count() >= (1 << 16), [&](int64_t n) {
    const float *xn = x + n * c * p;
    float *yn = y + n * c * p;
    // Mean over channels per location, accumulated plane by plane (contiguous).
    std::vector<float> mean(static_cast<size_t>(p), 0.0f);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < p; ++q)
        mean[q] += xn[ch * p + q];
    for (int64_t q = 0; q < p; ++q)
      mean[q] *= inv;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < p; ++q) {
        const float v = xn[ch * p + q] - mean[q];
        yn[ch * p + q] = v > 0.0f ? v : 0.0f;
      }
  });
}

void triangleBackward(const float *x, Shape4 xs, const float *dy, float *dx) {
  const int64_t c = xs.c, p = xs.plane();
  if (c == 0)
    return;
  const float inv = 1.0f / static_cast<float>(c);
  parallelFor(xs.n, xs.count() >= (1 << 16), [&](int64_t n) {
    const float *xn = x + n * c * p;
    const float *dyn = dy + n * c * p;
    float *dxn = dx + n * c * p;
    std::vector<float> mean(static_cast<size_t>(p), 0.0f), tsum(static_cast<size_t>(p), 0.0f);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < p; ++q)
        mean[q] += xn[ch * p + q];
    for (int64_t q = 0; q < p; ++q)
      mean[q] *= inv;
    // t = dy * 1[x - mean > 0]; dx = t - mean_c t. dx may alias dy: t is
    // written into dx first, then corrected.
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < p; ++q) {
        const float t = xn[ch * p + q] - mean[q] > 0.0f ? dyn[ch * p + q] : 0.0f;
        dxn[ch * p + q] = t;
        tsum[q] += t;
      }
    for (int64_t q = 0; q < p; ++q)
      tsum[q] *= inv;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < p; ++q)
        dxn[ch * p + q] -= tsum[q];
  });
}

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
  const int lda = static_cast<int>(transA ? m : k);
  const int ldb = static_cast<int>(transB ? k : n);
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, lda, b, ldb,
              beta, c, static_cast<int>(n));
}

} // namespace locus::rt::cpu
