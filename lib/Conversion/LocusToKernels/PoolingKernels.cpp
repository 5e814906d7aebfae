//===- PoolingKernels.cpp - max and average pooling, forward and adjoint --===//
//
// Problem: the blocks' general poolings (`locus.max_pool2d`,
// `locus.avg_pool2d`, relu + max-pool on windows the static relu-pool
// kernels do not tile) and their vjps are math the runtime must not hold.
//
// Method: four kernels with dynamic shapes and the window as arguments
// (kh, kw, sh, sw, pt, pl), on planes [P, H, W] (P = N C; the runtime splits
// the planes across its threads):
//
//   locus_max_pool_forward(x, y, argmax, window, base, relu):
//       y = max over the window (padding is -inf, NaN wins, first maximum),
//       argmax = base + the flat index of that maximum in x; relu(y) if relu
//   locus_max_pool_backward(dy, h, argmax, dx, base, relu):
//       dx = 0, dx[argmax - base] += dy (where h > 0 if relu)
//   locus_avg_pool_forward(x, y, window):
//       y = (sum over the window's columns of the column sums) / (kh kw)
//   locus_avg_pool_backward(dy, y, dx, window, relu):
//       dx = 0, dx[window] += dy / (kh kw); dx = 0 where y <= 0 if relu
//
// Sums are float32 in the orders the runtime's tests pin (columns of rows,
// then across columns; windows in row order).
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEPOOLINGKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using locus::kernels::declareKernel;
using locus::kernels::forEach;
using locus::kernels::ifPositive;
using locus::kernels::parallelFor;

namespace {

/// The rows or columns [lo, hi) of the input that output position `o` sees:
/// o s - pad, clamped to [0, size).
std::pair<Value, Value> span(OpBuilder &b, Location loc, Value o, Value k, Value s, Value pad,
                             Value size) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value start = arith::SubIOp::create(b, loc, arith::MulIOp::create(b, loc, o, s), pad);
  Value end = arith::AddIOp::create(b, loc, start, k);
  Value lo = arith::MaxSIOp::create(b, loc, start, zero);
  Value hi = arith::MinSIOp::create(b, loc, end, size);
  return {lo, hi};
}

struct Window {
  Value kh, kw, sh, sw, pt, pl;
};

struct Shapes {
  Type f32, i32, i64, index, i1;
  MemRefType planes, planesI32;
  explicit Shapes(OpBuilder &b)
      : f32(b.getF32Type()), i32(b.getI32Type()), i64(b.getI64Type()), index(b.getIndexType()),
        i1(b.getI1Type()),
        planes(MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic,
                                ShapedType::kDynamic},
                               f32)),
        planesI32(MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic,
                                   ShapedType::kDynamic},
                                  i32)) {}
};

/// The plane count and both maps' sizes of an input [P, IH, IW] and an
/// output [P, OH, OW].
struct Planes {
  Value zero, planes, ih, iw, oh, ow;
  Planes(OpBuilder &b, Location loc, Value in, Value out) {
    zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
    planes = memref::DimOp::create(b, loc, in, zero);
    ih = memref::DimOp::create(b, loc, in, c1);
    iw = memref::DimOp::create(b, loc, in, c2);
    oh = memref::DimOp::create(b, loc, out, c1);
    ow = memref::DimOp::create(b, loc, out, c2);
  }
};

