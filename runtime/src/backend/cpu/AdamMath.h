//===- AdamMath.h - the AdamW element update --------------------*- C++ -*-===//
//
// PyTorch's single-tensor AdamW on float32, operation by operation:
//   p *= 1 - lr wd;  m = m.lerp(g, 1 - b1);  v = v * b2 + (1 - b2) g g;
//   denom = sqrt(v) / sqrt(bc2) + eps;  p += -(lr / bc1) * (m / denom).
// Shared by AdamW::step and the fused rank-k update of Blocked.cpp. The
// moments are float32 or bfloat16 (stored with stochastic rounding); the
// arithmetic is float32 either way.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_ADAMMATH_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_ADAMMATH_H

#include "locus/runtime/backend/cpu/Optimizer.h"

#include "backend/cpu/Simd.h"
#include "backend/cpu/StochasticRounding.h"

#include <cmath>
#include <cstdint>

namespace locus::rt::cpu {

struct AdamCoefficients {
  float decay, w1, b1, b2, c2, negStep, bc2Sqrt, eps;
  /// bc2Sqrt is 1.0f (from about step 16,600 with beta2 = 0.999): the vector
  /// updates skip that division, which is exact (x / 1 == x) and spares one
  /// of the two divisions a vector for the rest of a run.
  bool bc2Unit;
  bool lerpLow, doDecay;
  uint32_t key = 0; ///< bfloat16 moments: this step's rounding key
};

inline AdamCoefficients adamCoefficients(const AdamW &opt, int64_t t) {
  const double bc1 = 1.0 - std::pow(opt.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(opt.beta2, static_cast<double>(t));
  AdamCoefficients k;
  k.decay = static_cast<float>(1.0 - opt.lr * opt.weightDecay);
  k.w1 = static_cast<float>(1.0 - opt.beta1);
  k.b1 = static_cast<float>(opt.beta1);
  k.b2 = static_cast<float>(opt.beta2);
  k.c2 = static_cast<float>(1.0 - opt.beta2);
  k.negStep = static_cast<float>(-(opt.lr / bc1));
  k.bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  k.bc2Unit = k.bc2Sqrt == 1.0f;
  k.eps = static_cast<float>(opt.eps);
  k.lerpLow = std::fabs(k.w1) < 0.5f; // torch's lerp: start + w (end - start) for |w| < 0.5
  k.doDecay = opt.weightDecay != 0.0;
  return k;
}

inline AdamCoefficients adamCoefficients(const AdamW &opt, int64_t t,
                                         const AdamMoments &moments) {
  AdamCoefficients k = adamCoefficients(opt, t);
  k.key = roundingKey(moments.stream, t);
  return k;
}

inline float loadMoment(const float *m, int64_t) { return *m; }
inline float loadMoment(const BFloat16 *m, int64_t) { return widen(*m); }
/// Stores element `index` of both moments; bfloat16 ones round with the low
/// (m) and high (v) half of one hash.
inline void storeMoments(float *m, float *v, float mi, float vi, uint32_t, int64_t) {
  *m = mi;
  *v = vi;
}
inline void storeMoments(BFloat16 *m, BFloat16 *v, float mi, float vi, uint32_t key,
                         int64_t index) {
  const uint32_t random = roundingBits(key, static_cast<uint32_t>(index));
  *m = roundWith(mi, random);
  *v = roundWith(vi, random >> 16);
}

/// The update of element `index` (the rounding bits of bfloat16 moments).
template <typename Moment>
inline void adamScalar(const AdamCoefficients &k, float &p, float g, Moment *m, Moment *v,
                       int64_t index) {
  float pi = p;
  if (k.doDecay)
    pi *= k.decay;
  const float m0 = loadMoment(m, index), v0 = loadMoment(v, index);
  const float mi = k.lerpLow ? m0 + k.w1 * (g - m0) : g - (g - m0) * k.b1;
  const float vi = v0 * k.b2 + k.c2 * g * g;
  const float denom = std::sqrt(vi) / k.bc2Sqrt + k.eps;
  p = pi + k.negStep * (mi / denom);
  storeMoments(m, v, mi, vi, k.key, index);
}

inline void adamScalar(const AdamCoefficients &k, float &p, float g, float &m, float &v) {
  adamScalar(k, p, g, &m, &v, 0);
}

#if defined(LOCUS_HAVE_X86)
LOCUS_AVX2 inline __m256 loadMoments8(const float *m) { return _mm256_loadu_ps(m); }
LOCUS_AVX2 inline __m256 loadMoments8(const BFloat16 *m) { return widen8(m); }
LOCUS_AVX2 inline void storeMoments8(float *m, float *v, __m256 mi, __m256 vi, uint32_t,
                                     int64_t) {
  _mm256_storeu_ps(m, mi);
  _mm256_storeu_ps(v, vi);
}
LOCUS_AVX2 inline void storeMoments8(BFloat16 *m, BFloat16 *v, __m256 mi, __m256 vi,
                                     uint32_t key, int64_t index) {
  const __m256i random = roundingBits8(key, static_cast<uint32_t>(index));
  roundWith8(m, mi, random);
  roundWith8(v, vi, _mm256_srli_epi32(random, 16));
}

/// adamScalar on elements index .. index + 7 (p, m and v point at the first).
template <typename Moment>
LOCUS_AVX2 inline void adamVector(const AdamCoefficients &k, __m256 g, float *p, Moment *m,
                                  Moment *v, int64_t index) {
  __m256 pi = _mm256_loadu_ps(p);
  if (k.doDecay)
    pi = _mm256_mul_ps(pi, _mm256_set1_ps(k.decay));
  __m256 mi = loadMoments8(m);
  mi = k.lerpLow ? _mm256_add_ps(mi, _mm256_mul_ps(_mm256_set1_ps(k.w1), _mm256_sub_ps(g, mi)))
                 : _mm256_sub_ps(g, _mm256_mul_ps(_mm256_sub_ps(g, mi), _mm256_set1_ps(k.b1)));
  const __m256 vi = _mm256_add_ps(_mm256_mul_ps(loadMoments8(v), _mm256_set1_ps(k.b2)),
                                  _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(k.c2), g), g));
  const __m256 root = _mm256_sqrt_ps(vi);
  const __m256 denom = _mm256_add_ps(
      k.bc2Unit ? root : _mm256_div_ps(root, _mm256_set1_ps(k.bc2Sqrt)), _mm256_set1_ps(k.eps));
  pi = _mm256_add_ps(pi, _mm256_mul_ps(_mm256_set1_ps(k.negStep), _mm256_div_ps(mi, denom)));
  _mm256_storeu_ps(p, pi);
  storeMoments8(m, v, mi, vi, k.key, index);
}

