//===- KernelBuilder.h - what the kernel generators share -------*- C++ -*-===//
//
// The kernel generators of lib/Conversion/LocusToKernels build their kernels
// the same way: a func.func with llvm.emit_c_interface in @locus_kernels,
// scf loops, float64 sums and the stable softplus and sigmoid of the loss
// terms. This is their one definition (private to this folder).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_CONVERSION_LOCUSTOKERNELS_KERNELBUILDER_H
#define LOCUS_LIB_CONVERSION_LOCUSTOKERNELS_KERNELBUILDER_H

#include "locus/Conversion/LocusToKernels/KernelsModule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace locus::kernels {

using mlir::Location;
using mlir::OpBuilder;
using mlir::Value;
using mlir::ValueRange;
namespace arith = mlir::arith;
namespace math = mlir::math;
namespace memref = mlir::memref;
namespace scf = mlir::scf;

/// `func.func @name(types...)` in the insertion block, with the C interface
/// the runtime calls and `llvm.noalias` on the arguments `noAlias`; the
/// insertion point moves to its entry block. Returns the arguments.
inline llvm::SmallVector<Value> declareKernel(OpBuilder &builder, Location loc,
                                              llvm::StringRef name,
                                              llvm::ArrayRef<mlir::Type> types,
                                              llvm::ArrayRef<unsigned> noAlias = {}) {
  auto func =
      mlir::func::FuncOp::create(builder, loc, name, builder.getFunctionType(types, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  for (unsigned arg : noAlias)
    func.setArgAttr(arg, "llvm.noalias", builder.getUnitAttr());
  builder.setInsertionPointToStart(func.addEntryBlock());
  return llvm::SmallVector<Value>(func.getArguments());
}

/// The float64 a loss kernel writes its loss into: one slot of the step
/// program's loss buffer (any offset), or a scalar of its own.
inline mlir::MemRefType lossSlotType(OpBuilder &b) {
  return mlir::MemRefType::get(
      {}, b.getF64Type(),
      mlir::StridedLayoutAttr::get(b.getContext(), mlir::ShapedType::kDynamic, {}));
}

/// The @locus_kernels module of `module`, or null after an error saying that
/// locus-generate-update-kernels (which creates it) has not run.
inline mlir::ModuleOp kernelsModuleOrError(mlir::ModuleOp module) {
  mlir::ModuleOp kernels = findKernelsModule(module);
  if (!kernels)
    module.emitError("no @locus_kernels module (run locus-generate-update-kernels first)");
  return kernels;
}

/// build(builder, loc) with the insertion point at the end of @locus_kernels;
/// fails, after kernelsModuleOrError's error, where the module has none.
inline mlir::LogicalResult
appendKernels(mlir::ModuleOp module, llvm::function_ref<void(OpBuilder &, Location)> build) {
  mlir::ModuleOp kernels = kernelsModuleOrError(module);
  if (!kernels)
    return mlir::failure();
  OpBuilder builder = OpBuilder::atBlockEnd(kernels.getBody());
  build(builder, module.getLoc());
  return mlir::success();
}

/// bfloat16 bits (i16) to float32: exact, the bits as float32's high half.
inline Value widenBf16(OpBuilder &b, Location loc, Value bits) {
  Value wide = arith::ExtUIOp::create(b, loc, b.getI32Type(), bits);
  Value sixteen = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16));
  Value shifted = arith::ShLIOp::create(b, loc, wide, sixteen);
  return arith::BitcastOp::create(b, loc, b.getF32Type(), shifted);
}

/// `x > 0 ? then : 0` in float32 (a NaN x gives 0): relu and its vjp's mask.
inline Value ifPositive(OpBuilder &b, Location loc, Value x, Value then) {
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, zero);
  return arith::SelectOp::create(b, loc, positive, then, zero);
}

/// Scalar float64 arithmetic for the per-row terms. Every helper creates its
/// operands' ops before its own, in source order (C++ leaves the order of
/// function arguments open, and the kernels' IR should not depend on the host
/// compiler): callers name intermediate values.
struct F64 {
  OpBuilder &b;
  Location loc;
  Value c(double v) { return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value neg(Value x) { return arith::NegFOp::create(b, loc, x); }
  Value max(Value x, Value y) { return arith::MaximumFOp::create(b, loc, x, y); }
  Value lt(Value x, double y) {
    Value limit = c(y);
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, limit);
  }
  Value gt(Value x, double y) {
    Value limit = c(y);
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, limit);
  }
  /// cond ? x : y on constants.
  Value select(Value cond, double x, double y) {
    Value then = c(x);
    Value otherwise = c(y);
    return arith::SelectOp::create(b, loc, cond, then, otherwise);
  }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value sqrt(Value x) { return math::SqrtOp::create(b, loc, x); }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value log(Value x) { return math::LogOp::create(b, loc, x); }
  /// float32 -> float64 and back.
  Value ext(Value x) { return arith::ExtFOp::create(b, loc, b.getF64Type(), x); }
  Value trunc(Value x) { return arith::TruncFOp::create(b, loc, b.getF32Type(), x); }
  /// An index count as float64.
  Value fromIndex(Value i) {
    Value wide = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), i);
    return arith::UIToFPOp::create(b, loc, b.getF64Type(), wide);
  }
  /// max(0, x).
  Value relu(Value x) {
    Value zero = c(0.0);
    return max(zero, x);
  }
  /// softplus(x) = max(x, 0) + log1p(exp(-|x|)), exact for large |x|.
  Value softplus(Value x) {
    Value e = expNegAbs(x);
    Value tail = math::Log1pOp::create(b, loc, e);
    Value zero = c(0.0);
    Value head = max(x, zero);
    return add(head, tail);
  }
  /// sigmoid(x) without overflow: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x)
  /// below, both from e = e^-|x|.
  Value sigmoid(Value x) {
    Value e = expNegAbs(x);
    Value one = c(1.0);
    Value denom = add(one, e);
    Value positive = arith::DivFOp::create(b, loc, one, denom);
    Value negative = arith::DivFOp::create(b, loc, e, denom);
    Value zero = c(0.0);
    Value isPositive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, x, zero);
    return arith::SelectOp::create(b, loc, isPositive, positive, negative);
  }

