//===- ModelDescriptor.h - planned locus IR to the runtime's descriptor -*- C++ -*-===//
//
// The runtime executes a compiled model from its object's record
// (runtime/include/locus/runtime/abi/Model.h; the model part built from the
// IR by locus/Conversion/LocusToDescriptor.h). These functions write it into
// an object file and link that with the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TARGET_MODELDESCRIPTOR_H
#define LOCUS_TARGET_MODELDESCRIPTOR_H

#include "locus/runtime/ModelDescriptor.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>


namespace locus {

struct ObjectOptions {
  unsigned optLevel = 2;
  /// An LLVM CPU name, "host" (this machine's CPU and features) or "generic".
  std::string cpu = "host";
  /// Write LLVM IR text instead of an object file (`locusc --emit=llvm`).
  bool emitLLVMIR = false;
  /// Write the model the record will describe as text instead
  /// (`locusc --emit=descriptor`).
  bool printDescriptor = false;
};

/// The model as readable text, one record a line ("param NAME INIT FANIN
/// TRAINED RANK DIMS... VALUE-OFFSET", "block ...", "layer ...", "loss ..."):
/// what the object's typed record holds, for people and tests.
void printDescriptor(const rt::ModelDesc &model, llvm::raw_ostream &os);

/// Writes a relocatable object for the host with the compiled kernels of the
/// module's lowered `@locus_kernels` (LLVM dialect), the model, the step
/// program and the kernel tables, all reached from its one exported symbol,
/// the model record `locus_model` (abi/Model.h), optimised at
/// `options.optLevel` for `options.cpu`. The model records that CPU and its
/// checked ISA extensions first, so the binary can refuse other CPUs.
mlir::LogicalResult emitModelObject(mlir::ModuleOp module, rt::ModelDesc &model,
                                    const ObjectOptions &options,
                                    llvm::raw_pwrite_stream &os);

/// Links `objectPath` with the locus runtime into the executable `output`
/// using the system C++ driver; `cuda`: a --target=cuda object, with the
/// CUDA runtime (an error where locus was built without it).
mlir::LogicalResult linkTrainingBinary(mlir::ModuleOp module,
                                       llvm::StringRef objectPath,
                                       llvm::StringRef output, bool cuda = false);

} // namespace locus

#endif
