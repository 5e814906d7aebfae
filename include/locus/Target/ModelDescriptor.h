//===- ModelDescriptor.h - planned locus IR to the runtime's descriptor -*- C++ -*-===//
//
// The runtime executes a compiled model from its descriptor
// (runtime/include/locus/runtime/ModelDescriptor.h, built from the IR by
// locus/Conversion/LocusToDescriptor.h). These functions write it into an
// object file and link that with the runtime.
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
};

/// Writes a relocatable object for the host with the compiled kernels of the
/// module's lowered `@locus_kernels` (LLVM dialect), the serialized
/// descriptor and the kernel tables, all reached from its one exported
/// symbol, the model record `locus_model` (abi/Model.h), optimised at
/// `options.optLevel` for `options.cpu`. The descriptor records that CPU and
/// its checked ISA extensions first, so the binary can refuse other CPUs.
mlir::LogicalResult emitModelObject(mlir::ModuleOp module, rt::ModelDesc &model,
                                    const ObjectOptions &options,
                                    llvm::raw_pwrite_stream &os);

/// Links `objectPath` with the locus runtime into the executable `output`
/// using the system C++ driver.
mlir::LogicalResult linkTrainingBinary(mlir::ModuleOp module,
                                       llvm::StringRef objectPath,
                                       llvm::StringRef output);

} // namespace locus

#endif
