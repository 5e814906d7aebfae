//===- ExecContext.h - what every engine kernel call needs ------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_EXECCONTEXT_H
#define LOCUS_RUNTIME_TRAIN_EXECCONTEXT_H

#include "locus/runtime/abi/ActivationKernels.h"
#include "locus/runtime/abi/GoodnessInputKernels.h"
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/cpu/PoolKernels.h"
#include "locus/runtime/cpu/ReluPoolKernels.h"
#include "locus/runtime/train/Tensor.h"

#include <memory>

namespace locus::rt::train {

/// The tracker all buffers are charged to and the kernels' shared workspace.
struct ExecContext {
  std::shared_ptr<MemoryTracker> memory = std::make_shared<MemoryTracker>();
  cpu::Workspace workspace;
  /// The model's compiled loss poolings (null: the runtime's own kernels).
  const cpu::LossPoolKernels *poolKernels = nullptr;
  /// The model's compiled relu + max-pool epilogues (null: the runtime's).
  const cpu::ReluPoolKernels *reluPoolKernels = nullptr;
  /// The model's compiled bilinear loss kernels (Engine::create checks that
  /// every bilinear block has its kernel here).
  const abi::LossKernels *lossKernels = nullptr;
  /// The model's compiled relu and triangle (required by a model with either).
  const abi::ActivationKernels *activations = nullptr;
  /// The model's compiled general poolings (required by a model with a
  /// pooling layer or a loss pooling).
  const abi::PoolingKernels *pooling = nullptr;
  /// The model's compiled FF and SCFF input transforms (required by them).
  const abi::GoodnessInputKernels *goodnessInputs = nullptr;

  Tensor allocate(Shape4 shape) const { return Tensor::allocate(memory, shape); }
  Tensor zeros(Shape4 shape) const { return Tensor::zeros(memory, shape); }
  /// The workspace grows inside kernels; charge its size after each call.
  void noteWorkspace() { memory->setExternal(workspace.bytes()); }
};

} // namespace locus::rt::train

#endif
