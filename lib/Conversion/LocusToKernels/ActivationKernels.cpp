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
// (METHOD.md's triangle) and the runtime's tests expect. Every element (relu)
// and every (sample, location) (triangle) is a parallel iteration. dx may alias dy
// (the engine reuses gradient buffers): each element of dy is read before
// the same element of dx is written, and no kernel argument is noalias.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
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
using locus::kernels::parallelFor;

namespace {

void buildRelu(OpBuilder &builder, Location loc) {
  auto flat = MemRefType::get({ShapedType::kDynamic}, builder.getF32Type());
  {
    OpBuilder::InsertionGuard guard(builder);
    SmallVector<Value> a = declareKernel(builder, loc, "locus_relu_forward", {flat, flat});
    Value x = a[0], y = a[1];
    Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
    Value n = memref::DimOp::create(builder, loc, x, c0);
    parallelFor(builder, loc, n, [&](OpBuilder &b, ValueRange i) {
      Value v = memref::LoadOp::create(b, loc, x, i);
      memref::StoreOp::create(b, loc, ifPositive(b, loc, v, v), y, i);
    });
    func::ReturnOp::create(builder, loc);
  }
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = declareKernel(builder, loc, "locus_relu_backward", {flat, flat, flat});
  Value y = a[0], dy = a[1], dx = a[2];
  Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
  Value n = memref::DimOp::create(builder, loc, y, c0);
  parallelFor(builder, loc, n, [&](OpBuilder &b, ValueRange i) {
    Value out = memref::LoadOp::create(b, loc, y, i);
    Value g = memref::LoadOp::create(b, loc, dy, i);
    memref::StoreOp::create(b, loc, ifPositive(b, loc, out, g), dx, i);
  });
  func::ReturnOp::create(builder, loc);
}

/// (sum over channels of x[s, ch, q], in channel order, from 0) * inv.
Value channelMean(OpBuilder &b, Location loc, Value x, Value s, Value q, Value channels,
                  Value inv) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  auto sum = scf::ForOp::create(b, loc, c0, channels, c1, ValueRange{zero},
                                [&](OpBuilder &cb, Location l, Value ch, ValueRange acc) {
                                  Value v = memref::LoadOp::create(cb, l, x, ValueRange{s, ch, q});
                                  Value next = arith::AddFOp::create(cb, l, acc[0], v);
                                  scf::YieldOp::create(cb, l, next);
                                });
  return arith::MulFOp::create(b, loc, sum.getResult(0), inv);
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
  // Every (sample, location) is independent: its channel mean, then its
  // channels.
  parallelFor(b, loc, ValueRange{samples, plane}, [&](OpBuilder &pb, ValueRange point) {
    Value s = point[0], q = point[1];
    Value mean = channelMean(pb, loc, x, s, q, channels, inv);
    if (!backward) {
      Value y = a[1];
      forEach(pb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
        Value v = memref::LoadOp::create(cb, loc, x, ValueRange{s, ch, q});
        Value centred = arith::SubFOp::create(cb, loc, v, mean);
        memref::StoreOp::create(cb, loc, ifPositive(cb, loc, centred, centred), y,
                                ValueRange{s, ch, q});
      });
      return;
    }
    // t = dy where x - mean > 0, written into dx and summed in channel
    // order; then dx = t - mean_c t.
    Value dy = a[1], dx = a[2];
    Value zero = arith::ConstantOp::create(pb, loc, pb.getF32FloatAttr(0.0f));
    auto tsum = scf::ForOp::create(
        pb, loc, c0, channels, c1, ValueRange{zero},
        [&](OpBuilder &cb, Location l, Value ch, ValueRange acc) {
          Value v = memref::LoadOp::create(cb, l, x, ValueRange{s, ch, q});
          Value centred = arith::SubFOp::create(cb, l, v, mean);
          Value g = memref::LoadOp::create(cb, l, dy, ValueRange{s, ch, q});
          Value t = ifPositive(cb, l, centred, g);
          memref::StoreOp::create(cb, l, t, dx, ValueRange{s, ch, q});
          Value next = arith::AddFOp::create(cb, l, acc[0], t);
          scf::YieldOp::create(cb, l, next);
        });
    Value tmean = arith::MulFOp::create(pb, loc, tsum.getResult(0), inv);
    forEach(pb, loc, c0, channels, [&](OpBuilder &cb, Value ch) {
      Value t = memref::LoadOp::create(cb, loc, dx, ValueRange{s, ch, q});
      Value d = arith::SubFOp::create(cb, loc, t, tmean);
      memref::StoreOp::create(cb, loc, d, dx, ValueRange{s, ch, q});
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
