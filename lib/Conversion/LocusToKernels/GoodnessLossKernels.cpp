//===- GoodnessLossKernels.cpp - FF's and SCFF's goodness losses ----------===//
//
// Problem: `locus.goodness_loss` (Forward-Forward, SCFF) is a loss and a
// gradient on the block output itself; the runtime must not compute it.
//
// Method: one kernel per goodness score the module uses, on the block output
// seen as [2M, C, HW]: row m is a positive, row M + m its negative.
//
//   sum_squares (FF):        G[m] = sum y^2 (float64), per row
//     L = 1/M sum softplus(theta - G_pos) + softplus(G_neg - theta)
//     dy = -2 sigmoid(theta - G_pos) / M * y_pos,  2 sigmoid(G_neg - theta) / M * y_neg
//   mean_relu_squares (SCFF): G[m, l] = 1/C sum_c relu(a)^2 per location
//     L = mean over (m, l) of softplus(th1 - G_pos) + softplus(G_neg - th2)
//         + lambda mean_m ||G_pos[m]||_2
//     da = (2 / C) dL/dG relu(a)
//
// scaled by the loss weight. Sums run in float64 in a fixed order, so the
// result does not depend on the vector width the target picks. Rows (FF) and
// samples (SCFF) are parallel iterations (GPU threads on the CUDA target)
// whose terms are added to the loss atomically, in order on the CPU.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/runtime/abi/LossKernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <set>

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEGOODNESSKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;
using locus::kernels::F64;
using locus::kernels::forEach;
using locus::kernels::sumOver;
using locus::kernels::accumulateScaled;
using locus::kernels::atomicAdd;
using locus::kernels::parallelFor;

namespace {

/// The arguments every goodness kernel takes, in order: the block output
/// y [2M, C, HW] (positives, then their negatives), dy, the loss and its
/// scalars.
struct GoodnessArgs {
  Value y, dy, loss, theta, theta2, lambda, weight;
};

/// A goodness kernel's signature; the insertion point moves into it.
GoodnessArgs declareGoodnessKernel(OpBuilder &builder, Location loc, StringRef name) {
  Type f32 = builder.getF32Type(), f64 = builder.getF64Type();
  auto map = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic},
                             f32);
  SmallVector<Value> a = locus::kernels::declareKernel(
      builder, loc, name, {map, map, locus::kernels::lossSlotType(builder), f64, f64, f64, f64},
      {0, 1});
  return {a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
}

/// f64(x[m, c, l]).
Value load64(OpBuilder &b, Location loc, Value x, Value m, Value c, Value l) {
  Value v = memref::LoadOp::create(b, loc, x, ValueRange{m, c, l});
  return arith::ExtFOp::create(b, loc, b.getF64Type(), v);
}

