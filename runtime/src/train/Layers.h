//===- Layers.h - forward and backward of one block's layers ----*- C++ -*-===//
//
// A block is a short list of layers (conv, relu, pooling, triangle). The
// forward pass optionally keeps exactly what the backward pass reads: the
// conv input (weight gradient), the relu output (its mask), the max-pool
// arg-max, the triangle input. The backward pass releases each piece as soon
// as it has used it, and stops at the first conv layer unless the caller
// asks for the gradient of the block input (global backprop only): a local
// rule never runs the convolution's backward-data pass on its input.
//
// Shapes come from the descriptor with the batch dimension replaced, so the
// same code runs training steps (N views) and probe batches (any n).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_LAYERS_H
#define LOCUS_RUNTIME_TRAIN_LAYERS_H

#include "ExecContext.h"
#include "locus/runtime/ModelDescriptor.h"

#include <vector>

namespace locus::rt::train {

Shape4 withBatch(const std::array<int64_t, 4> &shape, int64_t n);
cpu::Window layerWindow(const LayerDesc &layer);

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
Tensor forwardBlock(ExecContext &ctx, const BlockDesc &block, const std::vector<Tensor> &params,
                    Tensor x, BlockState *state, float biasScale = 1.0f);

/// Backpropagates dOut through the block, consuming `state`. Writes the
/// gradients of the block's conv parameters into grads[param index]
/// (allocated here). Returns dL/dx when wantInputGradient, else an empty
/// tensor.
Tensor backwardBlock(ExecContext &ctx, const BlockDesc &block, const std::vector<Tensor> &params,
                     BlockState &state, Tensor dOut, bool wantInputGradient,
                     std::vector<Tensor> &grads, float biasScale = 1.0f);

} // namespace locus::rt::train

#endif
