//===- StepContext.h - what a generated step program's calls reach -*- C++ -*-===//
//
// The `ctx` every call of a step program carries (abi/StepCalls.h): the
// backend the calls run on, the engine's parameters and optimizer, and this
// step's per-block losses and random streams. The calls (StepCalls.cpp)
// only translate descriptors into Backend calls; the order and the buffers
// are the program's.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_TRAIN_STEPCONTEXT_H
#define LOCUS_RUNTIME_SRC_TRAIN_STEPCONTEXT_H

#include "locus/runtime/train/Engine.h"

namespace locus::rt::train {

struct StepContext {
  Engine *engine = nullptr;
  Backend *backend = nullptr;
  std::vector<double> *losses = nullptr;
  /// Per block: whether a loss term was added this step (the engine's
  /// buffer, cleared before each step).
  char *lossSeen = nullptr;
  uint64_t negativesSeed = 0;
  /// Set in a gradient check: gradients go here instead of the optimizer.
  const GradientObserver *observer = nullptr;
  /// The block the program's calls are in (locus_rt_enter_block).
  Backend::StepPlace place;

  float *param(int32_t index) const { return engine->params_[index].data(); }
  /// A bilinear loss's B: parameter `index`, or null for -1, the identity
  /// (projection = identity), which the backend applies without a matrix.
  const float *projection(int32_t index) const { return index >= 0 ? param(index) : nullptr; }
  /// The step's optimizer (or the observer) on one complete gradient.
  void applyGradient(int32_t index, float *grad, int64_t count) const;
  /// AdamW on B [rows, cols] from its gradient's factors (the fused loss).
  void adamwFromFactors(int32_t index, int64_t rows, int64_t cols, int64_t k,
                        const float *factors, const float *c) const;
};

} // namespace locus::rt::train

#endif
