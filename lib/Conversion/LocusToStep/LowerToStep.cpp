//===- LowerToStep.cpp - the block steps as the step program --------------===//
//
// Problem: the runtime must not decide what a training step does; the
// compiler has the whole step as locus ops (forward, loss, gradients,
// updates) and should hand the runtime a program, not a description.
//
// Method: one entry point per variant (StepCalls.h), each the direct-
// feedback forward pass that pools the contexts, then one region per block
// with the block's ops lowered to calls in IR order (ForwardSteps,
// LossSteps, AdjointSteps). Parameters are named by their descriptor index
// (looked up by name in the descriptor built from the same module), so the
// runtime's parameter table and the program agree.
//
//===----------------------------------------------------------------------===//
#include "StepBuilder.h"

#include "locus/Conversion/LocusToDescriptor.h"
#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/Conversion/Passes.h"
#include "locus/Dialect/Locus/IR/LossGeometry.h"
#include "locus/runtime/ModelDescriptor.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <set>

namespace locus {
#define GEN_PASS_DEF_LOCUSLOWERTOSTEP
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;
using namespace locus::step;

namespace {

/// The value whose allocation holds `output` (through relus run in place).
Value allocationRoot(Value output) {
  Value v = output;
  while (Value source = inPlaceSource(v.getDefiningOp()))
    v = source;
  return v;
}

/// Lowers block `index`'s forward ops into the builder's insertion block.
LogicalResult lowerForward(StepBuilder &b, BlockOp block, Value input, Unsupported &why) {
  b.buffers.clear();
  b.argmax.clear();
  b.buffers[block.getBody().front().getArgument(0)] = input;
  LocalLossOp marker = block.getMarker();
  for (Operation &op : block.getBody().front()) {
    if (&op == marker.getOperation())
      return success();
    if (failed(lowerForwardOp(b, op, why)))
      return failure();
  }
  why.reason = "a block without its locus.local_loss marker";
  return failure();
}

class EntryBuilder {
public:
  EntryBuilder(StepBuilder &b, SmallVector<BlockOp> blocks) : b(b), blocks(std::move(blocks)) {}

  FailureOr<func::FuncOp> build(Variant variant, StringRef name, Type viewsType,
                                Unsupported &why);

private:
  LogicalResult poolContexts(Unsupported &why);
  scf::ExecuteRegionOp openRegion(int32_t index, StringRef function);
  LogicalResult lowerAdjoints(Operation *from, Unsupported &why);
  LogicalResult lowerLocalBlock(int32_t index, Value &input, Unsupported &why);
  FailureOr<Value> goodnessInput(int32_t index, Value input, bool pairs, Unsupported &why);
  LogicalResult lowerFeaturesBlock(int32_t index, Value &input, int64_t &offset, Value out,
                                   Unsupported &why);
  LogicalResult lowerGlobal(Value input, Unsupported &why);

