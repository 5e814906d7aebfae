//===- GoodnessInputKernels.cpp - what FF's and SCFF's blocks see ---------===//
//
// Problem: Forward-Forward and SCFF change a block's input, not only its
// loss (METHOD.md section 1): FF mixes hybrid negatives below the views and
// length-normalises every later block's input rows; SCFF standardises each
// input row and pairs it, [s + s; s + roll(s)]. That is rule math the
// runtime must not hold.
//
// Method: three kernels with dynamic shapes (the randomness, which images
// pair and the mask's random bits, stays with the runtime's data streams):
//
//   locus_hybrid_negatives(views, masks, partners, out):
//       out = [views; hybrids], hybrid r = views[r] where the mask of row r,
//       blurred six times with [1/4, 1/2, 1/4] both ways (edges repeated),
//       exceeds 1/2, else views[partners[r]]; masks [N, H, W] are blurred in
//       place, views and out are [rows, C, H W]
//   locus_length_normalize_rows(x, y):  y[r] = x[r] / (||x[r]|| + 1e-5)
//   locus_standardize_pairs(x, st, y, pairs):
//       st[r] = (x[r] - mean) / (std + 1e-5), y[r] = st[r] + st[r] and,
//       when pairs, y[N + r] = st[r] + st[(r + 1) mod N]
//
// Row norms and moments are float64 sums in element order, as the
// reference.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/GoodnessInput.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEGOODNESSINPUTKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using locus::kernels::declareKernel;
using locus::kernels::F64;
using locus::kernels::forEach;
using locus::kernels::parallelFor;
using locus::kernels::sumOver;

namespace {

/// The float32 epsilon of both normalisations, as the reference adds it to a
/// float64 norm.
constexpr double kEps = static_cast<double>(locus::kGoodnessInputEps);

Value f32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// Reads and writes one [H, W] map: a row's mask, or its scratch.
using MapLoad = llvm::function_ref<Value(OpBuilder &, Value i, Value j)>;
using MapStore = llvm::function_ref<void(OpBuilder &, Value v, Value i, Value j)>;

/// One [1/4, 1/2, 1/4] pass over the map `load` reads into the one `store`
/// writes: neighbours left and right, or (vertical) above and below, the
/// edges repeated.
void blurPass(OpBuilder &b, Location loc, MapLoad load, MapStore store, bool vertical, Value h,
              Value w) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value lastRow = arith::SubIOp::create(b, loc, h, c1);
  Value lastCol = arith::SubIOp::create(b, loc, w, c1);
  forEach(b, loc, c0, h, [&](OpBuilder &ib, Value i) {
    forEach(ib, loc, c0, w, [&](OpBuilder &jb, Value j) {
      Value before, after;
      if (vertical) {
        Value up = arith::MaxSIOp::create(jb, loc, arith::SubIOp::create(jb, loc, i, c1), c0);
        Value down =
            arith::MinSIOp::create(jb, loc, arith::AddIOp::create(jb, loc, i, c1), lastRow);
        before = load(jb, up, j);
        after = load(jb, down, j);
      } else {
        Value left = arith::MaxSIOp::create(jb, loc, arith::SubIOp::create(jb, loc, j, c1), c0);
        Value right =
            arith::MinSIOp::create(jb, loc, arith::AddIOp::create(jb, loc, j, c1), lastCol);
        before = load(jb, i, left);
        after = load(jb, i, right);
      }
      Value centre = load(jb, i, j);
      // 0.25 l + 0.5 m + 0.25 r, left to right.
      Value a = arith::MulFOp::create(jb, loc, f32(jb, loc, 0.25f), before);
      Value m = arith::MulFOp::create(jb, loc, f32(jb, loc, 0.5f), centre);
      Value c = arith::MulFOp::create(jb, loc, f32(jb, loc, 0.25f), after);
      Value s = arith::AddFOp::create(jb, loc, arith::AddFOp::create(jb, loc, a, m), c);
      store(jb, s, i, j);
    });
  });
}

