//===- ActivationKernels.cpp - relu and triangle, forward and adjoint -----===//
//
// Problem: the blocks' activations (`locus.relu`, `locus.triangle`) and
// their vjps are math the runtime must not hold.
//
// Method: four kernels with dynamic shapes, one of each for every model
// (the runtime splits the batch across its threads and calls them per slice):
//
//   locus_relu_forward(x, y):          y = x > 0 ? x : 0                 (flat)
//   locus_relu_backward(y, dy, dx):    dx = y > 0 ? dy : 0               (flat)
//   locus_triangle_forward(x, y):      y = relu(x - mean_c x)            ([N, C, HW])
//   locus_triangle_backward(x, dy, dx): t = dy 1[x - mean_c x > 0], dx = t - mean_c t
//
// The channel means are float32 sums in channel order, as the reference
// (METHOD.md's triangle) and the runtime's tests expect. dx may alias dy
// (the engine reuses gradient buffers): each element of dy is read before
// the same element of dx is written, and no kernel argument is noalias.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEACTIVATIONKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using locus::kernels::declareKernel;
using locus::kernels::forEach;
using locus::kernels::ifPositive;

namespace {

void buildRelu(OpBuilder &builder, Location loc) {
  auto flat = MemRefType::get({ShapedType::kDynamic}, builder.getF32Type());
  {
    OpBuilder::InsertionGuard guard(builder);
    SmallVector<Value> a = declareKernel(builder, loc, "locus_relu_forward", {flat, flat});
    Value x = a[0], y = a[1];
    Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
    Value n = memref::DimOp::create(builder, loc, x, c0);
    forEach(builder, loc, c0, n, [&](OpBuilder &b, Value i) {
      Value v = memref::LoadOp::create(b, loc, x, ValueRange{i});
      memref::StoreOp::create(b, loc, ifPositive(b, loc, v, v), y, ValueRange{i});
    });
    func::ReturnOp::create(builder, loc);
  }
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_relu_backward", {flat, flat, flat});
  Value y = a[0], dy = a[1], dx = a[2];
  Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
  Value n = memref::DimOp::create(builder, loc, y, c0);
  forEach(builder, loc, c0, n, [&](OpBuilder &b, Value i) {
    Value out = memref::LoadOp::create(b, loc, y, ValueRange{i});
    Value g = memref::LoadOp::create(b, loc, dy, ValueRange{i});
    memref::StoreOp::create(b, loc, ifPositive(b, loc, out, g), dx, ValueRange{i});
  });
  func::ReturnOp::create(builder, loc);
}

/// mean[q] = (sum over channels of x[s, ch, q], in channel order) * inv.
void channelMean(OpBuilder &b, Location loc, Value x, Value s, Value channels, Value plane,
                 Value inv, Value mean) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{mean});
  forEach(b, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
    forEach(cb, loc, c0, plane, [&](OpBuilder &qb, Value q) {
      Value acc = memref::LoadOp::create(qb, loc, mean, ValueRange{q});
      Value v = memref::LoadOp::create(qb, loc, x, ValueRange{s, ch, q});
      Value sum = arith::AddFOp::create(qb, loc, acc, v);
      memref::StoreOp::create(qb, loc, sum, mean, ValueRange{q});
    });
  });
  forEach(b, loc, c0, plane, [&](OpBuilder &qb, Value q) {
    Value acc = memref::LoadOp::create(qb, loc, mean, ValueRange{q});
    Value scaled = arith::MulFOp::create(qb, loc, acc, inv);
    memref::StoreOp::create(qb, loc, scaled, mean, ValueRange{q});
  });
}

