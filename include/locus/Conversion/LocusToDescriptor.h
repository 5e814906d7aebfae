//===- LocusToDescriptor.h - locus IR to the runtime's model descriptor -*- C++ -*-===//
//
// The runtime executes a compiled model from its descriptor
// (runtime/include/locus/runtime/ModelDescriptor.h): blocks, layers, losses,
// parameters and the memory plan. This builds it from a module that has been
// shape-inferred and partitioned into locus.block ops.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_CONVERSION_LOCUSTODESCRIPTOR_H
#define LOCUS_CONVERSION_LOCUSTODESCRIPTOR_H

#include "mlir/IR/BuiltinOps.h"

namespace locus::rt {
struct ModelDesc;
}

namespace locus {

/// Fails with an error at the first op the runtime cannot execute.
mlir::LogicalResult buildModelDescriptor(mlir::ModuleOp module,
                                         rt::ModelDesc &model);

} // namespace locus

#endif