/// FF: G = sum of squares of each row.
void buildSumSquares(OpBuilder &builder, Location loc, StringRef name) {
  OpBuilder::InsertionGuard guard(builder);
  GoodnessArgs a = declareGoodnessKernel(builder, loc, name);
  OpBuilder &b = builder;
  F64 f{b, loc};
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value rows = arith::DivUIOp::create(b, loc, memref::DimOp::create(b, loc, a.y, c0), c2);
  Value channels = memref::DimOp::create(b, loc, a.y, c1);
  Value locations = memref::DimOp::create(b, loc, a.y, c2);
  Value inv = f.div(f.c(1.0), f.fromIndex(rows));
  // The rows are parallel iterations; their terms are added atomically (in
  // row order on the CPU) and the mean taken once at the end.
  auto perRow = [&](OpBuilder &pb) {
    parallelFor(pb, loc, rows, [&](OpBuilder &rb, ValueRange row) {
      Value r = row[0], rNeg = arith::AddIOp::create(rb, loc, r, rows);
      F64 m{rb, loc};
      auto goodness = [&](Value yr) {
        return sumOver(rb, loc, c0, channels, m.c(0.0), [&](OpBuilder &cb, Value ch) {
          return sumOver(cb, loc, c0, locations, F64{cb, loc}.c(0.0), [&](OpBuilder &lb, Value l) {
            Value v = load64(lb, loc, a.y, yr, ch, l);
            return F64{lb, loc}.mul(v, v);
          });
        });
      };
      Value gPos = goodness(r);
      Value gNeg = goodness(rNeg);
      Value xPos = m.sub(a.theta, gPos), xNeg = m.sub(gNeg, a.theta);
      Value lossPos = m.softplus(xPos);
      Value lossNeg = m.softplus(xNeg);
      Value term = m.add(lossPos, lossNeg);
      // dy = s y with s = -+2 sigmoid(.) / M, times the loss weight.
      Value scale = m.mul(m.mul(m.c(2.0), inv), a.weight);
      Value sPos = m.trunc(m.neg(m.mul(m.sigmoid(xPos), scale)));
      Value sNeg = m.trunc(m.mul(m.sigmoid(xNeg), scale));
      for (auto [yr, s] : {std::pair{r, sPos}, std::pair{rNeg, sNeg}})
        forEach(rb, loc, c0, channels, [&, yr = yr, s = s](OpBuilder &cb, Value ch) {
          forEach(cb, loc, c0, locations, [&](OpBuilder &lb, Value l) {
            Value v = memref::LoadOp::create(lb, loc, a.y, ValueRange{yr, ch, l});
            Value g = arith::MulFOp::create(lb, loc, s, v);
            memref::StoreOp::create(lb, loc, g, a.dy, ValueRange{yr, ch, l});
          });
        });
      atomicAdd(rb, loc, term, a.loss);
    });
  };
  accumulateScaled(b, loc, a.loss, perRow, [&](OpBuilder &sb, Value total) {
    F64 k{sb, loc};
    return k.mul(k.mul(total, inv), a.weight);
  });
  func::ReturnOp::create(b, loc);
}

