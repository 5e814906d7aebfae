//===- FuseConvReluPool.cpp - conv + relu + max-pool as one op -----------===//
//
// A block's first layer on 1-3 image channels writes a wide, full-resolution
// map that the relu + max-pool after it reduces 4x at once; its backward pass
// writes the same map again as the unpooled gradient. Computing each pooling
// window straight from the convolution and, in the backward pass, expanding
// the pooled gradient one channel plane at a time, never stores either map.
// The fused op has no input adjoint, so it is made only where none is needed.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSFUSECONVRELUPOOL
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

bool equals(ArrayRef<int64_t> values, ArrayRef<int64_t> expected) {
  return values == expected;
}

/// Whether the runtime can go without the gradient at the block input: the
/// block trains with a local rule, or it is the first block.
bool inputGradientUnneeded(BlockOp block) {
  if (block.getMarker().getLoss().getMode() != TrainingMode::Global)
    return true;
  auto func = block->getParentOfType<func::FuncOp>();
  return func && *func.getOps<BlockOp>().begin() == block;
}

struct FuseConvIntoReluPool : OpRewritePattern<ReluMaxPool2DOp> {
  FuseConvIntoReluPool(MLIRContext *context, int64_t maxInputChannels)
      : OpRewritePattern(context), maxInputChannels(maxInputChannels) {}

  LogicalResult matchAndRewrite(ReluMaxPool2DOp pool, PatternRewriter &rewriter) const override {
    auto conv = pool.getInput().getDefiningOp<Conv2DOp>();
    if (!conv || !conv->hasOneUse())
      return rewriter.notifyMatchFailure(pool, "input is not a conv used only here");
    auto block = conv->getParentOfType<BlockOp>();
    if (!block || conv.getInput() != block.getBody().front().getArgument(0))
      return rewriter.notifyMatchFailure(pool, "the conv does not read the block input");
    if (!inputGradientUnneeded(block))
      return rewriter.notifyMatchFailure(pool, "global mode needs the block's input gradient");
    auto input = cast<RankedTensorType>(conv.getInput().getType());
    auto weight = cast<RankedTensorType>(conv.getWeight().getType());
    auto convOut = cast<RankedTensorType>(conv.getType());
    if (!input.hasStaticShape() || !weight.hasStaticShape() || !convOut.hasStaticShape())
      return rewriter.notifyMatchFailure(pool, "shapes are not static");
    if (input.getDimSize(1) > maxInputChannels)
      return rewriter.notifyMatchFailure(pool, "too many input channels");
    if (weight.getDimSize(2) != 3 || weight.getDimSize(3) != 3 ||
        !equals(conv.getStrides(), {1, 1}) || !equals(conv.getDilations(), {1, 1}) ||
        !equals(conv.getPads(), {1, 1, 1, 1}))
      return rewriter.notifyMatchFailure(pool, "not a 3x3 'same' convolution");
    if (!equals(pool.getKernel(), {2, 2}) || !equals(pool.getStrides(), {2, 2}) ||
        !equals(pool.getPads(), {0, 0, 0, 0}) || convOut.getDimSize(2) % 2 != 0 ||
        convOut.getDimSize(3) % 2 != 0)
      return rewriter.notifyMatchFailure(pool, "not a 2x2 pool tiling the map");
    rewriter.replaceOpWithNewOp<ConvReluMaxPool2DOp>(
        pool, pool.getType(), conv.getInput(), conv.getWeight(), conv.getBias(),
        conv.getStrides(), conv.getPads(), conv.getDilations(), pool.getKernel(),
        pool.getStrides(), pool.getPads());
    rewriter.eraseOp(conv);
    return success();
  }

  int64_t maxInputChannels;
};

struct FuseConvReluPoolPass
    : public locus::impl::LocusFuseConvReluPoolBase<FuseConvReluPoolPass> {
  using LocusFuseConvReluPoolBase::LocusFuseConvReluPoolBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseConvIntoReluPool>(&getContext(), maxInputChannels);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
