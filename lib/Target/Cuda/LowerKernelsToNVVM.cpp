//===- LowerKernelsToNVVM.cpp - GPU-mapped kernels to PTX + host LLVM -----===//
//
// MLIR's GPU-to-NVVM pipeline, run on the nested @locus_kernels module only:
// the launches become outlined gpu.modules serialised to PTX (gpu.binary),
// the host side (kernel entry points, step functions) the LLVM dialect with
// mgpu* calls, which the runtime's CUDA backend implements.
//
//===----------------------------------------------------------------------===//
#include "locus/Target/Cuda/Passes.h"
#include "locus/Conversion/LocusToKernels/KernelsModule.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUCommon/GPUToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Pipelines/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/Support/FileSystem.h"

#include <cstdlib>

namespace locus {
#define GEN_PASS_DEF_LOCUSLOWERKERNELSTONVVM
#include "locus/Target/Cuda/Passes.h.inc"
} // namespace locus

using namespace mlir;

void locus::registerCudaTargetInterfaces(DialectRegistry &registry) {
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  NVVM::registerConvertGpuToNVVMInterface(registry);
  gpu::registerConvertGpuToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);
  // Serialising a gpu.module to PTX translates it to LLVM IR first.
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  // gpu.binary's default handler (#gpu.select_object) embeds the PTX.
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
}

namespace {

/// The CUDA toolkit whose libdevice the PTX links (math functions such as
/// sqrt, exp, log1p): CUDA_ROOT, CUDA_PATH or CUDA_HOME (MLIR's NVVM target
/// reads these), else the toolkit locus was built with, which is then
/// exported as CUDA_ROOT for that target. An error where it has no libdevice.
LogicalResult useCudaToolkit(Operation *where) {
  std::string root;
  for (const char *name : {"CUDA_ROOT", "CUDA_PATH", "CUDA_HOME"})
    if (const char *value = std::getenv(name); value && *value) {
      root = value;
      break;
    }
  bool fromBuild = root.empty();
  if (fromBuild)
    root = LOCUS_CUDA_TOOLKIT_DIR;
  std::string libdevice = root + "/nvvm/libdevice/libdevice.10.bc";
  if (!llvm::sys::fs::exists(libdevice))
    return where->emitError("--target=cuda needs the CUDA toolkit's libdevice, not found at ")
           << libdevice << " (set CUDA_ROOT to the toolkit's directory)";
  if (fromBuild)
    ::setenv("CUDA_ROOT", root.c_str(), /*overwrite=*/0);
  return success();
}

struct LowerKernelsToNVVMPass
    : public locus::impl::LocusLowerKernelsToNVVMBase<LowerKernelsToNVVMPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp kernels = locus::findKernelsModule(getOperation());
    if (!kernels) {
      getOperation().emitError("no @locus_kernels module to lower (run "
                               "locus-map-kernels-to-gpu first)");
      return signalPassFailure();
    }
    if (failed(useCudaToolkit(getOperation())))
      return signalPassFailure();
    gpu::GPUToNVVMPipelineOptions options;
    options.cubinChip = chip;
    options.cubinFeatures = features;
    // PTX text: the driver compiles it for the GPU it finds (sm_90 and
    // newer), and nothing here needs ptxas to build an object.
    options.cubinFormat = "isa";
    options.optLevel = optLevel;
    OpPassManager pipeline(ModuleOp::getOperationName());
    gpu::buildLowerToNVVMPassPipeline(pipeline, options);
    if (failed(runPipeline(pipeline, kernels)))
      return signalPassFailure();

    WalkResult leftover = kernels.walk([&](Operation *op) {
      if (op == kernels.getOperation() || isa<LLVM::LLVMDialect>(op->getDialect()) ||
          isa<gpu::BinaryOp>(op) || isa<gpu::LaunchFuncOp>(op))
        return WalkResult::advance();
      op->emitError("locus-lower-kernels-to-nvvm left '") << op->getName() << "' unconverted";
      return WalkResult::interrupt();
    });
    if (leftover.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
