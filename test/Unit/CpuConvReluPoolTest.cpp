// The fused conv + relu + max-pool kernels (ConvReluPool.cpp) against the unfused runtime
// kernels they replace: conv2dForward then reluMaxPool2dForward, and reluMaxPool2dBackward then
// conv2dBackwardWeight. Inputs and weights are multiples of 1/4 and 1/8, so every sum is exact
// in float in any order: the two must agree bit for bit, ties and all (coarse values tie often,
// and all-zero patches leave a window of equal biases), on the AVX2 path and the scalar one.
#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/ConvReluPool.h"
#include "backend/cpu/Simd.h"

#include "CompiledTables.h"
#include "NumericTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

using namespace locus::rt::cpu;
using namespace locus::test;

namespace {

struct FusedCase {
  const char *name;
  int64_t n, c, h, w, o;
};

std::vector<float> coarse(int64_t count, uint32_t seed, float step) {
  std::vector<float> v = randomVector(count, seed, -1.0f, 1.0f);
  for (float &x : v)
    x = std::round(x / step) * step;
  return v;
}

class CpuConvReluPool : public ::testing::TestWithParam<FusedCase> {};

TEST_P(CpuConvReluPool, EqualsTheUnfusedKernels) {
  const FusedCase fc = GetParam();
  const Shape4 xs{fc.n, fc.c, fc.h, fc.w}, as{fc.n, fc.o, fc.h, fc.w},
      hs{fc.n, fc.o, fc.h / 2, fc.w / 2};
  Window conv;
  conv.kh = conv.kw = 3;
  conv.pt = conv.pl = conv.pb = conv.pr = 1;
  Window pool;
  pool.kh = pool.kw = pool.sh = pool.sw = 2;
  ASSERT_TRUE(convReluPoolApplies(xs, conv, pool));

  std::vector<float> x = coarse(xs.count(), 11, 0.25f);
  for (int64_t i = 0; i < xs.count() / 3; ++i) // a blank region: windows of equal values
    x[i] = 0.0f;
  const std::vector<float> w = coarse(fc.o * fc.c * 9, 12, 0.125f), b = coarse(fc.o, 13, 0.25f);
  const std::vector<float> dh = coarse(hs.count(), 14, 0.25f);

  // The unfused composition; reluMaxPool2dForward's arg-max counts from the batch start.
  Workspace ws;
  std::vector<float> a(as.count()), hRef(hs.count()), da(as.count());
  std::vector<int32_t> atRef(hs.count());
  conv2dForward(x.data(), xs, w.data(), fc.o, b.data(), conv, a.data(), ws);
  reluMaxPool2dForward(compiledPooling(), a.data(), as, pool, hRef.data(), hs, atRef.data());
  reluMaxPool2dBackward(compiledPooling(), dh.data(), hRef.data(), hs, atRef.data(), da.data(), as);
  const int64_t plane = fc.h * fc.w, pooled = hs.h * hs.w;
  for (int64_t i = 0; i < hs.count(); ++i) // the fused kernels count within each plane
    atRef[i] -= static_cast<int32_t>(i / pooled * plane);
  std::vector<float> dwRef(w.size()), dbRef(fc.o);
  conv2dBackwardWeight(x.data(), xs, da.data(), as, conv, dwRef.data(), dbRef.data(), ws);

  for (bool vector : {true, false}) {
    if (vector && !useAvx2())
      continue;
    SCOPED_TRACE(vector ? "AVX2" : "scalar");
    std::vector<float> h(hs.count(), kNaN), dw(w.size(), kNaN), db(fc.o, kNaN);
    std::vector<int32_t> at(hs.count(), -1);
    Workspace fusedWs;
    convReluPoolForwardOn(vector, x.data(), xs, w.data(), fc.o, b.data(), h.data(), at.data(),
                          fusedWs);
    for (int64_t i = 0; i < hs.count(); ++i) {
      ASSERT_EQ(h[i], hRef[i]) << "pooled output " << i;
      ASSERT_EQ(at[i], atRef[i]) << "arg-max " << i;
    }
    convReluPoolBackwardWeightOn(vector, x.data(), xs, dh.data(), h.data(), at.data(), fc.o,
                                 dw.data(), db.data(), fusedWs);
    for (size_t i = 0; i < dw.size(); ++i)
      ASSERT_EQ(dw[i], dwRef[i]) << "dw " << i;
    for (int64_t i = 0; i < fc.o; ++i)
      ASSERT_EQ(db[i], dbRef[i]) << "db " << i;
    EXPECT_EQ(fusedWs.bytes(), convReluPoolWorkspaceFloats(xs, fc.o) * 4)
        << "the kernels take exactly the planned scratch";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cpu, CpuConvReluPool,
    ::testing::Values(
        // Fashion-MNIST's first layer: 14 windows a row, the last vector group overlaps.
        FusedCase{"fmnist_28x28", 3, 1, 28, 28, 6},
        // 3 image channels, 8-wide map: 4 windows a row take the scalar pool.
        FusedCase{"rgb_8x8", 2, 3, 8, 8, 5},
        // Maps narrower than a vector: the scalar convolution too.
        FusedCase{"narrow_6x4", 5, 2, 6, 4, 4},
        // 15 channels (the fusion's bound) and output channels past the blocks of 4.
        FusedCase{"c15_16x18", 2, 15, 16, 18, 9},
        // More samples than slots.
        FusedCase{"many_samples", 11, 1, 10, 16, 3}),
    [](const ::testing::TestParamInfo<FusedCase> &info) { return std::string(info.param.name); });

TEST(CpuConvReluPoolShapes, OnlyThe3x3SameConvWith2x2PoolApplies) {
  Window conv;
  conv.kh = conv.kw = 3;
  conv.pt = conv.pl = conv.pb = conv.pr = 1;
  Window pool;
  pool.kh = pool.kw = pool.sh = pool.sw = 2;
  EXPECT_TRUE(convReluPoolApplies(Shape4{2, 1, 28, 28}, conv, pool));
  EXPECT_FALSE(convReluPoolApplies(Shape4{2, 1, 27, 28}, conv, pool)) << "odd height";
  Window strided = conv;
  strided.sh = strided.sw = 2;
  EXPECT_FALSE(convReluPoolApplies(Shape4{2, 1, 28, 28}, strided, pool));
  Window overlapping = pool;
  overlapping.kh = overlapping.kw = 3;
  EXPECT_FALSE(convReluPoolApplies(Shape4{2, 1, 28, 28}, conv, overlapping));
}

} // namespace
