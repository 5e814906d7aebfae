//===- InfoNceLossKernels.cpp - BP-InfoNCE's NT-Xent as a kernel ----------===//
//
// Problem: `locus.infonce_loss` (BP-InfoNCE, SimCLR's NT-Xent) is a loss and
// a gradient the runtime must not compute itself.
//
// Method: the products stay backend GEMMs (p = z W^T, S = ph ph^T,
// dph = dsim ph, dz = dp W, dW = dp^T z); three kernels compute what lies
// between them, row by row:
//
//   normalize:          ph[r] = p[r] / max(||p[r]||, 1e-12)   (F.normalize)
//   loss:               L = 1/N sum_r logsumexp_{j != r} S[r, j]/T - S[r, pos r]/T,
//                       dsim = dS + dS^T, dS = (softmax_{j != r} - onehot(pos r)) / (T N)
//   normalize_adjoint:  dp[r] = (dph[r] - (ph[r] . dph[r]) ph[r]) / ||p[r]||
//
// the loss and dS scaled by the loss weight, norms and the softmax in
// float64.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEINFONCEKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;
using locus::kernels::declareKernel;
using locus::kernels::dotRows;
using locus::kernels::F64;
using locus::kernels::forEach;
using locus::kernels::sumOver;
using locus::kernels::accumulateScaled;
using locus::kernels::atomicAdd;
using locus::kernels::parallelFor;

namespace {

struct Types {
  Type f32, f64;
  MemRefType matrix, norms, scalar;
  explicit Types(OpBuilder &b)
      : f32(b.getF32Type()), f64(b.getF64Type()),
        matrix(MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32)),
        norms(MemRefType::get({ShapedType::kDynamic}, f64)),
        scalar(locus::kernels::lossSlotType(b)) {}
};

/// locus_infonce_normalize(p, ph, norms): ph = p / max(||p||, 1e-12) and the
/// clamped norms, row by row (F.normalize).
void buildNormalize(OpBuilder &builder, Location loc, const Types &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_infonce_normalize",
                                    {t.matrix, t.matrix, t.norms}, {0, 1, 2});
  OpBuilder &b = builder;
  Value p = a[0], ph = a[1], norms = a[2];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, p, c0);
  Value d = memref::DimOp::create(b, loc, p, c1);
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange row) {
    Value r = row[0];
    F64 m{rb, loc};
    Value norm = m.max(m.sqrt(dotRows(rb, loc, p, r, p, r, d)), m.c(1e-12));
    memref::StoreOp::create(rb, loc, norm, norms, ValueRange{r});
    Value inv = m.trunc(m.div(m.c(1.0), norm));
    forEach(rb, loc, c0, d, [&](OpBuilder &ib, Value i) {
      Value v = memref::LoadOp::create(ib, loc, p, ValueRange{r, i});
      Value scaled = arith::MulFOp::create(ib, loc, v, inv);
      memref::StoreOp::create(ib, loc, scaled, ph, ValueRange{r, i});
    });
  });
  func::ReturnOp::create(b, loc);
}