void buildTriangle(OpBuilder &builder, Location loc, bool backward) {
  Type f32 = builder.getF32Type();
  auto map = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic},
                             f32);
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(
      builder, loc, backward ? "locus_triangle_backward" : "locus_triangle_forward",
      SmallVector<Type>(backward ? 3 : 2, map));
  OpBuilder &b = builder;
  Value x = a[0];
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value c2 = arith::ConstantIndexOp::create(b, loc, 2);
  Value samples = memref::DimOp::create(b, loc, x, c0);
  Value channels = memref::DimOp::create(b, loc, x, c1);
  Value plane = memref::DimOp::create(b, loc, x, c2);
  Value channels64 = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), channels);
  Value channelsF = arith::UIToFPOp::create(b, loc, f32, channels64);
  Value one = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
  Value inv = arith::DivFOp::create(b, loc, one, channelsF);
  auto perLocation = MemRefType::get({ShapedType::kDynamic}, f32);
  Value mean = memref::AllocaOp::create(b, loc, perLocation, ValueRange{plane});
  Value tsum = memref::AllocaOp::create(b, loc, perLocation, ValueRange{plane});
  forEach(b, loc, c0, samples, [&](OpBuilder &sb, Value s) {
    channelMean(sb, loc, x, s, channels, plane, inv, mean);
    if (!backward) {
      Value y = a[1];
      forEach(sb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
        forEach(cb, loc, c0, plane, [&](OpBuilder &qb, Value q) {
          Value v = memref::LoadOp::create(qb, loc, x, ValueRange{s, ch, q});
          Value m = memref::LoadOp::create(qb, loc, mean, ValueRange{q});
          Value centred = arith::SubFOp::create(qb, loc, v, m);
          memref::StoreOp::create(qb, loc, ifPositive(qb, loc, centred, centred), y,
                                  ValueRange{s, ch, q});
        });
      });
      return;
    }
    // t = dy where x - mean > 0, written into dx and summed per location;
    // then dx = t - mean_c t.
    Value dy = a[1], dx = a[2];
    Value zero = arith::ConstantOp::create(sb, loc, sb.getF32FloatAttr(0.0f));
    linalg::FillOp::create(sb, loc, ValueRange{zero}, ValueRange{tsum});
    forEach(sb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
      forEach(cb, loc, c0, plane, [&](OpBuilder &qb, Value q) {
        Value v = memref::LoadOp::create(qb, loc, x, ValueRange{s, ch, q});
        Value m = memref::LoadOp::create(qb, loc, mean, ValueRange{q});
        Value centred = arith::SubFOp::create(qb, loc, v, m);
        Value g = memref::LoadOp::create(qb, loc, dy, ValueRange{s, ch, q});
        Value t = ifPositive(qb, loc, centred, g);
        memref::StoreOp::create(qb, loc, t, dx, ValueRange{s, ch, q});
        Value acc = memref::LoadOp::create(qb, loc, tsum, ValueRange{q});
        Value sum = arith::AddFOp::create(qb, loc, acc, t);
        memref::StoreOp::create(qb, loc, sum, tsum, ValueRange{q});
      });
    });
    forEach(sb, loc, c0, plane, [&](OpBuilder &qb, Value q) {
      Value acc = memref::LoadOp::create(qb, loc, tsum, ValueRange{q});
      Value scaled = arith::MulFOp::create(qb, loc, acc, inv);
      memref::StoreOp::create(qb, loc, scaled, tsum, ValueRange{q});
    });
    forEach(sb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
      forEach(cb, loc, c0, plane, [&](OpBuilder &qb, Value q) {
        Value t = memref::LoadOp::create(qb, loc, dx, ValueRange{s, ch, q});
        Value m = memref::LoadOp::create(qb, loc, tsum, ValueRange{q});
        Value d = arith::SubFOp::create(qb, loc, t, m);
        memref::StoreOp::create(qb, loc, d, dx, ValueRange{s, ch, q});
      });
    });
  });
  func::ReturnOp::create(b, loc);
}

struct GenerateActivationKernelsPass
    : public locus::impl::LocusGenerateActivationKernelsBase<GenerateActivationKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    LogicalResult built = locus::kernels::appendKernels(module, [](OpBuilder &b, Location loc) {
      buildRelu(b, loc);
      buildTriangle(b, loc, /*backward=*/false);
      buildTriangle(b, loc, /*backward=*/true);
    });
    if (failed(built))
      signalPassFailure();
  }
};

} // namespace