void buildHybridNegatives(OpBuilder &builder, Location loc) {
  OpBuilder::InsertionGuard guard(builder);
  Type f = builder.getF32Type();
  auto rows3 = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic},
                               f);
  auto partnersType = MemRefType::get({ShapedType::kDynamic}, builder.getI32Type());
  SmallVector<Value> a = declareKernel(builder, loc, "locus_hybrid_negatives",
                                 {rows3, rows3, partnersType, rows3});
  OpBuilder &b = builder;
  Value views = a[0], masks = a[1], partners = a[2], out = a[3];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value n = memref::DimOp::create(b, loc, views, c0);
  Value channels = memref::DimOp::create(b, loc, views, c1);
  Value plane = memref::DimOp::create(b, loc, views, c2);
  Value h = memref::DimOp::create(b, loc, masks, c1);
  Value w = memref::DimOp::create(b, loc, masks, c2);
  Value half = f32(b, loc, 0.5f);
  // The rows are independent. A row's blur needs an [H, W] scratch map: the
  // first channel of its own hybrid row in `out`, which is written last.
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
    Value r = rows[0];
    Value hybrid = arith::AddIOp::create(rb, loc, n, r);
    // The views themselves, then the hybrid of row r below them.
    forEach(rb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
      forEach(cb, loc, c0, plane, [&](OpBuilder &pb, Value p) {
        Value v = memref::LoadOp::create(pb, loc, views, ValueRange{r, ch, p});
        memref::StoreOp::create(pb, loc, v, out, ValueRange{r, ch, p});
      });
    });
    auto at = [&](OpBuilder &ib, Value i, Value j) {
      return arith::AddIOp::create(ib, loc, arith::MulIOp::create(ib, loc, i, w), j).getResult();
    };
    auto loadMask = [&](OpBuilder &ib, Value i, Value j) -> Value {
      return memref::LoadOp::create(ib, loc, masks, ValueRange{r, i, j});
    };
    auto storeMask = [&](OpBuilder &ib, Value v, Value i, Value j) {
      memref::StoreOp::create(ib, loc, v, masks, ValueRange{r, i, j});
    };
    auto loadScratch = [&](OpBuilder &ib, Value i, Value j) -> Value {
      return memref::LoadOp::create(ib, loc, out, ValueRange{hybrid, c0, at(ib, i, j)});
    };
    auto storeScratch = [&](OpBuilder &ib, Value v, Value i, Value j) {
      memref::StoreOp::create(ib, loc, v, out, ValueRange{hybrid, c0, at(ib, i, j)});
    };
    Value six = arith::ConstantIndexOp::create(rb, loc, 6);
    forEach(rb, loc, c0, six, [&](OpBuilder &kb, Value) {
      blurPass(kb, loc, loadMask, storeScratch, /*vertical=*/false, h, w);
      blurPass(kb, loc, loadScratch, storeMask, /*vertical=*/true, h, w);
    });
    Value partner32 = memref::LoadOp::create(rb, loc, partners, ValueRange{r});
    Value partner = arith::IndexCastOp::create(rb, loc, rb.getIndexType(), partner32);
    forEach(rb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
      forEach(cb, loc, c0, h, [&](OpBuilder &ib, Value i) {
        forEach(ib, loc, c0, w, [&](OpBuilder &jb, Value j) {
          Value p = arith::AddIOp::create(jb, loc, arith::MulIOp::create(jb, loc, i, w), j);
          Value m = memref::LoadOp::create(jb, loc, masks, ValueRange{r, i, j});
          Value own = memref::LoadOp::create(jb, loc, views, ValueRange{r, ch, p});
          Value other = memref::LoadOp::create(jb, loc, views, ValueRange{partner, ch, p});
          Value keep = arith::CmpFOp::create(jb, loc, arith::CmpFPredicate::OGT, m, half);
          Value v = arith::SelectOp::create(jb, loc, keep, own, other);
          memref::StoreOp::create(jb, loc, v, out, ValueRange{hybrid, ch, p});
        });
      });
    });
  });
  func::ReturnOp::create(b, loc);
}

/// sum over i < row of term(f64(x[r, i])), in order.
Value rowSum(OpBuilder &b, Location loc, Value x, Value r, Value row,
             llvm::function_ref<Value(F64 &, Value)> term) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  return sumOver(b, loc, c0, row, F64{b, loc}.c(0.0), [&](OpBuilder &ib, Value i) {
    F64 m{ib, loc};
    Value v = memref::LoadOp::create(ib, loc, x, ValueRange{r, i});
    return term(m, m.ext(v));
  });
}

