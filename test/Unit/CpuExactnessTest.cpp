// Whole-step checks built from the CPU kernels:
//  - one CLAPP++ block step (conv3x3 pad 1 + relu + maxpool 2x2 + avgpool k + flatten + bilinear
//    hinge loss, next-index negatives, context = the block's own pooled output, detached) against
//    a float64 reference of the same math and against finite differences of the float64 loss;
//  - the exactness results of METHOD.md section 3 in deep linear networks: the local gradient with
//    B^l = M^T B^L M and c^l = z'^l (Theorem 3.1), or B^l = M^T B^L and c^l = z'^L (Theorem 3.3),
//    equals the backprop gradient of the top loss (chained through conv2dBackwardData); with 3x3
//    convolutions and no pooling (k = 1) this is Proposition 3.5's 2D spatial dependency.
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/backend/cpu/Kernels.h"
#include "LossKernelHarness.h"

#include "CompiledTables.h"
#include "NumericTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace locus::rt::cpu;
using namespace locus::test;

namespace {

/// CLAPP++'s term: the kernel the step program names for it.
const std::string kHingeNext =
    locus::abi::bilinearLossKernelName("hinge", "contrastive", "next");

using locus::test::relError; // the overloads below add to it





double relError(const std::vector<float> &got, const std::vector<float> &ref) {
  return relError(got, toDouble(ref));
}

double relError(double got, double ref) {
  if (!std::isfinite(got))
    return std::numeric_limits<double>::infinity();
  return std::fabs(got - ref) / std::max(std::fabs(ref), 1e-30);
}

#define EXPECT_REL(got, ref, tol) EXPECT_LE(relError(got, ref), tol) << #got " vs " #ref " "

Window window(int64_t k, int64_t s, int64_t pad) {
  Window w;
  w.kh = w.kw = k;
  w.sh = w.sw = s;
  w.pt = w.pl = w.pb = w.pr = pad;
  return w;
}

/// Square convolution in float64, stride 1, zero padding `pad`, optional bias. x is [n, c, h, w].
Vec refConv(const Vec &x, int64_t n, int64_t c, int64_t h, int64_t w, const Vec &wt, int64_t o,
            int64_t k, int64_t pad, const Vec *b) {
  const int64_t oh = h + 2 * pad - k + 1, ow = w + 2 * pad - k + 1;
  Vec y(static_cast<size_t>(n * o * oh * ow), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b ? (*b)[oc] : 0.0;
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j) {
                const int64_t iy = oy - pad + i, ix = ox - pad + j;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                  acc += wt[((oc * c + ic) * k + i) * k + j] * x[((s * c + ic) * h + iy) * w + ix];
              }
          y[((s * o + oc) * oh + oy) * ow + ox] = acc;
        }
  return y;
}

// --- one CLAPP++ block step ---------------------------------------------------------------------

struct BlockSetup {
  int64_t b = 3, n = 6, cin = 3, h = 8, w = 8, cout = 4, pool = 2;
  int64_t hp = 4, wp = 4, zh = 2, zw = 2, d = 16;
  std::vector<float> x, wt, bias, proj;
};

/// The float64 reference of the block: a, then z (and what the backward pass needs).
struct BlockRef {
  Vec a, r, h, z;
  std::vector<int64_t> arg; // flat index into r of each max-pool output
  double minAbsA = 0, minPoolGap = 0;
};