  StepBuilder &b;
  SmallVector<BlockOp> blocks;
};

/// Direct feedback: a forward-only pass up to the highest context block that
/// keeps only the pooled contexts (DESIGN.md "Execution model").
LogicalResult EntryBuilder::poolContexts(Unsupported &why) {
  b.contexts.clear();
  std::set<std::pair<int64_t, int64_t>> wanted;
  for (BlockOp block : blocks)
    block.getBody().walk([&](LossContextOp context) {
      auto it = b.blockIndexOf.find(context.getBlock());
      if (it != b.blockIndexOf.end())
        wanted.insert({it->second, context.getKernel()});
    });
  if (wanted.empty())
    return success();
  int64_t last = std::prev(wanted.end())->first;
  Value h = b.views;
  b.blockOutputRoot = {};
  for (int64_t m = 0; m <= last; ++m) {
    b.blockIndex = static_cast<int32_t>(m);
    if (failed(lowerForward(b, blocks[m], h, why)))
      return failure();
    h = b.bufferOf(blocks[m].getMarker().getInput());
    for (auto [block, kernel] : wanted)
      if (block == m)
        poolContext(b, h, block, kernel);
  }
  return success();
}

scf::ExecuteRegionOp EntryBuilder::openRegion(int32_t index, StringRef function) {
  OpBuilder &builder = b.builder;
  auto region = scf::ExecuteRegionOp::create(builder, b.loc, TypeRange{});
  region->setAttr(kBlockStepAttr, builder.getI32IntegerAttr(index));
  region->setAttr(kStepFunctionAttr, builder.getStringAttr(function));
  region->setAttr("locus.block", builder.getStringAttr(blocks[index].getName()));
  Block *body = builder.createBlock(&region.getRegion());
  scf::YieldOp::create(builder, b.loc);
  b.crossBlockPoint = OpBuilder::InsertPoint(region->getBlock(), Block::iterator(region));
  builder.setInsertionPointToStart(body);
  b.blockIndex = index;
  // The runtime learns which block the calls that follow are for (a
  // backend's errors name it).
  b.call("enter_block", {b.i32(index)});
  return region;
}

/// The adjoints after `from` (the loss gradient, or the marker below the top
/// of a global rule).
LogicalResult EntryBuilder::lowerAdjoints(Operation *from, Unsupported &why) {
  for (Operation *op = from->getNextNode(); op; op = op->getNextNode())
    if (failed(lowerAdjointOp(b, *op, why)))
      return failure();
  return success();
}

Operation *lossGradOf(BlockOp block) {
  Operation *grad = nullptr;
  block.getBody().walk([&](LossGradOp op) { grad = op; });
  return grad;
}

/// What block `index` of a goodness rule reads, from `input` (the views, or
/// the block below's 2N rows): FF's views with their hybrid negatives below
/// (block 0) or the rows scaled to unit length; SCFF's standardised first N
/// rows as [st + st; st + roll(st)]. Without `pairs` (the features) the views
/// alone: FF's block 0 reads them as they are, SCFF's pairs are st + st.
FailureOr<Value> EntryBuilder::goodnessInput(int32_t index, Value input, bool pairs,
                                             Unsupported &why) {
  Type f32 = b.builder.getF32Type();
  auto views = cast<MemRefType>(b.views.getType()).getShape();
  auto in = cast<MemRefType>(input.getType()).getShape();
  const int64_t n = views[0];
  // The generated input kernels (locus-generate-goodness-input-kernels),
  // called by the program on views of its buffers.
  auto kernel = [&](StringRef name, ArrayRef<Value> operands) {
    return b.callKernel(name, operands, why);
  };
  if (b.goodness == StepBuilder::Goodness::ForwardForward) {
    if (index > 0) {
      Value y = b.alloc(in, f32);
      if (failed(kernel("locus_length_normalize_rows", {b.rows2d(input), b.rows2d(y)})))
        return failure();
      return y;
    }
    if (!pairs)
      return input;
    const int64_t plane = views[2] * views[3];
    Value masks = b.alloc({n * plane}, f32);
    Value partners = b.alloc({n}, b.builder.getI32Type());
    b.call("draw_hybrid", {b.i32(static_cast<int64_t>(blocks.size())), masks, partners});
    Value out = b.alloc({2 * n, views[1], views[2], views[3]}, f32);
    if (failed(kernel("locus_hybrid_negatives",
                      {b.reshaped(b.views, {n, views[1], plane}),
                       b.reshaped(masks, {n, views[2], views[3]}), partners,
                       b.reshaped(out, {2 * n, views[1], plane})})))
      return failure();
    return out;
  }
  Value st = b.alloc({n, in[1], in[2], in[3]}, f32);
  Value y = b.alloc({pairs ? 2 * n : n, in[1], in[2], in[3]}, f32);
  // The first N rows of the input (the block below ran on 2N).
  if (failed(kernel("locus_standardize_pairs",
                    {b.leadingRows(input, n), b.rows2d(st), b.rows2d(y),
                     arith::ConstantOp::create(b.builder, b.loc, b.builder.getBoolAttr(pairs))})))
    return failure();
  return y;
}

LogicalResult EntryBuilder::lowerLocalBlock(int32_t index, Value &input, Unsupported &why) {
  BlockOp block = blocks[index];
  scf::ExecuteRegionOp region = openRegion(index, ("block" + Twine(index)).str());
  b.blockOutputRoot = allocationRoot(block.getMarker().getInput());
  if (b.goodness != StepBuilder::Goodness::None) {
    FailureOr<Value> rows = goodnessInput(index, input, /*pairs=*/true, why);
    if (failed(rows))
      return failure();
    input = *rows;
  }
  if (failed(lowerForward(b, block, input, why)) || failed(lowerLoss(b, block, why)))
    return failure();
  if (b.train() && failed(lowerAdjoints(lossGradOf(block), why)))
    return failure();
  b.flushUpdates();
  input = b.bufferOf(block.getMarker().getInput());
  b.builder.setInsertionPointAfter(region);
  return success();
}

/// The frozen encoder's features: every block's output pooled with its own
/// loss kernel, written into out's columns from `offset` on.
LogicalResult EntryBuilder::lowerFeaturesBlock(int32_t index, Value &input, int64_t &offset,
                                               Value out, Unsupported &why) {
  BlockOp block = blocks[index];
  scf::ExecuteRegionOp region = openRegion(index, ("block" + Twine(index)).str());
  b.blockOutputRoot = allocationRoot(block.getMarker().getInput());
  if (b.goodness != StepBuilder::Goodness::None) {
    FailureOr<Value> rows = goodnessInput(index, input, /*pairs=*/false, why);
    if (failed(rows))
      return failure();
    input = *rows;
  }
  if (failed(lowerForward(b, block, input, why)))
    return failure();
  input = b.bufferOf(block.getMarker().getInput());
  Value z = poolForLoss(b, input, block.getMarker().getLoss().getPool());
  b.call("copy_columns", {z, out, b.i64(offset)});
  offset += cast<MemRefType>(z.getType()).getShape()[1];
  b.builder.setInsertionPointAfter(region);
  return success();
}

/// Backprop end to end: every block's forward pass keeps its buffers, the
/// top block's loss starts the backward pass, which runs down the blocks;
/// the optimizer steps once every gradient is formed.
LogicalResult EntryBuilder::lowerGlobal(Value input, Unsupported &why) {
  b.allCrossBlock = true;
  int32_t top = static_cast<int32_t>(blocks.size()) - 1;
  SmallVector<llvm::DenseMap<Value, Value>> buffers(blocks.size());
  SmallVector<llvm::DenseMap<Operation *, Value>> argmax(blocks.size());
  for (int32_t i = 0; i <= top; ++i) {
    scf::ExecuteRegionOp region = openRegion(i, ("block" + Twine(i) + "_forward").str());
    if (failed(lowerForward(b, blocks[i], input, why)))
      return failure();
    input = b.bufferOf(blocks[i].getMarker().getInput());
    buffers[i] = b.buffers;
    argmax[i] = b.argmax;
    b.builder.setInsertionPointAfter(region);
  }
  b.outputGrad = {};
  for (int32_t i = top; i >= 0; --i) {
    scf::ExecuteRegionOp region = openRegion(i, ("block" + Twine(i) + "_backward").str());
    b.buffers = buffers[i];
    b.argmax = argmax[i];
    b.inputGrad = {};
    Operation *from = blocks[i].getMarker();
    if (i == top) {
      if (failed(lowerLoss(b, blocks[i], why)))
        return failure();
      from = lossGradOf(blocks[i]);
    }
    if (b.train() && failed(lowerAdjoints(from, why)))
      return failure();
    b.outputGrad = b.inputGrad;
    b.builder.setInsertionPointAfter(region);
    if (!b.train())
      break; // evaluation: the top block's loss only
  }
  b.flushUpdates();
  b.allCrossBlock = false;
  return success();
}

FailureOr<func::FuncOp> EntryBuilder::build(Variant variant, StringRef name, Type viewsType,
                                            Unsupported &why) {
  OpBuilder &builder = b.builder;
  MLIRContext *context = builder.getContext();
  Type arenaType = MemRefType::get({ShapedType::kDynamic}, builder.getI8Type());
  SmallVector<Type> args{LLVM::LLVMPointerType::get(context), viewsType};
  int64_t featureCount = 0;
  for (BlockOp block : blocks) {
    LocalLossOp marker = block.getMarker();
    featureCount +=
        pooledDim(cast<ShapedType>(marker.getInput().getType()), marker.getLoss().getPool());
  }
  const bool features = variant == Variant::Features;
  if (features) // out [N, F] before the arena, which stays last (locus-plan-arena)
    args.push_back(MemRefType::get({cast<MemRefType>(viewsType).getShape()[0], featureCount},
                                   builder.getF32Type()));
  args.push_back(arenaType);
  auto type = builder.getFunctionType(args, {});
  builder.setInsertionPointToEnd(b.kernels.getBody());
  auto func = func::FuncOp::create(builder, b.loc, name, type);
  func->setAttr(kStepEntryAttr, builder.getUnitAttr());
  func->setAttr("llvm.emit_c_interface", builder.getUnitAttr());
  Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  func::ReturnOp::create(builder, b.loc);
  builder.setInsertionPointToStart(entry);
  b.variant = variant;
  b.ctx = entry->getArgument(0);
  b.views = entry->getArgument(1);
  b.arena = entry->getArguments().back();
  Value input = b.views;
  b.pendingUpdates.clear();
  b.writtenSlots.clear();
  b.losses = {};
  if (!features && !b.slotBlocks.empty())
    b.losses = memref::AllocOp::create(
        builder, b.loc,
        MemRefType::get({static_cast<int64_t>(b.slotBlocks.size())}, builder.getF64Type()));
  LogicalResult result = features ? success() : poolContexts(why);
  bool global = blocks.back().getMarker().getLoss().getMode() == TrainingMode::Global;
  Score score = blocks.front().getMarker().getLoss().getScore();
  b.goodness = goodnessInputOf(score);
  b.rowFactor = b.goodness == StepBuilder::Goodness::None || features ? 1 : 2;
  int64_t offset = 0;
  const int32_t count = static_cast<int32_t>(blocks.size());
  if (features)
    for (int32_t i = 0; succeeded(result) && i < count; ++i)
      result = lowerFeaturesBlock(i, input, offset, entry->getArgument(2), why);
  else if (succeeded(result) && global)
    result = lowerGlobal(input, why);
  else
    for (int32_t i = 0; succeeded(result) && i < count; ++i)
      result = lowerLocalBlock(i, input, why);
  if (failed(result)) {
    func.erase();
    return failure();
  }
  if (b.losses) {
    // The slots this entry wrote, with their blocks (-1: not written here).
    SmallVector<int32_t> blocksOfSlots;
    for (auto [slot, block] : llvm::enumerate(b.slotBlocks))
      blocksOfSlots.push_back(b.writtenSlots.contains(static_cast<int64_t>(slot)) ? block : -1);
    builder.setInsertionPoint(entry->getTerminator());
    b.call("add_losses",
           {b.losses, b.constantIndices(("locus_loss_blocks_" + name).str(), blocksOfSlots)});
  }
  return func;
}

/// Why this model gets no step program, before anything is built.
std::optional<std::string> uncovered(ArrayRef<BlockOp> blocks) {
  auto isGoodness = [](LossAttr loss) {
    return loss.getScore() == Score::SumSquares || loss.getScore() == Score::MeanReluSquares;
  };
  LossAttr first = BlockOp(blocks.front()).getMarker().getLoss();
  for (BlockOp block : blocks) {
    LossAttr loss = block.getMarker().getLoss();
    // The rows of every block follow the first block's rule.
    if (isGoodness(loss) != isGoodness(first) || loss.getScore() != first.getScore())
      return "blocks with different goodness rules (" + first.getRule().str() + ", " +
             loss.getRule().str() + ")";
    if (isGoodness(loss) && loss.getMode() == TrainingMode::Global)
      return "a goodness rule in global mode";
  }
  return std::nullopt;
}

struct LowerToStepPass : public locus::impl::LocusLowerToStepBase<LowerToStepPass> {
  using LocusLowerToStepBase::LocusLowerToStepBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    ModuleOp kernels = findKernelsModule(module);
    if (!kernels) {
      module.emitError("no @locus_kernels module (run locus-generate-update-kernels first)");
      return signalPassFailure();
    }
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    if (funcs.size() != 1) {
      module.emitError("expected one network function, found ") << funcs.size();
      return signalPassFailure();
    }
    rt::ModelDesc model;
    if (failed(buildModelDescriptor(module, model)))
      return signalPassFailure();
    llvm::StringMap<int32_t> params;
    for (auto [i, p] : llvm::enumerate(model.params))
      if (!params.try_emplace(p.name, static_cast<int32_t>(i)).second) {
        module.emitError("two parameters are named '") << p.name << "'";
        return signalPassFailure();
      }

