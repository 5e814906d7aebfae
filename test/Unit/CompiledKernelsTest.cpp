//===- CompiledKernelsTest.cpp - locusc's kernels against references ------===//
//
// This test links the object locusc compiles from examples/fmnist.onnxtxt
// (see CMakeLists.txt), so it calls the kernels exactly as a training binary
// does: generated as linalg, lowered to LLVM and vectorized for this CPU.
// They must agree with scalar reference updates (referenceAdamStep,
// referenceSgdStep below) over several steps, on sizes that exercise the
// vector body, its tail and the threaded slicing.
//
//===----------------------------------------------------------------------===//
#include "CompiledTables.h"
#include "NumericTestUtil.h"

#include "locus/runtime/backend/cpu/CompiledKernels.h"
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/AdamMath.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using locus::rt::cpu::MemRefF32;
using locus::rt::cpu::MemRefScalarF64;

namespace {

using namespace locus::rt::cpu;
using locus::test::compiledPooling;
using locus::test::randomVector;

const UpdateKernels kCompiled = linkedModel().update;

/// Largest difference in units of the reference's magnitude (1 for |ref| < 1).
double maxScaledDiff(const std::vector<float> &got, const std::vector<float> &ref) {
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - ref[i]) / std::max(1.0, std::fabs(double(ref[i]))));
  return worst;
}

/// AdamMath.h's element update in a scalar loop, compiled for the baseline
/// x86-64 (no FMA contraction): PyTorch's AdamW operation by operation.
void referenceAdamStep(const AdamW &opt, int64_t t, int64_t count, float *param,
                       const float *grad, float *m, float *v) {
  const AdamCoefficients k = adamCoefficients(opt, t);
  for (int64_t i = 0; i < count; ++i)
    adamScalar(k, param[i], grad[i], m[i], v[i]);
}

/// Sgd.h's update, operation by operation as PyTorch's SGD (with LARS's
/// trust ratio from float64 norms): the reference of the compiled kernels.
void referenceSgdStep(const SgdMomentum &opt, int64_t count, float *param, const float *grad,
                      float *buf, bool adapt) {
  const double wd = adapt || !opt.lars ? opt.weightDecay : 0.0;
  double scale = 1.0;
  if (opt.lars && adapt) {
    double pp = 0.0, gg = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      double g = grad[i] + wd * param[i];
      pp += double(param[i]) * param[i];
      gg += g * g;
    }
    if (pp > 0.0 && gg > 0.0)
      scale = opt.trust * std::sqrt(pp) / std::sqrt(gg);
  }
  const float w = float(wd), s = float(scale), mom = float(opt.momentum), rate = float(opt.lr);
  for (int64_t i = 0; i < count; ++i) {
    float g = (grad[i] + w * param[i]) * s;
    buf[i] = mom * buf[i] + g;
    param[i] -= rate * buf[i];
  }
}

// Sizes: one element, less than a vector, a vector plus a tail, and more than
// eight 32768-element slices (the threaded path).
const int64_t kSizes[] = {1, 5, 37, 300007};

struct AdamCase {
  double beta1, weightDecay;
};

class CompiledAdamW : public ::testing::TestWithParam<AdamCase> {};

