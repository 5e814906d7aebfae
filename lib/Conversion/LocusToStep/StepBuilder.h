//===- StepBuilder.h - emitting the step program's calls --------*- C++ -*-===//
//
// What locus-lower-to-step's pattern sets share (private to this folder):
// the buffers of a block's values, the declarations of the runtime's calls
// (runtime/include/locus/runtime/abi/StepCalls.h) and the variant being
// built. ForwardSteps.cpp lowers the forward ops, LossSteps.cpp the loss and
// its gradient, AdjointSteps.cpp the vjps and updates.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_CONVERSION_LOCUSTOSTEP_STEPBUILDER_H
#define LOCUS_LIB_CONVERSION_LOCUSTOSTEP_STEPBUILDER_H

#include "locus/Dialect/Locus/IR/GoodnessInput.h"
#include "locus/Dialect/Locus/IR/LocusOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <string>

namespace locus::step {

using mlir::Location;
using mlir::OpBuilder;
using mlir::Value;

/// The entry points (StepCalls.h's StepProgram).
enum class Variant { TrainFused, Train, Evaluate, Features };

/// Why a model has no step program (yet): the first op or rule the
/// lowering does not cover.
struct Unsupported {
  std::string reason;
};

class StepBuilder {
public:
  StepBuilder(mlir::ModuleOp kernels, Location loc, const llvm::StringMap<int32_t> &params)
      : builder(kernels.getContext()), loc(loc), kernels(kernels), paramIndex(params) {}

  OpBuilder builder;
  Location loc;
  Variant variant = Variant::Train;
  /// The entry point's arguments.
  Value ctx, views, arena;
  /// Where buffers that outlive the current block region are allocated.
  OpBuilder::InsertPoint crossBlockPoint;
  int32_t blockIndex = 0;

  /// The buffer holding each tensor value of the block being lowered.
  llvm::DenseMap<Value, Value> buffers;
  /// The arg-max buffer of each pooling op (forward result -> indices).
  llvm::DenseMap<mlir::Operation *, Value> argmax;
  llvm::StringMap<int64_t> blockIndexOf;
  /// Pooled contexts [N, D] of direct feedback by (block index, kernel).
  std::map<std::pair<int64_t, int64_t>, Value> contexts;
  /// The value whose buffer the next block reads, and the value whose
  /// allocation it is (through in-place relus): allocated outside the region.
  Value blockOutputRoot;
  /// Global mode: the backward regions read the forward regions' buffers,
  /// so every buffer is allocated outside the regions.
  bool allCrossBlock = false;
  /// Global mode: dL/dh arriving from the block above (locus.output_grad),
  /// and the gradient this block passes down (locus.input_grad).
  Value outputGrad, inputGrad;
  /// The goodness rules (FF, SCFF) run every block on 2N rows: the views (or
  /// their pairs) with their negatives below them; the IR's block maps have
  /// the N rows of the views.
  int64_t rowFactor = 1;
  /// How block `index` treats its rows: FF's hybrid negatives and
  /// normalised inputs, SCFF's standardised pairs and doubled bias.
  using Goodness = GoodnessInput;
  Goodness goodness = Goodness::None;
  float biasScale() const { return goodnessBiasScale(goodness); }
  /// Gradients for the optimizer, applied when every gradient that reads
  /// the old parameters is formed: at the end of the block (local) or of
  /// the backward pass (global), as PyTorch's one optimizer step.
  llvm::SmallVector<std::pair<int32_t, Value>> pendingUpdates;

  /// TrainFused updates B from the loss's row factors (a backend primitive);
  /// false: forms dL/dB in the arena and applies it at once.
  bool factorUpdate = true;

  bool train() const { return variant == Variant::TrainFused || variant == Variant::Train; }
  /// Queues `grad` for parameter `param` (Train variants only).
  void update(int32_t param, Value grad);
  /// Emits the queued updates.
  void flushUpdates();

