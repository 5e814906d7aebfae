//===- ObjectEmitter.cpp - the descriptor as a host object file -----------===//
//
// The descriptor is data, so the object is two globals built with LLVM's IR
// API and compiled in-process by the native target machine: no assembler or
// C compiler is needed to produce it.
//
//===----------------------------------------------------------------------===//
#include "locus/Target/ModelDescriptor.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <memory>

using namespace mlir;

LogicalResult locus::emitDescriptorObject(ModuleOp module, StringRef blob,
                                          llvm::raw_pwrite_stream &os) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return module.emitError("no LLVM target for the host: ") << error;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, "generic", "", llvm::TargetOptions(), llvm::Reloc::PIC_));

  llvm::LLVMContext context;
  llvm::Module object("locus_model", context);
  object.setTargetTriple(triple);
  object.setDataLayout(machine->createDataLayout());
  auto *data = llvm::ConstantDataArray::get(
      context, llvm::ArrayRef<uint8_t>(
                   reinterpret_cast<const uint8_t *>(blob.data()), blob.size()));
  new llvm::GlobalVariable(object, data->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, data,
                           "locus_model_blob");
  auto *size = llvm::ConstantInt::get(llvm::Type::getInt64Ty(context), blob.size());
  new llvm::GlobalVariable(object, size->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, size,
                           "locus_model_blob_size");

  llvm::legacy::PassManager passes;
  if (machine->addPassesToEmitFile(passes, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return module.emitError("the host target cannot emit object files");
  passes.run(object);
  return success();
}
