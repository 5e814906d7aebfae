//===- Passes.h - the CUDA target's passes ----------------------*- C++ -*-===//
#ifndef LOCUS_TARGET_CUDA_PASSES_H
#define LOCUS_TARGET_CUDA_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace locus {

#define GEN_PASS_DECL
#include "locus/Target/Cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "locus/Target/Cuda/Passes.h.inc"

/// The interfaces the CUDA lowering needs in a context: the NVVM target
/// (serialisation to PTX), the conversions to LLVM/NVVM the GPU pipeline
/// looks up by interface, and the GPU/NVVM translations to LLVM IR.
void registerCudaTargetInterfaces(mlir::DialectRegistry &registry);

} // namespace locus

#endif