LOCUS_AVX512 inline __m512 loadMoments16(const float *m) { return _mm512_loadu_ps(m); }
LOCUS_AVX512 inline __m512 loadMoments16(const BFloat16 *m) { return widen16(m); }
LOCUS_AVX512 inline void storeMoments16(float *m, float *v, __m512 mi, __m512 vi, uint32_t,
                                        int64_t) {
  _mm512_storeu_ps(m, mi);
  _mm512_storeu_ps(v, vi);
}
LOCUS_AVX512 inline void storeMoments16(BFloat16 *m, BFloat16 *v, __m512 mi, __m512 vi,
                                        uint32_t key, int64_t index) {
  const __m512i random = roundingBits16(key, static_cast<uint32_t>(index));
  roundWith16(m, mi, random);
  roundWith16(v, vi, _mm512_maskz_srli_epi32(0xffff, random, 16));
}

/// adamVector on elements index .. index + 15: the same operations in the
/// same order, 16 lanes wide, and the same rounding bits for bfloat16 moments
/// (the same results, bit for bit).
template <typename Moment>
LOCUS_AVX512 inline void adamVector16(const AdamCoefficients &k, __m512 g, float *p, Moment *m,
                                      Moment *v, int64_t index) {
  __m512 pi = _mm512_loadu_ps(p);
  if (k.doDecay)
    pi = _mm512_mul_ps(pi, _mm512_set1_ps(k.decay));
  __m512 mi = loadMoments16(m);
  mi = k.lerpLow ? _mm512_add_ps(mi, _mm512_mul_ps(_mm512_set1_ps(k.w1), _mm512_sub_ps(g, mi)))
                 : _mm512_sub_ps(g, _mm512_mul_ps(_mm512_sub_ps(g, mi), _mm512_set1_ps(k.b1)));
  const __m512 vi = _mm512_add_ps(_mm512_mul_ps(loadMoments16(v), _mm512_set1_ps(k.b2)),
                                  _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(k.c2), g), g));
  // The masked sqrt: GCC 12 warns of the undefined vector the unmasked one passes.
  const __m512 root = _mm512_maskz_sqrt_ps(0xffff, vi);
  const __m512 denom = _mm512_add_ps(
      k.bc2Unit ? root : _mm512_div_ps(root, _mm512_set1_ps(k.bc2Sqrt)), _mm512_set1_ps(k.eps));
  pi = _mm512_add_ps(pi, _mm512_mul_ps(_mm512_set1_ps(k.negStep), _mm512_div_ps(mi, denom)));
  _mm512_storeu_ps(p, pi);
  storeMoments16(m, v, mi, vi, k.key, index);
}
#endif

} // namespace locus::rt::cpu

#endif
