//===- EngineTestUtil.h - helpers of the engine tests -----------*- C++ -*-===//
#ifndef LOCUS_TEST_UNIT_ENGINETESTUTIL_H
#define LOCUS_TEST_UNIT_ENGINETESTUTIL_H

#include "CompiledTables.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace locus::test {

/// The compiled model's updates and dynamic-shape kernels (losses,
/// activations, poolings, goodness inputs); the static-shape pooling tables
/// stay null (they are the example model's shapes, not the tests'), so the
/// general pooling kernels run.
inline rt::cpu::ModelKernels testKernels() {
  rt::cpu::ModelKernels kernels;
  kernels.update = &compiledUpdates();
  kernels.losses = &compiledLosses();
  kernels.activations = &compiledActivations();
  kernels.pooling = &compiledPooling();
  kernels.goodnessInputs = &compiledGoodnessInputs();
  return kernels;
}

/// An engine for `model` with testKernels(), or null (and a failed
/// expectation) when the model is refused.
inline std::unique_ptr<rt::train::Engine> makeEngine(const rt::ModelDesc &model,
                                                     uint64_t seed = 1) {
  rt::train::EngineOptions options;
  options.seed = seed;
  options.kernels = testKernels();
  std::unique_ptr<rt::train::Engine> engine;
  rt::Status status = rt::train::Engine::create(model, options, engine);
  EXPECT_TRUE(status.isOk()) << status.message();
  return engine;
}

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