/// SCFF: G = mean over channels of relu(a)^2 at each location.
void buildMeanReluSquares(OpBuilder &builder, Location loc, StringRef name) {
  OpBuilder::InsertionGuard guard(builder);
  GoodnessArgs a = declareGoodnessKernel(builder, loc, name);
  OpBuilder &b = builder;
  F64 f{b, loc};
  Type f64 = b.getF64Type();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value samples = arith::DivUIOp::create(b, loc, memref::DimOp::create(b, loc, a.y, c0), c2);
  Value channels = memref::DimOp::create(b, loc, a.y, c1);
  Value locations = memref::DimOp::create(b, loc, a.y, c2);
  Value invC = f.div(f.c(1.0), f.fromIndex(channels));
  Value invM = f.div(f.c(1.0), f.fromIndex(samples));
  Value invMl = f.div(f.c(1.0), f.fromIndex(arith::MulIOp::create(b, loc, samples, locations)));
  Value zero32 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));

  // The samples are parallel iterations with no scratch: a location's G is
  // summed again where the second pass needs it (after the norm over all
  // locations), and its dG/da goes straight into that location's channels.
  auto perSample = [&](OpBuilder &pb) {
    parallelFor(pb, loc, samples, [&](OpBuilder &sb, ValueRange sample) {
      Value s = sample[0], sNeg = arith::AddIOp::create(sb, loc, s, samples);
      F64 m{sb, loc};
      auto goodness = [&](OpBuilder &lb, Value row, Value l) {
        F64 k{lb, loc};
        Value sum = sumOver(lb, loc, c0, channels, k.c(0.0), [&](OpBuilder &cb, Value ch) {
          Value v = memref::LoadOp::create(cb, loc, a.y, ValueRange{row, ch, l});
          Value r = arith::MaximumFOp::create(cb, loc, v, zero32);
          Value r64 = arith::ExtFOp::create(cb, loc, f64, r);
          return arith::MulFOp::create(cb, loc, r64, r64).getResult();
        });
        return k.mul(sum, invC);
      };
      // ||G_pos||^2 over the locations (channels summed in order).
      Value norm2 = sumOver(sb, loc, c0, locations, m.c(0.0), [&](OpBuilder &lb, Value l) {
        Value gp = goodness(lb, s, l);
        return F64{lb, loc}.mul(gp, gp);
      });
      Value norm = m.sqrt(norm2);
      Value hasNorm = m.gt(norm, 0.0);
      Value start = m.mul(m.mul(a.lambda, norm), invM);
      Value sampleTotal = sumOver(sb, loc, c0, locations, start, [&](OpBuilder &lb, Value l) {
        F64 k{lb, loc};
        Value gp = goodness(lb, s, l);
        Value gn = goodness(lb, sNeg, l);
        Value xPos = k.sub(a.theta, gp), xNeg = k.sub(gn, a.theta2);
        Value lossPos = k.softplus(xPos);
        Value lossNeg = k.softplus(xNeg);
        Value term = k.mul(k.add(lossPos, lossNeg), invMl);
        // dL/dG_pos adds the norm's gradient lambda / M * G / ||G|| (0 at G = 0).
        Value dPos = k.neg(k.mul(k.sigmoid(xPos), invMl));
        Value safeNorm = arith::SelectOp::create(lb, loc, hasNorm, norm, k.c(1.0));
        Value normGrad = k.div(k.mul(k.mul(a.lambda, invM), gp), safeNorm);
        dPos = k.add(dPos, arith::SelectOp::create(lb, loc, hasNorm, normGrad, k.c(0.0)));
        Value dNeg = k.mul(k.sigmoid(xNeg), invMl);
        // dG/da = (2 / C) relu(a), and the loss weight.
        Value chain = k.mul(k.mul(k.c(2.0), invC), a.weight);
        Value dgPos = k.trunc(k.mul(chain, dPos));
        Value dgNeg = k.trunc(k.mul(chain, dNeg));
        for (auto [row, dg] : {std::pair{s, dgPos}, std::pair{sNeg, dgNeg}})
          forEach(lb, loc, c0, channels, [&, row = row, dg = dg](OpBuilder &cb, Value ch) {
            Value v = memref::LoadOp::create(cb, loc, a.y, ValueRange{row, ch, l});
            Value r = arith::MaximumFOp::create(cb, loc, v, zero32);
            Value d = arith::MulFOp::create(cb, loc, dg, r);
            memref::StoreOp::create(cb, loc, d, a.dy, ValueRange{row, ch, l});
          });
        return term;
      });
      atomicAdd(sb, loc, sampleTotal, a.loss);
    });
  };
  accumulateScaled(b, loc, a.loss, perSample, [&](OpBuilder &sb, Value total) {
    return F64{sb, loc}.mul(total, a.weight);
  });
  func::ReturnOp::create(b, loc);
}

struct GenerateGoodnessKernelsPass
    : public locus::impl::LocusGenerateGoodnessKernelsBase<GenerateGoodnessKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::set<Score> scores;
    if (allVariants)
      scores = {Score::SumSquares, Score::MeanReluSquares};
    WalkResult walk = module.walk([&](GoodnessLossOp op) {
      Score score = op.getLoss().getScore();
      if (score != Score::SumSquares && score != Score::MeanReluSquares) {
        op.emitOpError() << "has no goodness kernel for score = " << stringifyScore(score);
        return WalkResult::interrupt();
      }
      auto type = cast<ShapedType>(op.getOutput().getType());
      if (type.hasStaticShape() && type.getDimSize(0) % 2 != 0) {
        op.emitOpError("needs an even number of rows: positives then negatives");
        return WalkResult::interrupt();
      }
      scores.insert(score);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (scores.empty())
      return;
    LogicalResult built = locus::kernels::appendKernels(module, [&](OpBuilder &b, Location loc) {
      for (Score score : scores) {
        std::string name = abi::goodnessLossKernelName(stringifyScore(score).str());
        if (score == Score::SumSquares)
          buildSumSquares(b, loc, name);
        else
          buildMeanReluSquares(b, loc, name);
      }
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
