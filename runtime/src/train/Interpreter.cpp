//===- Interpreter.cpp - the engine's own walk over the descriptor -------===//
//
// Without a step program (the unit tests' hand-built descriptors) the engine
// runs each block from the descriptor: layers, loss, backward pass, updates.
// The training binary never does (it requires its program); the generated
// program does the same calls in the same order and is tested bit for bit
// against this (test/Unit/StepProgramTest.cpp). It goes when the tests'
// models are compiled by locusc (issue 11's note).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Engine.h"

#include "BlockLoss.h"
#include "Goodness.h"
#include "Layers.h"
#include "ModelInfo.h"
#include "Pooling.h"
#include "locus/runtime/train/Random.h"

#include <cstring>
#include <map>

namespace locus::rt::train {

void Engine::update(const std::vector<int32_t> &indices, std::vector<Tensor> &grads) {
  for (int32_t i : indices) {
    if (!trained_[i] || !grads[i].defined())
      continue;
    updateOne(i, grads[i].data());
    grads[i].reset(); // free each gradient as soon as it is applied
  }
}

namespace {

/// Pooled context tensors by (block, kernel).
using ContextMap = std::map<std::pair<int32_t, int64_t>, Tensor>;

/// Block l's context: the pre-computed pooled output of another block, or
/// this block's own output pooled with the context kernel.
Tensor contextFor(Backend &backend, const ModelDesc &model, int32_t l, const Tensor &out,
                  const Tensor &z, const ContextMap &contexts) {
  const LossDesc &loss = model.blocks[l].loss;
  if (loss.context == "same")
    return z;
  int32_t m = contextBlockOf(model, l);
  int64_t k = contextPoolOf(model, l);
  if (m == l)
    return k == loss.pool ? z : poolForLoss(backend, out, k);
  return contexts.at({m, k});
}

} // namespace

double Engine::lossOf(int32_t l, const Tensor &z, const Tensor &context, Phase phase,
                      uint64_t negativesSeed, std::vector<Tensor> &grads, Tensor &dz) {
  const BlockDesc &block = model_.blocks[l];
  std::vector<int32_t> negatives;
  if (block.loss.negatives == "random")
    negatives = drawNegatives(z.shape().n, mixSeed(negativesSeed, Stream::Negatives, l));
  LossProjections proj;
  bool identity = block.loss.projection == "identity";
  proj.projection = identity ? identity_[l].data() : params_[block.projection].data();
  bool both = block.loss.context == "both";
  if (both)
    proj.lateral = params_[block.lateralProjection].data();
  cpu::AdamW adam = scheduledAdamW();
  bool fuse = !identity && phase == Phase::Train && options_.kind == OptimizerKind::AdamW &&
              block.loss.f != "infonce" && trained_[block.projection];
  if (fuse) {
    proj.fused = {&adam, steps_, momentsOf(block.projection), {}};
    if (both)
      proj.fused.lateralMoments = momentsOf(block.lateralProjection);
  } else if (!identity && phase != Phase::Evaluate) {
    proj.dProjection = &grads[block.projection];
    if (both)
      proj.dLateral = &grads[block.lateralProjection];
  }
  return blockLoss(*backend_, block.loss, z, context, proj, negatives.data(), dz);
}

Status Engine::runLocal(const Tensor &views, Phase phase, const GradientObserver *observer,
                        std::vector<double> &losses, uint64_t negativesSeed) {
  Backend &backend = *backend_;
  int32_t blocks = static_cast<int32_t>(model_.blocks.size());
  bool train = phase != Phase::Evaluate;

  // Direct feedback: one forward-only pass up to the highest context block
  // that keeps nothing but the pooled contexts (DESIGN.md "Execution model").
  ContextMap contexts;
  int32_t lastContext = -1;
  for (int32_t l = 0; l < blocks; ++l)
    if (needsForeignContext(model_, l))
      lastContext = std::max(lastContext, contextBlockOf(model_, l));
  if (lastContext >= 0) {
    Tensor h = views;
    for (int32_t b = 0; b <= lastContext; ++b) {
      h = forwardBlock(backend, model_.blocks[b], params_, std::move(h), nullptr);
      for (int32_t l = 0; l < blocks; ++l) {
        int64_t k = contextPoolOf(model_, l);
        if (needsForeignContext(model_, l) && contextBlockOf(model_, l) == b &&
            !contexts.count({b, k}))
          contexts[{b, k}] = poolForLoss(backend, h, k);
      }
    }
  }

  // FF and SCFF (validated to be the rule of every block) change what each
  // block sees: hybrid negatives below the views, normalised or paired inputs.
  const GoodnessRule goodness = goodnessRuleOf(model_.blocks.front().loss);
  const int64_t rows = views.shape().n;
  Tensor h = views;
  if (goodness == GoodnessRule::ForwardForward)
    h = withHybridNegatives(backend, views, mixSeed(negativesSeed, Stream::Negatives, blocks));
  const float biasScale = goodnessBiasScale(goodness);
  for (int32_t l = 0; l < blocks; ++l) {
    const BlockDesc &block = model_.blocks[l];
    if (goodness != GoodnessRule::None)
      h = goodnessBlockInput(backend, goodness, l, h, /*pairs=*/true);
    BlockState state;
    Tensor out =
        forwardBlock(backend, block, params_, std::move(h), train ? &state : nullptr, biasScale);
    std::vector<Tensor> grads(params_.size());
    Tensor dh;
    if (goodness != GoodnessRule::None) {
      losses[l] = goodnessLoss(backend, goodness, block.loss, out, dh);
    } else {
      Tensor z = poolForLoss(backend, out, block.loss.pool);
      Tensor context = contextFor(backend, model_, l, out, z, contexts);
      Tensor dz;
      losses[l] = lossOf(l, z, context, phase, negativesSeed, grads, dz);
      context.reset();
      z.reset();
      if (train)
        dh = unpoolGradient(backend, dz, out.shape(), block.loss.pool);
    }

    if (train) {
      backwardBlock(backend, block, params_, state, std::move(dh), grads, biasScale);
      std::vector<int32_t> indices = trainedParamsOf(block, /*withProjections=*/true);
      if (observer)
        for (int32_t i : indices)
          (*observer)(i, grads[i]);
      if (phase == Phase::Train)
        update(indices, grads);
    }
    dh.reset();
    // state, grads and the loss buffers go here; only the detached output
    // travels on to the next block (under SCFF its positive half).
    h = goodness == GoodnessRule::Scff ? leadingRows(backend, out, rows) : std::move(out);
  }
  return Status::success();
}

Status Engine::runGlobal(const Tensor &views, Phase phase, const GradientObserver *observer,
                         std::vector<double> &losses, uint64_t negativesSeed) {
  Backend &backend = *backend_;
  int32_t top = static_cast<int32_t>(model_.blocks.size()) - 1;
  int32_t contextBlock = contextBlockOf(model_, top);
  bool train = phase != Phase::Evaluate;

  std::vector<BlockState> states(top + 1);
  Tensor h = views, contextSource;
  for (int32_t l = 0; l <= top; ++l) {
    h = forwardBlock(backend, model_.blocks[l], params_, std::move(h), train ? &states[l] : nullptr);
    if (l == contextBlock && l != top)
      contextSource = h;
  }
  const BlockDesc &block = model_.blocks[top];
  Tensor z = poolForLoss(backend, h, block.loss.pool);
  Tensor context;
  if (block.loss.context == "same")
    context = z;
  else
    context = poolForLoss(backend, contextBlock == top ? h : contextSource, contextPoolOf(model_, top));
  contextSource.reset();

  std::vector<Tensor> grads(params_.size());
  Tensor dz;
  losses[top] = lossOf(top, z, context, phase, negativesSeed, grads, dz);
  context.reset();
  z.reset();
  if (!train)
    return Status::success();

  // Backprop end to end: every block but the first passes dL/dx down.
  Shape4 hShape = h.shape();
  h.reset();
  Tensor dh = unpoolGradient(backend, dz, hShape, block.loss.pool);
  dz.reset();
  for (int32_t l = top; l >= 0; --l) {
    dh = backwardBlock(backend, model_.blocks[l], params_, states[l], std::move(dh), grads);
    states[l].clear();
  }
  std::vector<int32_t> indices;
  for (size_t i = 0; i < params_.size(); ++i)
    if (trained_[i])
      indices.push_back(static_cast<int32_t>(i));
  if (observer)
    for (int32_t i : indices)
      (*observer)(i, grads[i]);
  if (phase == Phase::Train)
    update(indices, grads);
  return Status::success();
}

Status Engine::interpretFeatures(const Tensor &images, float *out) {
  const Shape4 is = images.shape();
  int64_t total = featureCount(), offset = 0;
  Tensor h = images;
  const GoodnessRule goodness = goodnessRuleOf(model_.blocks.front().loss);
  for (size_t l = 0; l < model_.blocks.size(); ++l) {
    const BlockDesc &block = model_.blocks[l];
    if (goodness != GoodnessRule::None)
      h = goodnessBlockInput(*backend_, goodness, static_cast<int32_t>(l), h, /*pairs=*/false);
    h = forwardBlock(*backend_, block, params_, std::move(h), nullptr, goodnessBiasScale(goodness));
    Tensor z = poolForLoss(*backend_, h, block.loss.pool);
    int64_t d = z.shape().c;
    for (int64_t i = 0; i < is.n; ++i)
      std::memcpy(out + i * total + offset, z.data() + i * d, sizeof(float) * d);
    offset += d;
  }
  return Status::success();
}

} // namespace locus::rt::train
