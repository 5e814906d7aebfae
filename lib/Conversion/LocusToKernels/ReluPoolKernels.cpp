//===- ReluPoolKernels.cpp - the block epilogue as vector kernels ---------===//
//
// Every block with a max-pool ends in locus.relu_max_pool2d: h = the maximum
// of relu(a) over each window, and the position it came from for the
// backward pass. With the channel count, map size and window known per
// layer, each (C, H, W, kh, kw) gets a forward and a backward kernel (scf
// loops around vector code) with static shapes and a dynamic batch.
//
// relu(max(a)) = max(relu(a)), so the forward reduction starts from 0
// instead of -inf: a window whose values are all <= 0 yields h = 0 and
// arg-max 0, and the backward pass sends it nothing (it checks h > 0).
// The arg-max is the position inside the window (ki kw + kj), which the
// backward kernel compares against each element's own position: the scatter
// of the adjoint becomes a gather, written in row order.
//
// Only windows that tile the map (kernel = stride, no padding: every pool
// of the paper's networks) are generated; others run the runtime's general
// kernel, and the training binary's log names them.
//
// Where the windows cover the map exactly, a second pair needs no arg-max:
// locus_relu_pool_unindexed_* writes h alone, and locus_relu_unpool_in_place_*
// finds each window's arg-max again from a (the same scan as the forward)
// and overwrites a with da. The step program uses it where a is the conv
// output only this pool reads (locus-lower-to-step): no index buffer, and
// da takes a's place instead of a buffer of its own.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "KernelBuilder.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <set>
#include <tuple>

