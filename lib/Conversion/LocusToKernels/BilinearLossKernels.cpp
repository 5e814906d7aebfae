//===- BilinearLossKernels.cpp - the bilinear rules' loss as kernels ------===//
//
// Problem: `locus.bilinear_loss` (CLAPP++, its direct-feedback and "both"
// forms, pooled CLAPP, PhyLL, BP-CLAPP++) is a loss and a gradient that the
// runtime must not compute itself: adding a rule has to be a compiler change.
//
// Method: the two large products around the loss stay backend primitives
// (rows B c[r] before it, dL/dB = factors^T c or AdamW on B from the same
// factors after it: GEMMs on the CPU, cuBLAS on a GPU). Everything between
// them becomes one kernel per (f, form, negatives) the module uses:
//
//   for each row r (N = 2B rows, r's positive is p = (r + N/2) mod N):
//     u_pos = z[p] . bc[r],  u_neg = z[q] . bc[r]   (q: next or drawn row)
//     loss += f-term(u_pos, u_neg);  g_pos, g_neg = its derivatives * w / N
//     factors[r] = g_pos z[p] + g_neg z[q];  dz[p] += g_pos bc[r];
//     dz[q] += g_neg bc[r]
//
// scores and loss accumulated in float64 (the hinge's kink makes float32
// scores flip rows). theta and the loss weight are arguments, so one kernel
// serves every block with that rule. Every pass is parallel (GPU threads on
// the CUDA target): the scores in chunks of 256 columns (into the caller's
// float64 scratch work [N, 4]); each row's loss term and two derivatives;
// factors element by element; dz element by element from the (at most two,
// in closed form for next-row negatives) rows that name each dz row. Sums
// across parallel iterations are atomic adds, in order on the CPU.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/runtime/abi/LossKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <set>

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATELOSSKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;
using locus::kernels::F64;

