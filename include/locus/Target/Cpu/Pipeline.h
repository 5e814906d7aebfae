//===- Pipeline.h - the pass pipeline locusc runs for the CPU ---*- C++ -*-===//
#ifndef LOCUS_TARGET_CPU_PIPELINE_H
#define LOCUS_TARGET_CPU_PIPELINE_H

#include "locus/Dialect/Locus/Transforms/Passes.h"

namespace locus {

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
      llvm::cl::desc("Also generate the kernels and lower them to the LLVM dialect"),
      llvm::cl::init(false)};
  Option<bool> lowerKernels{
      *this, "lower-kernels",
      llvm::cl::desc("With codegen, lower the kernels to the LLVM dialect for the CPU "
                     "(off: keep them target-neutral, in linalg, scf and arith)"),
      llvm::cl::init(true)};
  Option<bool> allLossKernels{
      *this, "all-loss-kernels",
      llvm::cl::desc("With codegen, compile every loss kernel (bilinear, goodness, "
                     "InfoNCE), not only the model's (for the runtime's tests and benchmarks)"),
      llvm::cl::init(false)};
};

/// The pipeline locusc runs on an imported spec for the CPU target: the
/// target-neutral block step (buildBlockStepPipeline), the memory plan and,
/// with codegen, the kernels (LocusToKernels) lowered for the CPU.
void buildTrainingPipeline(mlir::OpPassManager &pm, const TrainingPipelineOptions &options);
/// Registers it as `locus-training-pipeline` (for locus-opt).
void registerTrainingPipeline();

} // namespace locus

#endif
