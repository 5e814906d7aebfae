//===- PoolRows.h - one output row of a 2x2 stride-2 max-pool ---*- C++ -*-===//
//
// Shared by the max-pool kernels (Pool.cpp) and the fused conv + relu +
// max-pool (ConvReluPool.cpp), so both take the same element of a window:
// scanning (0,0), (0,1), (1,0), (1,1), a candidate wins when it is greater
// or NaN.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_POOLROWS_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_POOLROWS_H

#include "backend/cpu/Simd.h"

#include <cmath>
#include <cstdint>

namespace locus::rt::cpu {

inline bool better(float v, float best) { return v > best || std::isnan(v); }

/// Outputs [ox0, ox1) of one row; r0, r1 are the window's two input rows,
/// base the index recorded for r0[0] and iw the input row length.
inline void maxPoolRow2x2(const float *r0, const float *r1, int64_t ox0, int64_t ox1,
                          int64_t base, int64_t iw, bool relu, float *y, int32_t *am) {
  for (int64_t ox = ox0; ox < ox1; ++ox) {
    const int64_t c0 = 2 * ox;
    float best = r0[c0];
    int64_t at = c0;
    if (better(r0[c0 + 1], best)) {
      best = r0[c0 + 1];
      at = c0 + 1;
    }
    if (better(r1[c0], best)) {
      best = r1[c0];
      at = iw + c0;
    }
    if (better(r1[c0 + 1], best)) {
      best = r1[c0 + 1];
      at = iw + c0 + 1;
    }
    y[ox] = relu ? (best > 0.0f ? best : 0.0f) : best;
    am[ox] = static_cast<int32_t>(base + at);
  }
}

#if defined(LOCUS_HAVE_X86)
/// Where candidate v wins (greater, or NaN), best = v and offset = o.
LOCUS_AVX2 inline void takeIfBetter(__m256 v, int32_t o, __m256 &best, __m256 &offset) {
  const __m256 win =
      _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  best = _mm256_blendv_ps(best, v, win);
  offset = _mm256_blendv_ps(offset, _mm256_castsi256_ps(_mm256_set1_epi32(o)), win);
}

/// maxPoolRow2x2 on outputs [ox0, ox0 + 8). relu clamps the maxima at 0
/// (NaN too, as `h > 0 ? h : 0`).
LOCUS_AVX2 inline void maxPoolRow2x2Avx2(const float *r0, const float *r1, int64_t ox0,
                                         int32_t base, int32_t iw, bool relu, float *y,
                                         int32_t *am) {
  __m256 a, b, c, d;
  deinterleave(r0 + 2 * ox0, a, b);
  deinterleave(r1 + 2 * ox0, c, d);
  __m256 best = a;
  __m256 offset = _mm256_setzero_ps(); // int32 lanes carried in float registers
  takeIfBetter(b, 1, best, offset);
  takeIfBetter(c, iw, best, offset);
  takeIfBetter(d, iw + 1, best, offset);
  if (relu)
    best = _mm256_max_ps(best, _mm256_setzero_ps()); // max_ps returns 0 for NaN
  const __m256i lanes2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i at =
      _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(base + static_cast<int32_t>(2 * ox0)),
                                        lanes2),
                       _mm256_castps_si256(offset));
  _mm256_storeu_ps(y + ox0, best);
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(am + ox0), at);
}
#endif

} // namespace locus::rt::cpu

#endif
