//===- Conv.cpp - convolutions through im2col + SGEMM ----------------------===//
//
// Forward:         y[n]  = W [O x K] * col(x[n]) [K x P]           (K = C kh kw, P = OH OW)
// Weight gradient: dW   += dy[n] [O x P] * col(x[n])^T [P x K]
// Data gradient:   dx[n] = col2im(W^T [K x O] * dy[n] [O x P])
//
// Small output maps (the deep VGG blocks: 8x8, 4x4) make per-sample GEMMs thin
// and slow, so samples are grouped: the im2col of g samples side by side is one
// [K x gP] matrix and each GEMM runs over gP columns; the [O x gP] result is
// then scattered to (or gathered from) NCHW.
//
// 3x3 same-padded layers take other paths for the forward pass and the weight
// gradient: Winograd (Winograd.cpp) with >= 16 channels on both sides, the
// direct kernels (DirectConv.cpp) with fewer input channels.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/ConvGeometry.h"
#include "backend/cpu/DirectConv.h"
#include "backend/cpu/Parallel.h"
#include "backend/cpu/Winograd.h"

#include <algorithm>
#include <cstring>

namespace locus::rt::cpu {

float *Workspace::get(int64_t floats) {
  if (floats < 1)
    floats = 1;
  if (static_cast<int64_t>(buffer_.size()) < floats) {
    // The old contents need not survive: free first, then allocate.
    std::vector<float>().swap(buffer_);
    buffer_.resize(static_cast<size_t>(floats));
  }
  return buffer_.data();
}

void Workspace::release() { std::vector<float>().swap(buffer_); }

namespace {

/// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

/// im2col of one sample into columns [0, P) of a matrix with row stride ld.
void im2col(const float *x, const ConvGeometry &g, float *col, int64_t ld) {
  const Window &win = g.win;
  const int64_t rows = g.k;
  const int64_t khw = win.kh * win.kw;
  parallelFor(rows, g.p * rows >= (1 << 16), [&](int64_t row) {
    const int64_t c = row / khw;
    const int64_t i = (row / win.kw) % win.kh;
    const int64_t j = row % win.kw;
    const float *plane = x + c * g.h * g.w;
    float *dst = col + row * ld;
    // Output columns ox whose input column ix = ox*sw - pl + j lies in [0, W).
    const int64_t oxLo = std::clamp<int64_t>(ceilDiv(win.pl - j, win.sw), 0, g.ow);
    const int64_t oxHi = std::clamp<int64_t>(ceilDiv(g.w + win.pl - j, win.sw), oxLo, g.ow);
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t iy = oy * win.sh - win.pt + i;
      float *d = dst + oy * g.ow;
      if (iy < 0 || iy >= g.h) {
        std::memset(d, 0, sizeof(float) * g.ow);
        continue;
      }
      const float *src = plane + iy * g.w;
      for (int64_t ox = 0; ox < oxLo; ++ox)
        d[ox] = 0.0f;
      if (win.sw == 1) {
        if (oxHi > oxLo)
          std::memcpy(d + oxLo, src + oxLo - win.pl + j, sizeof(float) * (oxHi - oxLo));
      } else {
        const float *s = src - win.pl + j;
        for (int64_t ox = oxLo; ox < oxHi; ++ox)
          d[ox] = s[ox * win.sw];
      }
      for (int64_t ox = oxHi; ox < g.ow; ++ox)
        d[ox] = 0.0f;
    }
  });
}

/// The adjoint of im2col: dx (one sample) = sum of the columns [0, P) of col
/// (row stride ld) scattered back. dx is overwritten.
void col2im(const float *col, int64_t ld, const ConvGeometry &g, float *dx) {
  const Window &win = g.win;
  const int64_t khw = win.kh * win.kw;
  // Parallel over input channels: every row of channel c writes only plane c.
  parallelFor(g.c, g.p * g.k >= (1 << 16), [&](int64_t c) {
    float *plane = dx + c * g.h * g.w;
    std::memset(plane, 0, sizeof(float) * g.h * g.w);
    for (int64_t ij = 0; ij < khw; ++ij) {
      const int64_t i = ij / win.kw, j = ij % win.kw;
      const float *src = col + (c * khw + ij) * ld;
      const int64_t oxLo = std::clamp<int64_t>(ceilDiv(win.pl - j, win.sw), 0, g.ow);
      const int64_t oxHi = std::clamp<int64_t>(ceilDiv(g.w + win.pl - j, win.sw), oxLo, g.ow);
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t iy = oy * win.sh - win.pt + i;
        if (iy < 0 || iy >= g.h)
          continue;
        float *d = plane + iy * g.w - win.pl + j;
        const float *s = src + oy * g.ow;
        if (win.sw == 1) {
          for (int64_t ox = oxLo; ox < oxHi; ++ox)
            d[ox] += s[ox];
        } else {
          for (int64_t ox = oxLo; ox < oxHi; ++ox)
            d[ox * win.sw] += s[ox];
        }
      }
    }
  });
}

