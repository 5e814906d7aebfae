//===- LocusOps.h - locus operations ---------------------------*- C++ -*-===//
#ifndef LOCUS_DIALECT_LOCUS_IR_LOCUSOPS_H
#define LOCUS_DIALECT_LOCUS_IR_LOCUSOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "locus/Dialect/Locus/IR/LocusAttrs.h"
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/IR/LocusInterfaces.h.inc"

#define GET_OP_CLASSES
#include "locus/Dialect/Locus/IR/LocusOps.h.inc"

namespace locus {
/// The learning blocks (local_loss markers) of the function around `op`, in
/// program order, whether flat or partitioned into locus.block ops.
llvm::SmallVector<LocalLossOp> getLearningBlocks(mlir::Operation *op);
} // namespace locus

#endif
