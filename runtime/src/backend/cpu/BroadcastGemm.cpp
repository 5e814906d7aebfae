//===- BroadcastGemm.cpp - C += A B with few columns, without packing ----===//
#include "backend/cpu/BroadcastGemm.h"

#include "backend/cpu/Simd.h"

#include <algorithm>
#include <cmath>

namespace locus::rt::cpu {

namespace {

/// Columns of A (rows of B) a pass covers: the pass's rows of B, kChunk x n
/// floats, stay in L1/L2 while every tile of A's rows runs over them. 128 to
/// 1024 time within 10% of each other on B c (cpu-kernel-bench, Zen 5).
constexpr int64_t kChunk = 256;
/// Rows of A a tile holds: 12 accumulators of 16 columns (AVX-512: 32).
constexpr int64_t kTileRows = 6;

/// One element's sum over [k0, k1) added to it: the scalar form of a tile
/// lane (the same fused multiply-adds in the same order).
inline void scalarElement(const float *a, const float *b, int64_t ldb, int64_t k0, int64_t k1,
                          float *c) {
  float s = 0.0f;
  for (int64_t j = k0; j < k1; ++j)
    s = std::fma(a[j], b[j * ldb], s);
  *c += s;
}

/// Rows [i, i + mr) x columns [n0, n1) over [k0, k1), scalar.
void scalarBlock(int64_t i, int64_t mr, int64_t n0, int64_t n1, int64_t k0, int64_t k1,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                 int64_t ldc) {
  for (int64_t ii = i; ii < i + mr; ++ii)
    for (int64_t col = n0; col < n1; ++col)
      scalarElement(a + ii * lda, b + col, ldb, k0, k1, c + ii * ldc + col);
}

#if defined(LOCUS_HAVE_X86)

/// The rows of A the next tile reads, fetched into L1 by this one (one line
/// of each every 16 columns): A often comes from DRAM (B c's projection), and
/// the next tile would wait on it. always_inline: GCC 12 takes a function
/// whose only effect is a prefetch for a const one and deletes its calls
/// before it would inline them.
struct NextRows {
  const float *a = nullptr; ///< the first row (lda floats apart)
  int64_t count = 0;
};

__attribute__((always_inline)) inline void prefetchNext(const NextRows &next, int64_t lda,
                                                        int64_t j) {
  if ((j & 15) == 0)
    for (int64_t r = 0; r < next.count; ++r)
      _mm_prefetch(reinterpret_cast<const char *>(next.a + r * lda + j), _MM_HINT_T0);
}

/// Lane masks of the first `width` (0-16) columns of a panel, AVX2's form.
struct PanelMask {
  __m256i lo, hi;
};
LOCUS_AVX2 inline PanelMask panelMask(int64_t width) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(width)), lanes),
          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(width - 8)), lanes)};
}

/// MR rows of a x 16 columns of b over [k0, k1), added to c; with Masked,
/// only the columns `mask` has (the last, partial panel: masked lanes load
/// and store nothing, the others compute as in a full panel).
template <int MR, bool Masked = false>
LOCUS_AVX2 void tile16(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k0,
                       int64_t k1, float *c, int64_t ldc, NextRows next,
                       const PanelMask *mask = nullptr) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii) {
    acc0[ii] = _mm256_setzero_ps();
    acc1[ii] = _mm256_setzero_ps();
  }
  for (int64_t j = k0; j < k1; ++j) {
    prefetchNext(next, lda, j);
    const __m256 b0 = Masked ? _mm256_maskload_ps(b + j * ldb, mask->lo)
                             : _mm256_loadu_ps(b + j * ldb);
    const __m256 b1 = Masked ? _mm256_maskload_ps(b + j * ldb + 8, mask->hi)
                             : _mm256_loadu_ps(b + j * ldb + 8);
#pragma GCC unroll 8
    for (int ii = 0; ii < MR; ++ii) {
      const __m256 av = _mm256_broadcast_ss(a + ii * lda + j);
      acc0[ii] = _mm256_fmadd_ps(av, b0, acc0[ii]);
      acc1[ii] = _mm256_fmadd_ps(av, b1, acc1[ii]);
    }
  }
#pragma GCC unroll 8 // constant indices keep acc in registers in the loop above
  for (int ii = 0; ii < MR; ++ii) {
    float *row = c + ii * ldc;
    if constexpr (Masked) {
      _mm256_maskstore_ps(row, mask->lo,
                          _mm256_add_ps(_mm256_maskload_ps(row, mask->lo), acc0[ii]));
      _mm256_maskstore_ps(row + 8, mask->hi,
                          _mm256_add_ps(_mm256_maskload_ps(row + 8, mask->hi), acc1[ii]));
    } else {
      _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc0[ii]));
      _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc1[ii]));
    }
  }
}

