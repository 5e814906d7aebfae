//===- Simd.h - run-time dispatch to AVX2 kernels ---------------*- C++ -*-===//
//
// The runtime is built for the baseline x86-64 ISA; kernels with an AVX2/FMA
// version mark it LOCUS_AVX2 and call it only when useAvx2() says the CPU has
// both extensions.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_CPU_SIMD_H
#define LOCUS_RUNTIME_SRC_CPU_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOCUS_HAVE_X86 1
#define LOCUS_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace locus::rt::cpu {

inline bool useAvx2() {
#if defined(LOCUS_HAVE_X86)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

#if defined(LOCUS_HAVE_X86)
/// The even and odd elements of p[0, 16), in order.
LOCUS_AVX2 inline void deinterleave(const float *p, __m256 &even, __m256 &odd) {
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  constexpr int kLanes = _MM_SHUFFLE(3, 1, 2, 0); // undo shuffle_ps's per-128-bit halves
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), kLanes));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), kLanes));
}
#endif

} // namespace locus::rt::cpu

#endif
