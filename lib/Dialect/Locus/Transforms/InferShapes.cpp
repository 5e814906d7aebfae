//===- InferShapes.cpp - static shapes for every value --------------------===//
//
// The importer leaves op results unranked and relies on this pass: walking
// the function in program order means every operand is already static when
// its user is reached (the function is a single block in SSA order). Each op
// answers through InferShapeOpInterface; an op without the interface and an
// unranked result is an error, because later passes need every shape.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"
#include "locus/Support/TensorLimits.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSINFERSHAPES
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {
/// Every inferred tensor within the size locus allows an activation
/// (TensorLimits.h), so that the passes after this one never overflow.
LogicalResult checkBounded(Operation *op) {
  for (auto [i, result] : llvm::enumerate(op->getResults())) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    if (!type || !type.hasStaticShape() ||
        boundedElementCount(type.getShape(), kMaxActivationElements))
      continue;
    return op->emitOpError() << "result " << i << " would be " << type
                             << ": every size positive and at most " << kMaxActivationElements
                             << " elements (256 GiB of float32) in all";
  }
  return success();
}

struct InferShapesPass : public locus::impl::LocusInferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    WalkResult walk = func.walk([&](Operation *op) {
      if (auto shaped = dyn_cast<InferShapeOpInterface>(op)) {
        if (failed(shaped.inferShapes()) || failed(checkBounded(op)))
          return WalkResult::interrupt();
        return WalkResult::advance();
      }
      for (Value result : op->getResults()) {
        auto type = dyn_cast<TensorType>(result.getType());
        if (type && !type.hasStaticShape()) {
          op->emitOpError() << "result has no static shape (" << type
                            << ") and the op cannot infer one";
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // The signature follows the refined values returned by the function.
    Operation *terminator = func.getBody().back().getTerminator();
    auto results = llvm::to_vector(terminator->getOperandTypes());
    func.setFunctionType(FunctionType::get(
        &getContext(), func.getFunctionType().getInputs(), results));
  }
};
} // namespace
