//===- ConvReluPool.cpp - 3x3 conv, relu and 2x2 max-pool in one pass ----===//
//
// The forward pass computes two convolution rows of 4 output channels into a
// small row buffer (the direct kernels' arithmetic, DirectConvKernels.h) and
// pools them at once (PoolRows.h), so only the pooled map and its arg-max are
// written. The weight gradient expands the pooled gradient of one output
// channel into a plane buffer that stays in L1 (dh where the pooled output is
// positive, at the arg-max) and takes the direct kernels' per-plane sums.
// Without AVX2 the same steps run as scalar loops.
//
//===----------------------------------------------------------------------===//
#include "backend/cpu/ConvReluPool.h"

#include "backend/cpu/ConvGeometry.h"
#include "backend/cpu/DirectConvKernels.h"
#include "backend/cpu/PoolRows.h"

#include <algorithm>

namespace locus::rt::cpu {

namespace {

using namespace direct;

constexpr int64_t kChannelBlock = 4;

/// Where a slot's pieces start (convReluPoolSlotFloats sizes the slot).
struct SlotLayout {
  PaddedSample pad;
  int64_t perSlot, plane; // plane: the weight gradient's [H, W] buffer
};

SlotLayout slotLayout(Shape4 xs, int64_t outChannels) {
  return {paddedShape(xs), convReluPoolSlotFloats(xs, outChannels), xs.h * xs.w};
}

/// Pools rows 2 oy and 2 oy + 1 of one channel (rows: 2 x W) into pooled row oy.
void poolRows(const float *rows, Shape4 xs, int64_t oy, float *h, int32_t *am, bool vector) {
  const int64_t ow = xs.w / 2, base = 2 * oy * xs.w;
#if defined(LOCUS_HAVE_X86)
  if (vector) {
    for (int64_t ox0 = 0; ox0 < ow; ox0 += 8)
      maxPoolRow2x2Avx2(rows, rows + xs.w, std::min(ox0, ow - 8), static_cast<int32_t>(base),
                        static_cast<int32_t>(xs.w), /*relu=*/true, h, am);
    return;
  }
#endif
  (void)vector;
  maxPoolRow2x2(rows, rows + xs.w, 0, ow, base, xs.w, /*relu=*/true, h, am);
}

/// Rows [row0, row0 + 2) of output channel o, scalar, into out (2 x W).
void forwardRowsScalar(const float *pad, const PaddedSample &p, Shape4 xs, const float *w,
                       int64_t o, const float *b, int64_t row0, float *out) {
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t x = 0; x < xs.w; ++x) {
      float acc = b ? b[o] : 0.0f;
      for (int64_t c = 0; c < xs.c; ++c)
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx)
            acc += pad[(c * p.rows + row0 + r + ky) * p.cols + x + kx] *
                   w[(o * xs.c + c) * 9 + ky * 3 + kx];
      out[r * xs.w + x] = acc;
    }
}

/// All pooled rows of channels [o0, o0 + count) of one sample.
void forwardChannelBlock(const float *pad, const PaddedSample &p, Shape4 xs, const float *w,
                         int64_t o0, int64_t count, const float *b, float *rows, float *h,
                         int32_t *am, bool vector) {
  const int64_t oh = xs.h / 2, ow = xs.w / 2, pooledPlane = oh * ow;
  for (int64_t oy = 0; oy < oh; ++oy) {
#if defined(LOCUS_HAVE_X86)
    if (vector) {
      if (count == kChannelBlock)
        forwardRows<kChannelBlock>(pad, p, xs, w, o0, b, 2 * oy, 2 * oy + 2, rows, 2 * xs.w);
      else
        for (int64_t j = 0; j < count; ++j)
          forwardRows<1>(pad, p, xs, w, o0 + j, b, 2 * oy, 2 * oy + 2, rows + j * 2 * xs.w,
                         2 * xs.w);
    }
#endif
    if (!vector)
      for (int64_t j = 0; j < count; ++j)
        forwardRowsScalar(pad, p, xs, w, o0 + j, b, 2 * oy, rows + j * 2 * xs.w);
    for (int64_t j = 0; j < count; ++j)
      poolRows(rows + j * 2 * xs.w, xs, oy, h + (o0 + j) * pooledPlane + oy * ow,
               am + (o0 + j) * pooledPlane + oy * ow, vector && ow >= kLanes);
  }
}