/// Takes the scratch conv2dWorkspaceFloats plans for this layer even when the
/// path that runs needs less (im2col beside a possible Winograd path), so the
/// measured workspace is the planned one in every mode.
void reservePlannedScratch(Shape4 xs, const Window &win, int64_t outChannels, Workspace &ws) {
  if (winogradShape(xs, win, outChannels))
    ws.get(conv2dWorkspaceFloats(xs, win, outChannels));
}

} // namespace

void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                   const float *b, const Window &win, float *y, Workspace &ws) {
  const ConvGeometry g = geometry(xs, win);
  const int64_t o = outChannels, p = g.p, k = g.k;
  if (xs.n == 0 || p == 0 || o == 0)
    return;
  reservePlannedScratch(xs, win, o, ws);
  if (winogradEnabled(xs, win, o)) {
    winogradConv2dForward(x, xs, w, o, b, y, ws, conv2dWorkspaceFloats(xs, win, o));
    return;
  }
  if (directConvApplies(xs, win)) {
    directConv2dForward(x, xs, w, o, b, y, ws, conv2dWorkspaceFloats(xs, win, o));
    return;
  }
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = o * p;
  const int64_t grp = groupSize(g, xs.n);

  if (grp == 1) {
    const bool direct = g.identityCol();
    if (direct) {
      for (int64_t n = 0; n < xs.n; ++n) {
        float *yn = y + n * yStride;
        float beta = 0.0f;
        if (b) {
          for (int64_t oc = 0; oc < o; ++oc)
            std::fill(yn + oc * p, yn + (oc + 1) * p, b[oc]);
          beta = 1.0f;
        }
        gemm(false, false, o, p, k, 1.0f, w, x + n * xStride, beta, yn);
      }
      return;
    }
    // The bias rides in the GEMM as a (k+1)-th column of the weights against
    // a row of ones under the im2col matrix: no separate pass over y.
    float *col = ws.get(biasedIm2colFloats(g, o));
    float *wb = col + (k + 1) * p;
    std::fill(col + k * p, col + (k + 1) * p, 1.0f);
    for (int64_t oc = 0; oc < o; ++oc) {
      std::copy(w + oc * k, w + (oc + 1) * k, wb + oc * (k + 1));
      wb[oc * (k + 1) + k] = b ? b[oc] : 0.0f;
    }
    for (int64_t n = 0; n < xs.n; ++n) {
      im2col(x + n * xStride, g, col, p);
      gemm(false, false, o, p, k + 1, 1.0f, wb, col, 0.0f, y + n * yStride);
    }
    return;
  }

  float *col = ws.get(k * grp * p + o * grp * p);
  float *out = col + k * grp * p;
  for (int64_t n0 = 0; n0 < xs.n; n0 += grp) {
    const int64_t cnt = std::min(grp, xs.n - n0);
    const int64_t ld = cnt * p;
    for (int64_t j = 0; j < cnt; ++j)
      im2col(x + (n0 + j) * xStride, g, col + j * p, ld);
    gemm(false, false, o, ld, k, 1.0f, w, col, 0.0f, out);
    // Scatter [O x cnt P] to NCHW, adding the bias.
    parallelFor(o, o * ld >= (1 << 16), [&](int64_t oc) {
      const float bias = b ? b[oc] : 0.0f;
      const float *src = out + oc * ld;
      for (int64_t j = 0; j < cnt; ++j) {
        float *dst = y + (n0 + j) * yStride + oc * p;
        const float *s = src + j * p;
        for (int64_t q = 0; q < p; ++q)
          dst[q] = s[q] + bias;
      }
    });
  }
}

