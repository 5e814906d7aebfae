//===- Pool.cpp - max and average pooling ----------------------------------===//
//
// Windows with kernel == stride and no padding (the block max-pool 2x2 and the
// loss pooling) take fast paths; everything else takes the general loops.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/cpu/Kernels.h"

#include "cpu/Parallel.h"
#include "cpu/PoolRows.h"
#include "cpu/Simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace locus::rt::cpu {

namespace {

bool tiles(const Window &win) {
  return win.kh == win.sh && win.kw == win.sw && win.pt == 0 && win.pl == 0 && win.pb == 0 &&
         win.pr == 0;
}

/// 2x2 stride-2 max-pool with arg-max, optionally with relu applied to the maxima.
void maxPool2x2(const float *x, Shape4 xs, float *y, Shape4 ys, int32_t *argmax, bool relu) {
  const int64_t planes = xs.n * xs.c;
  const int64_t ih = xs.h, iw = xs.w, oh = ys.h, ow = ys.w;
  const bool vector = useAvx2() && ow >= 8;
  parallelFor(planes, xs.count() >= (1 << 16), [&](int64_t pl) {
    const float *xp = x + pl * ih * iw;
    float *yp = y + pl * oh * ow;
    int32_t *ap = argmax + pl * oh * ow;
    const int64_t base = pl * ih * iw;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const float *r0 = xp + 2 * oy * iw;
      const float *r1 = r0 + iw;
#if defined(LOCUS_HAVE_X86)
      if (vector) {
        // The last group overlaps the one before it when ow is not a multiple
        // of 8: it rewrites the same values.
        const auto rowBase = static_cast<int32_t>(base + 2 * oy * iw);
        for (int64_t ox0 = 0; ox0 < ow; ox0 += 8)
          maxPoolRow2x2Avx2(r0, r1, std::min(ox0, ow - 8), rowBase, static_cast<int32_t>(iw),
                            relu, yp + oy * ow, ap + oy * ow);
        continue;
      }
#endif
      maxPoolRow2x2(r0, r1, 0, ow, base + 2 * oy * iw, iw, relu, yp + oy * ow, ap + oy * ow);
    }
  });
}

} // namespace

void maxPool2dForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys,
                      int32_t *argmax) {
  const int64_t planes = xs.n * xs.c;
  const int64_t ih = xs.h, iw = xs.w, oh = ys.h, ow = ys.w;
  const bool big = xs.count() >= (1 << 16);

  if (win.kh == 2 && win.kw == 2 && tiles(win)) {
    maxPool2x2(x, xs, y, ys, argmax, /*relu=*/false);
    return;
  }

  parallelFor(planes, big, [&](int64_t pl) {
    const float *xp = x + pl * ih * iw;
    float *yp = y + pl * oh * ow;
    int32_t *ap = argmax + pl * oh * ow;
    const int64_t base = pl * ih * iw;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = oy * win.sh - win.pt;
      const int64_t yLo = std::max<int64_t>(y0, 0), yHi = std::min<int64_t>(y0 + win.kh, ih);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t x0 = ox * win.sw - win.pl;
        const int64_t xLo = std::max<int64_t>(x0, 0), xHi = std::min<int64_t>(x0 + win.kw, iw);
        float best = -std::numeric_limits<float>::infinity();
        // A window of padding only keeps -inf and points at a valid element.
        int64_t at = std::min<int64_t>(yLo, ih - 1) * iw + std::min<int64_t>(xLo, iw - 1);
        for (int64_t iy = yLo; iy < yHi; ++iy)
          for (int64_t ix = xLo; ix < xHi; ++ix)
            if (better(xp[iy * iw + ix], best)) {
              best = xp[iy * iw + ix];
              at = iy * iw + ix;
            }
        yp[oy * ow + ox] = best;
        ap[oy * ow + ox] = static_cast<int32_t>(base + at);
      }
    }
  });
}

void maxPool2dBackward(const float *dy, Shape4 ys, const int32_t *argmax, float *dx,
                       Shape4 xs) {
  const int64_t planes = xs.n * xs.c;
  const int64_t inPlane = xs.h * xs.w, outPlane = ys.h * ys.w;
  // argmax of plane pl points into plane pl, so planes are independent.
  parallelFor(planes, xs.count() >= (1 << 16), [&](int64_t pl) {
    std::memset(dx + pl * inPlane, 0, sizeof(float) * inPlane);
    const float *d = dy + pl * outPlane;
    const int32_t *a = argmax + pl * outPlane;
    for (int64_t i = 0; i < outPlane; ++i)
      dx[a[i]] += d[i];
  });
}

void avgPool2dForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys) {
  const int64_t planes = xs.n * xs.c;
  const int64_t ih = xs.h, iw = xs.w, oh = ys.h, ow = ys.w;
  const float scale = 1.0f / static_cast<float>(win.kh * win.kw);
  const bool big = xs.count() >= (1 << 16);

  if (tiles(win)) {
    const int64_t kh = win.kh, kw = win.kw;
    parallelFor(planes, big, [&](int64_t pl) {
      const float *xp = x + pl * ih * iw;
      float *yp = y + pl * oh * ow;
      std::vector<float> rowSum(static_cast<size_t>(ow * kw));
      const int64_t used = ow * kw; // columns past floor(W/k) k are dropped
      for (int64_t oy = 0; oy < oh; ++oy) {
        const float *r = xp + oy * kh * iw;
        std::copy(r, r + used, rowSum.begin());
        for (int64_t i = 1; i < kh; ++i) {
          const float *ri = r + i * iw;
          for (int64_t q = 0; q < used; ++q)
            rowSum[q] += ri[q];
        }
        for (int64_t ox = 0; ox < ow; ++ox) {
          float s = 0.0f;
          for (int64_t j = 0; j < kw; ++j)
            s += rowSum[ox * kw + j];
          yp[oy * ow + ox] = s * scale;
        }
      }
    });
    return;
  }

  parallelFor(planes, big, [&](int64_t pl) {
    const float *xp = x + pl * ih * iw;
    float *yp = y + pl * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = oy * win.sh - win.pt;
      const int64_t yLo = std::max<int64_t>(y0, 0), yHi = std::min<int64_t>(y0 + win.kh, ih);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t x0 = ox * win.sw - win.pl;
        const int64_t xLo = std::max<int64_t>(x0, 0), xHi = std::min<int64_t>(x0 + win.kw, iw);
        float s = 0.0f;
        for (int64_t iy = yLo; iy < yHi; ++iy)
          for (int64_t ix = xLo; ix < xHi; ++ix)
            s += xp[iy * iw + ix];
        yp[oy * ow + ox] = s * scale;
      }
    }
  });
}

