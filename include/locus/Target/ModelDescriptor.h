//===- ModelDescriptor.h - planned locus IR to the runtime's descriptor -*- C++ -*-===//
//
// The runtime executes a compiled model from its descriptor
// (runtime/include/locus/runtime/ModelDescriptor.h). These functions build
// it from a module that has been shape-inferred, partitioned into
// locus.block ops and memory-planned, and write it into an object file.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TARGET_MODELDESCRIPTOR_H
#define LOCUS_TARGET_MODELDESCRIPTOR_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace locus::rt {
struct ModelDesc;
}

namespace locus {

/// Fails with an error at the first op the runtime cannot execute.
mlir::LogicalResult buildModelDescriptor(mlir::ModuleOp module,
                                         rt::ModelDesc &model);

/// Writes a relocatable object for the host exporting the serialized
/// descriptor as `locus_model_blob` / `locus_model_blob_size`.
mlir::LogicalResult emitDescriptorObject(mlir::ModuleOp module,
                                         llvm::StringRef blob,
                                         llvm::raw_pwrite_stream &os);

/// Links `objectPath` with the locus runtime into the executable `output`
/// using the system C++ driver.
mlir::LogicalResult linkTrainingBinary(mlir::ModuleOp module,
                                       llvm::StringRef objectPath,
                                       llvm::StringRef output);

} // namespace locus

#endif
