//===- DescriptorTestUtil.h - backward passes for hand-built models -*- C++ -*-===//
//
// locusc's locus-derive-block-gradients writes each block's backward pass
// into the descriptor. Tests that build descriptors by hand add it here with
// the same rule: Data steps from the top layer down, a Params step on every
// conv, stopping at the lowest conv's parameters unless the block hands dL/dx
// down (global mode, every block but the first).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_DESCRIPTORTESTUTIL_H
#define LOCUS_TEST_UNIT_DESCRIPTORTESTUTIL_H

#include "locus/runtime/ModelDescriptor.h"

namespace locus::test {

/// locus-fuse-relu-pool on a descriptor: a relu followed by a max-pool
/// becomes one relu_max_pool2d layer.
inline void fuseReluMaxPool(rt::ModelDesc &model) {
  for (rt::BlockDesc &b : model.blocks)
    for (size_t i = 0; i + 1 < b.layers.size(); ++i)
      if (b.layers[i].kind == rt::LayerKind::Relu &&
          b.layers[i + 1].kind == rt::LayerKind::MaxPool2D) {
        rt::LayerDesc fused = b.layers[i + 1];
        fused.kind = rt::LayerKind::ReluMaxPool2D;
        fused.inShape = b.layers[i].inShape;
        b.layers[i] = fused;
        b.layers.erase(b.layers.begin() + i + 1);
      }
}

/// As locus-fuse-conv-relu-pool: a block's first conv and the relu + max-pool
/// after it as one layer, where no gradient of the block input is needed
/// (run fuseReluMaxPool first).
inline void fuseConvReluMaxPool(rt::ModelDesc &model) {
  for (size_t l = 0; l < model.blocks.size(); ++l) {
    rt::BlockDesc &b = model.blocks[l];
    if ((b.loss.mode == "global" && l > 0) || b.layers.size() < 2 ||
        b.layers[0].kind != rt::LayerKind::Conv2D ||
        b.layers[1].kind != rt::LayerKind::ReluMaxPool2D)
      continue;
    rt::LayerDesc fused = b.layers[0];
    fused.kind = rt::LayerKind::ConvReluMaxPool2D;
    fused.poolKernel = b.layers[1].kernel;
    fused.poolStride = b.layers[1].stride;
    fused.outShape = b.layers[1].outShape;
    b.layers[0] = fused;
    b.layers.erase(b.layers.begin() + 1);
  }
}

inline void addBackwardPasses(rt::ModelDesc &model) {
  using rt::GradStep;
  for (size_t l = 0; l < model.blocks.size(); ++l) {
    rt::BlockDesc &b = model.blocks[l];
    bool wantInput = b.loss.mode == "global" && l > 0;
    int32_t stop = static_cast<int32_t>(b.layers.size());
    for (int32_t i = 0; i < static_cast<int32_t>(b.layers.size()); ++i)
      if (rt::hasConvWeights(b.layers[i].kind)) {
        stop = i;
        break;
      }
    if (wantInput)
      stop = 0;
    b.backward.clear();
    b.inputGradient = wantInput;
    for (int32_t i = static_cast<int32_t>(b.layers.size()); i-- > stop;) {
      if (rt::hasConvWeights(b.layers[i].kind))
        b.backward.push_back({i, GradStep::Kind::Params});
      if (i > stop || wantInput)
        b.backward.push_back({i, GradStep::Kind::Data});
    }
  }
}

} // namespace locus::test

#endif
