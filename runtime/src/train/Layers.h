//===- Layers.h - forward and backward of one block's layers ----*- C++ -*-===//
//
// A block is a short list of layers (conv, relu, pooling, triangle). The
// forward pass optionally keeps exactly what the backward pass reads: the
// conv input (weight gradient), the relu output (its mask), the max-pool
// arg-max, the triangle input. The backward pass runs the steps that
// locus-derive-block-gradients put in the descriptor and releases each piece
// as soon as it has used it; for a local rule those steps stop at the first
// conv's parameters, so the convolution's backward-data pass on the block
// input never runs.
//
// Shapes come from the descriptor with the batch dimension replaced, so the
// same code runs training steps (N views) and probe batches (any n).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_LAYERS_H
#define LOCUS_RUNTIME_TRAIN_LAYERS_H

#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/ModelDescriptor.h"

#include <vector>

namespace locus::rt::train {

Shape4 withBatch(const std::array<int64_t, 4> &shape, int64_t n);
cpu::Window layerWindow(const LayerDesc &layer);
/// The pool window of a ConvReluMaxPool2D layer (unpadded).
cpu::Window poolWindow(const LayerDesc &layer);

/// Whether locusc compiles this relu + max-pool layer's kernels (its window
/// tiles the map: kernel = stride, no padding); the runtime's general kernel
/// runs the others.
bool reluPoolIsCompiled(const LayerDesc &layer);

/// What one layer kept from its forward pass.
struct LayerState {
  Tensor input, output;
  IndexArray argmax;
};
using BlockState = std::vector<LayerState>;

/// Runs the block on x ([n, C, H, W]); keeps backward state in *state when
/// state is non-null. x's storage may be updated in place when x is its only
/// handle. `biasScale` multiplies the conv biases (2 under SCFF, whose block
/// input is the sum of two convolved inputs).
Tensor forwardBlock(Backend &backend, const BlockDesc &block, const std::vector<Tensor> &params,
                    Tensor x, BlockState *state, float biasScale = 1.0f);

/// Runs the block's backward pass (block.backward, as the compiler derived
/// it) from dOut, consuming `state`. Writes the gradients of the block's conv
/// parameters into grads[param index] (allocated here). Returns dL/dx when
/// the block hands an input gradient down (global mode), else an empty
/// tensor.
Tensor backwardBlock(Backend &backend, const BlockDesc &block, const std::vector<Tensor> &params,
                     BlockState &state, Tensor dOut, std::vector<Tensor> &grads,
                     float biasScale = 1.0f);

} // namespace locus::rt::train

#endif
