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
