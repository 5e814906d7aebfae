//===- Passes.h - locus passes ---------------------------------*- C++ -*-===//
#ifndef LOCUS_DIALECT_LOCUS_TRANSFORMS_PASSES_H
#define LOCUS_DIALECT_LOCUS_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include "locus/Dialect/Locus/IR/LocusDialect.h"

namespace locus {

#define GEN_PASS_DECL
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"

struct BlockStepOptions : public mlir::PassPipelineOptions<BlockStepOptions> {
  Option<bool> fuseConvReluPool{
      *this, "fuse-conv-relu-pool",
      llvm::cl::desc("Fuse a block's first conv with its relu + max-pool "
                     "(locus-fuse-conv-relu-pool)"),
      llvm::cl::init(true)};
};

/// The target-neutral part of every target's pipeline: shapes, blocks and
/// the block step (fusion, rules written out as loss ops, gradients).
void buildBlockStepPipeline(mlir::OpPassManager &pm, const BlockStepOptions &options);

} // namespace locus

#endif
