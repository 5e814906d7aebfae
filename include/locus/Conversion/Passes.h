//===- Passes.h - locus conversion passes -----------------------*- C++ -*-===//
//
// The passes that turn the block step program into kernels
// (lib/Conversion/LocusToKernels) and into the model descriptor with its
// memory plan (lib/Conversion/LocusToDescriptor).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_CONVERSION_PASSES_H
#define LOCUS_CONVERSION_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include "locus/Dialect/Locus/IR/LocusDialect.h"

namespace locus {

#define GEN_PASS_DECL
#include "locus/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "locus/Conversion/Passes.h.inc"

} // namespace locus

#endif
