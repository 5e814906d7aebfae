//===- PlanArena.cpp - the step program's buffers in one arena ------------===//
//
// Problem: the runtime must allocate nothing during a step, and the plan it
// prints must be the memory the step really uses.
//
// Method: the entry point is straight-line code (block regions run once, in
// place), so a buffer is live from its alloc to its last use in pre-order,
// views of it included. Buffers are placed largest first, each at the lowest
// 64-byte aligned offset where it overlaps no placed buffer that is live at
// the same time (first fit by decreasing size, a good heuristic for interval
// colouring). The allocs become memref.view ops of the arena argument.
//
//===----------------------------------------------------------------------===//
#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Conversion/LocusToStep/StepProgram.h"
#include "locus/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/Format.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSPLANARENA
#include "locus/Conversion/Passes.h.inc"
} // namespace locus

using namespace mlir;

namespace {

constexpr int64_t kAlignment = 64;

struct Buffer {
  memref::AllocOp alloc;
  int64_t start = 0, end = 0; ///< live interval, in op numbers
  int64_t bytes = 0, offset = 0;
};

int64_t alignUp(int64_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

/// The last op number at which `value` or a view of it is used.
int64_t lastUse(Value value, const llvm::DenseMap<Operation *, int64_t> &order) {
  int64_t last = 0;
  SmallVector<Value> work{value};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<memref::CastOp, memref::CollapseShapeOp, memref::ExpandShapeOp,
              memref::ReinterpretCastOp, memref::SubViewOp>(user))
        work.push_back(user->getResult(0));
      last = std::max(last, order.lookup(user));
    }
  }
  return last;
}

LogicalResult planEntry(func::FuncOp func, int64_t &arenaBytes) {
  llvm::DenseMap<Operation *, int64_t> order;
  SmallVector<Buffer> buffers;
  int64_t next = 0;
  bool bad = false;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    order[op] = next++;
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      MemRefType type = alloc.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity()) {
        alloc.emitOpError("has no static, dense shape the arena can hold");
        bad = true;
      }
      buffers.push_back({alloc});
    }
  });
  if (bad)
    return failure();
  for (Buffer &b : buffers) {
    MemRefType type = b.alloc.getType();
    b.start = order.lookup(b.alloc);
    b.end = std::max(b.start, lastUse(b.alloc, order));
    b.bytes = alignUp(type.getNumElements() * type.getElementTypeBitWidth() / 8);
  }
  SmallVector<Buffer *> bySize;
  for (Buffer &b : buffers)
    bySize.push_back(&b);
  llvm::stable_sort(bySize, [](Buffer *a, Buffer *b) { return a->bytes > b->bytes; });
  SmallVector<Buffer *> placed;
  arenaBytes = 0;
  for (Buffer *b : bySize) {
    // Candidate offsets: 0 and the end of every live-overlapping buffer.
    SmallVector<Buffer *> live;
    for (Buffer *p : placed)
      if (p->start <= b->end && b->start <= p->end && p->bytes > 0)
        live.push_back(p);
    llvm::sort(live, [](Buffer *x, Buffer *y) { return x->offset < y->offset; });
    int64_t offset = 0;
    for (Buffer *p : live) {
      if (offset + b->bytes <= p->offset)
        break;
      offset = std::max(offset, p->offset + p->bytes);
    }
    b->offset = offset;
    arenaBytes = std::max(arenaBytes, offset + b->bytes);
    placed.push_back(b);
  }
  Value arena = func.getArguments().back();
  for (Buffer &b : buffers) {
    OpBuilder builder(b.alloc);
    Location loc = b.alloc.getLoc();
    Value offset = arith::ConstantIndexOp::create(builder, loc, b.offset);
    Value view = memref::ViewOp::create(builder, loc, b.alloc.getType(), arena, offset,
                                        ValueRange{});
    b.alloc.replaceAllUsesWith(view);
    b.alloc.erase();
  }
  return success();
}

