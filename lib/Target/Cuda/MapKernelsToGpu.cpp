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

    OpPassManager pipeline(ModuleOp::getOperationName());
    OpPassManager &perFunction = pipeline.nest<func::FuncOp>();
    perFunction.addPass(createConvertLinalgToParallelLoopsPass());
    // A constant tile with a bounds check inside: the launch's thread count
    // must not depend on the block.
    perFunction.addPass(createParallelLoopTilingPass({threads}, /*noMinMaxBounds=*/true));
    perFunction.addPass(createGpuMapParallelLoopsPass());
    perFunction.addPass(createConvertParallelLoopToGpuPass());
    if (failed(runPipeline(pipeline, kernels)))
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
