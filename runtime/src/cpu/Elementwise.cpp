//===- Elementwise.cpp - relu, triangle ---------------------------------===//
#include "locus/runtime/cpu/Kernels.h"

#include "cpu/Parallel.h"

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

} // namespace locus::rt::cpu
