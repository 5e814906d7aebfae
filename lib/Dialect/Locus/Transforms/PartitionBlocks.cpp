//===- PartitionBlocks.cpp - wrap each learning block into locus.block ----===//
//
// Problem: after import the network is one flat list of ops, with markers
// (locus.local_loss) at the block outputs. The runtime trains and frees one
// block at a time, so each block must be a unit whose only inputs are the
// previous block's output and parameters.
//
// Method: walk the function in order; the ops between two markers (params
// excepted) form the later marker's block. Each group moves into a new
// locus.block whose argument replaces the previous boundary value.
//
// Safety: a group may read only the previous boundary, parameters and its
// own values; anything else would keep an earlier block's activation alive
// and is an error at the reading op.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSPARTITIONBLOCKS
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {
struct PartitionBlocksPass
    : public locus::impl::LocusPartitionBlocksBase<PartitionBlocksPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.getBody().empty() || func.getNumArguments() != 1) {
      func.emitError("a locus network takes exactly one data input");
      return signalPassFailure();
    }
    if (!func.getOps<BlockOp>().empty() || func.getOps<LocalLossOp>().empty())
      return; // already partitioned, or nothing to partition
    Block &body = func.getBody().front();
    Value boundary = func.getArgument(0);
    SmallVector<Operation *> group;
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (isa<ParamOp>(op) || op.hasTrait<OpTrait::IsTerminator>())
        continue;
      group.push_back(&op);
      auto marker = dyn_cast<LocalLossOp>(op);
      if (!marker)
        continue;
      FailureOr<Value> output = wrap(group, boundary, marker);
      if (failed(output))
        return signalPassFailure();
      boundary = *output;
      group.clear();
    }
    if (!group.empty()) {
      group.front()->emitOpError()
          << "comes after the last learning block; mark its output with "
             "locus.LocalLoss or remove it";
      return signalPassFailure();
    }
  }

  FailureOr<Value> wrap(ArrayRef<Operation *> group, Value boundary,
                        LocalLossOp marker) {
    llvm::SmallPtrSet<Operation *, 16> inGroup(group.begin(), group.end());
    for (Operation *op : group)
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (operand == boundary || (def && (isa<ParamOp>(def) ||
                                            inGroup.contains(def))))
          continue;
        return op->emitOpError()
               << "in block '" << marker.getBlock()
               << "' reads a value computed before the block's input; blocks "
                  "may only pass their output to the next block";
      }

    OpBuilder builder(marker);
    builder.setInsertionPointAfter(marker);
    auto block = BlockOp::create(builder, marker.getLoc(), marker.getBlock(), boundary,
                                 marker.getType());
    Block &body = block.getBody().front();
    for (Operation *op : group)
      op->moveBefore(&body, body.end());
    Value argument = body.getArgument(0);
    boundary.replaceUsesWithIf(argument, [&](OpOperand &use) {
      return use.getOwner()->getParentOp() == block;
    });
    marker.getResult().replaceUsesWithIf(block.getResult(), [&](OpOperand &use) {
      return use.getOwner()->getParentOp() != block;
    });
    builder.setInsertionPointToEnd(&body);
    YieldOp::create(builder, marker.getLoc(), marker.getResult());
    return block.getResult();
  }
};
} // namespace