namespace {

/// What a bilinear loss kernel is specialised on.
struct BilinearVariant {
  LossFunction f;
  LossForm form;
  Negatives negatives;
  bool operator<(const BilinearVariant &o) const {
    return std::tie(f, form, negatives) < std::tie(o.f, o.form, o.negatives);
  }
  std::string name() const {
    return abi::bilinearLossKernelName(stringifyLossFunction(f).str(),
                                       stringifyLossForm(form).str(),
                                       stringifyNegatives(negatives).str());
  }
};

/// One row's loss term and its derivatives with respect to u_pos and u_neg
/// (METHOD.md section 1; relu'(0) = 0 at the hinge's kink).
struct RowTerm {
  Value loss, gPos, gNeg;
};

RowTerm rowTerm(F64 &m, const BilinearVariant &v, Value uPos, Value uNeg, Value theta) {
  if (v.form == LossForm::Difference) {
    // Form 1 (PhyLL): f(u_pos - u_neg), so d/du_neg = -d/du_pos.
    Value d = m.sub(uPos, uNeg);
    Value loss, g;
    switch (v.f) {
    case LossFunction::Hinge: {
      Value one = m.c(1.0);
      loss = m.relu(m.sub(one, d));
      g = m.select(m.lt(d, 1.0), -1.0, 0.0);
      break;
    }
    case LossFunction::Softplus: {
      Value x = m.sub(theta, d);
      loss = m.softplus(x);
      g = m.neg(m.sigmoid(x));
      break;
    }
    case LossFunction::Linear:
      loss = m.neg(d);
      g = m.c(-1.0);
      break;
    default: { // Logistic: log(1 + exp(theta (u_neg - u_pos)))
      Value x = m.neg(m.mul(theta, d));
      loss = m.softplus(x);
      g = m.neg(m.mul(theta, m.sigmoid(x)));
      break;
    }
    }
    Value gNeg = m.neg(g);
    return {loss, g, gNeg};
  }
  // Form 2: f(u_pos) + f(-u_neg).
  RowTerm t;
  switch (v.f) {
  case LossFunction::Hinge: {
    Value one = m.c(1.0);
    Value lossPos = m.relu(m.sub(one, uPos));
    Value lossNeg = m.relu(m.add(one, uNeg));
    t.loss = m.add(lossPos, lossNeg);
    t.gPos = m.select(m.lt(uPos, 1.0), -1.0, 0.0);
    t.gNeg = m.select(m.gt(uNeg, -1.0), 1.0, 0.0);
    return t;
  }
  case LossFunction::Softplus: {
    Value xPos = m.sub(theta, uPos), xNeg = m.sub(uNeg, theta);
    Value lossPos = m.softplus(xPos);
    Value lossNeg = m.softplus(xNeg);
    t.loss = m.add(lossPos, lossNeg);
    t.gPos = m.neg(m.sigmoid(xPos));
    t.gNeg = m.sigmoid(xNeg);
    return t;
  }
  case LossFunction::Linear:
    t.loss = m.sub(uNeg, uPos);
    t.gPos = m.c(-1.0);
    t.gNeg = m.c(1.0);
    return t;
  default: { // Logistic: f(u) = log(1 + exp(-theta u)) on u_pos and -u_neg
    Value xPos = m.neg(m.mul(theta, uPos));
    Value xNeg = m.mul(theta, uNeg);
    Value lossPos = m.softplus(xPos);
    Value lossNeg = m.softplus(xNeg);
    t.loss = m.add(lossPos, lossNeg);
    t.gPos = m.neg(m.mul(theta, m.sigmoid(xPos)));
    t.gNeg = m.mul(theta, m.sigmoid(xNeg));
    return t;
  }
  }
}

void buildBilinearKernel(OpBuilder &builder, Location loc, const BilinearVariant &v) {
  Type f32 = builder.getF32Type(), f64 = builder.getF64Type();
  auto matrix = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32);
  auto rows = MemRefType::get({ShapedType::kDynamic}, builder.getI32Type());
  auto scalar = locus::kernels::lossSlotType(builder);
  OpBuilder::InsertionGuard guard(builder);
  // (z, bc, negatives, dz, factors, work, loss, theta, weight, accumulate).
  // dz, factors and work are written while z and bc are read: promise they
  // do not overlap, so LLVM keeps the row loops vectorised. work [N, 4] is
  // the caller's float64 scratch: each row's two scores, then its two
  // derivatives.
  auto pairs = MemRefType::get({ShapedType::kDynamic, 4}, f64);
  SmallVector<Value> a = locus::kernels::declareKernel(
      builder, loc, v.name(),
      {matrix, matrix, rows, matrix, matrix, pairs, scalar, f64, f64, builder.getI1Type()},
      {0, 1, 3, 4, 5});
  OpBuilder &b = builder;
  Value z = a[0], bc = a[1], negRows = a[2], dz = a[3], factors = a[4], work = a[5];
  Value lossOut = a[6], theta = a[7], weight = a[8], accumulate = a[9];

  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, z, 0);
  Value d = memref::DimOp::create(b, loc, z, 1);
  Value half = arith::DivUIOp::create(b, loc, n, arith::ConstantIndexOp::create(b, loc, 2));
  Value nF = arith::UIToFPOp::create(b, loc, f64, arith::IndexCastUIOp::create(
                                                      b, loc, b.getI64Type(), n));
  Value scale = arith::DivFOp::create(b, loc, weight, nF);

  // dz starts from zero unless this term adds to another's (CLAPP++both).
  Value zero32 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value fresh = arith::XOrIOp::create(
      b, loc, accumulate, arith::ConstantOp::create(b, loc, b.getBoolAttr(true)));
  scf::IfOp::create(b, loc, fresh, [&](OpBuilder &nb, Location l) {
    linalg::FillOp::create(nb, l, ValueRange{zero32}, ValueRange{dz});
    scf::YieldOp::create(nb, l);
  });

  // A row's term and its scaled derivatives (float32, as dz and the
  // factors use them).
  struct Row {
    Value gPos, gNeg, loss;
  };
  auto partners = [&](OpBuilder &rb, Location l, Value r) {
    Value pos = arith::RemUIOp::create(rb, l, arith::AddIOp::create(rb, l, r, half), n);
    Value negRow;
    if (v.negatives == Negatives::Next) {
      negRow = arith::RemUIOp::create(rb, l, arith::AddIOp::create(rb, l, pos, c1), n);
    } else {
      Value drawn = memref::LoadOp::create(rb, l, negRows, ValueRange{r});
      negRow = arith::IndexCastOp::create(rb, l, rb.getIndexType(), drawn);
    }
    return std::pair{pos, negRow};
  };
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value c3 = arith::ConstantIndexOp::create(b, loc, 3);
  auto at = [&](OpBuilder &ib, Location l, Value r, Value col) -> Value {
    return memref::LoadOp::create(ib, l, work, ValueRange{r, col});
  };
  /// Row r's term from its scores work[r, 0..1], and its scaled derivatives.
  auto scoreRow = [&](OpBuilder &rb, Location l, Value r) {
    F64 rm{rb, l};
    Value uPos = at(rb, l, r, c0);
    Value uNeg = at(rb, l, r, c1);
    RowTerm t = rowTerm(rm, v, uPos, uNeg, theta);
    Value gp = arith::TruncFOp::create(rb, l, f32, rm.mul(t.gPos, scale));
    Value gn = arith::TruncFOp::create(rb, l, f32, rm.mul(t.gNeg, scale));
    return Row{gp, gn, t.loss};
  };
  /// A row's derivative (column 0: positive, 1: negative) as float32.
  auto loadG = [&](OpBuilder &ib, Location l, Value r, Value which) -> Value {
    Value col = arith::AddIOp::create(ib, l, which, c2);
    return arith::TruncFOp::create(ib, l, f32, at(ib, l, r, col));
  };
  /// dz[q, i] += gv bc[r, i].
  auto addTerm = [&](OpBuilder &ib, Location l, Value q, Value i, Value r, Value gv) {
    Value br = memref::LoadOp::create(ib, l, bc, ValueRange{r, i});
    Value old = memref::LoadOp::create(ib, l, dz, ValueRange{q, i});
    Value step = arith::MulFOp::create(ib, l, gv, br);
    Value sum = arith::AddFOp::create(ib, l, old, step);
    memref::StoreOp::create(ib, l, sum, dz, ValueRange{q, i});
  };

  // The loss: zeroed, each row's term added (in row order on the CPU, so
  // the sum is the sequential one), scaled once at the end, the scalar steps
  // on the device that holds the loss. Every pass is parallel; the element
  // passes over (row, column) are what a GPU needs, the CPU runs them as the
  // row loops they were.
  auto passes = [&](OpBuilder &b) {
    // The scores u_pos[r] = z[pos] . bc[r], u_neg[r] = z[neg] . bc[r] in
    // float64: zeroed, then chunks of 256 columns of every row summed in
    // parallel and added (atomically; in chunk order on the CPU).
    locus::kernels::parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
      Value zero = F64{rb, loc}.c(0.0);
      memref::StoreOp::create(rb, loc, zero, work, ValueRange{rows[0], c0});
      memref::StoreOp::create(rb, loc, zero, work, ValueRange{rows[0], c1});
    });
    Value chunk = arith::ConstantIndexOp::create(b, loc, 256);
    Value chunks = arith::CeilDivUIOp::create(b, loc, d, chunk);
    locus::kernels::parallelFor(b, loc, ValueRange{n, chunks}, [&](OpBuilder &cb,
                                                                    ValueRange rc) {
      Value r = rc[0];
      auto [pos, negRow] = partners(cb, loc, r);
      Value lo = arith::MulIOp::create(cb, loc, rc[1], chunk);
      Value end = arith::AddIOp::create(cb, loc, lo, chunk);
      Value hi = arith::MinUIOp::create(cb, loc, end, d);
      Value zero = F64{cb, loc}.c(0.0);
      auto sums = scf::ForOp::create(
          cb, loc, lo, hi, c1, ValueRange{zero, zero},
          [&, pos = pos, negRow = negRow](OpBuilder &ib, Location l, Value i, ValueRange acc) {
            Type f64t = ib.getF64Type();
            Value br32 = memref::LoadOp::create(ib, l, bc, ValueRange{r, i});
            Value zp32 = memref::LoadOp::create(ib, l, z, ValueRange{pos, i});
            Value zn32 = memref::LoadOp::create(ib, l, z, ValueRange{negRow, i});
            Value br = arith::ExtFOp::create(ib, l, f64t, br32);
            Value zp = arith::ExtFOp::create(ib, l, f64t, zp32);
            Value zn = arith::ExtFOp::create(ib, l, f64t, zn32);
            Value pp = arith::MulFOp::create(ib, l, zp, br);
            Value pn = arith::MulFOp::create(ib, l, zn, br);
            Value sp = arith::AddFOp::create(ib, l, acc[0], pp);
            Value sn = arith::AddFOp::create(ib, l, acc[1], pn);
            scf::YieldOp::create(ib, l, ValueRange{sp, sn});
          });
      memref::AtomicRMWOp::create(cb, loc, arith::AtomicRMWKind::addf, sums.getResult(0), work,
                                  ValueRange{r, c0});
      memref::AtomicRMWOp::create(cb, loc, arith::AtomicRMWKind::addf, sums.getResult(1), work,
                                  ValueRange{r, c1});
    });
    // One row each: its term and derivatives work[r, 2..3] = (gp, gn).
    locus::kernels::parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
      Value r = rows[0];
      Row row = scoreRow(rb, loc, r);
      locus::kernels::atomicAdd(rb, loc, row.loss, lossOut);
      Type f64t = rb.getF64Type();
      memref::StoreOp::create(rb, loc, arith::ExtFOp::create(rb, loc, f64t, row.gPos), work,
                              ValueRange{r, c2});
      memref::StoreOp::create(rb, loc, arith::ExtFOp::create(rb, loc, f64t, row.gNeg), work,
                              ValueRange{r, c3});
    });
    // factors[r] = gp z[pos] + gn z[neg], element by element.
    locus::kernels::parallelFor(b, loc, ValueRange{n, d}, [&](OpBuilder &ib, ValueRange at) {
      Value r = at[0], i = at[1];
      auto [pos, negRow] = partners(ib, loc, r);
      Value zp = memref::LoadOp::create(ib, loc, z, ValueRange{pos, i});
      Value zn = memref::LoadOp::create(ib, loc, z, ValueRange{negRow, i});
      Value fp = arith::MulFOp::create(ib, loc, loadG(ib, loc, r, c0), zp);
      Value fn = arith::MulFOp::create(ib, loc, loadG(ib, loc, r, c1), zn);
      Value f = arith::AddFOp::create(ib, loc, fp, fn);
      memref::StoreOp::create(ib, loc, f, factors, ValueRange{r, i});
    });
    // dz[q] += g bc[r] for every row r whose positive or negative q is, in
    // the order of r and positive before negative (the sequential order:
    // the sums round the same on every target).
    if (v.negatives == Negatives::Next) {
      // q's rows in closed form: pos(r1) = q, neg(r2) = pos(r2) + 1 = q.
      locus::kernels::parallelFor(b, loc, ValueRange{n, d}, [&](OpBuilder &ib, ValueRange at) {
        Value q = at[0], i = at[1];
        Value twoN = arith::MulIOp::create(ib, loc, n, c2);
        Value qn = arith::AddIOp::create(ib, loc, q, twoN);
        Value r1 = arith::RemUIOp::create(ib, loc, arith::SubIOp::create(ib, loc, qn, half), n);
        Value qm = arith::SubIOp::create(ib, loc, qn, c1);
        Value r2 = arith::RemUIOp::create(ib, loc, arith::SubIOp::create(ib, loc, qm, half), n);
        Value posFirst = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ule, r1, r2);
        Value rA = arith::SelectOp::create(ib, loc, posFirst, r1, r2);
        Value rB = arith::SelectOp::create(ib, loc, posFirst, r2, r1);
        Value wA = arith::SelectOp::create(ib, loc, posFirst, c0, c1);
        Value wB = arith::SelectOp::create(ib, loc, posFirst, c1, c0);
        addTerm(ib, loc, q, i, rA, loadG(ib, loc, rA, wA));
        addTerm(ib, loc, q, i, rB, loadG(ib, loc, rB, wB));
      });
    } else {
      // Drawn negatives may name a row several times: each dz row scans them.
      locus::kernels::parallelFor(b, loc, n, [&](OpBuilder &qb, ValueRange rows) {
        Value q = rows[0];
        locus::kernels::forEach(qb, loc, c0, n, [&](OpBuilder &rb, Value r) {
          auto [pos, negRow] = partners(rb, loc, r);
          for (auto [row, which] : {std::pair{pos, c0}, std::pair{negRow, c1}}) {
            Value hit = arith::CmpIOp::create(rb, loc, arith::CmpIPredicate::eq, row, q);
            scf::IfOp::create(rb, loc, hit, [&, which = which](OpBuilder &tb, Location l) {
              Value gv = loadG(tb, l, r, which);
              locus::kernels::forEach(tb, l, c0, d, [&](OpBuilder &ib, Value i) {
                addTerm(ib, l, q, i, r, gv);
              });
              scf::YieldOp::create(tb, l);
            });
          }
        });
      });
    }
  };
  locus::kernels::accumulateScaled(b, loc, lossOut, passes, [&](OpBuilder &sb, Value total) {
    return F64{sb, loc}.mul(total, scale);
  });
  func::ReturnOp::create(b, loc);
}