namespace locus {
#define GEN_PASS_DEF_LOCUSGENERATERELUPOOLKERNELS
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {

/// A relu + max-pool the runtime performs on [N, C, H, W] maps.
struct ReluPool {
  int64_t c, h, w, kh, kw;
  /// The windows cover the map (a function of the shape, not in the key).
  bool covers = false;
  bool operator<(const ReluPool &o) const {
    return std::tie(c, h, w, kh, kw) < std::tie(o.c, o.h, o.w, o.kh, o.kw);
  }
  std::string suffix() const {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) + "_k" +
           std::to_string(kh) + "x" + std::to_string(kw);
  }
};

/// The op's window as a ReluPool, or nothing when it does not tile the map.
std::optional<ReluPool> tilingWindow(ReluMaxPool2DOp op) {
  if (!op.windowsTileInput())
    return std::nullopt;
  auto in = cast<ShapedType>(op.getInput().getType());
  ArrayRef<int64_t> k = op.getKernel();
  return ReluPool{in.getDimSize(1), in.getDimSize(2), in.getDimSize(3), k[0], k[1],
                  op.windowsCoverInput()};
}

struct KernelTypes {
  MemRefType map, pooled, index;
};

KernelTypes kernelTypes(OpBuilder &b, const ReluPool &p) {
  int64_t oh = p.h / p.kh, ow = p.w / p.kw, n = ShapedType::kDynamic;
  return {MemRefType::get({n, p.c, p.h, p.w}, b.getF32Type()),
          MemRefType::get({n, p.c, oh, ow}, b.getF32Type()),
          MemRefType::get({n, p.c, oh, ow}, b.getI32Type())};
}

func::FuncOp createKernel(OpBuilder &builder, Location loc, StringRef name,
                          ArrayRef<Type> args) {
  auto func = func::FuncOp::create(builder, loc, name, builder.getFunctionType(args, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  // The runtime never passes overlapping buffers; without this, every store
  // to the output may change the inputs, and LLVM neither keeps loaded
  // values nor vectorises.
  for (unsigned i = 0; i < args.size(); ++i)
    func.setArgAttr(i, "llvm.noalias", builder.getUnitAttr());
  return func;
}

/// Both kernels are loops over (n, c, i) around vector code along the output
/// columns j, VW of them at a time (VW: the widest power of two <= 8 that the
/// row holds): one contiguous load of VW * kw input columns per window row,
/// whose lanes are taken apart (forward) or put together (backward) with
/// vector.shuffle. A row whose width is not a multiple of VW ends with a
/// group that overlaps the one before and rewrites the same values. Written
/// as linalg.generic with strided window operands instead, LLVM left 14-wide
/// rows (the Fashion-MNIST net) scalar, at half the speed.
int64_t vectorWidth(const ReluPool &p) {
  int64_t ow = p.w / p.kw, width = 1;
  while (width * 2 <= std::min<int64_t>(8, ow))
    width *= 2;
  return width;
}

Value index(OpBuilder &b, Location l, int64_t v) { return arith::ConstantIndexOp::create(b, l, v); }

/// For every n < batch, c < C, i < OH and column group of a row (all
/// independent: one scf.parallel): body(n, c, i, j0) with j0 the first output
/// column of the group. Overlapping last groups write the same values.
void forEachGroup(OpBuilder &b, Location l, Value batch, const ReluPool &p, int64_t width,
                  function_ref<void(OpBuilder &, Location, Value, Value, Value, Value)> body) {
  int64_t oh = p.h / p.kh, ow = p.w / p.kw, groups = (ow + width - 1) / width;
  SmallVector<Value> upper{batch, index(b, l, p.c), index(b, l, oh), index(b, l, groups)};
  locus::kernels::parallelFor(b, l, upper, [&](OpBuilder &b, ValueRange point) {
    Value start = arith::MulIOp::create(b, l, point[3], index(b, l, width));
    Value j0 = arith::MinSIOp::create(b, l, start, index(b, l, ow - width));
    body(b, l, point[0], point[1], point[2], j0);
  });
}

Value splatI32(OpBuilder &b, Location l, VectorType type, int64_t v) {
  return arith::ConstantOp::create(
      b, l, DenseElementsAttr::get(type, b.getI32IntegerAttr(static_cast<int32_t>(v))));
}

/// The maxima of relu(a) over the `width` windows of a group, and their
/// in-window positions. Starting from (0, position 0) applies the relu. A
/// candidate wins when greater than the best so far, or NaN (the runtime's
/// rule: NaN propagates).
std::pair<Value, Value> windowMaxima(OpBuilder &b, Location l, const ReluPool &p, int64_t width,
                                     Value a, Value n, Value c, Value i, Value j0) {
  auto f32x = VectorType::get({width}, b.getF32Type());
  auto i32x = VectorType::get({width}, b.getI32Type());
  auto rowType = VectorType::get({width * p.kw}, b.getF32Type());
  Value best =
      arith::ConstantOp::create(b, l, DenseElementsAttr::get(f32x, b.getF32FloatAttr(0.0f)));
  Value at = splatI32(b, l, i32x, 0);
  Value x0 = arith::MulIOp::create(b, l, j0, index(b, l, p.kw));
  for (int64_t ki = 0; ki < p.kh; ++ki) {
    Value y = arith::AddIOp::create(b, l, arith::MulIOp::create(b, l, i, index(b, l, p.kh)),
                                    index(b, l, ki));
    Value row = vector::LoadOp::create(b, l, rowType, a, ValueRange{n, c, y, x0});
    for (int64_t kj = 0; kj < p.kw; ++kj) {
      SmallVector<int64_t> lanes;
      for (int64_t q = 0; q < width; ++q)
        lanes.push_back(q * p.kw + kj);
      Value v = vector::ShuffleOp::create(b, l, row, row, lanes);
      Value greater = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, v, best);
      Value nan = arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, v, v);
      Value wins = arith::OrIOp::create(b, l, greater, nan);
      best = arith::SelectOp::create(b, l, wins, v, best);
      at = arith::SelectOp::create(b, l, wins, splatI32(b, l, i32x, ki * p.kw + kj), at);
    }
  }
  return {best, at};
}

/// da over the kh rows of the group of `width` windows at (n, c, i, j0):
/// each window's gradient dh where its maximum is > 0 and the position is its
/// arg-max, 0 elsewhere. Each window's values are repeated kw times: lane q
/// of a row group belongs to window q / kw, at column position q % kw; one
/// store per row.
void writeWindowGradients(OpBuilder &b, Location l, const ReluPool &p, int64_t width, Value dh,
                          Value da, Value n, Value c, Value i, Value j0, Value maxima,
                          Value positions) {
  auto rowF32 = VectorType::get({width * p.kw}, b.getF32Type());
  auto rowI32 = VectorType::get({width * p.kw}, b.getI32Type());
  SmallVector<int64_t> repeat;
  for (int64_t q = 0; q < width * p.kw; ++q)
    repeat.push_back(q / p.kw);
  Value g = vector::LoadOp::create(b, l, VectorType::get({width}, b.getF32Type()), dh,
                                   ValueRange{n, c, i, j0});
  Value gRow = vector::ShuffleOp::create(b, l, g, g, repeat);
  Value maxRow = vector::ShuffleOp::create(b, l, maxima, maxima, repeat);
  Value posRow = vector::ShuffleOp::create(b, l, positions, positions, repeat);
  Value zero =
      arith::ConstantOp::create(b, l, DenseElementsAttr::get(rowF32, b.getF32FloatAttr(0.0f)));
  Value positive = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, maxRow, zero);
  Value x0 = arith::MulIOp::create(b, l, j0, index(b, l, p.kw));
  for (int64_t ki = 0; ki < p.kh; ++ki) {
    SmallVector<int32_t> here;
    for (int64_t q = 0; q < width * p.kw; ++q)
      here.push_back(static_cast<int32_t>(ki * p.kw + q % p.kw));
    Value mine =
        arith::ConstantOp::create(b, l, DenseElementsAttr::get(rowI32, ArrayRef<int32_t>(here)));
    Value flows = arith::AndIOp::create(
        b, l, positive, arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, posRow, mine));
    Value y = arith::AddIOp::create(b, l, arith::MulIOp::create(b, l, i, index(b, l, p.kh)),
                                    index(b, l, ki));
    vector::StoreOp::create(b, l, arith::SelectOp::create(b, l, flows, gRow, zero), da,
                            ValueRange{n, c, y, x0});
  }
}

