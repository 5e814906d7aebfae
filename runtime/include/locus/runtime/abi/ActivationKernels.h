//===- ActivationKernels.h - relu and triangle kernels' ABI -----*- C++ -*-===//
//
// locus-generate-activation-kernels emits the blocks' activations and their
// vjps into every model's object; the object exports their entry points as
// the one record of `locus_activation_kernels`. The runtime calls them on
// slices of the batch from its threads.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_ACTIVATIONKERNELS_H
#define LOCUS_RUNTIME_ABI_ACTIVATIONKERNELS_H

#include "locus/runtime/abi/MemRef.h"

namespace locus::abi {

struct ActivationKernels {
  /// y = x > 0 ? x : 0, flat.
  void (*reluForward)(MemRef1F32 *x, MemRef1F32 *y);
  /// dx = y > 0 ? dy : 0, flat; dx may be dy.
  void (*reluBackward)(MemRef1F32 *y, MemRef1F32 *dy, MemRef1F32 *dx);
  /// y = relu(x - mean over channels), on [N, C, H*W].
  void (*triangleForward)(MemRef3F32 *x, MemRef3F32 *y);
  /// Its vjp: t = dy where x - mean > 0, dx = t - mean over channels of t;
  /// dx may be dy.
  void (*triangleBackward)(MemRef3F32 *x, MemRef3F32 *dy, MemRef3F32 *dx);
};

} // namespace locus::abi

#endif
