//===- BlockStepPipeline.cpp - the target-neutral block step --------------===//
//
// Every target's pipeline starts here: from the imported network to each
// block's step as locus ops (forward, loss, gradients, updates). What
// follows (kernels, memory plan, lowering) belongs to Conversion and Target.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"

using namespace mlir;

void locus::buildBlockStepPipeline(OpPassManager &pm, const BlockStepOptions &options) {
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
}
