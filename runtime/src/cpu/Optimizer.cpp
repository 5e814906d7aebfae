//===- Optimizer.cpp - AdamW -----------------------------------------------===//
//
// The element update is AdamMath.h's (PyTorch's single-tensor AdamW operation
// by operation, so results agree with torch.optim.AdamW to rounding). One pass
// over the four arrays; the update is memory-bound. The engine's updates are
// the compiled kernels (UpdateKernels.h); this one serves the linear probe
// and the tests. The fused projection update takes bfloat16 moments too.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/cpu/Optimizer.h"

#include "cpu/AdamMath.h"
#include "cpu/Blocked.h"
#include "cpu/Parallel.h"
#include "cpu/Simd.h"

#include <algorithm>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace locus::rt::cpu {

void AdamW::step(int64_t t, int64_t count, float *param, const float *grad, float *m,
                 float *v) const {
  if (count <= 0)
    return;
  const AdamCoefficients k = adamCoefficients(*this, t);
  constexpr int64_t kChunk = 1 << 15;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  parallelFor(chunks, chunks >= 8, [&](int64_t ci) {
    const int64_t lo = ci * kChunk, hi = std::min(count, lo + kChunk);
    int64_t i = lo;
#if defined(__SSE2__)
    if (k.lerpLow) {
      const __m128 vDecay = _mm_set1_ps(k.decay), vW1 = _mm_set1_ps(k.w1),
                   vB2 = _mm_set1_ps(k.b2), vC2 = _mm_set1_ps(k.c2),
                   vBc2 = _mm_set1_ps(k.bc2Sqrt), vEps = _mm_set1_ps(k.eps),
                   vStep = _mm_set1_ps(k.negStep);
      for (; i + 4 <= hi; i += 4) {
        __m128 p = _mm_loadu_ps(param + i);
        if (k.doDecay)
          p = _mm_mul_ps(p, vDecay);
        const __m128 g = _mm_loadu_ps(grad + i);
        __m128 mi = _mm_loadu_ps(m + i);
        mi = _mm_add_ps(mi, _mm_mul_ps(vW1, _mm_sub_ps(g, mi)));
        const __m128 vi =
            _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), vB2), _mm_mul_ps(_mm_mul_ps(vC2, g), g));
        const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vBc2), vEps);
        p = _mm_add_ps(p, _mm_mul_ps(vStep, _mm_div_ps(mi, denom)));
        _mm_storeu_ps(param + i, p);
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
      }
    }
#endif
    for (; i < hi; ++i)
      adamScalar(k, param[i], grad[i], m[i], v[i]);
  });
}

void AdamW::stepOuterProduct(int64_t t, int64_t rows, int64_t cols, int64_t k, const float *a,
                             const float *b, float *param, float *m, float *v) const {
  AdamMoments moments;
  moments.m = m;
  moments.v = v;
  adamwOuterProduct(*this, t, rows, cols, k, a, b, param, moments);
}

void AdamW::stepOuterProduct(int64_t t, int64_t rows, int64_t cols, int64_t k, const float *a,
                             const float *b, float *param, const AdamMoments &moments) const {
  adamwOuterProduct(*this, t, rows, cols, k, a, b, param, moments);
}

} // namespace locus::rt::cpu
