//===- MapKernelsToGpu.cpp - @locus_kernels' parallel loops to gpu.launch -===//
//
// The kernel generators say which loops are parallel (scf.parallel, linalg
// parallel iterators); this pass hands those loops to the GPU with MLIR's
// loop-to-GPU passes and then checks what they could not: a kernel whose
// memory accesses are still host loops would dereference device pointers on
// the host. Such a kernel is an error naming it (or, with drop-unmapped,
// a warning and the kernel is left out of the object, for tests that run
// the mapped kernels only).
//
//===----------------------------------------------------------------------===//
#include "locus/Target/Cuda/Passes.h"
#include "locus/Conversion/LocusToKernels/KernelsModule.h"

#include "mlir/Conversion/SCFToGPU/SCFToGPUPass.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/MathExtras.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Pass/PassManager.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSMAPKERNELSTOGPU
#include "locus/Target/Cuda/Passes.h.inc"
} // namespace locus

using namespace mlir;

namespace {

/// The memrefs `op` reads or writes (not those it only allocates or views).
SmallVector<Value> accessedMemrefs(Operation *op) {
  SmallVector<Value> result;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return result;
  SmallVector<MemoryEffects::EffectInstance> instances;
  effects.getEffects(instances);
  for (const MemoryEffects::EffectInstance &effect : instances) {
    if (!isa<MemoryEffects::Read, MemoryEffects::Write>(effect.getEffect()))
      continue;
    Value value = effect.getValue();
    if (value && isa<MemRefType>(value.getType()))
      result.push_back(value);
  }
  return result;
}

/// The buffer a view of views starts from.
Value viewRoot(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    value = view.getViewSource();
  }
  return value;
}

/// Why `func` cannot run with device buffers, or an empty string.
std::string hostAccess(func::FuncOp func, Operation *&where) {
  std::string reason;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto launch = dyn_cast<gpu::LaunchOp>(op)) {
      // Inside GPU code every buffer must be an argument (device memory) or
      // allocated in the kernel itself.
      WalkResult inner = launch.walk([&](Operation *access) {
        for (Value memref : accessedMemrefs(access)) {
          Operation *def = viewRoot(memref).getDefiningOp();
          if (def && !launch->isAncestor(def)) {
            where = access;
            reason = "its GPU code reads a buffer the host allocated";
            return WalkResult::interrupt();
          }
        }
        return WalkResult::advance();
      });
      return inner.wasInterrupted() ? WalkResult::interrupt() : WalkResult::skip();
    }
    if (!accessedMemrefs(op).empty()) {
      where = op;
      reason = "a memory access is left in host code (a loop its generator did not "
               "write as scf.parallel, or a reduction across iterations)";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return reason;
}

/// A parallel loop's static trip count along `dim`, if it has one.
std::optional<int64_t> tripCount(scf::ParallelOp loop, unsigned dim) {
  std::optional<int64_t> lo = getConstantIntValue(loop.getLowerBound()[dim]);
  std::optional<int64_t> hi = getConstantIntValue(loop.getUpperBound()[dim]);
  std::optional<int64_t> step = getConstantIntValue(loop.getStep()[dim]);
  if (!lo || !hi || !step || *step <= 0)
    return std::nullopt;
  return (*hi - *lo + *step - 1) / *step;
}

/// A block of `threads` threads spread over the loop's innermost dimensions
/// (the contiguous ones, so that neighbouring threads touch neighbouring
/// memory), at most three of them, each at most its trip count rounded up
/// to a power of two; a dynamic trip count takes what is left.
SmallVector<int64_t> tileSizes(scf::ParallelOp loop, int64_t threads) {
  unsigned rank = loop.getNumLoops();
  SmallVector<int64_t> tiles(rank, 1);
  int64_t left = threads;
  for (int d = static_cast<int>(rank) - 1, used = 0; d >= 0 && used < 3 && left > 1; --d) {
    std::optional<int64_t> count = tripCount(loop, d);
    int64_t tile = count ? std::min<int64_t>(left, llvm::PowerOf2Ceil(*count)) : left;
    if (tile <= 1)
      continue;
    tiles[d] = tile;
    left /= tile;
    ++used;
  }
  return tiles;
}

using gpu::Processor;

gpu::ParallelLoopDimMappingAttr mappingTo(MLIRContext *ctx, Processor processor) {
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  return gpu::ParallelLoopDimMappingAttr::get(ctx, processor, identity, identity);
}

