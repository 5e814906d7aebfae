//===- PrecisionKernels.cpp - float32 <-> bfloat16 conversions ------------===//
//
// Problem: `--precision bf16` runs the convolutions in bfloat16 (cuDNN's
// bfloat16 tensors, float32 accumulation) while the step's buffers, the
// master weights and every loss stay float32, as PyTorch's autocast does.
// Someone has to convert the convolutions' operands and results, and that
// arithmetic (rounding, NaN) is kernel math the runtime must not hold.
//
// Method: two kernels on flat buffers, one parallel iteration an element:
//
//   locus_f32_to_bf16(x, bits):  bits = x rounded to the nearest bfloat16,
//                                ties to even (a NaN stays a quiet NaN of
//                                the same sign; overflow gives infinity)
//   locus_bf16_to_f32(bits, y):  y = the bfloat16 as float32 (exact)
//   locus_bf16_add_to_f32(bits, y): y += the bfloat16 (a weight gradient
//                                summed over row chunks in float32)
//
// bfloat16 is carried as its 16 bits (i16), as the bfloat16 AdamW moments
// are: the rounding is integer arithmetic, the same on every target, so the
// CPU form checks the GPU's bits.
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
#define GEN_PASS_DEF_LOCUSGENERATEPRECISIONKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using locus::kernels::declareKernel;
using locus::kernels::parallelFor;
using locus::kernels::widenBf16;

namespace {

/// x's nearest bfloat16 (ties to even) as i16 bits: adding 0x7FFF plus the
/// kept half's lowest bit carries into the kept half exactly when the
/// dropped half is above one half, or equal to it with an odd kept half. A
/// NaN keeps its sign and high payload with the quiet bit set (the add could
/// carry it into infinity).
Value roundToNearestBf16(OpBuilder &b, Location loc, Value x) {
  auto constant = [&](int32_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v)).getResult();
  };
  Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), x);
  Value high = arith::ShRUIOp::create(b, loc, bits, constant(16));
  Value odd = arith::AndIOp::create(b, loc, high, constant(1));
  Value bias = arith::AddIOp::create(b, loc, odd, constant(0x7FFF));
  Value rounded = arith::ShRUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, bits, bias), constant(16));
  Value quiet = arith::OrIOp::create(b, loc, high, constant(0x40));
  Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  Value result = arith::SelectOp::create(b, loc, isNaN, quiet, rounded);
  return arith::TruncIOp::create(b, loc, b.getI16Type(), result);
}

void buildConversions(OpBuilder &builder, Location loc) {
  auto floats = MemRefType::get({ShapedType::kDynamic}, builder.getF32Type());
  auto halves = MemRefType::get({ShapedType::kDynamic}, builder.getI16Type());
  {
    OpBuilder::InsertionGuard guard(builder);
    SmallVector<Value> a = declareKernel(builder, loc, "locus_f32_to_bf16", {floats, halves});
    Value x = a[0], out = a[1];
    Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
    Value n = memref::DimOp::create(builder, loc, x, c0);
    parallelFor(builder, loc, n, [&](OpBuilder &b, ValueRange i) {
      Value v = memref::LoadOp::create(b, loc, x, i);
      memref::StoreOp::create(b, loc, roundToNearestBf16(b, loc, v), out, i);
    });
    func::ReturnOp::create(builder, loc);
  }
  for (bool add : {false, true}) {
    OpBuilder::InsertionGuard guard(builder);
    SmallVector<Value> a = declareKernel(
        builder, loc, add ? "locus_bf16_add_to_f32" : "locus_bf16_to_f32", {halves, floats});
    Value in = a[0], y = a[1];
    Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
    Value n = memref::DimOp::create(builder, loc, in, c0);
    parallelFor(builder, loc, n, [&](OpBuilder &b, ValueRange i) {
      Value v = widenBf16(b, loc, memref::LoadOp::create(b, loc, in, i));
      if (add)
        v = arith::AddFOp::create(b, loc, memref::LoadOp::create(b, loc, y, i), v);
      memref::StoreOp::create(b, loc, v, y, i);
    });
    func::ReturnOp::create(builder, loc);
  }
}

struct GeneratePrecisionKernelsPass
    : public locus::impl::LocusGeneratePrecisionKernelsBase<GeneratePrecisionKernelsPass> {
  void runOnOperation() override {
    if (failed(locus::kernels::appendKernels(getOperation(), buildConversions)))
      signalPassFailure();
  }
};

} // namespace
