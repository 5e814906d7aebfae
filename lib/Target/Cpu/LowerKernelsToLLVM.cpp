//===- LowerKernelsToLLVM.cpp - @locus_kernels to the LLVM dialect --------===//
//
// The top-level module mixes the locus network (which becomes the model
// descriptor, not code) with the nested @locus_kernels module (which becomes
// code). Only the latter is lowered, by a nested pipeline of MLIR's standard
// conversions; the network is left for the descriptor conversion.
//
//===----------------------------------------------------------------------===//
#include "locus/Target/Cpu/Passes.h"
#include "locus/Conversion/LocusToKernels/KernelsModule.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

namespace locus {
#define GEN_PASS_DEF_LOCUSLOWERKERNELSTOLLVM
#include "locus/Target/Cpu/Passes.h.inc"
} // namespace locus

using namespace mlir;

namespace {

/// For every kernel, the positions its memref arguments marked llvm.noalias
/// take after lowering: the aligned pointer of each descriptor (allocated
/// pointer, aligned pointer, offset, sizes, strides). FuncToLLVM drops the
/// attribute for descriptor arguments; without it LLVM must assume the
/// output may overlap the inputs and neither vectorises nor keeps loads.
llvm::StringMap<SmallVector<unsigned>> noaliasPointers(ModuleOp kernels) {
  llvm::StringMap<SmallVector<unsigned>> result;
  for (auto func : kernels.getOps<func::FuncOp>()) {
    unsigned position = 0;
    for (auto [index, type] : llvm::enumerate(func.getArgumentTypes())) {
      auto memref = dyn_cast<MemRefType>(type);
      if (memref && func.getArgAttr(index, "llvm.noalias"))
        result[func.getName()].push_back(position + 1);
      position += memref ? 3 + 2 * memref.getRank() : 1;
    }
  }
  return result;
}

/// The kernels' atomic adds as plain read-modify-writes. Exact on the CPU:
/// a kernel call runs its parallel loops in order on one thread, and calls
/// that run at once never share an accumulator; a lock-prefixed
/// compare-and-swap per element would only cost time.
LogicalResult sequentializeAtomics(ModuleOp kernels) {
  SmallVector<memref::AtomicRMWOp> atomics;
  kernels.walk([&](memref::AtomicRMWOp op) { atomics.push_back(op); });
  for (memref::AtomicRMWOp op : atomics) {
    if (op.getKind() != arith::AtomicRMWKind::addf)
      return op.emitError("locus-lower-kernels-to-llvm: no sequential form for atomic '")
             << arith::stringifyAtomicRMWKind(op.getKind()) << "'";
    OpBuilder b(op);
    Value old = memref::LoadOp::create(b, op.getLoc(), op.getMemref(), op.getIndices());
    Value sum = arith::AddFOp::create(b, op.getLoc(), old, op.getValue());
    memref::StoreOp::create(b, op.getLoc(), sum, op.getMemref(), op.getIndices());
    op.replaceAllUsesWith(old);
    op.erase();
  }
  return success();
}

struct LowerKernelsToLLVMPass
    : public locus::impl::LocusLowerKernelsToLLVMBase<LowerKernelsToLLVMPass> {
  void runOnOperation() override {
    ModuleOp kernels = locus::findKernelsModule(getOperation());
    if (!kernels) {
      getOperation().emitError("no @locus_kernels module to lower (run "
                               "locus-generate-update-kernels first)");
      return signalPassFailure();
    }

    if (failed(sequentializeAtomics(kernels)))
      return signalPassFailure();
    llvm::StringMap<SmallVector<unsigned>> noalias = noaliasPointers(kernels);
    OpPassManager pipeline(ModuleOp::getOperationName());
    pipeline.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    pipeline.addPass(createLowerAffinePass());
    pipeline.addPass(createSCFToControlFlowPass());
    pipeline.addPass(memref::createExpandStridedMetadataPass());
    pipeline.addPass(createLowerAffinePass()); // strided metadata yields affine.apply
    pipeline.addPass(createConvertVectorToLLVMPass());
    pipeline.addPass(createFinalizeMemRefToLLVMConversionPass());
    pipeline.addPass(createConvertMathToLLVMPass());
    pipeline.addPass(createArithToLLVMConversionPass());
    pipeline.addPass(createConvertControlFlowToLLVMPass());
    pipeline.addPass(createConvertFuncToLLVMPass());
    pipeline.addPass(createReconcileUnrealizedCastsPass());
    if (failed(runPipeline(pipeline, kernels)))
      return signalPassFailure();
    for (auto func : kernels.getOps<LLVM::LLVMFuncOp>()) {
      auto it = noalias.find(func.getName());
      if (it == noalias.end())
        continue;
      for (unsigned position : it->second)
        func.setArgAttr(position, LLVM::LLVMDialect::getNoAliasAttrName(),
                        UnitAttr::get(&getContext()));
    }

    // Every op must now be in the LLVM dialect, or translation would fail
    // later with a less helpful message.
    WalkResult leftover = kernels.walk([&](Operation *op) {
      if (op == kernels.getOperation() || isa<LLVM::LLVMDialect>(op->getDialect()))
        return WalkResult::advance();
      op->emitError("locus-lower-kernels-to-llvm left '")
          << op->getName() << "' unconverted";
      return WalkResult::interrupt();
    });
    if (leftover.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
