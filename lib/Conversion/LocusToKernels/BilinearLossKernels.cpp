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
// serves every block with that rule. The rows are parallel iterations (GPU
// threads on the CUDA target): a first pass gives each row its loss term and
// factors; a second gives each dz row the terms of the rows that name it,
// since two rows scatter into the same dz row; the loss sum is an atomic
// add, in row order on the CPU.
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
using locus::kernels::dotRows;
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
  auto scalar = MemRefType::get({}, f64);
  OpBuilder::InsertionGuard guard(builder);
  // (z, bc, negatives, dz, factors, loss, theta, weight, accumulate). dz and
  // factors are written while z and bc are read: promise they do not
  // overlap, so LLVM keeps the row loops vectorised.
  SmallVector<Value> a = locus::kernels::declareKernel(
      builder, loc, v.name(),
      {matrix, matrix, rows, matrix, matrix, scalar, f64, f64, builder.getI1Type()},
      {0, 1, 3, 4});
  OpBuilder &b = builder;
  Value z = a[0], bc = a[1], negRows = a[2], dz = a[3], factors = a[4];
  Value lossOut = a[5], theta = a[6], weight = a[7], accumulate = a[8];

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

  // The rows of the step: row r's positive and negative rows, its scores,
  // its term and its scaled derivatives, all float64 until the two g's.
  struct Row {
    Value pos, neg, gPos, gNeg, loss;
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
  auto scoreRow = [&](OpBuilder &rb, Location l, Value r, Value pos, Value negRow) {
    F64 rm{rb, l};
    Value uPos = dotRows(rb, l, z, pos, bc, r, d);
    Value uNeg = dotRows(rb, l, z, negRow, bc, r, d);
    RowTerm t = rowTerm(rm, v, uPos, uNeg, theta);
    Value gp = arith::TruncFOp::create(rb, l, f32, rm.mul(t.gPos, scale));
    Value gn = arith::TruncFOp::create(rb, l, f32, rm.mul(t.gNeg, scale));
    return Row{pos, negRow, gp, gn, t.loss};
  };
  auto addScaledRow = [&](OpBuilder &ib, Location l, Value g, Value from, Value to) {
    scf::ForOp::create(ib, l, c0, d, c1, ValueRange{},
                       [&](OpBuilder &eb, Location el, Value i, ValueRange) {
                         Value br = memref::LoadOp::create(eb, el, bc, ValueRange{from, i});
                         Value old = memref::LoadOp::create(eb, el, dz, ValueRange{to, i});
                         Value step = arith::MulFOp::create(eb, el, g, br);
                         Value sum = arith::AddFOp::create(eb, el, old, step);
                         memref::StoreOp::create(eb, el, sum, dz, ValueRange{to, i});
                         scf::YieldOp::create(eb, el);
                       });
  };

  // The loss: zeroed, each row's term added (in row order on the CPU, so
  // the sum is the sequential one), scaled once at the end, the scalar steps
  // on the device that holds the loss.
  auto passes = [&](OpBuilder &b) {
    // Pass 1, one row each: its term and factors[r] = gp z[pos] + gn z[neg].
    locus::kernels::parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
      Value r = rows[0];
      auto [pos, negRow] = partners(rb, loc, r);
      Row row = scoreRow(rb, loc, r, pos, negRow);
      locus::kernels::atomicAdd(rb, loc, row.loss, lossOut);
      scf::ForOp::create(rb, loc, c0, d, c1, ValueRange{},
                         [&](OpBuilder &ib, Location il, Value i, ValueRange) {
                           Value zp = memref::LoadOp::create(ib, il, z, ValueRange{row.pos, i});
                           Value zn = memref::LoadOp::create(ib, il, z, ValueRange{row.neg, i});
                           Value fp = arith::MulFOp::create(ib, il, row.gPos, zp);
                           Value fn = arith::MulFOp::create(ib, il, row.gNeg, zn);
                           Value f = arith::AddFOp::create(ib, il, fp, fn);
                           memref::StoreOp::create(ib, il, f, factors, ValueRange{r, i});
                           scf::YieldOp::create(ib, il);
                         });
    });
    // Pass 2, one dz row q each: dz[q] += g bc[r] for every row r whose
    // positive or negative q is, in the order of r and positive before
    // negative (the sequential order: the sums round the same on every
    // target). A row's g is recomputed where it is needed (two dot products)
    // instead of being kept in a buffer the kernel does not have.
    locus::kernels::parallelFor(b, loc, n, [&](OpBuilder &qb, ValueRange rows) {
      Value q = rows[0];
      locus::kernels::forEach(qb, loc, c0, n, [&](OpBuilder &rb, Value r) {
        auto [pos, negRow] = partners(rb, loc, r);
        Value isPos = arith::CmpIOp::create(rb, loc, arith::CmpIPredicate::eq, pos, q);
        Value isNeg = arith::CmpIOp::create(rb, loc, arith::CmpIPredicate::eq, negRow, q);
        Value either = arith::OrIOp::create(rb, loc, isPos, isNeg);
        scf::IfOp::create(rb, loc, either, [&](OpBuilder &tb, Location l) {
          Row row = scoreRow(tb, l, r, pos, negRow);
          scf::IfOp::create(tb, l, isPos, [&](OpBuilder &pb, Location pl) {
            addScaledRow(pb, pl, row.gPos, r, q);
            scf::YieldOp::create(pb, pl);
          });
          scf::IfOp::create(tb, l, isNeg, [&](OpBuilder &nb, Location nl) {
            addScaledRow(nb, nl, row.gNeg, r, q);
            scf::YieldOp::create(nb, nl);
          });
          scf::YieldOp::create(tb, l);
        });
      });
    });
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
