//===- ObjectEmitter.cpp - kernels and model record as a host object ------===//
//
// One LLVM module holds the lowered @locus_kernels (translated from the LLVM
// dialect) and the model record `locus_model` (abi/Model.h, built by
// ModelRecords.cpp and KernelTables.cpp). It is optimised with LLVM's
// default pipeline for the chosen CPU, so the loop vectorizer sees the
// kernels' element loops with the real vector width, and compiled in-process
// by the native target machine: no assembler or C compiler is involved.
//
//===----------------------------------------------------------------------===//
#include "ModelRecords.h"

#include "locus/Conversion/LocusToKernels/KernelsModule.h"
#include "locus/Target/ModelDescriptor.h"
#include "locus/runtime/CpuFeatures.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <memory>

using namespace mlir;

namespace {

FailureOr<std::unique_ptr<llvm::TargetMachine>>
createHostMachine(ModuleOp module, const locus::ObjectOptions &options) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return module.emitError("no LLVM target for the host: ") << error;

  std::string cpu = options.cpu, features;
  // Checked before the target machine exists: LLVM would only warn and
  // compile for a default CPU.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, "", ""));
  if (cpu != "host" && cpu != "generic" && !subtarget->isCPUStringValid(cpu))
    return emitError(UnknownLoc::get(module.getContext()), "--mcpu=")
           << cpu << ": not a CPU of " << triple.str();
  if (cpu == "host") {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures list;
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      list.AddFeature(feature.first(), feature.second);
    features = list.getString();
  }
  llvm::CodeGenOptLevel level = options.optLevel == 0   ? llvm::CodeGenOptLevel::None
                                : options.optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                : options.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                                                        : llvm::CodeGenOptLevel::Aggressive;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features, llvm::TargetOptions(), llvm::Reloc::PIC_, std::nullopt, level));
  if (!machine)
    return module.emitError("cannot create a target machine for ") << triple.str();
  return machine;
}

void optimize(llvm::Module &object, llvm::TargetMachine &machine, unsigned optLevel) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::OptimizationLevel level = optLevel == 0   ? llvm::OptimizationLevel::O0
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager pipeline = optLevel == 0
                                         ? builder.buildO0DefaultPipeline(level)
                                         : builder.buildPerModuleDefaultPipeline(level);
  pipeline.run(object, modules);
}

} // namespace

LogicalResult locus::emitModelObject(ModuleOp module, rt::ModelDesc &model,
                                     const ObjectOptions &options,
                                     llvm::raw_pwrite_stream &os) {
  ModuleOp kernels = locus::findKernelsModule(module);
  if (!kernels)
    return module.emitError("no lowered @locus_kernels module to compile");

  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine = createHostMachine(module, options);
  if (failed(machine))
    return failure();

  const llvm::MCSubtargetInfo *subtarget = (*machine)->getMCSubtargetInfo();
  model.cpu = subtarget->getCPU().str();
  model.cpuFeatures.clear();
  for (const std::string &feature : rt::checkedCpuFeatures())
    if (subtarget->checkFeatures("+" + feature))
      model.cpuFeatures.push_back(feature);
  if (options.printDescriptor) {
    printDescriptor(model, os);
    return success();
  }

  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  // --target=cuda: the PTX (gpu.binary) becomes a global the launches load.
  registerGPUDialectTranslation(*module.getContext());
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> object =
      translateModuleToLLVMIR(kernels, context, "locus_model");
  if (!object)
    return kernels.emitError("cannot translate the kernels to LLVM IR");
  object->setTargetTriple((*machine)->getTargetTriple());
  object->setDataLayout((*machine)->createDataLayout());
  if (failed(locus::addModelRecord(module, kernels, *object, model)))
    return failure();
  if (llvm::verifyModule(*object, &llvm::errs()))
    return module.emitError("the kernels' LLVM IR does not verify");
  optimize(*object, **machine, options.optLevel);

  if (options.emitLLVMIR) {
    object->print(os, nullptr);
    return success();
  }
  llvm::legacy::PassManager passes;
  if ((*machine)->addPassesToEmitFile(passes, os, nullptr, llvm::CodeGenFileType::ObjectFile))
    return module.emitError("the host target cannot emit object files");
  passes.run(*object);
  return success();
}