    SmallVector<BlockOp> blocks(funcs.front().getOps<BlockOp>());
    StepBuilder b(kernels, funcs.front().getLoc(), params);
    b.factorUpdate = factorUpdate;
    const Score score = blocks.empty() ? Score::Bilinear
                                       : blocks.front().getMarker().getLoss().getScore();
    const bool goodness = score == Score::SumSquares || score == Score::MeanReluSquares;
    kernels->setAttr(kRowsPerViewAttr,
                     IntegerAttr::get(IntegerType::get(&getContext(), 64), goodness ? 2 : 1));
    if (!factorUpdate) // the memory report says how the fused variant updates B
      kernels->setAttr(kFactorUpdateOffAttr, UnitAttr::get(&getContext()));
    for (auto [i, block] : llvm::enumerate(blocks))
      b.blockIndexOf[block.getName()] = static_cast<int64_t>(i);
    Type viewsType = MemRefType::get(
        cast<ShapedType>(funcs.front().getArgument(0).getType()).getShape(),
        Float32Type::get(&getContext()));

    Unsupported why;
    if (std::optional<std::string> reason = uncovered(blocks)) {
      funcs.front().emitOpError("cannot be trained by a step program: ") << *reason;
      return signalPassFailure();
    }
    // One loss slot per loss term, numbered in block order.
    for (auto [i, block] : llvm::enumerate(blocks))
      block.getBody().walk([&](Operation *op) {
        if (!isa<BilinearLossOp, GoodnessLossOp, InfoNceLossOp>(op))
          return;
        b.lossSlots[op] = static_cast<int64_t>(b.slotBlocks.size());
        b.slotBlocks.push_back(static_cast<int32_t>(i));
      });
    EntryBuilder entries(b, blocks);
    for (auto [variant, name] : {std::pair{Variant::TrainFused, kTrainFusedEntry},
                                 std::pair{Variant::Train, kTrainEntry},
                                 std::pair{Variant::Evaluate, kEvaluateEntry},
                                 std::pair{Variant::Features, kFeaturesEntry}}) {
      b.blockIndex = 0;
      if (failed(entries.build(variant, name, viewsType, why))) {
        // The block being lowered names where: its op and location.
        blocks[b.blockIndex].emitOpError("cannot be lowered to the step program: ")
            << why.reason;
        return signalPassFailure();
      }
    }
  }
};

} // namespace
