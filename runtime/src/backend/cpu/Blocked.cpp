//===- Blocked.cpp - register-blocked kernels of the bilinear rules ------===//
#include "backend/cpu/Blocked.h"

#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/backend/cpu/Optimizer.h"

#include "backend/cpu/AdamMath.h"
#include "backend/cpu/BlasSetup.h"
#include "backend/cpu/BroadcastGemm.h"
#include "backend/cpu/Parallel.h"
#include "backend/cpu/Scratch.h"
#include "backend/cpu/Simd.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace locus::rt::cpu {

namespace {

/// at [rows, k] = a^T for a [k, rows].
void transpose(const float *a, int64_t k, int64_t rows, float *at) {
  constexpr int64_t kBlock = 64;
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock)
    for (int64_t r = 0; r < k; ++r) {
      const int64_t i1 = std::min(rows, i0 + kBlock);
      for (int64_t i = i0; i < i1; ++i)
        at[i * k + r] = a[r * rows + i];
    }
}

enum Mode { kStore = 0, kAccumulate = 1, kAdam = 2 };

/// Rows per parallel task of the outer-product kernels (a multiple of the tile).
constexpr int64_t kRowsPerTask = 96;
/// Columns of b kept hot (k x kColumnChunk floats) while all rows pass over them.
constexpr int64_t kColumnChunk = 512;

/// The scalar element of an outer-product kernel: out[i][j] from g (index:
/// i * cols + j, which picks bfloat16 moments' rounding bits).
template <typename Moment>
inline void finishScalar(int mode, float g, float *out, Moment *m, Moment *v,
                         const AdamCoefficients *co, int64_t index) {
  if (mode == kStore)
    *out = g;
  else if (mode == kAccumulate)
    *out += g;
  else
    adamScalar(*co, *out, g, m, v, index);
}

#if defined(LOCUS_HAVE_X86)

template <typename Moment>
LOCUS_AVX2 inline void finishVector(int mode, __m256 g, float *out, Moment *m, Moment *v,
                                    const AdamCoefficients *co, int64_t index) {
  if (mode == kStore)
    _mm256_storeu_ps(out, g);
  else if (mode == kAccumulate)
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), g));
  else
    adamVector(*co, g, out, m, v, index);
}

/// MR rows x 16 columns of sum_r at[i][r] b[r][j] into g (row stride ldg).
/// bp is the packed tile of b: k rows of 16 contiguous floats (rows of b
/// itself are Dc floats apart, a power of two that maps them to one L1 set).
template <int MR>
LOCUS_AVX2 inline void outerTile(const float *at, int64_t k, const float *bp, float *g,
                                 int64_t ldg) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii) {
    acc0[ii] = _mm256_setzero_ps();
    acc1[ii] = _mm256_setzero_ps();
  }
  for (int64_t r = 0; r < k; ++r) {
    const __m256 b0 = _mm256_loadu_ps(bp + r * 16);
    const __m256 b1 = _mm256_loadu_ps(bp + r * 16 + 8);
#pragma GCC unroll 8
    for (int ii = 0; ii < MR; ++ii) {
      const __m256 av = _mm256_broadcast_ss(at + ii * k + r);
      acc0[ii] = _mm256_fmadd_ps(av, b0, acc0[ii]);
      acc1[ii] = _mm256_fmadd_ps(av, b1, acc1[ii]);
    }
  }
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii) {
    _mm256_storeu_ps(g + ii * ldg, acc0[ii]);
    _mm256_storeu_ps(g + ii * ldg + 8, acc1[ii]);
  }
}

/// The epilogue on one row segment: out (and m, v) from the gradient g;
/// out, m and v point at element `index`.
template <typename Moment>
LOCUS_AVX2 void finishRow(int mode, const float *g, int64_t len, float *out, Moment *m,
                          Moment *v, const AdamCoefficients *co, int64_t index) {
  int64_t j = 0;
  for (; j + 8 <= len; j += 8)
    finishVector(mode, _mm256_loadu_ps(g + j), out + j, m ? m + j : nullptr,
                 v ? v + j : nullptr, co, index + j);
  for (; j < len; ++j)
    finishScalar(mode, g[j], out + j, m ? m + j : nullptr, v ? v + j : nullptr, co, index + j);
}

