//===- UpdateKernels.cpp - optimizer updates as linalg kernels ------------===//
//
// Every training step ends with each block's parameter update: an
// element-wise pass over the parameter, its gradient and the optimizer state,
// bound by memory traffic. Writing it as a linalg.generic lets the lowering
// (locus-lower-kernels-to-llvm) and LLVM's vectorizer produce the loop for
// the host CPU; the runtime only computes the per-step scalars and splits the
// work across threads.
//
// The arithmetic mirrors runtime/src/backend/cpu/AdamMath.h and Sgd.cpp operation by
// operation (no fast-math, so no re-association or contraction), which is
// what lets the runtime's tests compare the compiled kernels with its own.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilder.h"

#include "locus/Conversion/Passes.h"
#include "locus/Conversion/LocusToKernels/KernelsModule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEUPDATEKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using locus::kernels::widenBf16;

namespace {


/// Builds `func.func @name(memrefs..., scalars...)` whose body is one
/// element-wise linalg.generic over the 1-D memrefs: `inputs` are read,
/// `outputs` read and written. `body` gets the elements (inputs, then
/// outputs) and the scalar function arguments, and returns the outputs' new
/// values.
using BodyBuilder = llvm::function_ref<SmallVector<Value>(
    OpBuilder &, Location, ValueRange elements, ValueRange scalars)>;

struct KernelSignature {
  StringRef name;
  unsigned inputs, outputs;
  SmallVector<Type> scalars;
  /// The element type of each 1-D memref (inputs, then outputs); empty: f32.
  SmallVector<Type> elementTypes = {};
};

void buildKernel(OpBuilder &builder, Location loc, const KernelSignature &sig,
                 BodyBuilder body) {
  MLIRContext *ctx = builder.getContext();
  Type f32 = builder.getF32Type();
  SmallVector<Type> argTypes;
  for (unsigned i = 0; i < sig.inputs + sig.outputs; ++i)
    argTypes.push_back(MemRefType::get(
        {ShapedType::kDynamic}, sig.elementTypes.empty() ? f32 : sig.elementTypes[i]));
  argTypes.append(sig.scalars.begin(), sig.scalars.end());

  auto func = func::FuncOp::create(builder, loc, sig.name,
                                   builder.getFunctionType(argTypes, {}));
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  Block *entry = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);

  unsigned memrefs = sig.inputs + sig.outputs;
  ValueRange args = entry->getArguments();
  ValueRange ins = args.take_front(sig.inputs);
  ValueRange outs = args.slice(sig.inputs, sig.outputs);
  ValueRange scalars = args.drop_front(memrefs);

  AffineMap element = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<AffineMap> maps(sig.inputs + sig.outputs, element);
  linalg::GenericOp::create(
      builder, loc, TypeRange{}, ins, outs, maps,
      SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
      [&](OpBuilder &b, Location l, ValueRange elements) {
        linalg::YieldOp::create(b, l, body(b, l, elements, scalars));
      });
  func::ReturnOp::create(builder, loc);
}

/// p *= decay; m = lerp(m, g, w1); v = v b2 + (c2 g) g;
/// p += neg_step m / (sqrt(v) / bc2_sqrt + eps)
SmallVector<Value> adamwBody(OpBuilder &b, Location l, ValueRange e, ValueRange s) {
  Value g = e[0], p = e[1], m = e[2], v = e[3];
  Value decay = s[0], w1 = s[1], b1 = s[2], b2 = s[3], c2 = s[4], negStep = s[5],
        bc2Sqrt = s[6], eps = s[7];
  Value pd = arith::MulFOp::create(b, l, p, decay);
  // torch's lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w).
  Value diff = arith::SubFOp::create(b, l, g, m);
  Value low = arith::AddFOp::create(b, l, m, arith::MulFOp::create(b, l, w1, diff));
  Value high = arith::SubFOp::create(b, l, g, arith::MulFOp::create(b, l, diff, b1));
  Value half = arith::ConstantOp::create(b, l, b.getF32FloatAttr(0.5f));
  Value isLow = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                      math::AbsFOp::create(b, l, w1), half);
  Value mNew = arith::SelectOp::create(b, l, isLow, low, high);
  // Named in creation order: C++ does not fix the order of arguments.
  Value c2g = arith::MulFOp::create(b, l, c2, g);
  Value c2gg = arith::MulFOp::create(b, l, c2g, g);
  Value vb2 = arith::MulFOp::create(b, l, v, b2);
  Value vNew = arith::AddFOp::create(b, l, vb2, c2gg);
  Value denom = arith::AddFOp::create(
      b, l, arith::DivFOp::create(b, l, math::SqrtOp::create(b, l, vNew), bc2Sqrt), eps);
  Value pNew = arith::AddFOp::create(
      b, l, pd, arith::MulFOp::create(b, l, negStep, arith::DivFOp::create(b, l, mNew, denom)));
  return {pNew, mNew, vNew};
}