/// Window (oy, ox)'s gradient at the convolution output: dh at the arg-max
/// where the pooled output is positive, zero at the other three elements.
inline void expandWindow(float d, float hv, int32_t at, int64_t oy, int64_t ox, int64_t w,
                         float *g) {
  const int64_t tl = 2 * oy * w + 2 * ox;
  g[tl] = g[tl + 1] = g[tl + w] = g[tl + w + 1] = 0.0f;
  if (hv > 0.0f)
    g[at] = d;
}

#if defined(LOCUS_HAVE_X86)
/// dst[2 k] = left[k], dst[2 k + 1] = right[k] for k < 8.
LOCUS_AVX2 inline void storeInterleaved(__m256 left, __m256 right, float *dst) {
  const __m256 lo = _mm256_unpacklo_ps(left, right), hi = _mm256_unpackhi_ps(left, right);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

/// expandWindow on windows [ox0, ox0 + 8) of pooled row oy: rows 2 oy and
/// 2 oy + 1 of g, columns [2 ox0, 2 ox0 + 16), written whole.
LOCUS_AVX2 void expandWindows8(const float *dh, const float *h, const int32_t *am, int64_t oy,
                               int64_t ox0, int64_t w, float *g) {
  const __m256 d = _mm256_and_ps(
      _mm256_loadu_ps(dh + ox0),
      _mm256_cmp_ps(_mm256_loadu_ps(h + ox0), _mm256_setzero_ps(), _CMP_GT_OQ));
  // Where in its window each arg-max lies: row 1 when past the first row
  // (offset >= w >= 2), column 1 when odd (windows start at even columns).
  const __m256i topLeft =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(2 * oy * w + 2 * ox0)),
                       _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
  const __m256i offset =
      _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(am + ox0)), topLeft);
  const __m256 row1 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(offset, _mm256_set1_epi32(1)));
  const __m256 col1 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
      _mm256_and_si256(offset, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
  const __m256 top = _mm256_andnot_ps(row1, d), bottom = _mm256_and_ps(row1, d);
  storeInterleaved(_mm256_andnot_ps(col1, top), _mm256_and_ps(col1, top),
                   g + 2 * oy * w + 2 * ox0);
  storeInterleaved(_mm256_andnot_ps(col1, bottom), _mm256_and_ps(col1, bottom),
                   g + (2 * oy + 1) * w + 2 * ox0);
}
#endif

/// Output channel o's gradient at the convolution output, plane g [H, W].
void expandPlane(const float *dh, const float *h, const int32_t *am, Shape4 xs, float *g,
                 bool vector) {
  const int64_t oh = xs.h / 2, ow = xs.w / 2;
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float *d = dh + oy * ow, *hv = h + oy * ow;
    const int32_t *at = am + oy * ow;
#if defined(LOCUS_HAVE_X86)
    if (vector && ow >= 8) {
      // The last group overlaps the one before it: it rewrites the same values.
      for (int64_t ox0 = 0; ox0 < ow; ox0 += 8)
        expandWindows8(d, hv, at, oy, std::min(ox0, ow - 8), xs.w, g);
      continue;
    }
#endif
    for (int64_t ox = 0; ox < ow; ++ox)
      expandWindow(d[ox], hv[ox], at[ox], oy, ox, xs.w, g);
  }
}

} // namespace