void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                          const Window &win, float *dw, float *db, Workspace &ws) {
  const ConvGeometry g = geometry(xs, win);
  const int64_t o = ys.c, p = g.p, k = g.k;
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = o * p;

  if (xs.n > 0 && p > 0 && directConvApplies(xs, win)) { // sums db itself
    directConv2dBackwardWeight(x, xs, dy, o, dw, db, ws, conv2dWorkspaceFloats(xs, win, o));
    return;
  }
  const int64_t grp = xs.n > 0 ? groupSize(g, xs.n) : 1;
  // The per-sample im2col path sums db in its GEMM (below), Winograd in its
  // output-gradient transform; the others here.
  const bool winograd = xs.n > 0 && p > 0 && winogradEnabled(xs, win, o); // sums db too
  const bool pathSumsDb = winograd || (grp == 1 && !g.identityCol() && xs.n > 0 && p > 0);
  if (db && !pathSumsDb) {
    parallelFor(o, o * p * xs.n >= (1 << 16), [&](int64_t oc) {
      double total = 0.0;
      for (int64_t n = 0; n < xs.n; ++n)
        total += sumFloats(dy + n * yStride + oc * p, p);
      db[oc] = static_cast<float>(total);
    });
  }
  if (xs.n == 0 || p == 0) {
    std::fill(dw, dw + o * k, 0.0f);
    return;
  }
  reservePlannedScratch(xs, win, o, ws);
  if (winograd) {
    winogradConv2dBackwardWeight(x, xs, dy, o, dw, db, ws, conv2dWorkspaceFloats(xs, win, o));
    return;
  }

  if (grp == 1) {
    if (g.identityCol()) {
      for (int64_t n = 0; n < xs.n; ++n)
        gemm(false, true, o, k, p, 1.0f, dy + n * yStride, x + n * xStride, n == 0 ? 0.0f : 1.0f,
             dw);
      return;
    }
    // [dW | db] in one GEMM: the row of ones under the im2col matrix sums dy.
    float *col = ws.get(biasedIm2colFloats(g, o));
    float *dwb = col + (k + 1) * p;
    std::fill(col + k * p, col + (k + 1) * p, 1.0f);
    for (int64_t n = 0; n < xs.n; ++n) {
      im2col(x + n * xStride, g, col, p);
      gemm(false, true, o, k + 1, p, 1.0f, dy + n * yStride, col, n == 0 ? 0.0f : 1.0f, dwb);
    }
    for (int64_t oc = 0; oc < o; ++oc) {
      std::copy(dwb + oc * (k + 1), dwb + oc * (k + 1) + k, dw + oc * k);
      if (db)
        db[oc] = dwb[oc * (k + 1) + k];
    }
    return;
  }

  float *col = ws.get(k * grp * p + o * grp * p);
  float *dyg = col + k * grp * p;
  for (int64_t n0 = 0; n0 < xs.n; n0 += grp) {
    const int64_t cnt = std::min(grp, xs.n - n0);
    const int64_t ld = cnt * p;
    for (int64_t j = 0; j < cnt; ++j)
      im2col(x + (n0 + j) * xStride, g, col + j * p, ld);
    parallelFor(o, o * ld >= (1 << 16), [&](int64_t oc) {
      for (int64_t j = 0; j < cnt; ++j)
        std::memcpy(dyg + oc * ld + j * p, dy + (n0 + j) * yStride + oc * p, sizeof(float) * p);
    });
    gemm(false, true, o, k, ld, 1.0f, dyg, col, n0 == 0 ? 0.0f : 1.0f, dw);
  }
}

void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win,
                        float *dx, Shape4 xs, Workspace &ws) {
  const ConvGeometry g = geometry(xs, win);
  const int64_t o = ys.c, p = g.p, k = g.k;
  const int64_t xStride = xs.c * xs.h * xs.w, yStride = o * p;
  if (xs.n == 0)
    return;
  if (p == 0 || o == 0) {
    std::fill(dx, dx + xs.count(), 0.0f);
    return;
  }
  reservePlannedScratch(xs, win, o, ws);
  const int64_t grp = groupSize(g, xs.n);
  if (grp == 1) {
    const bool direct = g.identityCol();
    float *col = direct ? nullptr : ws.get(k * p);
    for (int64_t n = 0; n < xs.n; ++n) {
      float *dxn = dx + n * xStride;
      gemm(true, false, k, p, o, 1.0f, w, dy + n * yStride, 0.0f, direct ? dxn : col);
      if (!direct)
        col2im(col, p, g, dxn);
    }
    return;
  }
  float *col = ws.get(k * grp * p + o * grp * p);
  float *dyg = col + k * grp * p;
  for (int64_t n0 = 0; n0 < xs.n; n0 += grp) {
    const int64_t cnt = std::min(grp, xs.n - n0);
    const int64_t ld = cnt * p;
    parallelFor(o, o * ld >= (1 << 16), [&](int64_t oc) {
      for (int64_t j = 0; j < cnt; ++j)
        std::memcpy(dyg + oc * ld + j * p, dy + (n0 + j) * yStride + oc * p, sizeof(float) * p);
    });
    gemm(true, false, k, ld, o, 1.0f, w, dyg, 0.0f, col);
    for (int64_t j = 0; j < cnt; ++j)
      col2im(col + j * p, ld, g, dx + (n0 + j) * xStride);
  }
}

} // namespace locus::rt::cpu