BlockRef refBlockForward(const BlockSetup &s, const Vec &wt, const Vec &bias) {
  BlockRef f;
  f.a = refConv(toDouble(s.x), s.n, s.cin, s.h, s.w, wt, s.cout, 3, 1, &bias);
  f.r.resize(f.a.size());
  f.minAbsA = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < f.a.size(); ++i) {
    f.r[i] = std::max(0.0, f.a[i]);
    f.minAbsA = std::min(f.minAbsA, std::fabs(f.a[i]));
  }
  const int64_t planes = s.n * s.cout;
  f.h.assign(static_cast<size_t>(planes * s.hp * s.wp), 0.0);
  f.arg.assign(f.h.size(), -1);
  f.minPoolGap = std::numeric_limits<double>::infinity();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < s.hp; ++oy)
      for (int64_t ox = 0; ox < s.wp; ++ox) {
        double best = -1, second = -1;
        int64_t at = -1;
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            const int64_t idx = (p * s.h + 2 * oy + i) * s.w + 2 * ox + j;
            if (at < 0 || f.r[idx] > best) {
              second = best;
              best = f.r[idx];
              at = idx;
            } else {
              second = std::max(second, f.r[idx]);
            }
          }
        const int64_t o = (p * s.hp + oy) * s.wp + ox;
        f.h[o] = best;
        f.arg[o] = at;
        if (best > 0) // a window of zeros has no gradient, ties there do not matter
          f.minPoolGap = std::min(f.minPoolGap, best - second);
      }
  f.z.assign(static_cast<size_t>(planes * s.zh * s.zw), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t iy = 0; iy < s.zh * s.pool; ++iy)
      for (int64_t ix = 0; ix < s.zw * s.pool; ++ix)
        f.z[(p * s.zh + iy / s.pool) * s.zw + ix / s.pool] +=
            f.h[(p * s.hp + iy) * s.wp + ix] / static_cast<double>(s.pool * s.pool);
  return f;
}

/// Hinge CLAPP++ loss with next-index negatives; context c held fixed. Fills the per-row
/// derivatives g_pos, g_neg and the scores.
double refClappLoss(const BlockSetup &s, const Vec &z, const Vec &c, const Vec &proj, Vec *gPos,
                    Vec *gNeg, Vec *bc, double *minMargin) {
  const int64_t n = s.n, d = s.d;
  Vec bcv(static_cast<size_t>(n * d), 0.0);
  double total = 0.0, margin = std::numeric_limits<double>::infinity();
  if (gPos) {
    gPos->assign(n, 0.0);
    gNeg->assign(n, 0.0);
  }
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        bcv[r * d + i] += proj[i * d + j] * c[r * d + j];
    const int64_t pr = (r + s.b) % n, nr = (pr + 1) % n;
    double up = 0.0, un = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      up += z[pr * d + i] * bcv[r * d + i];
      un += z[nr * d + i] * bcv[r * d + i];
    }
    total += std::max(0.0, 1.0 - up) + std::max(0.0, 1.0 + un);
    margin = std::min({margin, std::fabs(1.0 - up), std::fabs(1.0 + un)});
    if (gPos) {
      (*gPos)[r] = up < 1.0 ? -1.0 / n : 0.0;
      (*gNeg)[r] = un > -1.0 ? 1.0 / n : 0.0;
    }
  }
  if (bc)
    *bc = bcv;
  if (minMargin)
    *minMargin = margin;
  return total / n;
}

BlockSetup makeBlock(uint32_t seed) {
  BlockSetup s;
  s.x = randomVector(s.n * s.cin * s.h * s.w, seed);
  s.wt = randomVector(s.cout * s.cin * 9, seed + 1, -0.4f, 0.4f);
  s.bias = randomVector(s.cout, seed + 2, -0.1f, 0.3f);
  s.proj = randomVector(s.d * s.d, seed + 3, -1.5f, 1.5f);
  return s;
}

