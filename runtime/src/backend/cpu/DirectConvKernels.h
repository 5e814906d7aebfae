//===- DirectConvKernels.h - parts of the direct 3x3 kernels ----*- C++ -*-===//
//
// The pieces shared by the direct convolution (DirectConv.cpp) and the fused
// conv + relu + max-pool (ConvReluPool.cpp): zero-padded sample copies, the
// slots of samples that run in parallel, output rows of B channels, and one
// output channel's weight-gradient terms. The vector pieces need AVX2; the
// scalar ones do the same arithmetic on any CPU.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_SRC_DIRECTCONVKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_SRC_DIRECTCONVKERNELS_H

#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/Parallel.h"
#include "backend/cpu/Simd.h"

#include <algorithm>
#include <cstdint>

namespace locus::rt::cpu::direct {

constexpr int64_t kLanes = 8;

/// One sample's channels, each a rows x cols block with the map at (1, 1).
struct PaddedSample {
  int64_t rows, cols, floats;
};

inline PaddedSample paddedShape(Shape4 xs) {
  const int64_t rows = xs.h + 2, cols = xs.w + 2;
  return {rows, cols, xs.c * rows * cols};
}

inline void padSample(const float *x, Shape4 xs, const PaddedSample &p, float *dst) {
  std::fill(dst, dst + p.floats, 0.0f);
  for (int64_t c = 0; c < xs.c; ++c)
    for (int64_t y = 0; y < xs.h; ++y) {
      const float *src = x + (c * xs.h + y) * xs.w;
      std::copy(src, src + xs.w, dst + (c * p.rows + y + 1) * p.cols + 1);
    }
}

/// Ranges of samples, each with `perSlot` floats of scratch: as many slots as
/// the planned scratch holds (at least one), up to 4 per thread so that a
/// worker that wakes late costs little.
struct Slots {
  int64_t count;
  float *base;
  int64_t first(int64_t slot, int64_t n) const { return slot * n / count; }
};

inline Slots makeSlots(Workspace &ws, int64_t wsFloats, int64_t n, int64_t perSlot) {
  Slots s;
  s.count = std::max<int64_t>(
      1, std::min<int64_t>({n, wsFloats / perSlot, 4 * int64_t(parallelThreads())}));
  s.base = ws.get(std::max(wsFloats, s.count * perSlot));
  return s;
}

/// Adds output channel o's sums of one sample to sums [9 C + 1] (the taps of
/// each input channel, then db): g is the channel's [H, W] output gradient.
inline void weightGradPlaneScalar(const float *pad, const PaddedSample &p, Shape4 xs,
                                  const float *g, float *sums) {
  for (int64_t c = 0; c < xs.c; ++c)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        float acc = 0.0f;
        for (int64_t row = 0; row < xs.h; ++row) {
          const float *in = pad + (c * p.rows + row + ky) * p.cols + kx;
          for (int64_t x = 0; x < xs.w; ++x)
            acc += in[x] * g[row * xs.w + x];
        }
        sums[c * 9 + ky * 3 + kx] += acc;
      }
  float db = 0.0f;
  for (int64_t i = 0; i < xs.h * xs.w; ++i)
    db += g[i];
  sums[9 * xs.c] += db;
}

#if defined(LOCUS_HAVE_X86)
/// Where the vectors of a row start: every 8 columns, and the last one moved
/// back to end at the row's end (it then repeats `overlap` columns).
struct RowVectors {
  int64_t full, last, overlap;
};

inline RowVectors rowVectors(int64_t w) {
  const int64_t full = w / kLanes;
  const int64_t rest = w - full * kLanes;
  return {full, rest ? w - kLanes : -1, rest ? kLanes - rest : 0};
}

