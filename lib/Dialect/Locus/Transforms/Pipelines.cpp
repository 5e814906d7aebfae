//===- Pipelines.cpp - the pass pipeline locusc runs ----------------------===//
//
// One definition of the compilation pipeline, used by locusc and registered
// in locus-opt as `locus-training-pipeline`, so a lit test or a user can run
// exactly what the compiler runs, stage by stage.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void locus::buildTrainingPipeline(OpPassManager &pm, const TrainingPipelineOptions &options) {
  pm.addNestedPass<func::FuncOp>(createLocusInferShapes());
  pm.addNestedPass<func::FuncOp>(createLocusPartitionBlocks());
  // The block step: fused forward ops, the rule written out as loss ops,
  // then each block's backward pass and updates (which the descriptor and
  // the memory plan read). The loss ops are pure and unread until
  // derive-block-gradients seeds from them, so nothing that erases dead ops
  // (a rewrite driver, canonicalize) may run between the two.
  pm.addNestedPass<func::FuncOp>(createLocusFuseReluPool());
  if (options.fuseConvReluPool)
    pm.addNestedPass<func::FuncOp>(createLocusFuseConvReluPool());
  pm.addNestedPass<func::FuncOp>(createLocusExpandRules());
  pm.addNestedPass<func::FuncOp>(createLocusDeriveBlockGradients());
  LocusPlanMemoryOptions plan;
  plan.report = options.memoryReport;
  pm.addPass(createLocusPlanMemory(plan));
  if (options.codegen) {
    pm.addPass(createLocusGenerateUpdateKernels());
    pm.addPass(createLocusGeneratePoolKernels());
    pm.addPass(createLocusGenerateReluPoolKernels());
    pm.addPass(createLocusLowerKernelsToLLVM());
  }
}

void locus::registerTrainingPipeline() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "locus-training-pipeline",
      "What locusc runs: shapes, blocks, the block step (fusion, rules, gradients), "
      "the memory plan and, with codegen, the update, loss-pooling and relu + max-pool "
      "kernels in "
      "the LLVM dialect",
      buildTrainingPipeline);
}