TEST(CpuClappBlockStep, MatchesFloat64ReferenceAndFiniteDifferences) {
  // A seed whose relu inputs, max-pool windows and hinge margins all keep away from their kinks,
  // and whose hinge has both active and inactive terms.
  BlockSetup s;
  BlockRef ref;
  bool found = false;
  for (uint32_t seed = 1; seed < 500 && !found; ++seed) {
    s = makeBlock(seed * 10);
    ref = refBlockForward(s, toDouble(s.wt), toDouble(s.bias));
    Vec gp, gn;
    double margin = 0;
    refClappLoss(s, ref.z, ref.z, toDouble(s.proj), &gp, &gn, nullptr, &margin);
    int active = 0, inactive = 0;
    for (int64_t r = 0; r < s.n; ++r) {
      (gp[r] != 0 ? active : inactive)++;
      (gn[r] != 0 ? active : inactive)++;
    }
    found = ref.minAbsA > 1e-3 && ref.minPoolGap > 1e-3 && margin > 1e-2 && active >= 3 &&
            inactive >= 3;
  }
  ASSERT_TRUE(found) << "no seed keeps the block away from its kinks";

  // The step with the kernels.
  const Shape4 xs{s.n, s.cin, s.h, s.w};
  const Window conv = window(3, 1, 1), maxWin = window(2, 2, 0), avgWin = window(s.pool, s.pool, 0);
  const Shape4 as = conv.outputShape(xs, s.cout), hs = maxWin.outputShape(as, s.cout),
               zs = avgWin.outputShape(hs, s.cout);
  ASSERT_EQ(zs.c * zs.h * zs.w, s.d);
  Workspace ws;
  std::vector<float> a(as.count(), kNaN), r(as.count(), kNaN), h(hs.count(), kNaN),
      z(zs.count(), kNaN);
  std::vector<int32_t> arg(hs.count(), -1);
  conv2dForward(s.x.data(), xs, s.wt.data(), s.cout, s.bias.data(), conv, a.data(), ws);
  reluForward(compiledActivations(), a.data(), r.data(), as.count());
  maxPool2dForward(compiledPooling(), r.data(), as, maxWin, h.data(), hs, arg.data());
  avgPool2dForward(compiledPooling(), h.data(), hs, avgWin, z.data(), zs);
  const std::vector<float> c = z; // stop-gradient context: the block's own pooled output

  BilinearLossConfig cfg; // hinge, next-index negatives
  cfg.kernel = kHingeNext;
  std::vector<float> dz(z.size(), kNaN), dproj(s.proj.size(), kNaN);
  const double loss = bilinearLoss(compiledLosses(), cfg, s.n, s.d, s.d, z.data(), c.data(), s.proj.data(), nullptr,
                                   dz.data(), dproj.data(), false);
  std::vector<float> dh(h.size(), kNaN), dr(r.size(), kNaN), da(a.size(), kNaN);
  avgPool2dBackward(compiledPooling(), dz.data(), zs, avgWin, dh.data(), hs);
  maxPool2dBackward(compiledPooling(), dh.data(), hs, arg.data(), dr.data(), as);
  reluBackward(compiledActivations(), r.data(), dr.data(), da.data(), as.count());
  std::vector<float> dw(s.wt.size(), kNaN), db(s.bias.size(), kNaN);
  conv2dBackwardWeight(s.x.data(), xs, da.data(), as, conv, dw.data(), db.data(), ws);

  // The float64 reference, straight from METHOD.md section 2's gradient formulas.
  const Vec projD = toDouble(s.proj);
  Vec gp, gn, bc;
  const double lossRef = refClappLoss(s, ref.z, ref.z, projD, &gp, &gn, &bc, nullptr);
  EXPECT_REL(z, ref.z, 1e-5);
  EXPECT_REL(loss, lossRef, 1e-5);
  const int64_t n = s.n, d = s.d;
  Vec dzPos(static_cast<size_t>(n * d)), dzRef(static_cast<size_t>(n * d)),
      dprojRef(static_cast<size_t>(d * d), 0.0);
  for (int64_t q = 0; q < n; ++q) {
    const int64_t qm = (q - 1 + n) % n;
    for (int64_t i = 0; i < d; ++i)
      dzPos[q * d + i] = gp[q] * bc[q * d + i] + gn[qm] * bc[qm * d + i];
  }
  for (int64_t q = 0; q < n; ++q)
    for (int64_t i = 0; i < d; ++i)
      dzRef[q * d + i] = dzPos[((q + s.b) % n) * d + i];
  for (int64_t rr = 0; rr < n; ++rr) {
    const int64_t pr = (rr + s.b) % n, nr = (pr + 1) % n;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        dprojRef[i * d + j] +=
            (gp[rr] * ref.z[pr * d + i] + gn[rr] * ref.z[nr * d + i]) * ref.z[rr * d + j];
  }
  EXPECT_REL(dz, dzRef, 1e-5);
  EXPECT_REL(dproj, dprojRef, 1e-5);
  // delta h = delta z / k^2 on each window; delta r to the arg-max; delta a = delta r * 1[a > 0].
  const int64_t planes = n * s.cout;
  Vec dhRef(ref.h.size(), 0.0), daRef(ref.a.size(), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t iy = 0; iy < s.hp; ++iy)
      for (int64_t ix = 0; ix < s.wp; ++ix)
        dhRef[(p * s.hp + iy) * s.wp + ix] =
            dzRef[(p * s.zh + iy / s.pool) * s.zw + ix / s.pool] / (s.pool * s.pool);
  for (size_t o = 0; o < dhRef.size(); ++o)
    daRef[ref.arg[o]] += ref.a[ref.arg[o]] > 0 ? dhRef[o] : 0.0;
  EXPECT_REL(da, daRef, 1e-5);
  {
    // The fused epilogues give the same block step without materialising relu(a).
    std::vector<float> hf(h.size(), kNaN), daf(a.size(), kNaN);
    std::vector<int32_t> argf(arg.size(), -1);
    reluMaxPool2dForward(compiledPooling(), a.data(), as, maxWin, hf.data(), hs, argf.data());
    EXPECT_EQ(hf, h);
    reluMaxPool2dBackward(compiledPooling(), dh.data(), hf.data(), hs, argf.data(), daf.data(), as);
    EXPECT_EQ(daf, da);
  }
  // dW[o,i,p,q] = sum delta a[n,o,y,x] x~[n,i,y+p,x+q]; db[o] = sum delta a.
  Vec dwRef(s.wt.size(), 0.0), dbRef(s.bias.size(), 0.0);
  for (int64_t sn = 0; sn < n; ++sn)
    for (int64_t o = 0; o < s.cout; ++o)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t xx = 0; xx < s.w; ++xx) {
          const double g = daRef[((sn * s.cout + o) * s.h + y) * s.w + xx];
          dbRef[o] += g;
          for (int64_t ic = 0; ic < s.cin; ++ic)
            for (int64_t pp = 0; pp < 3; ++pp)
              for (int64_t qq = 0; qq < 3; ++qq) {
                const int64_t iy = y + pp - 1, ix = xx + qq - 1;
                if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                  dwRef[((o * s.cin + ic) * 3 + pp) * 3 + qq] +=
                      g * s.x[((sn * s.cin + ic) * s.h + iy) * s.w + ix];
              }
        }
  EXPECT_REL(dw, dwRef, 1e-5);
  EXPECT_REL(db, dbRef, 1e-5);

  // Finite differences of the float64 loss with the context held at its unperturbed value.
  const Vec c0 = ref.z, w0 = toDouble(s.wt), b0 = toDouble(s.bias);
  auto lossAt = [&](const Vec &wt, const Vec &bias) {
    const BlockRef f = refBlockForward(s, wt, bias);
    return refClappLoss(s, f.z, c0, projD, nullptr, nullptr, nullptr, nullptr);
  };
  const double eps = 1e-6; // moves any a by < 3e-5, below the 1e-3 kink distances
  double maxDw = 0.0;
  for (float v : dw)
    maxDw = std::max(maxDw, static_cast<double>(std::fabs(v)));
  for (int64_t idx : {0, 5, 13, 27, 40, 53, 71, 107}) {
    Vec wp = w0, wm = w0;
    wp[idx] += eps;
    wm[idx] -= eps;
    const double fd = (lossAt(wp, b0) - lossAt(wm, b0)) / (2 * eps);
    EXPECT_NEAR(dw[idx], fd, 1e-4 * maxDw + 1e-7) << "W entry " << idx;
  }
  for (int64_t idx = 0; idx < s.cout; ++idx) {
    Vec bp = b0, bm = b0;
    bp[idx] += eps;
    bm[idx] -= eps;
    const double fd = (lossAt(w0, bp) - lossAt(w0, bm)) / (2 * eps);
    EXPECT_NEAR(db[idx], fd, 1e-4 * std::max(1e-3, std::fabs(fd)) + 1e-7) << "bias " << idx;
  }
}