/// Rows [row0, row1) of B output channels o0 .. o0 + B - 1 of one sample,
/// from its padded copy; channel j's row r goes to
/// out + j * channelStride + (r - row0) * xs.w.
template <int B>
LOCUS_AVX2 inline void forwardRows(const float *pad, const PaddedSample &p, Shape4 xs,
                                   const float *w, int64_t o0, const float *b, int64_t row0,
                                   int64_t row1, float *out, int64_t channelStride) {
  const int64_t channels = xs.c;
  const RowVectors rv = rowVectors(xs.w);
  for (int64_t row = row0; row < row1; ++row) {
    for (int64_t v = 0; v <= rv.full; ++v) {
      const int64_t x0 = v < rv.full ? v * kLanes : rv.last;
      if (x0 < 0)
        break;
      __m256 acc[B];
      for (int j = 0; j < B; ++j)
        acc[j] = _mm256_set1_ps(b ? b[o0 + j] : 0.0f);
      for (int64_t c = 0; c < channels; ++c)
        for (int ky = 0; ky < 3; ++ky) {
          const float *in = pad + (c * p.rows + row + ky) * p.cols + x0;
          for (int kx = 0; kx < 3; ++kx) {
            const __m256 xv = _mm256_loadu_ps(in + kx);
            for (int j = 0; j < B; ++j)
              acc[j] = _mm256_fmadd_ps(
                  xv, _mm256_broadcast_ss(w + ((o0 + j) * channels + c) * 9 + ky * 3 + kx),
                  acc[j]);
          }
        }
      for (int j = 0; j < B; ++j)
        _mm256_storeu_ps(out + j * channelStride + (row - row0) * xs.w + x0, acc[j]);
    }
  }
}

LOCUS_AVX2 inline float horizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// weightGradPlaneScalar with the 9 taps of one channel pair in registers.
LOCUS_AVX2 inline void weightGradPlane(const float *pad, const PaddedSample &p, Shape4 xs,
                                       const float *g, float *sums) {
  const RowVectors rv = rowVectors(xs.w);
  // The last vector's repeated columns were counted by the one before.
  const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int(rv.overlap) - 1)));
  __m256 db = _mm256_setzero_ps();
  for (int64_t c = 0; c < xs.c; ++c) {
    __m256 acc[9];
    for (int t = 0; t < 9; ++t)
      acc[t] = _mm256_setzero_ps();
    for (int64_t row = 0; row < xs.h; ++row)
      for (int64_t v = 0; v <= rv.full; ++v) {
        const int64_t x0 = v < rv.full ? v * kLanes : rv.last;
        if (x0 < 0)
          break;
        __m256 gv = _mm256_loadu_ps(g + row * xs.w + x0);
        if (v == rv.full)
          gv = _mm256_and_ps(gv, keep);
        if (c == 0)
          db = _mm256_add_ps(db, gv);
        for (int ky = 0; ky < 3; ++ky) {
          const float *in = pad + (c * p.rows + row + ky) * p.cols + x0;
          for (int kx = 0; kx < 3; ++kx)
            acc[ky * 3 + kx] = _mm256_fmadd_ps(_mm256_loadu_ps(in + kx), gv, acc[ky * 3 + kx]);
        }
      }
    for (int t = 0; t < 9; ++t)
      sums[c * 9 + t] += horizontalSum(acc[t]);
  }
  sums[9 * xs.c] += horizontalSum(db);
}
#endif

/// dw (and db unless null) from the slots' partial sums [O][9 C + 1], summed
/// in double in slot order.
inline void sumSlotPartials(const Slots &slots, int64_t perSlot, int64_t partialOffset,
                            int64_t outChannels, int64_t channels, float *dw, float *db) {
  const int64_t perOut = 9 * channels + 1;
  for (int64_t o = 0; o < outChannels; ++o)
    for (int64_t t = 0; t < perOut; ++t) {
      double total = 0.0;
      for (int64_t slot = 0; slot < slots.count; ++slot)
        total += slots.base[slot * perSlot + partialOffset + o * perOut + t];
      if (t < 9 * channels)
        dw[o * 9 * channels + t] = static_cast<float>(total);
      else if (db)
        db[o] = static_cast<float>(total);
    }
}

} // namespace locus::rt::cpu::direct

#endif
