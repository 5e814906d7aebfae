//===- FuseReluPool.cpp - relu + max-pool as one op -----------------------===//
//
// max(relu(x)) over a window equals relu(max(x)) and the arg-max of the
// window of x picks the element the pooled relu came from (or a zero), so the
// pair needs neither the relu output nor a separate mask. The rewrite only
// fires when the pool is the relu's sole user: another reader would need the
// relu output stored anyway.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSFUSERELUPOOL
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

struct FuseReluIntoMaxPool : OpRewritePattern<MaxPool2DOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MaxPool2DOp pool, PatternRewriter &rewriter) const override {
    auto relu = pool.getInput().getDefiningOp<ReluOp>();
    if (!relu || !relu->hasOneUse())
      return rewriter.notifyMatchFailure(pool, "input is not a relu used only here");
    rewriter.replaceOpWithNewOp<ReluMaxPool2DOp>(pool, pool.getType(), relu.getInput(),
                                                 pool.getKernel(), pool.getStrides(),
                                                 pool.getPads());
    rewriter.eraseOp(relu);
    return success();
  }
};

struct FuseReluPoolPass : public locus::impl::LocusFuseReluPoolBase<FuseReluPoolPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseReluIntoMaxPool>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