bool convReluPoolApplies(Shape4 xs, const Window &conv, const Window &pool) {
  return conv.kh == 3 && conv.kw == 3 && conv.sh == 1 && conv.sw == 1 && conv.pt == 1 &&
         conv.pl == 1 && conv.pb == 1 && conv.pr == 1 && pool.kh == 2 && pool.kw == 2 &&
         pool.sh == 2 && pool.sw == 2 && pool.pt == 0 && pool.pl == 0 && pool.pb == 0 &&
         pool.pr == 0 && xs.c >= 1 && xs.h >= 2 && xs.w >= 2 && xs.h % 2 == 0 && xs.w % 2 == 0;
}

void convReluPoolForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                         const float *b, float *h, int32_t *argmax, Workspace &ws) {
  convReluPoolForwardOn(useAvx2(), x, xs, w, outChannels, b, h, argmax, ws);
}

void convReluPoolBackwardWeight(const float *x, Shape4 xs, const float *dh, const float *h,
                                const int32_t *argmax, int64_t outChannels, float *dw,
                                float *db, Workspace &ws) {
  convReluPoolBackwardWeightOn(useAvx2(), x, xs, dh, h, argmax, outChannels, dw, db, ws);
}

void convReluPoolForwardOn(bool vectorCpu, const float *x, Shape4 xs, const float *w,
                           int64_t outChannels, const float *b, float *h, int32_t *argmax,
                           Workspace &ws) {
  const SlotLayout s = slotLayout(xs, outChannels);
  const Slots slots =
      makeSlots(ws, convReluPoolWorkspaceFloats(xs, outChannels), xs.n, s.perSlot);
  const bool vector = vectorCpu && useAvx2() && xs.w >= kLanes;
  const int64_t xStride = xs.c * xs.h * xs.w, hStride = outChannels * (xs.h / 2) * (xs.w / 2);
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * s.perSlot;
    float *rows = pad + s.pad.floats;
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, s.pad, pad);
      for (int64_t o = 0; o < outChannels; o += kChannelBlock)
        forwardChannelBlock(pad, s.pad, xs, w, o, std::min(kChannelBlock, outChannels - o), b,
                            rows, h + n * hStride, argmax + n * hStride, vector);
    }
  });
}

void convReluPoolBackwardWeightOn(bool vectorCpu, const float *x, Shape4 xs, const float *dh,
                                  const float *h, const int32_t *argmax, int64_t outChannels,
                                  float *dw, float *db, Workspace &ws) {
  const SlotLayout s = slotLayout(xs, outChannels);
  const Slots slots =
      makeSlots(ws, convReluPoolWorkspaceFloats(xs, outChannels), xs.n, s.perSlot);
  const bool vector = vectorCpu && useAvx2() && xs.w >= kLanes;
  const int64_t perOut = 9 * xs.c + 1, pooled = (xs.h / 2) * (xs.w / 2);
  const int64_t xStride = xs.c * xs.h * xs.w;
  parallelFor(slots.count, true, [&](int64_t slot) {
    float *pad = slots.base + slot * s.perSlot;
    float *plane = pad + s.pad.floats;
    float *partial = plane + s.plane;
    std::fill(partial, partial + outChannels * perOut, 0.0f);
    for (int64_t n = slots.first(slot, xs.n); n < slots.first(slot + 1, xs.n); ++n) {
      padSample(x + n * xStride, xs, s.pad, pad);
      for (int64_t o = 0; o < outChannels; ++o) {
        const int64_t at = (n * outChannels + o) * pooled;
        expandPlane(dh + at, h + at, argmax + at, xs, plane, vector);
#if defined(LOCUS_HAVE_X86)
        if (vector) {
          weightGradPlane(pad, s.pad, xs, plane, partial + o * perOut);
          continue;
        }
#endif
        weightGradPlaneScalar(pad, s.pad, xs, plane, partial + o * perOut);
      }
    }
  });
  sumSlotPartials(slots, s.perSlot, s.pad.floats + s.plane, outChannels, xs.c, dw, db);
}

} // namespace locus::rt::cpu