/// finishRow with AVX-512, 16 elements a step: adamVector16 does adamVector's
/// operations lane by lane, with the same rounding bits for bfloat16 moments,
/// so the results are the same bits.
template <typename Moment>
LOCUS_AVX512 void finishRow512(int mode, const float *g, int64_t len, float *out, Moment *m,
                               Moment *v, const AdamCoefficients *co, int64_t index) {
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    const __m512 gv = _mm512_loadu_ps(g + j);
    if (mode == kStore)
      _mm512_storeu_ps(out + j, gv);
    else if (mode == kAccumulate)
      _mm512_storeu_ps(out + j, _mm512_add_ps(_mm512_loadu_ps(out + j), gv));
    else
      adamVector16(*co, gv, out + j, m + j, v + j, index + j);
  }
  finishRow(mode, g + j, len - j, out + j, m ? m + j : nullptr, v ? v + j : nullptr, co,
            index + j);
}

/// After the tiles of rows [i, i + mr) x columns [j0, jVec): the scalar
/// column tail [jVec, j1) into g, then the epilogue of the whole block
/// (16 elements a step when Wide: AVX-512 CPUs only).
template <bool Wide, typename Moment>
LOCUS_AVX2 void finishBlock(int mode, int64_t mr, int64_t i, int64_t j0, int64_t jVec, int64_t j1,
                            int64_t cols, int64_t k, const float *ai, const float *b, float *g,
                            float *out, Moment *m, Moment *v, const AdamCoefficients *co) {
  for (int64_t ii = 0; ii < mr; ++ii)
    for (int64_t j = jVec; j < j1; ++j) {
      float s = 0.0f;
      for (int64_t r = 0; r < k; ++r)
        s += ai[ii * k + r] * b[r * cols + j];
      g[ii * kColumnChunk + (j - j0)] = s;
    }
  for (int64_t ii = 0; ii < mr; ++ii) {
    const int64_t o = (i + ii) * cols + j0;
    if constexpr (Wide)
      finishRow512(mode, g + ii * kColumnChunk, j1 - j0, out + o, m ? m + o : nullptr,
                   v ? v + o : nullptr, co, o);
    else
      finishRow(mode, g + ii * kColumnChunk, j1 - j0, out + o, m ? m + o : nullptr,
                v ? v + o : nullptr, co, o);
  }
}

/// Asks for columns [j, j + width) of rows [i, i + mr) of out, m and v into
/// L2 while the tiles compute the block before them: the epilogue streams
/// 6 rows x 3 arrays from DRAM, more streams than the hardware prefetchers
/// follow, and would otherwise wait on each. always_inline: GCC 12 takes a
/// function whose only effect is a prefetch for a const one and deletes its
/// calls before it would inline them.
template <typename Moment>
__attribute__((always_inline)) inline void prefetchEpilogue(int64_t i, int64_t mr, int64_t j,
                                                            int64_t width, int64_t cols,
                                                            const float *out, const Moment *m,
                                                            const Moment *v) {
  constexpr int64_t kLine = 64;
  for (int64_t ii = 0; ii < mr; ++ii) {
    const int64_t o = (i + ii) * cols + j;
    for (int64_t byte = 0; byte < width * int64_t(sizeof(float)); byte += kLine)
      _mm_prefetch(reinterpret_cast<const char *>(out + o) + byte, _MM_HINT_T1);
    if (m)
      for (int64_t byte = 0; byte < width * int64_t(sizeof(Moment)); byte += kLine) {
        _mm_prefetch(reinterpret_cast<const char *>(m + o) + byte, _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char *>(v + o) + byte, _MM_HINT_T1);
      }
  }
}