/// locus_infonce_loss(sim, dsim, loss, temperature, weight): from the cosine
/// similarities S = ph ph^T, each row's cross-entropy against its other view
/// (every other row a negative), their mean times the weight, and
/// dsim = dS + dS^T with dS = weight (softmax - onehot(pos)) / (T N).
void buildLoss(OpBuilder &builder, Location loc, const Types &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_infonce_loss",
                                    {t.matrix, t.matrix, t.scalar, t.f64, t.f64}, {0, 1});
  OpBuilder &b = builder;
  Value sim = a[0], dsim = a[1], lossOut = a[2];
  Value temperature = a[3], weight = a[4];
  F64 f{b, loc};
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, sim, c0);
  Value half = arith::DivUIOp::create(b, loc, n, arith::ConstantIndexOp::create(b, loc, 2));
  Value invT = f.div(f.c(1.0), temperature);
  Value scale = f.mul(f.div(invT, f.fromIndex(n)), weight);
  Value negInf = f.c(-std::numeric_limits<double>::infinity());
  // Rows are parallel iterations, their cross-entropies added atomically
  // (in row order on the CPU); then dS + dS^T in place, each pair once, by
  // the row of its smaller index (no two rows touch the same element).
  auto rowsThenPairs = [&](OpBuilder &ob) {
  parallelFor(ob, loc, n, [&](OpBuilder &rb, ValueRange row) {
    Value r = row[0];
    F64 m{rb, loc};
    Value pos = arith::RemUIOp::create(rb, loc, arith::AddIOp::create(rb, loc, r, half), n);
    auto score = [&](OpBuilder &sb, Value j) {
      F64 k{sb, loc};
      Value s = memref::LoadOp::create(sb, loc, sim, ValueRange{r, j});
      return k.mul(k.ext(s), invT);
    };
    auto isSelf = [&](OpBuilder &sb, Value j) {
      return arith::CmpIOp::create(sb, loc, arith::CmpIPredicate::eq, j, r);
    };
    auto maxLoop = scf::ForOp::create(
        rb, loc, c0, n, c1, ValueRange{negInf},
        [&](OpBuilder &jb, Location l, Value j, ValueRange acc) {
          Value s = score(jb, j);
          Value larger = F64{jb, l}.max(acc[0], s);
          Value next = arith::SelectOp::create(jb, l, isSelf(jb, j), acc[0], larger);
          scf::YieldOp::create(jb, l, next);
        });
    Value mx = maxLoop.getResult(0);
    Value sum = sumOver(rb, loc, c0, n, m.c(0.0), [&](OpBuilder &jb, Value j) {
      F64 k{jb, loc};
      Value e = k.exp(k.sub(score(jb, j), mx));
      return arith::SelectOp::create(jb, loc, isSelf(jb, j), k.c(0.0), e).getResult();
    });
    forEach(rb, loc, c0, n, [&](OpBuilder &jb, Value j) {
      F64 k{jb, loc};
      Value softmax = k.div(k.exp(k.sub(score(jb, j), mx)), sum);
      Value g = arith::SelectOp::create(jb, loc, isSelf(jb, j), k.c(0.0), softmax);
      Value isPos = arith::CmpIOp::create(jb, loc, arith::CmpIPredicate::eq, j, pos);
      Value minusOne = k.sub(g, k.c(1.0));
      g = arith::SelectOp::create(jb, loc, isPos, minusOne, g);
      memref::StoreOp::create(jb, loc, k.trunc(k.mul(g, scale)), dsim, ValueRange{r, j});
    });
    Value logSum = m.add(mx, m.log(sum));
    atomicAdd(rb, loc, m.sub(logSum, score(rb, pos)), lossOut);
  });
  parallelFor(ob, loc, n, [&](OpBuilder &rb, ValueRange row) {
    Value r = row[0];
    forEach(rb, loc, r, n, [&](OpBuilder &jb, Value j) {
      Value forward = memref::LoadOp::create(jb, loc, dsim, ValueRange{r, j});
      Value backward = memref::LoadOp::create(jb, loc, dsim, ValueRange{j, r});
      Value s = arith::AddFOp::create(jb, loc, forward, backward);
      memref::StoreOp::create(jb, loc, s, dsim, ValueRange{r, j});
      memref::StoreOp::create(jb, loc, s, dsim, ValueRange{j, r});
    });
  });
  };
  accumulateScaled(b, loc, lossOut, rowsThenPairs, [&](OpBuilder &sb, Value total) {
    F64 k{sb, loc};
    return k.mul(k.div(total, k.fromIndex(n)), weight);
  });
  func::ReturnOp::create(b, loc);
}

/// locus_infonce_normalize_adjoint(ph, dph, norms, dp): the normalisation's
/// adjoint dp = (dph - (ph . dph) ph) / ||p|| (dph / ||p|| where the norm was
/// clamped).
void buildNormalizeAdjoint(OpBuilder &builder, Location loc, const Types &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_infonce_normalize_adjoint",
                                    {t.matrix, t.matrix, t.norms, t.matrix}, {0, 1, 2, 3});
  OpBuilder &b = builder;
  Value ph = a[0], dph = a[1], norms = a[2];
  Value dp = a[3];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, ph, c0);
  Value d = memref::DimOp::create(b, loc, ph, c1);
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange row) {
    Value r = row[0];
    F64 m{rb, loc};
    Value norm = memref::LoadOp::create(rb, loc, norms, ValueRange{r});
    Value inv = m.trunc(m.div(m.c(1.0), norm));
    Value limit = m.c(1e-12);
    Value clamped = arith::CmpFOp::create(rb, loc, arith::CmpFPredicate::OLE, norm, limit);
    Value along = m.trunc(dotRows(rb, loc, ph, r, dph, r, d));
    Value zero32 = arith::ConstantOp::create(rb, loc, rb.getF32FloatAttr(0.0f));
    along = arith::SelectOp::create(rb, loc, clamped, zero32, along);
    forEach(rb, loc, c0, d, [&](OpBuilder &ib, Value i) {
      Value g = memref::LoadOp::create(ib, loc, dph, ValueRange{r, i});
      Value u = memref::LoadOp::create(ib, loc, ph, ValueRange{r, i});
      Value radial = arith::MulFOp::create(ib, loc, along, u);
      Value tangent = arith::SubFOp::create(ib, loc, g, radial);
      Value out = arith::MulFOp::create(ib, loc, tangent, inv);
      memref::StoreOp::create(ib, loc, out, dp, ValueRange{r, i});
    });
  });
  func::ReturnOp::create(b, loc);
}

struct GenerateInfoNceKernelsPass
    : public locus::impl::LocusGenerateInfoNceKernelsBase<GenerateInfoNceKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool used = allVariants;
    WalkResult walk = module.walk([&](InfoNceLossOp op) {
      auto type = cast<ShapedType>(op.getZ().getType());
      if (type.hasStaticShape() && type.getDimSize(0) < 2) {
        op.emitOpError("needs at least two rows: each row's positive is another view");
        return WalkResult::interrupt();
      }
      used = true;
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (!used)
      return;
    LogicalResult built = locus::kernels::appendKernels(module, [](OpBuilder &b, Location loc) {
      Types types(b);
      buildNormalize(b, loc, types);
      buildLoss(b, loc, types);
      buildNormalizeAdjoint(b, loc, types);
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
