//===- Pipeline.h - the pass pipeline locusc runs ---------------*- C++ -*-===//
#ifndef LOCUS_TARGET_PIPELINE_H
#define LOCUS_TARGET_PIPELINE_H

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
                     "(locus-fuse-conv-relu-pool; target=cpu only: the CUDA backend "
                     "runs them apart, so its conv output is an arena buffer)"),
      llvm::cl::init(true)};
  Option<bool> codegen{
      *this, "codegen",
      llvm::cl::desc("Also generate the kernels and lower them to the LLVM dialect"),
      llvm::cl::init(false)};
  Option<bool> lowerKernels{
      *this, "lower-kernels",
      llvm::cl::desc("With codegen, lower the kernels for the target "
                     "(off: keep them target-neutral, in linalg, scf and arith)"),
      llvm::cl::init(true)};
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Where the kernels run: 'cpu' (lowered through vector to the "
                     "LLVM dialect) or 'cuda' (mapped to GPU threads, PTX for gpu-chip)"),
      llvm::cl::init("cpu")};
  Option<bool> gpuTilingOnCpu{
      *this, "gpu-tiling-on-cpu",
      llvm::cl::desc("With target=cpu, tile and map the kernels' loops as for the GPU first "
                     "(the CPU then runs the GPU form: tests of its index arithmetic)"),
      llvm::cl::init(false)};
  Option<std::string> gpuChip{*this, "gpu-chip",
                              llvm::cl::desc("With target=cuda, the GPU architecture"),
                              llvm::cl::init("sm_90")};
  Option<bool> allLossKernels{
      *this, "all-loss-kernels",
      llvm::cl::desc("With codegen, compile every loss kernel (bilinear, goodness, "
                     "InfoNCE), not only the model's (for the runtime's tests and benchmarks)"),
      llvm::cl::init(false)};
};

/// The pipeline locusc runs on an imported spec: the target-neutral block
/// step (buildBlockStepPipeline), the memory plan and, with codegen, the
/// kernels (LocusToKernels) and the step program, lowered for the target
/// (lib/Target/Cpu or lib/Target/Cuda: the only stage that differs).
void buildTrainingPipeline(mlir::OpPassManager &pm, const TrainingPipelineOptions &options);
/// Registers it as `locus-training-pipeline` (for locus-opt).
void registerTrainingPipeline();

} // namespace locus

#endif