  /// A static buffer; outside the block region when `crossBlock`.
  Value alloc(llvm::ArrayRef<int64_t> shape, mlir::Type element, bool crossBlock = false);
  Value allocLike(Value tensor, bool crossBlock = false);
  /// A buffer for a block map (an activation or its gradient): the tensor's
  /// shape with `rowFactor` times its batch.
  Value allocActivation(Value tensor, bool crossBlock = false);
  /// The same buffer as [rows, rest] / [count].
  Value rows2d(Value buffer);
  Value flat(Value buffer);
  /// The same buffer with shape `shape` (an expand of a [N, D] map).
  Value reshaped(Value buffer, llvm::ArrayRef<int64_t> shape);
  /// The first `rows` rows of a dense buffer as [rows, rest].
  Value leadingRows(Value buffer, int64_t rows);

  /// The loss slots: one float64 a loss term (a call of a generated loss
  /// kernel) writes its value into, numbered over the module's loss ops in
  /// block order, each with its block. The entry's `losses` buffer holds
  /// them all; its end hands them to the runtime (locus_rt_add_losses).
  llvm::DenseMap<mlir::Operation *, int64_t> lossSlots;
  llvm::SmallVector<int32_t> slotBlocks;
  Value losses;
  /// The slots the entry being built writes.
  llvm::DenseSet<int64_t> writtenSlots;
  /// The slot of loss op `term` as the kernels' memref<f64> (any offset).
  Value lossSlot(mlir::Operation *term);
  /// A constant memref<Nxi32> of `values` in @locus_kernels (host memory).
  Value constantIndices(llvm::StringRef symbol, llvm::ArrayRef<int32_t> values);

  Value i32(int64_t v);
  Value i64(int64_t v);
  Value f64(double v);
  Value f32(double v);
  /// kh, kw, sh, sw, pad top, left, bottom, right.
  llvm::SmallVector<Value> window(llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> strides,
                                  llvm::ArrayRef<int64_t> pads);

  /// `func.call @locus_rt_<name>(ctx, operands...)`; memref operands are
  /// cast to dynamic shapes, and the call is declared on first use.
  void call(llvm::StringRef name, llvm::ArrayRef<Value> operands);
  /// `func.call @name(operands...)` of a kernel generated into
  /// @locus_kernels; memref operands are cast to its argument types. Fails
  /// (setting `why`) where no generator made it.
  mlir::LogicalResult callKernel(llvm::StringRef name, llvm::ArrayRef<Value> operands,
                                 Unsupported &why);

  /// The descriptor index of a locus.param, or failure (set `why`).
  mlir::FailureOr<int32_t> param(Value v, Unsupported &why);
  Value bufferOf(Value tensor);

  mlir::ModuleOp kernels;
  const llvm::StringMap<int32_t> &paramIndex;
};

/// A call's operands: `head`, then a window's eight constants.
inline llvm::SmallVector<Value> withWindow(llvm::ArrayRef<Value> head,
                                           llvm::ArrayRef<Value> window) {
  llvm::SmallVector<Value> all(head.begin(), head.end());
  all.append(window.begin(), window.end());
  return all;
}

/// Lowers a forward op of the current block (arg-max buffers are allocated
/// in every variant: the calls write them).
mlir::LogicalResult lowerForwardOp(StepBuilder &b, mlir::Operation &op, Unsupported &why);
/// Lowers the block's loss ops (from the marker to locus.loss_grad) for the
/// current variant; in Evaluate only the losses.
mlir::LogicalResult lowerLoss(StepBuilder &b, BlockOp block, Unsupported &why);
/// Pools block `block`'s output buffer h with `kernel` into b.contexts (the
/// forward-only pass of direct feedback).
void poolContext(StepBuilder &b, Value h, int64_t block, int64_t kernel);
/// z [N, D]: the map buffer h pooled with a loss kernel (a view of h for
/// kernel -1).
Value poolForLoss(StepBuilder &b, Value h, int64_t kernel);
/// Lowers locus.vjp, locus.param_vjp and locus.update.
mlir::LogicalResult lowerAdjointOp(StepBuilder &b, mlir::Operation &op, Unsupported &why);

/// The value of `op` whose buffer is `op`'s input buffer (a relu that runs
/// in place), or null.
Value inPlaceSource(mlir::Operation *op);

/// Whether a relu + max-pool runs without an arg-max, its adjoint writing da
/// over a (its input): local mode, windows that tile and cover the map, and
/// a a conv output nothing else reads. Its forward and adjoint lowering ask
/// the same question.
bool adjointInPlace(const StepBuilder &b, ReluMaxPool2DOp pool);

} // namespace locus::step

#endif