void buildMaxForward(OpBuilder &builder, Location loc, const Shapes &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(
      builder, loc, "locus_max_pool_forward",
      {t.planes, t.planes, t.planesI32, t.index, t.index, t.index, t.index, t.index, t.index,
       t.i64, t.i1});
  OpBuilder &b = builder;
  Value x = a[0], y = a[1], argmax = a[2], base = a[9], withRelu = a[10];
  Window w{a[3], a[4], a[5], a[6], a[7], a[8]};
  Planes dims(b, loc, x, y);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value planes = dims.planes, ih = dims.ih, iw = dims.iw, oh = dims.oh, ow = dims.ow;
  Value lastRow = arith::SubIOp::create(b, loc, ih, c1);
  Value lastCol = arith::SubIOp::create(b, loc, iw, c1);
  Value planeSize = arith::MulIOp::create(b, loc, ih, iw);
  Value negInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  // Every output element is independent.
  parallelFor(b, loc, ValueRange{planes, oh, ow}, [&](OpBuilder &xb, ValueRange point) {
        Value p = point[0], oy = point[1], ox = point[2];
        auto [yLo, yHi] = span(xb, loc, oy, w.kh, w.sh, w.pt, ih);
        auto [xLo, xHi] = span(xb, loc, ox, w.kw, w.sw, w.pl, iw);
        // A window of padding only keeps -inf and points at a valid element.
        Value row0 = arith::MinSIOp::create(xb, loc, yLo, lastRow);
        Value col0 = arith::MinSIOp::create(xb, loc, xLo, lastCol);
        Value at0 = arith::AddIOp::create(xb, loc, arith::MulIOp::create(xb, loc, row0, iw), col0);
        auto rows = scf::ForOp::create(
            xb, loc, yLo, yHi, c1, ValueRange{negInf, at0},
            [&, xLo = xLo, xHi = xHi](OpBuilder &rb, Location l, Value iy, ValueRange acc) {
              auto cols = scf::ForOp::create(
                  rb, l, xLo, xHi, c1, acc,
                  [&](OpBuilder &cb, Location cl, Value ix, ValueRange best) {
                    Value v = memref::LoadOp::create(cb, cl, x, ValueRange{p, iy, ix});
                    // v > best, or v is NaN: NaN wins, the first maximum stays.
                    Value greater =
                        arith::CmpFOp::create(cb, cl, arith::CmpFPredicate::OGT, v, best[0]);
                    Value nan = arith::CmpFOp::create(cb, cl, arith::CmpFPredicate::UNO, v, v);
                    Value better = arith::OrIOp::create(cb, cl, greater, nan);
                    Value flat = arith::AddIOp::create(
                        cb, cl, arith::MulIOp::create(cb, cl, iy, iw), ix);
                    Value value = arith::SelectOp::create(cb, cl, better, v, best[0]);
                    Value at = arith::SelectOp::create(cb, cl, better, flat, best[1]);
                    scf::YieldOp::create(cb, cl, ValueRange{value, at});
                  });
              scf::YieldOp::create(rb, l, cols.getResults());
            });
        Value best = rows.getResult(0);
        Value rectified = ifPositive(xb, loc, best, best);
        Value out = arith::SelectOp::create(xb, loc, withRelu, rectified, best);
        memref::StoreOp::create(xb, loc, out, y, ValueRange{p, oy, ox});
        Value planeStart = arith::MulIOp::create(xb, loc, p, planeSize);
        Value local = arith::AddIOp::create(xb, loc, planeStart, rows.getResult(1));
        Value local64 = arith::IndexCastOp::create(xb, loc, t.i64, local);
        Value global = arith::AddIOp::create(xb, loc, base, local64);
        Value index = arith::TruncIOp::create(xb, loc, t.i32, global);
        memref::StoreOp::create(xb, loc, index, argmax, ValueRange{p, oy, ox});
  });
  func::ReturnOp::create(b, loc);
}