/// Tiles one outermost parallel loop and maps it: the tiles to blocks (x:
/// the innermost dimension with more than one tile, y and z: the two largest
/// others, a dynamic extent counting as largest), their iterations to
/// threads (x, y, z from the innermost tiled dimension outwards); every other
/// dimension runs sequentially inside the kernel.
LogicalResult mapLoop(scf::ParallelOp loop, int64_t threads) {
  MLIRContext *ctx = loop.getContext();
  SmallVector<int64_t> tiles = tileSizes(loop, threads);
  unsigned rank = loop.getNumLoops();
  SmallVector<std::optional<int64_t>> extents;
  for (unsigned d = 0; d < rank; ++d) {
    std::optional<int64_t> count = tripCount(loop, d);
    extents.push_back(count ? std::optional<int64_t>((*count + tiles[d] - 1) / tiles[d])
                            : std::nullopt);
  }
  auto [outer, inner] = scf::tileParallelLoop(loop, tiles, /*noMinMaxBounds=*/true);

  SmallVector<gpu::ParallelLoopDimMappingAttr> outerMap(rank,
                                                        mappingTo(ctx, Processor::Sequential));
  SmallVector<bool> taken(rank, false);
  int x = static_cast<int>(rank) - 1;
  while (x > 0 && extents[x] && *extents[x] <= 1)
    --x;
  outerMap[x] = mappingTo(ctx, Processor::BlockX);
  taken[x] = true;
  auto size = [&](unsigned d) { return extents[d] ? *extents[d] : int64_t(1) << 40; };
  for (Processor p : {Processor::BlockY, Processor::BlockZ}) {
    int best = -1;
    for (unsigned d = 0; d < rank; ++d)
      if (!taken[d] && size(d) > 1 && (best < 0 || size(d) > size(best)))
        best = static_cast<int>(d);
    if (best < 0)
      break;
    outerMap[best] = mappingTo(ctx, p);
    taken[best] = true;
  }
  SmallVector<gpu::ParallelLoopDimMappingAttr> innerMap(rank,
                                                        mappingTo(ctx, Processor::Sequential));
  Processor next[] = {Processor::ThreadX, Processor::ThreadY, Processor::ThreadZ};
  unsigned used = 0;
  for (int d = static_cast<int>(rank) - 1; d >= 0 && used < 3; --d)
    if (tiles[d] > 1)
      innerMap[d] = mappingTo(ctx, next[used++]);
  if (used == 0) // a loop of single iterations: one thread
    innerMap[rank - 1] = mappingTo(ctx, Processor::ThreadX);
  if (failed(gpu::setMappingAttr(outer, outerMap)) || failed(gpu::setMappingAttr(inner, innerMap)))
    return loop.emitError("locus-map-kernels-to-gpu: cannot map this loop to the GPU");
  return success();
}

/// Tiles and maps every outermost parallel loop of the kernels' functions.
LogicalResult mapParallelLoops(ModuleOp kernels, int64_t threads) {
  SmallVector<scf::ParallelOp> outermost;
  kernels.walk([&](scf::ParallelOp loop) {
    if (!loop->getParentOfType<scf::ParallelOp>())
      outermost.push_back(loop);
  });
  for (scf::ParallelOp loop : outermost)
    if (failed(mapLoop(loop, threads)))
      return failure();
  return success();
}

struct MapKernelsToGpuPass : public locus::impl::LocusMapKernelsToGpuBase<MapKernelsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp kernels = locus::findKernelsModule(getOperation());
    if (!kernels) {
      getOperation().emitError("no @locus_kernels module to map (run the kernel generators first)");
      return signalPassFailure();
    }
    if (threads < 1 || threads > 1024) {
      getOperation().emitError("locus-map-kernels-to-gpu: threads must be in [1, 1024], not ")
          << threads;
      return signalPassFailure();
    }

    OpPassManager toLoops(ModuleOp::getOperationName());
    toLoops.nest<func::FuncOp>().addPass(createConvertLinalgToParallelLoopsPass());
    if (failed(runPipeline(toLoops, kernels)))
      return signalPassFailure();
    // Constant tiles with a bounds check inside: a launch's thread count
    // must not depend on the block.
    if (failed(mapParallelLoops(kernels, threads)))
      return signalPassFailure();
    if (tileOnly)
      return;
    OpPassManager toGpu(ModuleOp::getOperationName());
    toGpu.nest<func::FuncOp>().addPass(createConvertParallelLoopToGpuPass());
    if (failed(runPipeline(toGpu, kernels)))
      return signalPassFailure();

    bool failedAny = false;
    for (auto func : llvm::make_early_inc_range(kernels.getOps<func::FuncOp>())) {
      if (func.isExternal())
        continue;
      Operation *where = nullptr;
      std::string reason = hostAccess(func, where);
      if (report && reason.empty()) {
        int64_t launches = 0;
        func.walk([&](gpu::LaunchOp) { ++launches; });
        llvm::outs() << "kernel " << func.getName() << ": " << launches << " GPU launch"
                     << (launches == 1 ? "" : "es") << "\n";
      }
      if (reason.empty())
        continue;
      if (dropUnmapped) {
        where->emitWarning("kernel @") << func.getName() << " is left out of the GPU object: "
                                       << reason;
        func.erase();
        continue;
      }
      InFlightDiagnostic diag = where->emitError("kernel @")
                                << func.getName() << " cannot run on the GPU: " << reason;
      diag.attachNote(func.getLoc()) << "in this kernel";
      failedAny = true;
    }
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