/// AdamMath.h's update on float32 moments m, v: (p, m, v) after the step.
SmallVector<Value> adamwStep(OpBuilder &b, Location l, Value g, Value p, Value m, Value v,
                             ValueRange s) {
  SmallVector<Value> e{g, p, m, v};
  return adamwBody(b, l, e, s);
}

/// StochasticRounding.h's 32 rounding bits of element `index` under `key`.
Value roundingBits(OpBuilder &b, Location l, Value key, Value index) {
  auto c = [&](uint32_t v) {
    return arith::ConstantOp::create(b, l, b.getI32IntegerAttr(static_cast<int32_t>(v)));
  };
  auto xorShift = [&](Value x, uint32_t shift) {
    Value shifted = arith::ShRUIOp::create(b, l, x, c(shift));
    return arith::XOrIOp::create(b, l, x, shifted).getResult();
  };
  Value x = arith::XOrIOp::create(b, l, index, key);
  x = xorShift(x, 16);
  x = arith::MulIOp::create(b, l, x, c(0x7FEB352Du));
  x = xorShift(x, 15);
  x = arith::MulIOp::create(b, l, x, c(0x846CA68Bu));
  return xorShift(x, 16);
}

/// x to bfloat16 bits, stochastically: add the low 16 bits of `random` to
/// x's low half and keep the high half.
Value roundBf16(OpBuilder &b, Location l, Value x, Value random) {
  Value bits = arith::BitcastOp::create(b, l, b.getI32Type(), x);
  Value mask = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0xFFFF));
  Value low = arith::AndIOp::create(b, l, random, mask);
  Value sum = arith::AddIOp::create(b, l, bits, low);
  Value sixteen = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(16));
  Value high = arith::ShRUIOp::create(b, l, sum, sixteen);
  return arith::TruncIOp::create(b, l, b.getI16Type(), high);
}

/// AdamW with bfloat16 moments: widen m and v, the float32 update, store them
/// back with the stochastic rounding of element base + i (m from the low,
/// v from the high half of one hash, as AdamMath.h's storeMoments).
SmallVector<Value> adamwBf16Body(OpBuilder &b, Location l, ValueRange e, ValueRange s) {
  Value key = s[8], base = s[9];
  Value m0 = widenBf16(b, l, e[2]);
  Value v0 = widenBf16(b, l, e[3]);
  SmallVector<Value> step = adamwStep(b, l, e[0], e[1], m0, v0, s.take_front(8));
  Value i = linalg::IndexOp::create(b, l, 0);
  Value i64 = arith::IndexCastUIOp::create(b, l, b.getI64Type(), i);
  Value global = arith::AddIOp::create(b, l, base, i64);
  Value index = arith::TruncIOp::create(b, l, b.getI32Type(), global);
  Value random = roundingBits(b, l, key, index);
  Value sixteen = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(16));
  Value randomHigh = arith::ShRUIOp::create(b, l, random, sixteen);
  Value m = roundBf16(b, l, step[1], random);
  Value v = roundBf16(b, l, step[2], randomHigh);
  return {step[0], m, v};
}