struct PlanArenaPass : public locus::impl::LocusPlanArenaBase<PlanArenaPass> {
  using LocusPlanArenaBase::LocusPlanArenaBase;

  /// The arenas and the peak the binary prints as planned (Trainer.cpp):
  /// resident + workspace + the larger of the training and evaluation arenas.
  void printReport(ModuleOp kernels) {
    llvm::raw_ostream &os = llvm::outs();
    auto bytes = [&](Operation *op, StringRef name) -> int64_t {
      auto attr = op->getAttrOfType<IntegerAttr>(name);
      return attr ? attr.getInt() : 0;
    };
    auto mib = [](int64_t b) { return llvm::format("%9.1f", b / 1048576.0); };
    auto arena = [&](StringRef entry) {
      return bytes(kernels, (locus::kArenaBytesAttrPrefix + entry).str());
    };
    int64_t fused = arena(locus::kTrainFusedEntry), plain = arena(locus::kTrainEntry),
            eval = arena(locus::kEvaluateEntry);
    Operation *top = getOperation();
    int64_t workspace = bytes(top, locus::kWorkspaceAttr);
    os << "step program arena (locus-plan-arena, MiB):\n";
    if (kernels->hasAttr(locus::kFactorUpdateOffAttr))
      os << "  training, AdamW (dB formed, applied):  " << mib(fused) << "\n";
    else
      os << "  training, AdamW (B from its factors): " << mib(fused) << "\n";
    os << "  training, SGD / LARS:                 " << mib(plain) << "\n";
    os << "  evaluation:                           " << mib(eval) << "\n";
    auto peaks = [&](int64_t extra) {
      os << "  AdamW:                                "
         << mib(bytes(top, locus::kResidentAdamWAttr) + extra + std::max(fused, eval)) << "\n";
      os << "  AdamW, bfloat16 moments:              "
         << mib(bytes(top, locus::kResidentAdamWBf16Attr) + extra + std::max(fused, eval))
         << "\n";
      os << "  SGD / LARS:                           "
         << mib(bytes(top, locus::kResidentSgdAttr) + extra + std::max(plain, eval)) << "\n";
    };
    if (!top->hasAttr(locus::kBf16StagingAttr)) {
      os << "planned peak of the binary (resident + workspace + arena):\n";
      peaks(workspace);
      return;
    }
    // A GPU plan, for each precision; cuDNN's workspace comes on top.
    os << "planned device peak, --precision tf32 / fp32 (resident + arena; + cuDNN's "
          "workspace):\n";
    peaks(0);
    os << "planned device peak, --precision bf16 (resident + bfloat16 copies + arena; + "
          "cuDNN's workspace):\n";
    peaks(bytes(top, locus::kBf16StagingAttr));
  }

  void runOnOperation() override {
    ModuleOp kernels = locus::findKernelsModule(getOperation());
    if (!kernels)
      return; // nothing generated: nothing to plan
    for (auto func : kernels.getOps<func::FuncOp>()) {
      if (!func->hasAttr(locus::kStepEntryAttr))
        continue;
      auto arenaType = func.getNumArguments()
                           ? dyn_cast<MemRefType>(func.getArgumentTypes().back())
                           : MemRefType();
      if (!arenaType || arenaType.getRank() != 1 || !arenaType.getElementType().isInteger(8)) {
        func.emitOpError("is a step entry point without a memref<?xi8> arena argument");
        return signalPassFailure();
      }
      int64_t bytes = 0;
      if (failed(planEntry(func, bytes)))
        return signalPassFailure();
      kernels->setAttr((locus::kArenaBytesAttrPrefix + func.getName()).str(),
                       IntegerAttr::get(IntegerType::get(&getContext(), 64), bytes));
    }
    if (report)
      printReport(kernels);
    WalkResult stray = kernels.walk([&](memref::AllocOp alloc) {
      alloc.emitOpError("is outside a step entry point: the step allocates only in its arena");
      return WalkResult::interrupt();
    });
    if (stray.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
