//===- PlanMemory.cpp - the memory plan of block-by-block training --------===//
//
// Problem: local learning needs far less memory than backprop only if every
// block's activations are freed before the next block runs. The plan states
// what must be live, so the runtime can check its measured peak against it
// and a user can compare local and global training before running anything.
//
// Method: float32 everywhere. Resident for the whole run: every parameter
// (conv weights and biases, the loss projections B) and its AdamW state
// (m and v). While block l steps (local mode): its gradients; its input; the
// output of every layer (kept for the backward pass), int32 arg-max indices
// of max pooling; the loss vectors z, context, B c (twice for "both") and
// dz; two gradient buffers of the largest layer output (the backward pass
// ping-pongs between them); and the im2col workspace of its largest
// convolution. Global mode keeps every block's forward tensors and every
// gradient until the end of the step, plus the same backward buffers.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/IR/LossGeometry.h"
#include "locus/Dialect/Locus/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSPLANMEMORY
#include "locus/Dialect/Locus/Transforms/Passes.h.inc"
} // namespace locus

using namespace mlir;
using namespace locus;

namespace {
constexpr int64_t kFloat = 4, kIndex = 4;

int64_t elements(Type type) {
  return cast<ShapedType>(type).getNumElements();
}

struct BlockBytes {
  std::string name;
  int64_t params = 0, optimizer = 0, gradients = 0;
  int64_t forward = 0;  ///< tensors kept from forward to backward
  int64_t backward = 0; ///< loss buffers, gradient buffers, workspace
  int64_t activations() const { return forward + backward; }
};

/// im2col of one sample: (C kh kw) x (Ho Wo) floats.
int64_t im2colBytes(Conv2DOp conv) {
  auto w = cast<ShapedType>(conv.getWeight().getType()).getShape();
  auto y = cast<ShapedType>(conv.getResult().getType()).getShape();
  return w[1] * w[2] * w[3] * y[2] * y[3] * kFloat;
}

FailureOr<BlockBytes> planBlock(BlockOp block) {
  BlockBytes b;
  b.name = block.getName().str();
  int64_t largestOutput = 0, workspace = 0;
  b.forward += elements(block.getInput().getType()) * kFloat;
  for (Operation &op : block.getBody().front()) {
    if (isa<YieldOp, LocalLossOp>(op))
      continue;
    for (Value operand : op.getOperands())
      if (auto param = operand.getDefiningOp<ParamOp>())
        b.params += elements(param.getType()) * kFloat;
    if (op.getNumResults() != 1 || !isa<ShapedType>(op.getResult(0).getType()) ||
        !cast<ShapedType>(op.getResult(0).getType()).hasStaticShape())
      return op.emitOpError("needs static shapes: run locus-infer-shapes first");
    int64_t out = elements(op.getResult(0).getType());
    b.forward += out * kFloat;
    if (isa<MaxPool2DOp>(op))
      b.forward += out * kIndex;
    largestOutput = std::max(largestOutput, out);
    if (auto conv = dyn_cast<Conv2DOp>(op))
      workspace = std::max(workspace, im2colBytes(conv));
  }
  LocalLossOp marker = block.getMarker();
  LossGeometry g = getLossGeometry(marker);
  int64_t projections = (g.hasProjection ? g.dim * g.contextDim : 0) +
                        (g.hasLateral ? g.dim * g.dim : 0);
  b.params += projections * kFloat;
  b.optimizer = 2 * b.params;
  b.gradients = b.params;
  int64_t lossTerms = g.hasLateral ? 2 : 1;
  b.backward = g.views * (g.dim * (2 + lossTerms) + g.contextDim) * kFloat +
               2 * largestOutput * kFloat + workspace;
  return b;
}

std::string mib(int64_t bytes) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%10.1f", bytes / 1048576.0);
  return s;
}

struct PlanMemoryPass
    : public locus::impl::LocusPlanMemoryBase<PlanMemoryPass> {
  using LocusPlanMemoryBase::LocusPlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<BlockBytes> blocks;
    WalkResult walk = module.walk([&](BlockOp block) {
      FailureOr<BlockBytes> b = planBlock(block);
      if (failed(b))
        return WalkResult::interrupt();
      Builder builder(block);
      block.setPlanAttr(builder.getDictionaryAttr({
          builder.getNamedAttr("params", builder.getI64IntegerAttr(b->params)),
          builder.getNamedAttr("optimizer",
                               builder.getI64IntegerAttr(b->optimizer)),
          builder.getNamedAttr("gradients",
                               builder.getI64IntegerAttr(b->gradients)),
          builder.getNamedAttr("activations",
                               builder.getI64IntegerAttr(b->activations())),
      }));
      blocks.push_back(*b);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (blocks.empty()) {
      module.emitError("no locus.block to plan: run locus-partition-blocks "
                       "first");
      return signalPassFailure();
    }

    // Local: all parameters and optimizer state, one block's step at a time.
    // Global: everything kept until the single backward pass ends.
    int64_t resident = 0, peakStep = 0, allForward = 0, allGradients = 0,
            maxBackward = 0;
    for (const BlockBytes &b : blocks) {
      resident += b.params + b.optimizer;
      peakStep = std::max(peakStep, b.gradients + b.activations());
      allForward += b.forward;
      allGradients += b.gradients;
      maxBackward = std::max(maxBackward, b.backward);
    }
    int64_t peakLocal = resident + peakStep;
    int64_t peakGlobal = resident + allGradients + allForward + maxBackward;
    Builder builder(module);
    module->setAttr("locus.plan.peak_local",
                    builder.getI64IntegerAttr(peakLocal));
    module->setAttr("locus.plan.peak_global",
                    builder.getI64IntegerAttr(peakGlobal));
    if (report)
      printReport(blocks, peakLocal, peakGlobal, allForward, maxBackward);
  }

  void printReport(ArrayRef<BlockBytes> blocks, int64_t peakLocal,
                   int64_t peakGlobal, int64_t allForward,
                   int64_t maxBackward) {
    llvm::raw_ostream &os = llvm::outs();
    os << "memory plan (MiB, float32)\n";
    os << llvm::format("%-12s", "block") << "    params optimizer gradients"
       << " activations(local) activations(global)\n";
    for (const BlockBytes &b : blocks)
      os << llvm::format("%-12s", b.name.c_str()) << mib(b.params)
         << mib(b.optimizer) << mib(b.gradients) << "        "
         << mib(b.activations()) << "          " << mib(b.forward) << "\n";
    os << "backward buffers, largest block (global mode): "
       << mib(maxBackward) << "\n";
    os << "all blocks' forward activations (global mode): " << mib(allForward)
       << "\n";
    os << "peak, local (block by block): " << mib(peakLocal) << "\n";
    os << "peak, global (backprop):      " << mib(peakGlobal) << "\n";
    os << llvm::format("local / global: %.3f\n",
                       static_cast<double>(peakLocal) / peakGlobal);
  }
};
} // namespace
