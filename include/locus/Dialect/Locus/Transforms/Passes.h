//===- Passes.h - locus passes ---------------------------------*- C++ -*-===//
#ifndef LOCUS_DIALECT_LOCUS_TRANSFORMS_PASSES_H
#define LOCUS_DIALECT_LOCUS_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

#include "locus/Dialect/Locus/IR/LocusDialect.h"

namespace locus {

#define GEN_PASS_DECL
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"

} // namespace locus

#endif