/// Rows [i0, i1) of the rank-k kernel. at is a^T [rows, k]; bp is b packed in
/// 16-column tiles (tile t at bp + 16 t k); b itself serves the column tail.
/// Each block of 6 rows x kColumnChunk columns goes through a small buffer, so
/// that the epilogue walks rows sequentially (6 rows x 3 arrays of streams Dc
/// floats apart would thrash L1's sets and the prefetchers).
template <typename Moment>
LOCUS_AVX2 void outerRowsAvx2(int mode, int64_t i0, int64_t i1, int64_t cols, int64_t k,
                              const float *at, const float *bp, const float *b, float *out,
                              Moment *m, Moment *v, const AdamCoefficients *co) {
  alignas(32) float g[6 * kColumnChunk];
  for (int64_t j0 = 0; j0 < cols; j0 += kColumnChunk) {
    const int64_t j1 = std::min(cols, j0 + kColumnChunk);
    const int64_t jVec = j0 + (j1 - j0) / 16 * 16; // tiles in [j0, jVec), tail after
    for (int64_t i = i0; i < i1; i += 6) {
      const int64_t mr = std::min<int64_t>(6, i1 - i);
      const float *ai = at + i * k;
      const int64_t nextMr = std::min<int64_t>(6, i1 - i - 6);
      for (int64_t j = j0; j < jVec; j += 16) {
        if (nextMr > 0)
          prefetchEpilogue(i + 6, nextMr, j, 16, cols, out, m, v);
        float *gj = g + (j - j0);
        const float *bj = bp + j * k;
        switch (mr) {
        case 6: outerTile<6>(ai, k, bj, gj, kColumnChunk); break;
        case 5: outerTile<5>(ai, k, bj, gj, kColumnChunk); break;
        case 4: outerTile<4>(ai, k, bj, gj, kColumnChunk); break;
        case 3: outerTile<3>(ai, k, bj, gj, kColumnChunk); break;
        case 2: outerTile<2>(ai, k, bj, gj, kColumnChunk); break;
        default: outerTile<1>(ai, k, bj, gj, kColumnChunk); break;
        }
      }
      finishBlock<false>(mode, mr, i, j0, jVec, j1, cols, k, ai, b, g, out, m, v, co);
    }
  }
}

/// MR rows x 32 columns (two packed 16-column tiles of b, 16 k floats apart)
/// or, with Tiles = 1, x 16: the AVX-512 form of outerTile. Each lane sums
/// over r in the same order with the same fused multiply-adds, so g is the
/// AVX2 tile's bit for bit.
template <int MR, int Tiles>
LOCUS_AVX512 inline void outerTile512(const float *at, int64_t k, const float *bp, float *g,
                                      int64_t ldg) {
  __m512 acc[MR][Tiles];
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii)
#pragma GCC unroll 2
    for (int t = 0; t < Tiles; ++t)
      acc[ii][t] = _mm512_setzero_ps();
  for (int64_t r = 0; r < k; ++r) {
    __m512 bv[Tiles];
#pragma GCC unroll 2
    for (int t = 0; t < Tiles; ++t)
      bv[t] = _mm512_loadu_ps(bp + t * 16 * k + r * 16);
#pragma GCC unroll 8
    for (int ii = 0; ii < MR; ++ii) {
      const __m512 av = _mm512_set1_ps(at[ii * k + r]);
#pragma GCC unroll 2
      for (int t = 0; t < Tiles; ++t)
        acc[ii][t] = _mm512_fmadd_ps(av, bv[t], acc[ii][t]);
    }
  }
#pragma GCC unroll 8
  for (int ii = 0; ii < MR; ++ii)
#pragma GCC unroll 2
    for (int t = 0; t < Tiles; ++t)
      _mm512_storeu_ps(g + ii * ldg + t * 16, acc[ii][t]);
}

template <int Tiles>
LOCUS_AVX512 void outerTiles512(int64_t mr, const float *ai, int64_t k, const float *bj,
                                float *gj) {
  switch (mr) {
  case 6: outerTile512<6, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  case 5: outerTile512<5, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  case 4: outerTile512<4, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  case 3: outerTile512<3, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  case 2: outerTile512<2, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  default: outerTile512<1, Tiles>(ai, k, bj, gj, kColumnChunk); break;
  }
}