struct GenerateLossKernelsPass
    : public locus::impl::LocusGenerateLossKernelsBase<GenerateLossKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::set<BilinearVariant> variants;
    WalkResult walk = module.walk([&](BilinearLossOp op) {
      LossAttr loss = op.getLoss();
      if (loss.getF() == LossFunction::InfoNCE ||
          (loss.getNegatives() != Negatives::Next && loss.getNegatives() != Negatives::Random)) {
        op.emitOpError() << "has no bilinear loss kernel for f = "
                         << stringifyLossFunction(loss.getF())
                         << ", negatives = " << stringifyNegatives(loss.getNegatives());
        return WalkResult::interrupt();
      }
      variants.insert({loss.getF(), loss.getForm(), loss.getNegatives()});
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (allVariants)
      for (LossFunction f : {LossFunction::Hinge, LossFunction::Softplus, LossFunction::Linear,
                             LossFunction::Logistic})
        for (LossForm form : {LossForm::Contrastive, LossForm::Difference})
          for (Negatives negatives : {Negatives::Next, Negatives::Random})
            variants.insert({f, form, negatives});
    if (variants.empty())
      return;
    LogicalResult built = locus::kernels::appendKernels(module, [&](OpBuilder &b, Location loc) {
      for (const BilinearVariant &v : variants)
        buildBilinearKernel(b, loc, v);
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
