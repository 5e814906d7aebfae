//===- KernelTables.h - the compiled code's half of the model record -*- C++ -*-===//
#ifndef LOCUS_LIB_TARGET_KERNELTABLES_H
#define LOCUS_LIB_TARGET_KERNELTABLES_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Constant.h"
#include "llvm/IR/Module.h"

#include <vector>

namespace locus {

/// The ModelRecord fields from `program` to `precision`, in order (their
/// globals added to `object`); fails with an error on `module` where the step
/// program or a kernel set is missing or incomplete.
mlir::FailureOr<std::vector<llvm::Constant *>>
kernelRecordFields(mlir::ModuleOp module, mlir::ModuleOp kernels, llvm::Module &object);

} // namespace locus

#endif
