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

struct TrainingPipelineOptions
    : public mlir::PassPipelineOptions<TrainingPipelineOptions> {
  Option<bool> memoryReport{*this, "memory-report",
                            llvm::cl::desc("Print the memory plan as a table"),
                            llvm::cl::init(false)};
  Option<bool> fuseConvReluPool{
      *this, "fuse-conv-relu-pool",
      llvm::cl::desc("Fuse a block's first conv with its relu + max-pool "
                     "(locus-fuse-conv-relu-pool)"),
      llvm::cl::init(true)};
  Option<bool> codegen{
      *this, "codegen",
      llvm::cl::desc("Also generate and lower the kernels (updates, loss poolings)"),
      llvm::cl::init(false)};
};

/// The pipeline locusc runs on an imported spec.
void buildTrainingPipeline(mlir::OpPassManager &pm, const TrainingPipelineOptions &options);
/// Registers it as `locus-training-pipeline` (for locus-opt).
void registerTrainingPipeline();

} // namespace locus

#endif
