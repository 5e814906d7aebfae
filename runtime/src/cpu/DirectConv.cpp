//===- DirectConv.cpp - direct 3x3 convolutions of few input channels -----===//
//
// Each sample is copied once into a zero-padded (H + 2) x (W + 2) block per
// channel; an output vector of 8 columns is then 9 C FMAs of shifted rows of
// that block. The forward pass computes 4 output channels per input load; the
// weight gradient keeps the 9 taps of one (output, input) channel pair in
// registers while it walks dy once. Samples are split into slots, each with
// its own padded copy (and, for the weight gradient, its own partial sums)
// inside the planned scratch.
//
//===----------------------------------------------------------------------===//
#include "cpu/DirectConv.h"

#include "cpu/Parallel.h"
#include "cpu/Simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace locus::rt::cpu {

namespace {

constexpr int64_t kMaxChannels = 16; // from here on Winograd takes 3x3 layers
constexpr int64_t kLanes = 8;

/// One sample's channels, each a rows x cols block with the map at (1, 1).
struct PaddedSample {
  int64_t rows, cols, floats;
};

PaddedSample paddedShape(Shape4 xs) {
  const int64_t rows = xs.h + 2, cols = xs.w + 2;
  return {rows, cols, xs.c * rows * cols};
}

void padSample(const float *x, Shape4 xs, const PaddedSample &p, float *dst) {
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

Slots makeSlots(Workspace &ws, int64_t wsFloats, int64_t n, int64_t perSlot) {
  Slots s;
  s.count = std::max<int64_t>(
      1, std::min<int64_t>({n, wsFloats / perSlot, 4 * int64_t(parallelThreads())}));
  s.base = ws.get(std::max(wsFloats, s.count * perSlot));
  return s;
}

#if defined(LOCUS_HAVE_X86)
/// Where the vectors of a row start: every 8 columns, and the last one moved
/// back to end at the row's end (it then repeats `overlap` columns).
struct RowVectors {
  int64_t full, last, overlap;
};

RowVectors rowVectors(int64_t w) {
  const int64_t full = w / kLanes;
  const int64_t rest = w - full * kLanes;
  return {full, rest ? w - kLanes : -1, rest ? kLanes - rest : 0};
}

/// B output channels o0 .. o0 + B - 1 of one sample, from its padded copy.
template <int B>
LOCUS_AVX2 void forwardChannels(const float *pad, const PaddedSample &p, Shape4 xs,
                                const float *w, int64_t o0, const float *b, float *y) {
  const int64_t channels = xs.c, plane = xs.h * xs.w;
  const RowVectors rv = rowVectors(xs.w);
  for (int64_t row = 0; row < xs.h; ++row) {
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
        _mm256_storeu_ps(y + (o0 + j) * plane + row * xs.w + x0, acc[j]);
    }
  }
}

LOCUS_AVX2 float horizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// Adds one sample's dW (and db) terms to partial [O][9 C + 1].
LOCUS_AVX2 void weightGradSample(const float *pad, const PaddedSample &p, Shape4 xs,
                                 const float *dy, int64_t outChannels, float *partial) {
  const int64_t channels = xs.c, plane = xs.h * xs.w, perOut = 9 * channels + 1;
  const RowVectors rv = rowVectors(xs.w);
  // The last vector's repeated columns were counted by the one before.
  const __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int(rv.overlap) - 1)));
  for (int64_t o = 0; o < outChannels; ++o) {
    const float *g = dy + o * plane;
    float *sums = partial + o * perOut;
    __m256 db = _mm256_setzero_ps();
    for (int64_t c = 0; c < channels; ++c) {
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
    sums[9 * channels] += horizontalSum(db);
  }
}
#endif

} // namespace

bool directConvApplies(Shape4 xs, const Window &win) {
  static const bool off = [] {
    const char *env = std::getenv("LOCUS_CPU_DIRECT_CONV");
    return env && std::strcmp(env, "0") == 0;
  }();
  return !off && useAvx2() && win.kh == 3 && win.kw == 3 && win.sh == 1 && win.sw == 1 &&
         win.pt == 1 && win.pl == 1 && win.pb == 1 && win.pr == 1 && xs.c >= 1 &&
         xs.c < kMaxChannels && xs.w >= kLanes && xs.h >= 1;
}

void directConv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                         const float *b, float *y, Workspace &ws, int64_t wsFloats) {
#if defined(LOCUS_HAVE_X86)
  const PaddedSample p = paddedShape(xs);
  const Slots slots = makeSlots(ws, wsFloats, xs.n, p.floats);
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = outChannels * xs.h * xs.w;
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * p.floats;
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, p, pad);
      int64_t o = 0;
      for (; o + 4 <= outChannels; o += 4)
        forwardChannels<4>(pad, p, xs, w, o, b, y + n * yStride);
      for (; o < outChannels; ++o)
        forwardChannels<1>(pad, p, xs, w, o, b, y + n * yStride);
    }
  });
#else
  (void)x, (void)xs, (void)w, (void)outChannels, (void)b, (void)y, (void)ws, (void)wsFloats;
#endif
}

void directConv2dBackwardWeight(const float *x, Shape4 xs, const float *dy,
                                int64_t outChannels, float *dw, float *db, Workspace &ws,
                                int64_t wsFloats) {
#if defined(LOCUS_HAVE_X86)
  const PaddedSample p = paddedShape(xs);
  const int64_t perOut = 9 * xs.c + 1, partialFloats = outChannels * perOut;
  const Slots slots = makeSlots(ws, wsFloats, xs.n, p.floats + partialFloats);
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = outChannels * xs.h * xs.w;
  auto partialOf = [&](int64_t slot) {
    return slots.base + slot * (p.floats + partialFloats) + p.floats;
  };
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * (p.floats + partialFloats);
    float *partial = partialOf(slot);
    std::fill(partial, partial + partialFloats, 0.0f);
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, p, pad);
      weightGradSample(pad, p, xs, dy + n * yStride, outChannels, partial);
    }
  });
  for (int64_t o = 0; o < outChannels; ++o) {
    for (int64_t t = 0; t <= 9 * xs.c; ++t) {
      double total = 0.0;
      for (int64_t slot = 0; slot < slots.count; ++slot)
        total += partialOf(slot)[o * perOut + t];
      if (t < 9 * xs.c)
        dw[o * 9 * xs.c + t] = static_cast<float>(total);
      else if (db)
        db[o] = static_cast<float>(total);
    }
  }
#else
  (void)x, (void)xs, (void)dy, (void)outChannels, (void)dw, (void)db, (void)ws, (void)wsFloats;
#endif
}

} // namespace locus::rt::cpu