void buildLengthNormalize(OpBuilder &builder, Location loc) {
  OpBuilder::InsertionGuard guard(builder);
  auto matrix = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                builder.getF32Type());
  SmallVector<Value> a = declareKernel(builder, loc, "locus_length_normalize_rows", {matrix, matrix});
  OpBuilder &b = builder;
  Value x = a[0], y = a[1];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, x, c0);
  Value row = memref::DimOp::create(b, loc, x, c1);
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
    Value r = rows[0];
    F64 m{rb, loc};
    Value sq = rowSum(rb, loc, x, r, row, [](F64 &k, Value v) { return k.mul(v, v); });
    Value norm = m.add(m.sqrt(sq), m.c(kEps));
    Value inv = m.trunc(m.div(m.c(1.0), norm));
    forEach(rb, loc, c0, row, [&](OpBuilder &ib, Value i) {
      Value v = memref::LoadOp::create(ib, loc, x, ValueRange{r, i});
      Value scaled = arith::MulFOp::create(ib, loc, v, inv);
      memref::StoreOp::create(ib, loc, scaled, y, ValueRange{r, i});
    });
  });
  func::ReturnOp::create(b, loc);
}

void buildStandardizePairs(OpBuilder &builder, Location loc) {
  OpBuilder::InsertionGuard guard(builder);
  auto matrix = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                builder.getF32Type());
  SmallVector<Value> a = declareKernel(builder, loc, "locus_standardize_pairs",
                                 {matrix, matrix, matrix, builder.getI1Type()});
  OpBuilder &b = builder;
  Value x = a[0], st = a[1], y = a[2], pairs = a[3];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = memref::DimOp::create(b, loc, x, c0);
  Value row = memref::DimOp::create(b, loc, x, c1);
  F64 f{b, loc};
  Value rowF = f.fromIndex(row);
  // Rows are independent; the pairs read the standardised rows of others,
  // so they follow in a second loop.
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
    Value r = rows[0];
    F64 m{rb, loc};
    Value sum = rowSum(rb, loc, x, r, row, [](F64 &, Value v) { return v; });
    Value sq = rowSum(rb, loc, x, r, row, [](F64 &k, Value v) { return k.mul(v, v); });
    Value mean = m.div(sum, rowF);
    Value var = m.max(m.c(0.0), m.sub(m.div(sq, rowF), m.mul(mean, mean)));
    Value mean32 = m.trunc(mean);
    Value inv = m.trunc(m.div(m.c(1.0), m.add(m.sqrt(var), m.c(kEps))));
    forEach(rb, loc, c0, row, [&](OpBuilder &ib, Value i) {
      Value v = memref::LoadOp::create(ib, loc, x, ValueRange{r, i});
      Value centred = arith::SubFOp::create(ib, loc, v, mean32);
      Value s = arith::MulFOp::create(ib, loc, centred, inv);
      memref::StoreOp::create(ib, loc, s, st, ValueRange{r, i});
    });
  });
  parallelFor(b, loc, n, [&](OpBuilder &rb, ValueRange rows) {
    Value r = rows[0];
    Value next = arith::RemUIOp::create(rb, loc, arith::AddIOp::create(rb, loc, r, c1), n);
    Value negative = arith::AddIOp::create(rb, loc, n, r);
    forEach(rb, loc, c0, row, [&](OpBuilder &ib, Value i) {
      Value s = memref::LoadOp::create(ib, loc, st, ValueRange{r, i});
      Value twice = arith::AddFOp::create(ib, loc, s, s);
      memref::StoreOp::create(ib, loc, twice, y, ValueRange{r, i});
      scf::IfOp::create(ib, loc, pairs, [&](OpBuilder &pb, Location l) {
        Value other = memref::LoadOp::create(pb, l, st, ValueRange{next, i});
        Value pair = arith::AddFOp::create(pb, l, s, other);
        memref::StoreOp::create(pb, l, pair, y, ValueRange{negative, i});
        scf::YieldOp::create(pb, l);
      });
    });
  });
  func::ReturnOp::create(b, loc);
}

struct GenerateGoodnessInputKernelsPass
    : public locus::impl::LocusGenerateGoodnessInputKernelsBase<
          GenerateGoodnessInputKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    LogicalResult built = locus::kernels::appendKernels(module, [](OpBuilder &b, Location loc) {
      buildHybridNegatives(b, loc);
      buildLengthNormalize(b, loc);
      buildStandardizePairs(b, loc);
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