TEST_P(CompiledAdamW, MatchesTheRuntimeOverSteps) {
  AdamW opt;
  opt.lr = 1e-2;
  opt.beta1 = GetParam().beta1; // 0.9: torch's low lerp formula; 0.3: the high one
  opt.weightDecay = GetParam().weightDecay;
  for (int64_t n : kSizes) {
    std::vector<float> p = randomVector(n, 1), m(n, 0.0f), v(n, 0.0f);
    std::vector<float> pRef = p, mRef = m, vRef = v;
    for (int64_t t = 1; t <= 3; ++t) {
      std::vector<float> g = randomVector(n, 100 + t);
      adamwStep(kCompiled, opt, t, n, p.data(), g.data(), m.data(), v.data());
      referenceAdamStep(opt, t, n, pRef.data(), g.data(), mRef.data(), vRef.data());
    }
    // The same float operations in the same order: agreement to rounding.
    EXPECT_LE(maxScaledDiff(p, pRef), 1e-6) << "n = " << n;
    EXPECT_LE(maxScaledDiff(m, mRef), 1e-6) << "n = " << n;
    EXPECT_LE(maxScaledDiff(v, vRef), 1e-6) << "n = " << n;
    // And the update did something: the parameters moved by about lr.
    EXPECT_GT(maxScaledDiff(p, randomVector(n, 1)), 1e-3) << "n = " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Betas, CompiledAdamW,
                         ::testing::Values(AdamCase{0.9, 0.0}, AdamCase{0.9, 0.05},
                                           AdamCase{0.3, 0.0}),
                         [](const auto &info) {
                           return std::string(info.param.beta1 < 0.5 ? "HighLerp" : "LowLerp") +
                                  (info.param.weightDecay > 0 ? "Decay" : "NoDecay");
                         });

TEST_P(CompiledAdamW, Bf16MomentsMatchTheScalarUpdateBitForBit) {
  // Bfloat16 moments: the same float32 update, then the same stochastic
  // rounding (hash of the step's key and the element's index) of m and v.
  // The reference is AdamMath.h's scalar update compiled in this file, for
  // the baseline x86-64 (no FMA, so no contraction: operation by operation
  // as the kernel). The runtime's AVX2 path differs from both where GCC
  // contracts its multiplies and adds into FMAs.
  AdamW opt;
  opt.lr = 1e-2;
  opt.beta1 = GetParam().beta1;
  opt.weightDecay = GetParam().weightDecay;
  for (int64_t n : kSizes) {
    std::vector<float> p = randomVector(n, 1), pRef = p;
    std::vector<BFloat16> m(n, BFloat16{0}), v(n, BFloat16{0}), mRef = m, vRef = v;
    AdamMoments moments;
    moments.mBf16 = m.data();
    moments.vBf16 = v.data();
    moments.stream = 12345;
    for (int64_t t = 1; t <= 3; ++t) {
      std::vector<float> g = randomVector(n, 100 + t);
      adamwStep(kCompiled, opt, t, n, p.data(), g.data(), moments);
      const AdamCoefficients k = adamCoefficients(opt, t, moments);
      for (int64_t i = 0; i < n; ++i)
        adamScalar(k, pRef[i], g[i], &mRef[i], &vRef[i], i);
    }
    int64_t mismatches = 0, written = 0;
    for (int64_t i = 0; i < n; ++i) {
      mismatches += m[i].bits != mRef[i].bits || v[i].bits != vRef[i].bits || p[i] != pRef[i];
      written += v[i].bits != 0;
    }
    EXPECT_EQ(mismatches, 0) << "n = " << n;
    EXPECT_GT(written, n / 2) << "n = " << n; // the moments were stored
  }
}

TEST(CompiledAdamW, WritesOnlyItsSlice) {
  // The runtime passes a slice as its start pointer and size: elements
  // outside stay as they are.
  std::vector<float> p(64, 1.0f), g(64, 0.5f), m(64, 0.0f), v(64, 0.0f);
  MemRefF32 gs{g.data(), g.data() + 8, 0, 16, 1}, ps{p.data(), p.data() + 8, 0, 16, 1},
      ms{m.data(), m.data() + 8, 0, 16, 1}, vs{v.data(), v.data() + 8, 0, 16, 1};
  AdamW opt;
  kCompiled.adamw(&gs, &ps, &ms, &vs, 1.0f, 0.1f, 0.9f, 0.999f, 0.001f, -0.01f, 1.0f, 1e-8f);
  for (int i = 0; i < 64; ++i) {
    bool inside = i >= 8 && i < 24;
    EXPECT_EQ(m[i] != 0.0f, inside) << i;
    EXPECT_EQ(p[i] != 1.0f, inside) << i;
  }
}

class CompiledSgd : public ::testing::TestWithParam<bool> {};

TEST_P(CompiledSgd, MatchesTheRuntimeOverSteps) {
  SgdMomentum opt;
  opt.lr = 0.1;
  opt.momentum = 0.9;
  opt.weightDecay = 1e-3;
  opt.lars = GetParam();
  for (bool adapt : {true, false})
    for (int64_t n : kSizes) {
      std::vector<float> p = randomVector(n, 2), buf(n, 0.0f);
      std::vector<float> pRef = p, bufRef = buf;
      for (int t = 1; t <= 3; ++t) {
        std::vector<float> g = randomVector(n, 200 + t);
        sgdStep(kCompiled, opt, n, p.data(), g.data(), buf.data(), adapt);
        referenceSgdStep(opt, n, pRef.data(), g.data(), bufRef.data(), adapt);
      }
      // LARS's norms are summed per slice here and in one pass there: the
      // trust ratio may differ in its last bits, so allow a little more.
      double tolerance = opt.lars && adapt ? 1e-5 : 1e-6;
      EXPECT_LE(maxScaledDiff(p, pRef), tolerance) << "n = " << n << " adapt " << adapt;
      EXPECT_LE(maxScaledDiff(buf, bufRef), tolerance) << "n = " << n << " adapt " << adapt;
      // LARS steps are lr * trust * ||p|| / ||g|| small, plain SGD ones about lr.
      EXPECT_GT(maxScaledDiff(p, randomVector(n, 2)), opt.lars && adapt ? 1e-6 : 1e-2) << "n = " << n;
    }
}

INSTANTIATE_TEST_SUITE_P(Momentum, CompiledSgd, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "Lars" : "Plain"; });