namespace {

/// avgpool^T(dy), times 1[y > 0] when y (the relu output, shaped like dx) is given.
void avgPoolBackwardImpl(const float *dy, Shape4 ys, const Window &win, const float *y,
                         float *dx, Shape4 xs) {
  const int64_t planes = xs.n * xs.c;
  const int64_t ih = xs.h, iw = xs.w, oh = ys.h, ow = ys.w;
  const float scale = 1.0f / static_cast<float>(win.kh * win.kw);
  const bool big = xs.count() >= (1 << 16);

  if (tiles(win)) {
    const int64_t kh = win.kh, kw = win.kw;
    parallelFor(planes, big, [&](int64_t pl) {
      const float *dp = dy + pl * oh * ow;
      float *xp = dx + pl * ih * iw;
      const int64_t used = ow * kw;
      for (int64_t oy = 0; oy < oh; ++oy) {
        float *r = xp + oy * kh * iw;
        for (int64_t ox = 0; ox < ow; ++ox) {
          const float v = dp[oy * ow + ox] * scale;
          for (int64_t j = 0; j < kw; ++j)
            r[ox * kw + j] = v;
        }
        std::fill(r + used, r + iw, 0.0f);
        for (int64_t i = 1; i < kh; ++i)
          std::copy(r, r + iw, r + i * iw);
        if (y) {
          const float *yr = y + pl * ih * iw + oy * kh * iw;
          for (int64_t q = 0; q < kh * iw; ++q)
            r[q] = yr[q] > 0.0f ? r[q] : 0.0f;
        }
      }
      std::fill(xp + oh * kh * iw, xp + ih * iw, 0.0f);
    });
    return;
  }

  parallelFor(planes, big, [&](int64_t pl) {
    const float *dp = dy + pl * oh * ow;
    float *xp = dx + pl * ih * iw;
    std::fill(xp, xp + ih * iw, 0.0f);
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = oy * win.sh - win.pt;
      const int64_t yLo = std::max<int64_t>(y0, 0), yHi = std::min<int64_t>(y0 + win.kh, ih);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t x0 = ox * win.sw - win.pl;
        const int64_t xLo = std::max<int64_t>(x0, 0), xHi = std::min<int64_t>(x0 + win.kw, iw);
        const float v = dp[oy * ow + ox] * scale;
        for (int64_t iy = yLo; iy < yHi; ++iy)
          for (int64_t ix = xLo; ix < xHi; ++ix)
            xp[iy * iw + ix] += v;
      }
    }
    if (y) {
      const float *yp = y + pl * ih * iw;
      for (int64_t q = 0; q < ih * iw; ++q)
        xp[q] = yp[q] > 0.0f ? xp[q] : 0.0f;
    }
  });
}

} // namespace

void avgPool2dBackward(const float *dy, Shape4 ys, const Window &win, float *dx, Shape4 xs) {
  avgPoolBackwardImpl(dy, ys, win, nullptr, dx, xs);
}

} // namespace locus::rt::cpu

namespace locus::rt::cpu {

void reluMaxPool2dForward(const float *a, Shape4 as, const Window &win, float *h, Shape4 hs,
                          int32_t *argmax) {
  if (win.kh == 2 && win.kw == 2 && tiles(win)) {
    maxPool2x2(a, as, h, hs, argmax, /*relu=*/true);
    return;
  }
  maxPool2dForward(a, as, win, h, hs, argmax);
  const int64_t count = hs.count();
  parallelFor((count + 16383) / 16384, count >= (1 << 16), [&](int64_t chunk) {
    const int64_t lo = chunk * 16384, hi = std::min(count, lo + 16384);
    for (int64_t i = lo; i < hi; ++i)
      h[i] = h[i] > 0.0f ? h[i] : 0.0f; // relu(max) = max(relu): relu is monotone
  });
}

void reluMaxPool2dBackward(const float *dh, const float *h, Shape4 hs, const int32_t *argmax,
                           float *da, Shape4 as) {
  const int64_t planes = as.n * as.c;
  const int64_t inPlane = as.h * as.w, outPlane = hs.h * hs.w;
  parallelFor(planes, as.count() >= (1 << 16), [&](int64_t pl) {
    std::memset(da + pl * inPlane, 0, sizeof(float) * inPlane);
    const float *d = dh + pl * outPlane, *hp = h + pl * outPlane;
    const int32_t *ap = argmax + pl * outPlane;
    for (int64_t i = 0; i < outPlane; ++i)
      if (hp[i] > 0.0f)
        da[ap[i]] += d[i];
  });
}

void avgPool2dReluBackward(const float *dy, Shape4 ys, const Window &win, const float *y,
                           float *dx, Shape4 xs) {
  avgPoolBackwardImpl(dy, ys, win, y, dx, xs);
}

} // namespace locus::rt::cpu