// --- exactness in deep linear networks (METHOD.md section 3) ------------------------------------

struct LinearCase {
  int64_t k;       // convolution kernel (padding k / 2), stride 1, no bias
  int64_t side;    // spatial side of every map
  bool direct;     // direct feedback (Theorem 3.3) or same-layer context (Theorem 3.1)
  std::string name;
};

void PrintTo(const LinearCase &c, std::ostream *os) { *os << c.name; }

class CpuDeepLinearExactness : public ::testing::TestWithParam<LinearCase> {};

TEST_P(CpuDeepLinearExactness, LocalGradientEqualsBackprop) {
  const LinearCase lc = GetParam();
  const int64_t layers = 3, b = 4, n = 2 * b, side = lc.side, plane = side * side;
  const int64_t ch[layers + 1] = {3, 4, 5, 3};
  const Window win = window(lc.k, 1, lc.k / 2);
  BilinearLossConfig cfg; // hinge, next-index negatives
  cfg.kernel = kHingeNext;

  // Weights near-orthogonal in scale (1/sqrt(fan in)), the input, and the top projection.
  std::vector<std::vector<float>> w(layers + 1);
  for (int64_t l = 1; l <= layers; ++l) {
    const float s = 1.5f / std::sqrt(static_cast<float>(ch[l - 1] * lc.k * lc.k));
    w[l] = randomVector(ch[l] * ch[l - 1] * lc.k * lc.k, 100 + static_cast<uint32_t>(l), -s, s);
  }
  auto shape = [&](int64_t l) { return Shape4{n, ch[l], side, side}; };
  auto dim = [&](int64_t l) { return ch[l] * plane; };

  Workspace ws;
  std::vector<std::vector<float>> z(layers + 1);
  std::vector<float> projTop;
  bool found = false;
  for (uint32_t seed = 1; seed < 300 && !found; ++seed) {
    z[0] = randomVector(n * dim(0), 7000 + seed);
    for (int64_t l = 1; l <= layers; ++l) {
      z[l].assign(shape(l).count(), kNaN);
      conv2dForward(z[l - 1].data(), shape(l - 1), w[l].data(), ch[l], nullptr, win,
                    z[l].data(), ws);
    }
    // B^L scaled so that the scores spread around the hinge's kinks at +-1.
    const int64_t dl = dim(layers);
    projTop = randomVector(dl * dl, 9000 + seed);
    const Vec zt = toDouble(z[layers]);
    Vec up(n), un(n);
    double rms = 0.0;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t pr = (r + b) % n, nr = (pr + 1) % n;
      for (int64_t i = 0; i < dl; ++i)
        for (int64_t j = 0; j < dl; ++j) {
          up[r] += zt[pr * dl + i] * projTop[i * dl + j] * zt[r * dl + j];
          un[r] += zt[nr * dl + i] * projTop[i * dl + j] * zt[r * dl + j];
        }
      rms += up[r] * up[r] + un[r] * un[r];
    }
    const double scale = 1.2 / std::sqrt(rms / (2 * n));
    for (float &v : projTop)
      v = static_cast<float>(v * scale);
    int active = 0, inactive = 0;
    double margin = std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < n; ++r) {
      for (double m : {1.0 - up[r] * scale, 1.0 + un[r] * scale}) {
        margin = std::min(margin, std::fabs(m));
        (m > 0 ? active : inactive)++;
      }
    }
    found = margin > 0.02 && active >= 3 && inactive >= 3;
  }
  ASSERT_TRUE(found) << "no seed keeps the hinge away from its kinks with mixed activity";

  // Backprop of the top loss (context z'^L a stop-gradient) through the linear layers.
  const int64_t dl = dim(layers);
  std::vector<std::vector<float>> delta(layers + 1), dwBp(layers + 1);
  delta[layers].assign(n * dl, kNaN);
  std::vector<float> dprojTop(dl * dl, kNaN);
  const std::vector<float> cTop = z[layers];
  const double topLoss = bilinearLoss(compiledLosses(), cfg, n, dl, dl, z[layers].data(), cTop.data(),
                                      projTop.data(), nullptr, delta[layers].data(),
                                      dprojTop.data(), false);
  for (int64_t l = layers; l >= 1; --l) {
    dwBp[l].assign(w[l].size(), kNaN);
    conv2dBackwardWeight(z[l - 1].data(), shape(l - 1), delta[l].data(), shape(l), win,
                         dwBp[l].data(), nullptr, ws);
    delta[l - 1].assign(shape(l - 1).count(), kNaN);
    conv2dBackwardData(delta[l].data(), shape(l), w[l].data(), win, delta[l - 1].data(),
                       shape(l - 1), ws);
  }

  // The local rule at each lower layer l with B^l built from M = (layers above as one matrix).
  for (int64_t l = 1; l < layers; ++l) {
    const int64_t dlow = dim(l);
    // M [dl x dlow]: column i is the image of the basis vector e_i through layers l+1..L (float64).
    Vec m(static_cast<size_t>(dl * dlow));
    for (int64_t i = 0; i < dlow; ++i) {
      Vec e(static_cast<size_t>(dlow), 0.0);
      e[i] = 1.0;
      for (int64_t k = l + 1; k <= layers; ++k)
        e = refConv(e, 1, ch[k - 1], side, side, toDouble(w[k]), ch[k], lc.k, lc.k / 2, nullptr);
      for (int64_t row = 0; row < dl; ++row)
        m[row * dlow + i] = e[row];
    }
    // B^L M (dl x dlow), then B^l = M^T B^L M (Thm 3.1) or M^T B^L (Thm 3.3).
    Vec bm(static_cast<size_t>(dl * dlow), 0.0);
    for (int64_t i = 0; i < dl; ++i)
      for (int64_t j = 0; j < dl; ++j)
        for (int64_t q = 0; q < dlow; ++q)
          bm[i * dlow + q] += projTop[i * dl + j] * m[j * dlow + q];
    const int64_t dc = lc.direct ? dl : dlow;
    std::vector<float> projLocal(static_cast<size_t>(dlow * dc));
    for (int64_t p = 0; p < dlow; ++p)
      for (int64_t q = 0; q < dc; ++q) {
        double s = 0.0;
        for (int64_t i = 0; i < dl; ++i)
          s += m[i * dlow + p] * (lc.direct ? static_cast<double>(projTop[i * dl + q])
                                            : bm[i * dlow + q]);
        projLocal[p * dc + q] = static_cast<float>(s);
      }
    const std::vector<float> &context = lc.direct ? z[layers] : z[l];
    std::vector<float> dzLocal(n * dlow, kNaN), dprojLocal(projLocal.size(), kNaN);
    const double localLoss = bilinearLoss(compiledLosses(), cfg, n, dlow, dc, z[l].data(), context.data(),
                                          projLocal.data(), nullptr, dzLocal.data(),
                                          dprojLocal.data(), false);
    std::vector<float> dwLocal(w[l].size(), kNaN);
    conv2dBackwardWeight(z[l - 1].data(), shape(l - 1), dzLocal.data(), shape(l), win,
                         dwLocal.data(), nullptr, ws);
    EXPECT_NEAR(localLoss, topLoss, 1e-5 * std::fabs(topLoss)) << "layer " << l;
    EXPECT_REL(dzLocal, delta[l], 1e-4) << "layer " << l;
    EXPECT_REL(dwLocal, dwBp[l], 1e-4) << "layer " << l;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, CpuDeepLinearExactness,
    ::testing::Values(LinearCase{1, 1, false, "pointwise_1x1_same_layer_context"},
                      LinearCase{1, 2, false, "pointwise_2x2_same_layer_context"},
                      LinearCase{1, 2, true, "pointwise_2x2_direct_feedback"},
                      LinearCase{3, 3, false, "conv3x3_no_pooling_same_layer_context"},
                      LinearCase{3, 3, true, "conv3x3_no_pooling_direct_feedback"}),
    [](const auto &info) { return info.param.name; });

} // namespace