/// The partial panel of columns [n0, n0 + width) of rows [i, i + mr).
LOCUS_AVX2 void maskedPanel(int64_t mr, const float *a, int64_t lda, const float *b,
                            int64_t ldb, int64_t k0, int64_t k1, float *c, int64_t ldc,
                            int64_t width) {
  const PanelMask mask = panelMask(width);
  switch (mr) {
  case 6: tile16<6, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  case 5: tile16<5, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  case 4: tile16<4, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  case 3: tile16<3, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  case 2: tile16<2, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  default: tile16<1, true>(a, lda, b, ldb, k0, k1, c, ldc, {}, &mask); break;
  }
}

/// tile16 with AVX-512: Panels (1 or 2) x 16 columns, one register each.
template <int MR, int Panels>
LOCUS_AVX512 void tile512(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k0,
                          int64_t k1, float *c, int64_t ldc, NextRows next) {
  __m512 acc[MR][Panels];
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii)
#pragma GCC unroll 2
    for (int q = 0; q < Panels; ++q)
      acc[ii][q] = _mm512_setzero_ps();
  for (int64_t j = k0; j < k1; ++j) {
    prefetchNext(next, lda, j);
    __m512 bv[Panels];
#pragma GCC unroll 2
    for (int q = 0; q < Panels; ++q)
      bv[q] = _mm512_loadu_ps(b + j * ldb + q * 16);
#pragma GCC unroll 8
    for (int ii = 0; ii < MR; ++ii) {
      const __m512 av = _mm512_set1_ps(a[ii * lda + j]);
#pragma GCC unroll 2
      for (int q = 0; q < Panels; ++q)
        acc[ii][q] = _mm512_fmadd_ps(av, bv[q], acc[ii][q]);
    }
  }
#pragma GCC unroll 8 // constant indices keep acc in registers in the loop above
  for (int ii = 0; ii < MR; ++ii)
#pragma GCC unroll 2
    for (int q = 0; q < Panels; ++q) {
      float *row = c + ii * ldc + q * 16;
      _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), acc[ii][q]));
    }
}

template <bool Wide>
LOCUS_AVX2 void vectorGemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float *c, int64_t ldc) {
  const int64_t nVec = n / kBroadcastPanel * kBroadcastPanel;
  for (int64_t k0 = 0; k0 < k; k0 += kChunk) {
    const int64_t k1 = std::min(k, k0 + kChunk);
    for (int64_t i = 0; i < m; i += kTileRows) {
      const int64_t mr = std::min(kTileRows, m - i);
      const float *ai = a + i * lda;
      float *ci = c + i * ldc;
      // The first panel's pass fetches the next tile's rows.
      const NextRows next{ai + mr * lda, std::min(kTileRows, m - i - mr)};
      for (int64_t q = 0; q < nVec;) {
        const float *bq = b + q;
        float *cq = ci + q;
        const NextRows fetch = q == 0 ? next : NextRows{};
        if constexpr (Wide) {
          const bool two = q + 2 * kBroadcastPanel <= nVec;
#define LOCUS_TILE512(MR)                                                                          \
  two ? tile512<MR, 2>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch)                                   \
      : tile512<MR, 1>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch)
          switch (mr) {
          case 6: LOCUS_TILE512(6); break;
          case 5: LOCUS_TILE512(5); break;
          case 4: LOCUS_TILE512(4); break;
          case 3: LOCUS_TILE512(3); break;
          case 2: LOCUS_TILE512(2); break;
          default: LOCUS_TILE512(1); break;
          }
#undef LOCUS_TILE512
          q += two ? 2 * kBroadcastPanel : kBroadcastPanel;
        } else {
          switch (mr) {
          case 6: tile16<6>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          case 5: tile16<5>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          case 4: tile16<4>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          case 3: tile16<3>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          case 2: tile16<2>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          default: tile16<1>(ai, lda, bq, ldb, k0, k1, cq, ldc, fetch); break;
          }
          q += kBroadcastPanel;
        }
      }
      if (nVec < n) // the last columns: AVX2's masked tile (one per 12 x 16 FMAs)
        maskedPanel(mr, ai, lda, b + nVec, ldb, k0, k1, ci + nVec, ldc, n - nVec);
    }
  }
}

#endif // LOCUS_HAVE_X86

} // namespace

bool broadcastGemmVectorised() { return useAvx2(); }

void broadcastGemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                   int64_t ldb, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0 || k <= 0)
    return;
#if defined(LOCUS_HAVE_X86)
  if (useAvx512())
    return vectorGemm<true>(m, n, k, a, lda, b, ldb, c, ldc);
  if (useAvx2())
    return vectorGemm<false>(m, n, k, a, lda, b, ldb, c, ldc);
#endif
  for (int64_t k0 = 0; k0 < k; k0 += kChunk)
    scalarBlock(0, m, 0, n, k0, std::min(k, k0 + kChunk), a, lda, b, ldb, c, ldc);
}

} // namespace locus::rt::cpu
