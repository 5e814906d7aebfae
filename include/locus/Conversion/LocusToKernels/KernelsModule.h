//===- KernelsModule.h - where the generated kernels live -------*- C++ -*-===//
//
// locus-generate-update-kernels creates a nested module @locus_kernels,
// marked with the unit attribute `locus.kernels`, beside the locus network;
// the other code-generation passes add to it, locus-lower-kernels-to-llvm
// lowers it, and the object emitter translates it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_CONVERSION_LOCUSTOKERNELS_KERNELSMODULE_H
#define LOCUS_CONVERSION_LOCUSTOKERNELS_KERNELSMODULE_H

#include "mlir/IR/BuiltinOps.h"

namespace locus {

constexpr llvm::StringLiteral kKernelsModuleName = "locus_kernels";
constexpr llvm::StringLiteral kKernelsModuleAttr = "locus.kernels";

/// The @locus_kernels module nested in `module`, or null.
inline mlir::ModuleOp findKernelsModule(mlir::ModuleOp module) {
  for (auto nested : module.getOps<mlir::ModuleOp>())
    if (nested->hasAttr(kKernelsModuleAttr))
      return nested;
  return nullptr;
}

} // namespace locus

#endif