TEST(CompiledLarsNorms, SumsInFloat64) {
  // 2^24 + 1 ones: a float32 accumulator would stop at 2^24.
  const int64_t n = (int64_t(1) << 24) + 1;
  std::vector<float> p(n, 1.0f), g(n, 0.0f);
  double pp = 0.0, gg = 0.0;
  MemRefF32 ps{p.data(), p.data(), 0, n, 1}, gs{g.data(), g.data(), 0, n, 1};
  MemRefScalarF64 pps{&pp, &pp, 0}, ggs{&gg, &gg, 0};
  kCompiled.larsNorms(&ps, &gs, &pps, &ggs, 0.5);
  EXPECT_EQ(pp, double(n));
  EXPECT_EQ(gg, 0.25 * double(n)); // (g + wd p)^2 = 0.25 per element
}

} // namespace

namespace {

using namespace locus::rt::cpu;
using locus::test::randomVector;

/// The fmnist example's loss poolings (7 x 7 windows of block 1's 14 x 14
/// map, and of block 2's 7 x 7 map), compiled per shape by
/// locus-generate-pool-kernels, against the runtime's average pooling.
TEST(CompiledLossPooling, MatchesTheRuntimeBothWays) {
  const LossPoolKernels table = linkedModel().lossPools;
  ASSERT_EQ(table.count, 2);
  for (const LossPoolKernel &kernel : {table.entries[0], table.entries[1]}) {
    SCOPED_TRACE(::testing::Message() << kernel.c << "x" << kernel.h << "x" << kernel.w << " k"
                                      << kernel.k);
    ASSERT_EQ(kernel.k, 7);
    const int64_t n = 5, oh = kernel.h / kernel.k, ow = kernel.w / kernel.k;
    Shape4 hs{n, kernel.c, kernel.h, kernel.w}, zs{n, kernel.c, oh, ow};
    Window win;
    win.kh = win.sh = win.kw = win.sw = kernel.k;

    std::vector<float> h = randomVector(hs.count(), 3), z(zs.count(), -1.0f), zRef(zs.count());
    MemRef4F32 in = memref4(h.data(), n, kernel.c, kernel.h, kernel.w);
    MemRef4F32 out = memref4(z.data(), n, kernel.c, oh, ow);
    kernel.pool(&in, &out);
    avgPool2dForward(compiledPooling(), h.data(), hs, win, zRef.data(), zs);
    for (size_t i = 0; i < z.size(); ++i)
      ASSERT_NEAR(z[i], zRef[i], 1e-6f) << i;

    std::vector<float> dz = randomVector(zs.count(), 4), dh(hs.count(), -1.0f), dhRef(hs.count());
    MemRef4F32 din = memref4(dz.data(), n, kernel.c, oh, ow);
    MemRef4F32 dout = memref4(dh.data(), n, kernel.c, kernel.h, kernel.w);
    kernel.unpool(&din, &dout);
    avgPool2dBackward(compiledPooling(), dz.data(), zs, win, dhRef.data(), hs);
    for (size_t i = 0; i < dh.size(); ++i)
      ASSERT_NEAR(dh[i], dhRef[i], 1e-7f) << i;
  }
}

/// The fmnist example's relu + max-pool epilogues (2 x 2 windows of block 1's
/// 28 x 28 and block 2's 14 x 14 maps: 14-wide rows, so each row ends with an
/// overlapping vector group), compiled by locus-generate-relu-pool-kernels,
/// against the runtime's fused kernels, through the threaded batch slicing.
TEST(CompiledReluPool, MatchesTheRuntimeBothWays) {
  const ReluPoolKernels table = linkedModel().reluPools;
  ASSERT_EQ(table.count, 2);
  for (const ReluPoolKernel &kernel : {table.entries[0], table.entries[1]}) {
    SCOPED_TRACE(::testing::Message() << kernel.c << "x" << kernel.h << "x" << kernel.w);
    ASSERT_EQ(kernel.kh, 2);
    ASSERT_EQ(kernel.kw, 2);
    const int64_t n = 5, oh = kernel.h / 2, ow = kernel.w / 2;
    const Shape4 as{n, kernel.c, kernel.h, kernel.w}, hs{n, kernel.c, oh, ow};
    Window win;
    win.kh = win.sh = win.kw = win.sw = 2;
    // Coarse values tie often and many windows are all negative; some NaNs.
    std::vector<float> a = randomVector(as.count(), 5, -1.0f, 0.6f);
    for (float &v : a)
      v = std::round(v * 4.0f) / 4.0f;
    for (int64_t i = 17; i < as.count(); i += 997)
      a[i] = locus::test::kNaN;

    std::vector<float> h(hs.count(), -1.0f), hRef(hs.count());
    std::vector<int32_t> at(hs.count(), -1), atRef(hs.count());
    reluPoolForward(kernel, a.data(), h.data(), at.data(), n);
    reluMaxPool2dForward(compiledPooling(), a.data(), as, win, hRef.data(), hs, atRef.data());
    for (int64_t o = 0; o < hs.count(); ++o) {
      // The runtime keeps NaN maxima out of h (relu(NaN) = 0 there); the
      // compiled kernel keeps them as NaN. Neither passes a gradient.
      if (std::isnan(h[o])) {
        ASSERT_EQ(hRef[o], 0.0f) << o;
        continue;
      }
      ASSERT_EQ(h[o], hRef[o]) << o;
      if (h[o] > 0.0f) { // the runtime's flat index as a position in the window
        const int64_t plane = atRef[o] % (kernel.h * kernel.w);
        const int64_t y = plane / kernel.w, x = plane % kernel.w;
        ASSERT_EQ(at[o], (y % 2) * 2 + x % 2) << o;
      }
    }

    std::vector<float> dh = randomVector(hs.count(), 6), da(as.count(), -1.0f),
                       daRef(as.count());
    reluPoolBackward(kernel, dh.data(), h.data(), at.data(), da.data(), n);
    reluMaxPool2dBackward(compiledPooling(), dh.data(), hRef.data(), hs, atRef.data(), daRef.data(), as);
    for (int64_t i = 0; i < as.count(); ++i)
      ASSERT_EQ(da[i], daRef[i]) << i;
  }
}

/// The same epilogues without an arg-max (the windows cover both maps): h
/// from the unindexed kernel and da written over a by the in-place adjoint,
/// which finds each window's arg-max again, equal bit for bit to the indexed
/// pair's, on ties, all-negative windows and NaNs. 7- and 14-wide rows end
/// with a vector group overlapping the one before: it must read its maxima
/// before that one writes da over a (a mutation that reads them after fails).
TEST(CompiledReluPool, WithoutArgmaxEqualsTheIndexedPair) {
  const ReluPoolKernels table = linkedModel().reluPools;
  ASSERT_EQ(table.count, 2);
  for (const ReluPoolKernel &kernel : {table.entries[0], table.entries[1]}) {
    SCOPED_TRACE(::testing::Message() << kernel.c << "x" << kernel.h << "x" << kernel.w);
    ASSERT_NE(kernel.forwardUnindexed, nullptr);
    ASSERT_NE(kernel.backwardInPlace, nullptr);
    const int64_t n = 5, oh = kernel.h / 2, ow = kernel.w / 2;
    const Shape4 as{n, kernel.c, kernel.h, kernel.w}, hs{n, kernel.c, oh, ow};
    std::vector<float> a = randomVector(as.count(), 7, -1.0f, 0.6f);
    for (float &v : a)
      v = std::round(v * 4.0f) / 4.0f;
    for (int64_t i = 23; i < as.count(); i += 991)
      a[i] = locus::test::kNaN;
    std::vector<float> h(hs.count(), -1.0f), hIndexed(hs.count(), -2.0f);
    std::vector<int32_t> at(hs.count(), -1);
    reluPoolForwardUnindexed(kernel, a.data(), h.data(), n);
    reluPoolForward(kernel, a.data(), hIndexed.data(), at.data(), n);
    ASSERT_EQ(std::memcmp(h.data(), hIndexed.data(), sizeof(float) * h.size()), 0);

    std::vector<float> dh = randomVector(hs.count(), 8), daIndexed(as.count(), -1.0f);
    reluPoolBackward(kernel, dh.data(), hIndexed.data(), at.data(), daIndexed.data(), n);
    std::vector<float> da = a; // overwritten with da
    reluPoolBackwardInPlace(kernel, dh.data(), da.data(), n);
    for (int64_t i = 0; i < as.count(); ++i)
      ASSERT_EQ(da[i], daIndexed[i]) << i << " (a " << a[i] << ")";
  }
}

} // namespace