/// locus_relu_max_pool_<suffix>(a, h, argmax), or without the arg-max
/// locus_relu_pool_unindexed_<suffix>(a, h).
void buildForward(OpBuilder &builder, Location loc, const ReluPool &p, bool indexed) {
  KernelTypes t = kernelTypes(builder, p);
  func::FuncOp func =
      indexed ? createKernel(builder, loc, "locus_relu_max_pool_" + p.suffix(),
                             {t.map, t.pooled, t.index})
              : createKernel(builder, loc, "locus_relu_pool_unindexed_" + p.suffix(),
                             {t.map, t.pooled});
  Block *entry = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);
  Value a = entry->getArgument(0), h = entry->getArgument(1);
  const int64_t width = vectorWidth(p);
  Value batch = memref::DimOp::create(builder, loc, a, 0);
  forEachGroup(builder, loc, batch, p, width,
               [&](OpBuilder &b, Location l, Value n, Value c, Value i, Value j0) {
                 auto [best, at] = windowMaxima(b, l, p, width, a, n, c, i, j0);
                 vector::StoreOp::create(b, l, best, h, ValueRange{n, c, i, j0});
                 if (indexed)
                   vector::StoreOp::create(b, l, at, entry->getArgument(2),
                                           ValueRange{n, c, i, j0});
               });
  func::ReturnOp::create(builder, loc);
}

