//===- ModelRecords.h - the model as typed records in the object -*- C++ -*-===//
//
// `locus_model` (abi/Model.h), the one symbol an object exports: the model
// half (the network's name, target and CPU, its parameters as ParamRecords,
// its blocks with their layers and losses as BlockRecords) and the compiled
// code's half (KernelTables.h), as LLVM constants in the object's module.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_TARGET_MODELRECORDS_H
#define LOCUS_LIB_TARGET_MODELRECORDS_H

#include "locus/runtime/ModelDescriptor.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"

namespace locus {

/// Adds the record for `model`, the step program and kernels of `kernels`,
/// exported as `locus_model`; every other definition of `object` becomes
/// hidden.
mlir::LogicalResult addModelRecord(mlir::ModuleOp module, mlir::ModuleOp kernels,
                                   llvm::Module &object, const rt::ModelDesc &model);

} // namespace locus

#endif
