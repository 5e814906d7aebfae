//===- Simd.h - run-time dispatch to AVX2 and AVX-512 kernels ---*- C++ -*-===//
//
// The runtime is built for the baseline x86-64 ISA; kernels with an AVX2/FMA
// version mark it LOCUS_AVX2 and call it only when useAvx2() says the CPU has
// both extensions; AVX-512 versions are LOCUS_AVX512, behind useAvx512().
// Tests lower the ceiling (limitSimdForTesting) to compare the versions on
// one machine; LOCUS_CPU_SIMD=avx2 (or baseline) lowers it for a whole run,
// for comparisons (bench/run.sh --isa avx2 emulates an AVX2-only CPU).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_SIMD_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_SIMD_H

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOCUS_HAVE_X86 1
#define LOCUS_AVX2 __attribute__((target("avx2,fma")))
#define LOCUS_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace locus::rt::cpu {

enum class SimdLevel { Baseline = 0, Avx2 = 1, Avx512 = 2 };

/// The widest level this CPU runs (CPUID, once).
inline SimdLevel cpuSimdLevel() {
#if defined(LOCUS_HAVE_X86)
  static const SimdLevel level =
      !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? SimdLevel::Baseline
      : __builtin_cpu_supports("avx512f")                                 ? SimdLevel::Avx512
                                                                          : SimdLevel::Avx2;
  return level;
#else
  return SimdLevel::Baseline;
#endif
}

/// The ceiling a run starts with: LOCUS_CPU_SIMD=avx2 or baseline, else none.
inline SimdLevel simdCeilingFromEnvironment() {
  const char *env = std::getenv("LOCUS_CPU_SIMD");
  if (env && std::strcmp(env, "avx2") == 0)
    return SimdLevel::Avx2;
  if (env && std::strcmp(env, "baseline") == 0)
    return SimdLevel::Baseline;
  return SimdLevel::Avx512;
}

inline std::atomic<int> &simdCeiling() {
  static std::atomic<int> ceiling{static_cast<int>(simdCeilingFromEnvironment())};
  return ceiling;
}
/// Tests only: run no kernel wider than `level` from now on.
inline void limitSimdForTesting(SimdLevel level) {
  simdCeiling().store(static_cast<int>(level), std::memory_order_relaxed);
}
inline bool simdAllows(SimdLevel level) {
  return static_cast<int>(level) <= static_cast<int>(cpuSimdLevel()) &&
         static_cast<int>(level) <= simdCeiling().load(std::memory_order_relaxed);
}

inline bool useAvx2() { return simdAllows(SimdLevel::Avx2); }
inline bool useAvx512() { return simdAllows(SimdLevel::Avx512); }

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
/// Stores the first `lanes` (1..8) lanes of v at dst. With `spill`, all 8
/// are stored: the extra ones land on slots of the same row that a later run
/// of the same thread rewrites. (vmaskmovps stores are microcoded and slow
/// on AMD Zen: they made the vector transforms slower than scalar code.)
LOCUS_AVX2 inline void storeLanes(float *dst, __m256 v, int64_t lanes, bool spill) {
  if (spill || lanes == 8) {
    _mm256_storeu_ps(dst, v);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  std::copy(tmp, tmp + lanes, dst);
}

/// Columns of 8 rows of 4 floats, one row per lane: lane k of col[j] is
/// src[k][j] (a 4x8 transpose; rows k and k + 4 share a 256-bit load).
LOCUS_AVX2 inline void gather4x8(const float *const src[8], __m256 col[4]) {
  __m256 a[4]; // a[k] = [row k | row k + 4]
  for (int k = 0; k < 4; ++k)
    a[k] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(src[k])),
                                _mm_loadu_ps(src[k + 4]), 1);
  const __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
  const __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
  col[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  col[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  col[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  col[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
}

/// The inverse of gather4x8: dst[k][j] = lane k of col[j], 4 floats a row.
LOCUS_AVX2 inline void scatter4x8(const __m256 col[4], float *const dst[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(col[0], col[1]), t1 = _mm256_unpackhi_ps(col[0], col[1]);
  const __m256 t2 = _mm256_unpacklo_ps(col[2], col[3]), t3 = _mm256_unpackhi_ps(col[2], col[3]);
  const __m256 r[4] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), // rows 0 | 4
                       _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)), // rows 1 | 5
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), // rows 2 | 6
                       _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))}; // rows 3 | 7
  for (int k = 0; k < 4; ++k) {
    _mm_storeu_ps(dst[k], _mm256_castps256_ps128(r[k]));
    _mm_storeu_ps(dst[k + 4], _mm256_extractf128_ps(r[k], 1));
  }
}
#endif

} // namespace locus::rt::cpu

#endif
