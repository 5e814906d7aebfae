//===- DeriveBlockGradients.cpp - reverse mode inside learning blocks -----===//
//
// Problem: every block step needs the gradients of its parameters from its
// own loss (local) or from the block above (global), and a local rule must
// not compute anything below its lowest parameter: the gradient with
// respect to the block input is what makes backprop's memory grow.
//
// Method: blocks are chains (locus-partition-blocks forbids skips), so
// reverse mode is one walk from the marker to the block argument. The walk
// records which ops need a data adjoint: all above the lowest op with
// trainable operands, and in global mode every op of every block but the
// first. The gradient ops reference the forward values they need, so the
// runtime knows what the forward pass must keep.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSDERIVEBLOCKGRADIENTS
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

/// The block's ops from its argument to the marker's input, bottom up, or
/// failure (with an error) when they are not a differentiable chain.
FailureOr<SmallVector<DifferentiableOpInterface>> blockChain(BlockOp block) {
  LocalLossOp marker = block.getMarker();
  SmallVector<DifferentiableOpInterface> chain;
  Value value = marker.getInput();
  Value input = block.getBody().front().getArgument(0);
  while (value != input) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return block.emitOpError() << "block '" << block.getName()
                                 << "' computes its output from a value of another region";
    auto op = dyn_cast<DifferentiableOpInterface>(def);
    if (!op)
      return def->emitOpError("has no gradient in locus yet, so block '")
             << block.getName() << "' cannot be trained through it";
    if (!value.hasOneUse())
      return def->emitOpError("result is read by more than the next op of block '")
             << block.getName() << "': blocks must be chains to be differentiated";
    chain.push_back(op);
    value = def->getOperand(0);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

struct DeriveBlockGradientsPass
    : public locus::impl::LocusDeriveBlockGradientsBase<DeriveBlockGradientsPass> {
  void runOnOperation() override {
    SmallVector<BlockOp> blocks = llvm::to_vector(getOperation().getOps<BlockOp>());
    for (auto [index, block] : llvm::enumerate(blocks)) {
      if (failed(derive(block, index == 0, index + 1 == blocks.size())))
        return signalPassFailure();
    }
  }

  LogicalResult derive(BlockOp block, bool first, bool top) {
    bool derived = false;
    block.getBody().walk([&](Operation *op) {
      derived |= isa<LossGradOp, OutputGradOp, VjpOp, ParamVjpOp, UpdateOp>(op);
    });
    if (derived)
      return block.emitOpError() << "block '" << block.getName()
                                 << "' already has its gradients";
    FailureOr<SmallVector<DifferentiableOpInterface>> chain = blockChain(block);
    if (failed(chain))
      return failure();

    LocalLossOp marker = block.getMarker();
    bool global = marker.getLoss().getMode() == TrainingMode::Global;
    bool wantInput = global && !first;
    // Without the input gradient, nothing below the lowest op with
    // parameters needs an adjoint.
    size_t stop = chain->size();
    for (size_t i = 0; i < chain->size(); ++i)
      if (!(*chain)[i].getTrainableOperands().empty()) {
        stop = i;
        break;
      }
    if (wantInput)
      stop = 0;

    // The block's loss: the loss op locus-expand-rules wrote whose result
    // nothing else reads (loss_sum's terms are read by it).
    Value loss;
    for (Operation &op : block.getBody().front())
      if (isa<BilinearLossOp, GoodnessLossOp, InfoNceLossOp, LossSumOp>(op) &&
          op.getResult(0).use_empty())
        loss = op.getResult(0);
    bool seededFromAbove = global && !top;
    if (!seededFromAbove && !loss)
      return block.emitOpError() << "block '" << block.getName()
                                 << "' has no loss ops; run locus-expand-rules first";

    OpBuilder b(block.getBody().front().getTerminator());
    Location loc = marker.getLoc();
    Value grad = seededFromAbove
                     ? OutputGradOp::create(b, loc, marker.getType()).getResult()
                     : LossGradOp::create(b, loc, marker.getType(), loss).getResult();
    for (size_t i = chain->size(); i-- > stop;) {
      Operation *op = (*chain)[i];
      Value value = op->getResult(0);
      SmallVector<Value> trainable = (*chain)[i].getTrainableOperands();
      if (!trainable.empty()) {
        SmallVector<Type> types = llvm::map_to_vector(trainable, [](Value v) { return v.getType(); });
        auto grads = ParamVjpOp::create(b, op->getLoc(), types, value, grad);
        for (auto [param, paramGrad] : llvm::zip(trainable, grads.getParamGrads()))
          UpdateOp::create(b, op->getLoc(), param, paramGrad);
      }
      if (i > stop || wantInput)
        grad = VjpOp::create(b, op->getLoc(), op->getOperand(0).getType(), value, grad);
    }
    if (wantInput)
      InputGradOp::create(b, loc, grad);
    return success();
  }
};

} // namespace