/// locus_relu_unpool_in_place_<suffix>(dh, a): each window's arg-max found
/// again from a (windowMaxima, as the forward found it), then a = da: dh at
/// the arg-max where the maximum is > 0, 0 elsewhere. A group reads all of
/// its windows' rows before it writes any; a row's groups run in order.
void buildBackwardInPlace(OpBuilder &builder, Location loc, const ReluPool &p) {
  KernelTypes t = kernelTypes(builder, p);
  // a and da are one buffer: no noalias on it; dh is apart.
  auto func = func::FuncOp::create(builder, loc, "locus_relu_unpool_in_place_" + p.suffix(),
                                   builder.getFunctionType({t.pooled, t.map}, {}));
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  func.setArgAttr(0, "llvm.noalias", builder.getUnitAttr());
  Block *entry = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);
  Value dh = entry->getArgument(0), a = entry->getArgument(1);
  Value batch = memref::DimOp::create(builder, loc, dh, 0);
  const int64_t width = vectorWidth(p), oh = p.h / p.kh, ow = p.w / p.kw;
  const int64_t whole = ow / width;
  // da of the group at j0 over a's rows, from its maxima and positions.
  auto writeDa = [&](OpBuilder &b, Location l, Value n, Value c, Value i, Value j0, Value best,
                     Value at) {
    writeWindowGradients(b, l, p, width, dh, a, n, c, i, j0, best, at);
  };
  if (ow % width == 0) { // the groups tile the row: each one a parallel iteration
    forEachGroup(builder, loc, batch, p, width,
                 [&](OpBuilder &b, Location l, Value n, Value c, Value i, Value j0) {
                   auto [best, at] = windowMaxima(b, l, p, width, a, n, c, i, j0);
                   writeDa(b, l, n, c, i, j0, best, at);
                 });
    func::ReturnOp::create(builder, loc);
    return;
  }
  // Otherwise one parallel iteration a row of windows, its groups in order:
  // the row ends with a group overlapping the one before, whose maxima are
  // read from a before any group of the row writes da, and which writes last
  // (the overlap gets the same values twice).
  SmallVector<Value> upper{batch, index(builder, loc, p.c), index(builder, loc, oh)};
  locus::kernels::parallelFor(builder, loc, upper, [&](OpBuilder &b, ValueRange point) {
    Value n = point[0], c = point[1], i = point[2];
    Value lastJ0 = index(b, loc, ow - width);
    std::pair<Value, Value> last = windowMaxima(b, loc, p, width, a, n, c, i, lastJ0);
    locus::kernels::forEach(b, loc, index(b, loc, 0), index(b, loc, whole),
                            [&](OpBuilder &fb, Value group) {
                              Value j0 = arith::MulIOp::create(fb, loc, group,
                                                               index(fb, loc, width));
                              auto [best, at] = windowMaxima(fb, loc, p, width, a, n, c, i, j0);
                              writeDa(fb, loc, n, c, i, j0, best, at);
                            });
    writeDa(b, loc, n, c, i, lastJ0, last.first, last.second);
  });
  func::ReturnOp::create(builder, loc);
}

/// locus_relu_max_unpool_<suffix>(dh, h, argmax, da): da = dh at the window's
/// arg-max where h > 0, 0 elsewhere (and on rows/columns past the last window).
void buildBackward(OpBuilder &builder, Location loc, const ReluPool &p) {
  KernelTypes t = kernelTypes(builder, p);
  func::FuncOp func = createKernel(builder, loc, "locus_relu_max_unpool_" + p.suffix(),
                                   {t.pooled, t.pooled, t.index, t.map});
  Block *entry = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);
  Value dh = entry->getArgument(0), h = entry->getArgument(1), arg = entry->getArgument(2),
        da = entry->getArgument(3);
  if (!p.covers) { // the windows leave rows or columns out
    Value zero = arith::ConstantOp::create(builder, loc, builder.getF32FloatAttr(0.0f));
    linalg::FillOp::create(builder, loc, ValueRange{zero}, ValueRange{da});
  }
  const int64_t width = vectorWidth(p);
  auto f32x = VectorType::get({width}, builder.getF32Type());
  auto i32x = VectorType::get({width}, builder.getI32Type());
  Value batch = memref::DimOp::create(builder, loc, dh, 0);
  forEachGroup(builder, loc, batch, p, width,
               [&](OpBuilder &b, Location l, Value n, Value c, Value i, Value j0) {
                 ValueRange at{n, c, i, j0};
                 Value out = vector::LoadOp::create(b, l, f32x, h, at);
                 Value pos = vector::LoadOp::create(b, l, i32x, arg, at);
                 writeWindowGradients(b, l, p, width, dh, da, n, c, i, j0, out, pos);
               });
  func::ReturnOp::create(builder, loc);
}

struct GenerateReluPoolKernelsPass
    : public locus::impl::LocusGenerateReluPoolKernelsBase<GenerateReluPoolKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    ModuleOp kernels = locus::kernels::kernelsModuleOrError(module);
    if (!kernels)
      return signalPassFailure();
    std::set<ReluPool> pools;
    module.walk([&](ReluMaxPool2DOp op) {
      if (std::optional<ReluPool> p = tilingWindow(op))
        pools.insert(*p);
    });
    OpBuilder builder = OpBuilder::atBlockEnd(kernels.getBody());
    for (const ReluPool &p : pools) {
      buildForward(builder, module.getLoc(), p, /*indexed=*/true);
      buildBackward(builder, module.getLoc(), p);
      if (p.covers) {
        buildForward(builder, module.getLoc(), p, /*indexed=*/false);
        buildBackwardInPlace(builder, module.getLoc(), p);
      }
    }
  }
};

} // namespace
