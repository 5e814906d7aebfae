//===- LossPoolKernels.cpp - loss pooling as model-specific kernels -------===//
//
// Every block step averages its output over k x k windows for the loss
// (z = avgpool_k(h)) and spreads dL/dz back (dh = dz / k^2 on each window).
// The channel count, map size and kernel are known per block, so each
// (C, H, W, k) gets its own pair of linalg kernels with static shapes and a
// dynamic batch: LLVM then sees constant trip counts and strides. The
// windows are iterated through a k x k "window" operand, as linalg's named
// pooling ops do, so both directions are plain linalg.generic ops.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SetVector.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATEPOOLKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

/// A pooling the runtime performs: a [N, C, H, W] map and kernel k (0: global).
struct Pooling {
  int64_t c, h, w, k;
  bool operator<(const Pooling &o) const {
    return std::tie(c, h, w, k) < std::tie(o.c, o.h, o.w, o.k);
  }
  int64_t kh() const { return k == LossAttr::kPoolGlobal ? h : k; }
  int64_t kw() const { return k == LossAttr::kPoolGlobal ? w : k; }
  std::string suffix() const {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) + "_k" +
           std::to_string(k);
  }
};

void addPooling(std::set<Pooling> &out, Type mapType, int64_t k) {
  auto map = cast<ShapedType>(mapType);
  if (k == LossAttr::kPoolNone || map.getRank() != 4)
    return; // z is the map itself
  out.insert({map.getDimSize(1), map.getDimSize(2), map.getDimSize(3), k});
}

/// func @name(in: memref<?x...>, out: memref<?x...>) whose body is a fill of
/// `out` (the adjoint: only where the windows leave part of the map
/// uncovered), then one linalg.generic over (n, c, i, j, ki, kj) with a k x k
/// window operand, then (pool only) the 1/k^2 scaling.
void buildPoolKernel(OpBuilder &builder, Location loc, const Pooling &p, bool forward) {
  MLIRContext *ctx = builder.getContext();
  Type f32 = builder.getF32Type();
  int64_t oh = p.h / p.kh(), ow = p.w / p.kw();
  auto mapType = MemRefType::get({ShapedType::kDynamic, p.c, p.h, p.w}, f32);
  auto pooledType = MemRefType::get({ShapedType::kDynamic, p.c, oh, ow}, f32);
  auto inType = forward ? mapType : pooledType;
  auto outType = forward ? pooledType : mapType;
  std::string name =
      std::string(forward ? "locus_loss_pool_" : "locus_loss_unpool_") + p.suffix();
  auto func = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType({inType, outType}, {}));
  func->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  Block *entry = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);
  Value in = entry->getArgument(0), out = entry->getArgument(1);

  // The pooling sums into out; the adjoint writes every element its windows
  // cover, so it zeroes out only where rows or columns lie past the last
  // whole window.
  if (forward || p.h % p.kh() != 0 || p.w % p.kw() != 0) {
    Value zero = arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(0.0f));
    linalg::FillOp::create(builder, loc, ValueRange{zero}, ValueRange{out});
  }
  Value window = memref::AllocaOp::create(builder, loc, MemRefType::get({p.kh(), p.kw()}, f32));
  Value scale = arith::ConstantOp::create(
      builder, loc, builder.getF32FloatAttr(1.0f / static_cast<float>(p.kh() * p.kw())));

  // Loops (n, c, i, j, ki, kj): the map element (n, c, i kh + ki, j kw + kj)
  // belongs to window (i, j) of the pooled map.
  AffineExpr n, c, i, j, ki, kj;
  bindDims(ctx, n, c, i, j, ki, kj);
  AffineMap mapElem = AffineMap::get(6, 0, {n, c, i * p.kh() + ki, j * p.kw() + kj}, ctx);
  AffineMap pooledElem = AffineMap::get(6, 0, {n, c, i, j}, ctx);
  AffineMap windowElem = AffineMap::get(6, 0, {ki, kj}, ctx);
  using utils::IteratorType;
  SmallVector<IteratorType> iterators(4, IteratorType::parallel);
  iterators.append(2, forward ? IteratorType::reduction : IteratorType::parallel);
  linalg::GenericOp::create(
      builder, loc, TypeRange{}, ValueRange{in, window}, ValueRange{out},
      forward ? SmallVector<AffineMap>{mapElem, windowElem, pooledElem}
              : SmallVector<AffineMap>{pooledElem, windowElem, mapElem},
      iterators, [&](OpBuilder &b, Location l, ValueRange args) {
        // forward: sum the window; backward: each element gets dz / k^2.
        Value v = forward ? arith::AddFOp::create(b, l, args[2], args[0]).getResult()
                          : arith::MulFOp::create(b, l, args[0], scale).getResult();
        linalg::YieldOp::create(b, l, v);
      });
  if (forward) {
    AffineMap id = AffineMap::getMultiDimIdentityMap(4, ctx);
    linalg::GenericOp::create(builder, loc, TypeRange{}, ValueRange{}, ValueRange{out},
                              SmallVector<AffineMap>{id},
                              SmallVector<IteratorType>(4, IteratorType::parallel),
                              [&](OpBuilder &b, Location l, ValueRange args) {
                                linalg::YieldOp::create(
                                    b, l, arith::MulFOp::create(b, l, args[0], scale).getResult());
                              });
  }
  func::ReturnOp::create(builder, loc);
}

struct GeneratePoolKernelsPass
    : public locus::impl::LocusGeneratePoolKernelsBase<GeneratePoolKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    ModuleOp kernels = locus::kernels::kernelsModuleOrError(module);
    if (!kernels)
      return signalPassFailure();

    // Every pooling a step or the probe runs: each block's output with its
    // loss kernel (the probe's features too), the expanded loss's own
    // poolings, and the direct-feedback contexts.
    std::set<Pooling> poolings;
    llvm::StringMap<Type> blockOutput;
    module.walk([&](BlockOp block) {
      blockOutput[block.getName()] = block.getResult().getType();
      addPooling(poolings, block.getResult().getType(), block.getMarker().getLoss().getPool());
    });
    module.walk([&](LossPoolOp pool) {
      addPooling(poolings, pool.getInput().getType(), pool.getKernel());
    });
    WalkResult contexts = module.walk([&](LossContextOp context) {
      auto it = blockOutput.find(context.getBlock());
      if (it == blockOutput.end()) {
        context.emitOpError() << "names no block '" << context.getBlock() << "'";
        return WalkResult::interrupt();
      }
      addPooling(poolings, it->second, context.getKernel());
      return WalkResult::advance();
    });
    if (contexts.wasInterrupted())
      return signalPassFailure();

    OpBuilder builder = OpBuilder::atBlockEnd(kernels.getBody());
    for (const Pooling &p : poolings) {
      buildPoolKernel(builder, module.getLoc(), p, /*forward=*/true);
      buildPoolKernel(builder, module.getLoc(), p, /*forward=*/false);
    }
  }
};

} // namespace