void buildMaxBackward(OpBuilder &builder, Location loc, const Shapes &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_max_pool_backward",
                                       {t.planes, t.planes, t.planesI32, t.planes, t.i64, t.i1});
  OpBuilder &b = builder;
  Value dy = a[0], h = a[1], argmax = a[2], dx = a[3], base = a[4], withRelu = a[5];
  Planes dims(b, loc, dx, dy);
  Value c0 = dims.zero;
  Value planes = dims.planes, ih = dims.ih, iw = dims.iw, oh = dims.oh, ow = dims.ow;
  Value planeSize = arith::MulIOp::create(b, loc, ih, iw);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{dx});
  // Each plane's arg-max points into the same plane: the planes are
  // independent, the windows of one plane may overlap.
  parallelFor(b, loc, planes, [&](OpBuilder &pb, ValueRange plane) {
    Value p = plane[0];
    forEach(pb, loc, c0, oh, [&](OpBuilder &yb, Value oy) {
      forEach(yb, loc, c0, ow, [&](OpBuilder &xb, Value ox) {
        Value g = memref::LoadOp::create(xb, loc, dy, ValueRange{p, oy, ox});
        Value out = memref::LoadOp::create(xb, loc, h, ValueRange{p, oy, ox});
        Value on = arith::CmpFOp::create(xb, loc, arith::CmpFPredicate::OGT, out, zero);
        Value off = arith::XOrIOp::create(
            xb, loc, on, arith::ConstantOp::create(xb, loc, xb.getBoolAttr(true)));
        Value skip = arith::AndIOp::create(xb, loc, withRelu, off);
        Value flat32 = memref::LoadOp::create(xb, loc, argmax, ValueRange{p, oy, ox});
        Value flat64 = arith::ExtSIOp::create(xb, loc, t.i64, flat32);
        Value local64 = arith::SubIOp::create(xb, loc, flat64, base);
        Value local = arith::IndexCastOp::create(xb, loc, t.index, local64);
        Value at = arith::RemSIOp::create(xb, loc, local, planeSize);
        Value iy = arith::DivSIOp::create(xb, loc, at, iw);
        Value ix = arith::RemSIOp::create(xb, loc, at, iw);
        Value old = memref::LoadOp::create(xb, loc, dx, ValueRange{p, iy, ix});
        Value sum = arith::AddFOp::create(xb, loc, old, g);
        Value next = arith::SelectOp::create(xb, loc, skip, old, sum);
        memref::StoreOp::create(xb, loc, next, dx, ValueRange{p, iy, ix});
      });
    });
  });
  func::ReturnOp::create(b, loc);
}

/// 1 / (kh kw) in float32.
Value windowScale(OpBuilder &b, Location loc, const Window &w) {
  Value area = arith::MulIOp::create(b, loc, w.kh, w.kw);
  Value area64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), area);
  Value areaF = arith::SIToFPOp::create(b, loc, b.getF32Type(), area64);
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  return arith::DivFOp::create(b, loc, one, areaF);
}

void buildAvgForward(OpBuilder &builder, Location loc, const Shapes &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_avg_pool_forward",
                                       {t.planes, t.planes, t.index, t.index, t.index, t.index,
                                        t.index, t.index});
  OpBuilder &b = builder;
  Value x = a[0], y = a[1];
  Window w{a[2], a[3], a[4], a[5], a[6], a[7]};
  Planes dims(b, loc, x, y);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value planes = dims.planes, ih = dims.ih, iw = dims.iw, oh = dims.oh, ow = dims.ow;
  Value scale = windowScale(b, loc, w);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  // Every output element is independent.
  parallelFor(b, loc, ValueRange{planes, oh, ow}, [&](OpBuilder &xb, ValueRange point) {
        Value p = point[0], oy = point[1], ox = point[2];
        auto [yLo, yHi] = span(xb, loc, oy, w.kh, w.sh, w.pt, ih);
        auto [xLo, xHi] = span(xb, loc, ox, w.kw, w.sw, w.pl, iw);
        // Each column's sum over the window's rows, then the columns in order;
        // a window of padding rows only (yLo = yHi) reads no column.
        Value empty = arith::CmpIOp::create(xb, loc, arith::CmpIPredicate::sge, yLo, yHi);
        Value xEnd = arith::SelectOp::create(xb, loc, empty, xLo, xHi);
        auto cols = scf::ForOp::create(
            xb, loc, xLo, xEnd, c1, ValueRange{zero},
            [&](OpBuilder &cb, Location l, Value ix, ValueRange total) {
              Value first = memref::LoadOp::create(cb, l, x, ValueRange{p, yLo, ix});
              Value next = arith::AddIOp::create(cb, l, yLo, c1);
              auto rows = scf::ForOp::create(
                  cb, l, next, yHi, c1, ValueRange{first},
                  [&](OpBuilder &rb, Location rl, Value iy, ValueRange column) {
                    Value v = memref::LoadOp::create(rb, rl, x, ValueRange{p, iy, ix});
                    Value s = arith::AddFOp::create(rb, rl, column[0], v);
                    scf::YieldOp::create(rb, rl, s);
                  });
              Value s = arith::AddFOp::create(cb, l, total[0], rows.getResult(0));
              scf::YieldOp::create(cb, l, s);
            });
        Value mean = arith::MulFOp::create(xb, loc, cols.getResult(0), scale);
        memref::StoreOp::create(xb, loc, mean, y, ValueRange{p, oy, ox});
  });
  func::ReturnOp::create(b, loc);
}

