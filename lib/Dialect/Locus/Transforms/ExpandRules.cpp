//===- ExpandRules.cpp - a block's rule as explicit loss ops and params ---===//
//
// The import leaves each rule as the `#locus.loss` of the block's marker.
// This pass writes out what the rule computes, per METHOD.md §1: the loss
// pooling (`locus.loss_pool`), where the context comes from (the block's own
// z, or `locus.loss_context` of a later block), the parameters the loss
// trains (`locus.param` B, B_lat, the InfoNCE head, initialised like a
// PyTorch nn.Linear without bias), and the loss itself (`locus.bilinear_loss`,
// `locus.goodness_loss`, `locus.infonce_loss`, summed by `locus.loss_sum` for
// CLAPP++both). locus-derive-block-gradients then differentiates that loss,
// and the descriptor reads the loss from these ops.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/IR/LossGeometry.h"
#include "locus/Support/TensorLimits.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSEXPANDRULES
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

struct ExpandRulesPass : public locus::impl::LocusExpandRulesBase<ExpandRulesPass> {
  void runOnOperation() override {
    SmallVector<BlockOp> blocks = llvm::to_vector(getOperation().getOps<BlockOp>());
    for (auto [index, block] : llvm::enumerate(blocks))
      if (failed(expand(blocks, index)))
        return signalPassFailure();
  }

  LogicalResult expand(ArrayRef<BlockOp> blocks, size_t index) {
    BlockOp block = blocks[index];
    LocalLossOp marker = block.getMarker();
    LossAttr loss = marker.getLoss();
    bool expanded = false;
    block.getBody().walk([&](Operation *op) {
      expanded |= isa<LossPoolOp, BilinearLossOp, GoodnessLossOp, InfoNceLossOp>(op);
    });
    if (expanded)
      return block.emitOpError() << "block '" << block.getName()
                                 << "' already has its loss expanded";
    // Global rules optimise the top block's loss only.
    if (loss.getMode() == TrainingMode::Global && index + 1 != blocks.size())
      return success();

    LossGeometry g = getLossGeometry(marker);
    // The projections are D x Dc (and D x D): within the size of any tensor.
    for (auto [present, rows, cols, name] :
         {std::tuple(g.hasProjection, g.dim, g.contextDim, "B"),
          std::tuple(g.hasLateral, g.dim, g.dim, "B_lat")})
      if (present && !boundedElementCount({rows, cols}))
        return marker.emitOpError()
               << "the projection " << name << " of block '" << block.getName() << "' would be "
               << rows << " x " << cols << ", more than the " << kMaxTensorElements
               << " elements (1 GiB of float32) locus allows one tensor: pool the loss more";
    MLIRContext *ctx = &getContext();
    Type f32 = Float32Type::get(ctx);
    auto scalar = RankedTensorType::get({}, f32);
    Location loc = marker.getLoc();

    // The loss's parameters, defined above the block like the conv weights.
    OpBuilder outer(block);
    auto param = [&](StringRef suffix, int64_t rows, int64_t cols) {
      return ParamOp::create(outer, loc, RankedTensorType::get({rows, cols}, f32),
                             outer.getStringAttr(block.getName() + suffix),
                             InitAttr::get(ctx, Init::KaimingUniform),
                             outer.getI64IntegerAttr(cols), ElementsAttr())
          .getResult();
    };
    Value projection = g.hasProjection ? param(".B", g.dim, g.contextDim) : Value();
    Value lateral = g.hasLateral ? param(".B_lat", g.dim, g.dim) : Value();

    OpBuilder b(block.getBody().front().getTerminator());
    Value h = marker.getResult();
    auto pooled = [&](int64_t kernel) {
      auto map = cast<ShapedType>(h.getType());
      auto type = RankedTensorType::get({g.views, pooledDim(map, kernel)}, f32);
      return LossPoolOp::create(b, loc, type, h, b.getI64IntegerAttr(kernel)).getResult();
    };

    Value total;
    switch (loss.getScore()) {
    case Score::SumSquares:
    case Score::MeanReluSquares:
      total = GoodnessLossOp::create(b, loc, scalar, h, loss);
      break;
    case Score::Cosine:
      if (!projection)
        return marker.emitOpError("InfoNCE needs a trained projection head");
      total = InfoNceLossOp::create(b, loc, scalar, pooled(loss.getPool()), projection, loss);
      break;
    case Score::Bilinear: {
      Value z = pooled(loss.getPool());
      Value context = z;
      if (loss.usesLaterContext()) {
        if (g.contextIndex != static_cast<int64_t>(index)) {
          auto type = RankedTensorType::get({g.views, g.contextDim}, f32);
          BlockOp source = blocks[g.contextIndex];
          context = LossContextOp::create(b, loc, type, b.getStringAttr(source.getName()),
                                          b.getI64IntegerAttr(g.contextPool));
        } else if (g.contextPool != loss.getPool()) {
          context = pooled(g.contextPool); // the top block's own output, its own kernel
        }
      }
      total = BilinearLossOp::create(b, loc, scalar, z, context, projection, loss);
      if (lateral) {
        Value lat = BilinearLossOp::create(b, loc, scalar, z, z, lateral, loss);
        total = LossSumOp::create(b, loc, scalar, ValueRange{total, lat});
      }
      break;
    }
    }
    return success();
  }
};

} // namespace