private:
  Value expNegAbs(Value x) {
    Value magnitude = math::AbsFOp::create(b, loc, x);
    return math::ExpOp::create(b, loc, neg(magnitude));
  }
};

/// sum_i f64(a[ra, i]) * f64(b[rb, i]) over i < d.
inline Value dotRows(OpBuilder &b, Location loc, Value a, Value ra, Value bm, Value rb, Value d) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value init = arith::ConstantOp::create(b, loc, b.getF64FloatAttr(0.0));
  auto loop = scf::ForOp::create(
      b, loc, zero, d, one, ValueRange{init},
      [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
        mlir::Type f64 = nb.getF64Type();
        Value xs = memref::LoadOp::create(nb, l, a, ValueRange{ra, i});
        Value x = arith::ExtFOp::create(nb, l, f64, xs);
        Value ys = memref::LoadOp::create(nb, l, bm, ValueRange{rb, i});
        Value y = arith::ExtFOp::create(nb, l, f64, ys);
        Value product = arith::MulFOp::create(nb, l, x, y);
        Value sum = arith::AddFOp::create(nb, l, acc[0], product);
        scf::YieldOp::create(nb, l, sum);
      });
  return loop.getResult(0);
}

/// for i in [lo, hi): body(builder, i).
inline void forEach(OpBuilder &b, Location loc, Value lo, Value hi,
                    llvm::function_ref<void(OpBuilder &, Value)> body) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  scf::ForOp::create(b, loc, lo, hi, one, ValueRange{},
                     [&](OpBuilder &nb, Location l, Value i, ValueRange) {
                       body(nb, i);
                       scf::YieldOp::create(nb, l);
                     });
}

/// for every point of [0, upper[0]) x [0, upper[1]) x ...: body(builder,
/// point), the iterations independent of each other: an scf.parallel, which
/// the CPU lowering runs as nested loops in order and the CUDA target
/// (locus-map-kernels-to-gpu) gives to GPU threads. Every kernel writes its
/// outermost loops this way where no iteration reads what another writes.
inline void parallelFor(OpBuilder &b, Location loc, ValueRange upper,
                        llvm::function_ref<void(OpBuilder &, ValueRange)> body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  llvm::SmallVector<Value> lower(upper.size(), zero), steps(upper.size(), one);
  scf::ParallelOp::create(b, loc, lower, upper, steps,
                          [&](OpBuilder &nb, Location, ValueRange point) { body(nb, point); });
}

/// body on one iteration of a parallel loop: the scalar steps of a kernel
/// (zeroing or scaling a loss), which on a GPU must run on the device that
/// holds the scalar, not on the host.
inline void onOneThread(OpBuilder &b, Location loc, llvm::function_ref<void(OpBuilder &)> body) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  parallelFor(b, loc, one, [&](OpBuilder &nb, ValueRange) { body(nb); });
}

/// *sum += value, atomically (parallel iterations adding to one float64;
/// the CPU lowering makes it a plain add, in iteration order).
inline void atomicAdd(OpBuilder &b, Location loc, Value value, Value sum) {
  memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf, value, sum, ValueRange{});
}

/// *scalar = 0 and, after build, *scalar = *scalar * factor(builder): a
/// float64 loss summed with atomicAdd by the parallel loops build creates.
inline void accumulateScaled(OpBuilder &b, Location loc, Value scalar,
                             llvm::function_ref<void(OpBuilder &)> build,
                             llvm::function_ref<Value(OpBuilder &, Value total)> finish) {
  onOneThread(b, loc, [&](OpBuilder &sb) {
    Value zero = arith::ConstantOp::create(sb, loc, sb.getF64FloatAttr(0.0));
    memref::StoreOp::create(sb, loc, zero, scalar, ValueRange{});
  });
  build(b);
  onOneThread(b, loc, [&](OpBuilder &sb) {
    Value total = memref::LoadOp::create(sb, loc, scalar, ValueRange{});
    memref::StoreOp::create(sb, loc, finish(sb, total), scalar, ValueRange{});
  });
}

/// init + sum over i in [lo, hi) of term(builder, i), a float64 carried in
/// order (the sums are sequential: results do not depend on vector width).
inline Value sumOver(OpBuilder &b, Location loc, Value lo, Value hi, Value init,
                     llvm::function_ref<Value(OpBuilder &, Value)> term) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(b, loc, lo, hi, one, ValueRange{init},
                                 [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
                                   Value t = term(nb, i);
                                   Value sum = arith::AddFOp::create(nb, l, acc[0], t);
                                   scf::YieldOp::create(nb, l, sum);
                                 });
  return loop.getResult(0);
}

} // namespace locus::kernels

#endif
