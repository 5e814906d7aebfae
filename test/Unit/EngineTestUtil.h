//===- EngineTestUtil.h - helpers of the engine tests -----------*- C++ -*-===//
#ifndef LOCUS_TEST_UNIT_ENGINETESTUTIL_H
#define LOCUS_TEST_UNIT_ENGINETESTUTIL_H

#include "TestModels.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace locus::test {

/// One step's views, uniform in [-1, 1), reproducible from `seed`.
inline rt::train::Tensor randomViews(rt::train::Engine &engine, uint64_t seed) {
  rt::train::Tensor views =
      rt::train::Tensor::allocate(engine.memoryHandle(), engine.viewShape());
  rt::train::Rng rng(seed);
  for (int64_t i = 0; i < views.count(); ++i)
    views.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  return views;
}

/// `steps` training steps of `cpu` and of `device` (another backend's
/// engine on the same model and seed) on the same random views: each block's
/// loss within tolerance(step) (1 + |cpu's|), NaN where the CPU's is NaN.
template <typename Tolerance>
void expectStepsAgree(rt::train::Engine &cpu, rt::train::Engine &device, int steps,
                      Tolerance tolerance) {
  for (int s = 0; s < steps; ++s) {
    rt::train::Tensor views = randomViews(cpu, 70 + s);
    rt::train::Tensor deviceViews = device.backend().allocate(views.shape());
    device.backend().copyToDevice(deviceViews.data(), views.data(), 4 * views.count());
    std::vector<double> lc, lg;
    ASSERT_TRUE(cpu.step(views, lc).isOk());
    ASSERT_TRUE(device.step(deviceViews, lg).isOk());
    device.backend().synchronize();
    ASSERT_EQ(lc.size(), lg.size());
    for (size_t b = 0; b < lc.size(); ++b) {
      if (std::isnan(lc[b])) {
        EXPECT_TRUE(std::isnan(lg[b])) << "step " << s << " block " << b;
        continue;
      }
      EXPECT_NEAR(lg[b], lc[b], tolerance(s) * (1.0 + std::fabs(lc[b])))
          << "step " << s << " block " << b;
    }
  }
}

/// max |a - b| / max |b|: a norm-wise relative error that a few tiny entries
/// cannot inflate; NaN never passes.
inline double relativeError(const float *a, const std::vector<double> &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    double d = std::abs(a[i] - b[i]);
    num = std::isnan(d) ? INFINITY : std::max(num, d);
    den = std::max(den, std::abs(b[i]));
  }
  return den == 0 ? num : num / den;
}

} // namespace locus::test

#endif