/// outerRowsAvx2 with AVX-512 tiles: twice the columns per multiply-add; the
/// same buffer, tail and epilogue.
template <typename Moment>
LOCUS_AVX512 void outerRowsAvx512(int mode, int64_t i0, int64_t i1, int64_t cols, int64_t k,
                                  const float *at, const float *bp, const float *b, float *out,
                                  Moment *m, Moment *v, const AdamCoefficients *co) {
  alignas(64) float g[6 * kColumnChunk];
  for (int64_t j0 = 0; j0 < cols; j0 += kColumnChunk) {
    const int64_t j1 = std::min(cols, j0 + kColumnChunk);
    const int64_t jVec = j0 + (j1 - j0) / 16 * 16;
    for (int64_t i = i0; i < i1; i += 6) {
      const int64_t mr = std::min<int64_t>(6, i1 - i);
      const float *ai = at + i * k;
      const int64_t nextMr = std::min<int64_t>(6, i1 - i - 6);
      int64_t j = j0;
      for (; j + 32 <= jVec; j += 32) {
        if (nextMr > 0)
          prefetchEpilogue(i + 6, nextMr, j, 32, cols, out, m, v);
        outerTiles512<2>(mr, ai, k, bp + j * k, g + (j - j0));
      }
      for (; j < jVec; j += 16) {
        if (nextMr > 0)
          prefetchEpilogue(i + 6, nextMr, j, 16, cols, out, m, v);
        outerTiles512<1>(mr, ai, k, bp + j * k, g + (j - j0));
      }
      finishBlock<true>(mode, mr, i, j0, jVec, j1, cols, k, ai, b, g, out, m, v, co);
    }
  }
}

#endif // LOCUS_HAVE_X86

/// The rank-k kernel on every row, in parallel tasks of kRowsPerTask rows.
template <typename Moment>
void outerAll(int mode, int64_t rows, int64_t cols, int64_t k, const float *a, const float *b,
              float *out, Moment *m, Moment *v, const AdamCoefficients *co) {
  if (rows <= 0 || cols <= 0)
    return;
  if (k <= 0) {
    // A zero gradient: store zeros, accumulate nothing, or step with g = 0.
    for (int64_t i = 0; i < rows * cols; ++i)
      finishScalar(mode, 0.0f, out + i, m ? m + i : nullptr, v ? v + i : nullptr, co, i);
    return;
  }
#if defined(LOCUS_HAVE_X86)
  if (useAvx2()) {
    thread_local std::vector<float> atBuf, bpBuf;
    const int64_t colsVec = cols / 16 * 16;
    float *at = scratch(atBuf, rows * k);
    float *bp = scratch(bpBuf, std::max<int64_t>(1, colsVec * k));
    transpose(a, k, rows, at);
    for (int64_t j = 0; j < colsVec; j += 16)
      for (int64_t r = 0; r < k; ++r)
        std::memcpy(bp + j * k + r * 16, b + r * cols + j, 16 * sizeof(float));
    const int64_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
    const bool avx512 = useAvx512();
    parallelFor(tasks, rows * cols * k >= (1 << 20), [&](int64_t tsk) {
      const int64_t i0 = tsk * kRowsPerTask, i1 = std::min(rows, i0 + kRowsPerTask);
      if (avx512)
        outerRowsAvx512(mode, i0, i1, cols, k, at, bp, b, out, m, v, co);
      else
        outerRowsAvx2(mode, i0, i1, cols, k, at, bp, b, out, m, v, co);
    });
    return;
  }
#endif
  if (mode != kAdam) {
    gemm(true, false, rows, cols, k, 1.0f, a, b, mode == kAccumulate ? 1.0f : 0.0f, out);
    return;
  }
  // Portable fused step: the gradient of a block of rows through OpenBLAS into
  // a cache-sized buffer, then the scalar update.
  blasSetup();
  constexpr int64_t kRows = 16, kCols = 2048;
  thread_local std::vector<float> gBuf;
  float *g = scratch(gBuf, kRows * kCols);
  for (int64_t i0 = 0; i0 < rows; i0 += kRows)
    for (int64_t j0 = 0; j0 < cols; j0 += kCols) {
      const int64_t mr = std::min(kRows, rows - i0), nc = std::min(kCols, cols - j0);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(mr),
                  static_cast<int>(nc), static_cast<int>(k), 1.0f, a + i0,
                  static_cast<int>(rows), b + j0, static_cast<int>(cols), 0.0f, g,
                  static_cast<int>(nc));
      for (int64_t ii = 0; ii < mr; ++ii)
        for (int64_t jj = 0; jj < nc; ++jj) {
          const int64_t o = (i0 + ii) * cols + j0 + jj;
          adamScalar(*co, out[o], g[ii * nc + jj], m + o, v + o, o);
        }
    }
}

} // namespace

