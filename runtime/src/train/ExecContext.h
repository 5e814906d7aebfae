//===- ExecContext.h - what every engine kernel call needs ------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_EXECCONTEXT_H
#define LOCUS_RUNTIME_TRAIN_EXECCONTEXT_H

#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/train/Tensor.h"

#include <memory>

namespace locus::rt::train {

/// The tracker all buffers are charged to and the kernels' shared workspace.
struct ExecContext {
  std::shared_ptr<MemoryTracker> memory = std::make_shared<MemoryTracker>();
  cpu::Workspace workspace;
  /// The model's compiled kernels (Engine::create checks what it needs).
  cpu::ModelKernels kernels;

  Tensor allocate(Shape4 shape) const { return Tensor::allocate(memory, shape); }
  Tensor zeros(Shape4 shape) const { return Tensor::zeros(memory, shape); }
  /// The workspace grows inside kernels; charge its size after each call.
  void noteWorkspace() { memory->setExternal(workspace.bytes()); }
};

} // namespace locus::rt::train

#endif