void buildAvgBackward(OpBuilder &builder, Location loc, const Shapes &t) {
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_avg_pool_backward",
                                       {t.planes, t.planes, t.planes, t.index, t.index, t.index,
                                  t.index, t.index, t.index, t.i1});
  OpBuilder &b = builder;
  Value dy = a[0], y = a[1], dx = a[2], withRelu = a[9];
  Window w{a[3], a[4], a[5], a[6], a[7], a[8]};
  Planes dims(b, loc, dx, dy);
  Value c0 = dims.zero;
  Value planes = dims.planes, ih = dims.ih, iw = dims.iw, oh = dims.oh, ow = dims.ow;
  Value scale = windowScale(b, loc, w);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{dx});
  // The planes are independent, the windows of one plane may overlap.
  parallelFor(b, loc, planes, [&](OpBuilder &pb, ValueRange plane) {
    Value p = plane[0];
    forEach(pb, loc, c0, oh, [&](OpBuilder &yb, Value oy) {
      auto [yLo, yHi] = span(yb, loc, oy, w.kh, w.sh, w.pt, ih);
      forEach(yb, loc, c0, ow, [&, yLo = yLo, yHi = yHi](OpBuilder &xb, Value ox) {
        auto [xLo, xHi] = span(xb, loc, ox, w.kw, w.sw, w.pl, iw);
        Value g = memref::LoadOp::create(xb, loc, dy, ValueRange{p, oy, ox});
        Value v = arith::MulFOp::create(xb, loc, g, scale);
        forEach(xb, loc, yLo, yHi, [&, xLo = xLo, xHi = xHi](OpBuilder &rb, Value iy) {
          forEach(rb, loc, xLo, xHi, [&](OpBuilder &cb, Value ix) {
            Value old = memref::LoadOp::create(cb, loc, dx, ValueRange{p, iy, ix});
            Value sum = arith::AddFOp::create(cb, loc, old, v);
            memref::StoreOp::create(cb, loc, sum, dx, ValueRange{p, iy, ix});
          });
        });
      });
    });
  });
  // The relu's vjp (y is the relu output, shaped like dx).
  scf::IfOp::create(b, loc, withRelu, [&](OpBuilder &ib, Location l) {
    parallelFor(ib, l, ValueRange{planes, ih, iw}, [&](OpBuilder &cb, ValueRange at) {
      Value out = memref::LoadOp::create(cb, l, y, at);
      Value g = memref::LoadOp::create(cb, l, dx, at);
      Value masked = ifPositive(cb, l, out, g);
      memref::StoreOp::create(cb, l, masked, dx, at);
    });
    scf::YieldOp::create(ib, l);
  });
  func::ReturnOp::create(b, loc);
}

struct GeneratePoolingKernelsPass
    : public locus::impl::LocusGeneratePoolingKernelsBase<GeneratePoolingKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    LogicalResult built = locus::kernels::appendKernels(module, [](OpBuilder &b, Location loc) {
      Shapes shapes(b);
      buildMaxForward(b, loc, shapes);
      buildMaxBackward(b, loc, shapes);
      buildAvgForward(b, loc, shapes);
      buildAvgBackward(b, loc, shapes);
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