void outerProduct(int64_t rows, int64_t cols, int64_t k, const float *a, const float *b,
                  bool accumulate, float *out) {
  outerAll<float>(accumulate ? kAccumulate : kStore, rows, cols, k, a, b, out, nullptr, nullptr,
                  nullptr);
}

void adamwOuterProduct(const AdamW &opt, int64_t t, int64_t rows, int64_t cols, int64_t k,
                       const float *a, const float *b, float *param,
                       const AdamMoments &moments) {
  const AdamCoefficients co = adamCoefficients(opt, t, moments);
  if (moments.bf16())
    outerAll(kAdam, rows, cols, k, a, b, param, moments.mBf16, moments.vBf16, &co);
  else
    outerAll(kAdam, rows, cols, k, a, b, param, moments.m, moments.v, &co);
}

void projectRows(int64_t n, int64_t d, int64_t dc, const float *p, const float *c, float *out) {
  if (n <= 0 || d <= 0)
    return;
  if (dc <= 0) {
    std::fill(out, out + n * d, 0.0f);
    return;
  }
  if (broadcastGemmVectorised()) {
    // B c as p [d, dc] times c^T [dc, n] (packed once, its columns padded
    // with zeros to whole panels), rows of p in parallel tasks; each task's
    // sums gather in a buffer of its rows x n (contiguous: out's rows are d
    // floats apart, and adding tiles into them would touch a cache line a
    // float) copied to out at the end. cpu-kernel-bench --only bilinear, Zen 5,
    // 2 threads, D = Dc = 8192, N = 32, against the 3 x 4 (AVX-512: 8 x 4)
    // tiles of dot products before: 15.7 -> 10.8 ms with AVX-512, 26 -> 18 ms
    // with AVX2 (88% of the AVX2 FMA peak).
    const int64_t ld = (n + kBroadcastPanel - 1) / kBroadcastPanel * kBroadcastPanel;
    thread_local std::vector<float> cpBuf;
    float *cp = scratch(cpBuf, dc * ld);
    for (int64_t j = 0; j < dc; ++j) {
      for (int64_t r = 0; r < n; ++r)
        cp[j * ld + r] = c[r * dc + j];
      std::fill(cp + j * ld + n, cp + (j + 1) * ld, 0.0f);
    }
    constexpr int64_t kRowsPerProjectTask = 48;
    const int64_t tasks = (d + kRowsPerProjectTask - 1) / kRowsPerProjectTask;
    parallelFor(tasks, n * d * dc >= (1 << 20), [&](int64_t tsk) {
      const int64_t i0 = tsk * kRowsPerProjectTask, i1 = std::min(d, i0 + kRowsPerProjectTask);
      thread_local std::vector<float> sumsBuf;
      float *sums = scratch(sumsBuf, (i1 - i0) * ld);
      std::fill(sums, sums + (i1 - i0) * ld, 0.0f);
      broadcastGemm(i1 - i0, ld, dc, p + i0 * dc, dc, cp, ld, sums, ld);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = i0; i < i1; ++i)
          out[r * d + i] = sums[(i - i0) * ld + r];
    });
    return;
  }
  gemm(false, true, n, d, dc, 1.0f, c, p, 0.0f, out);
}

} // namespace locus::rt::cpu