/// g' = (g + wd p) scale; buf = momentum buf + g'; p -= lr buf
SmallVector<Value> sgdBody(OpBuilder &b, Location l, ValueRange e, ValueRange s) {
  Value g = e[0], p = e[1], buf = e[2];
  Value wd = s[0], scale = s[1], momentum = s[2], lr = s[3];
  Value gd = arith::MulFOp::create(
      b, l, arith::AddFOp::create(b, l, g, arith::MulFOp::create(b, l, wd, p)), scale);
  Value bufNew =
      arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, momentum, buf), gd);
  Value pNew = arith::SubFOp::create(b, l, p, arith::MulFOp::create(b, l, lr, bufNew));
  return {pNew, bufNew};
}

/// locus_lars_norms(p, g, pp, gg, wd): pp += p^2 and gg += (g + wd p)^2 over
/// the elements, in float64. The elements are parallel iterations whose
/// terms are atomic adds (in element order on the CPU, where they are plain
/// adds: the sum is the sequential one).
void buildLarsNorms(OpBuilder &builder, Location loc) {
  Type f32 = builder.getF32Type(), f64 = builder.getF64Type();
  auto flat = MemRefType::get({ShapedType::kDynamic}, f32);
  auto sum = MemRefType::get({}, f64);
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Value> a = locus::kernels::declareKernel(builder, loc, "locus_lars_norms",
                                                       {flat, flat, sum, sum, f64});
  Value param = a[0], grad = a[1], paramSq = a[2], gradSq = a[3], wd = a[4];
  Value c0 = arith::ConstantIndexOp::create(builder, loc, 0);
  Value count = memref::DimOp::create(builder, loc, param, c0);
  locus::kernels::parallelFor(builder, loc, count, [&](OpBuilder &b, ValueRange i) {
    Value p32 = memref::LoadOp::create(b, loc, param, i);
    Value g32 = memref::LoadOp::create(b, loc, grad, i);
    Value p = arith::ExtFOp::create(b, loc, f64, p32);
    Value g = arith::ExtFOp::create(b, loc, f64, g32);
    Value gd = arith::AddFOp::create(b, loc, g, arith::MulFOp::create(b, loc, wd, p));
    Value pp = arith::MulFOp::create(b, loc, p, p);
    Value gg = arith::MulFOp::create(b, loc, gd, gd);
    locus::kernels::atomicAdd(b, loc, pp, paramSq);
    locus::kernels::atomicAdd(b, loc, gg, gradSq);
  });
  func::ReturnOp::create(builder, loc);
}

struct GenerateUpdateKernelsPass
    : public locus::impl::LocusGenerateUpdateKernelsBase<GenerateUpdateKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (auto nested : module.getOps<ModuleOp>())
      if (nested.getSymName() == locus::kKernelsModuleName) {
        nested.emitError("the module already holds @") << locus::kKernelsModuleName;
        return signalPassFailure();
      }

    OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    auto kernels = ModuleOp::create(builder, loc, locus::kKernelsModuleName);
    kernels->setAttr(locus::kKernelsModuleAttr, builder.getUnitAttr());
    builder.setInsertionPointToStart(kernels.getBody());

    Type f32 = builder.getF32Type();
    buildKernel(builder, loc,
                {"locus_adamw_update", 1, 3, SmallVector<Type>(8, f32)},
                adamwBody);
    // (g, p, m, v, the eight scalars, the rounding key, the slice's first
    // element index): m and v are bfloat16 bit patterns.
    Type i16 = builder.getI16Type(), i32 = builder.getI32Type(), i64 = builder.getI64Type();
    SmallVector<Type> bf16Scalars(8, f32);
    bf16Scalars.append({i32, i64});
    buildKernel(builder, loc,
                {"locus_adamw_bf16_update", 1, 3, bf16Scalars, {f32, f32, i16, i16}},
                adamwBf16Body);
    buildKernel(builder, loc,
                {"locus_sgd_update", 1, 2, SmallVector<Type>(4, f32)}, sgdBody);
    buildLarsNorms(builder, loc);
  }
};

} // namespace
