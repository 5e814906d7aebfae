//===- OnnxToLocus.h - ONNX graph to locus ops ------------------*- C++ -*-===//
#ifndef LOCUS_LIB_FRONTEND_ONNXTOLOCUS_H
#define LOCUS_LIB_FRONTEND_ONNXTOLOCUS_H

#include "OnnxSpec.h"
#include "locus/Frontend/OnnxImport.h"

namespace locus {

/// Whether the importer maps this node's op (domain and type).
bool isSupportedOp(const onnx::NodeProto &node);
/// The supported ops, for the unknown-op error.
std::string listSupportedOps();

/// Builds `func.func @<graph>(%data) -> (...)` of locus ops from a checked
/// model. Results are unranked: `locus-infer-shapes` gives them shapes.
mlir::OwningOpRef<mlir::ModuleOp> convertOnnxGraph(const OnnxSpec &spec,
                                                   const ImportOptions &options,
                                                   mlir::MLIRContext *context);

} // namespace locus

#endif
