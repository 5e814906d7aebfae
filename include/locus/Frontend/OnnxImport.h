//===- OnnxImport.h - ONNX model specs to the locus dialect ----*- C++ -*-===//
//
// A locus model spec is an ONNX model, binary (.onnx) or in ONNX's textual
// syntax (.onnxtxt). Graph input 0 is the data (all views of one step, NCHW);
// every other graph input or initializer is a trainable parameter. Learning
// blocks are marked by `locus.LocalLoss` nodes, written in the spec or
// attached afterwards by node name (Annotations.h).
//
// Every error is reported through the MLIR diagnostic engine at a location in
// the spec (file:line:col for text, the file and node name for binary) and
// the import returns null; nothing is written.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_FRONTEND_ONNXIMPORT_H
#define LOCUS_FRONTEND_ONNXIMPORT_H

#include "locus/Frontend/Annotations.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>
#include <string>
#include <vector>

namespace locus {

struct ImportOptions {
  /// Replaces the rule of every block (keeping its pooling), e.g. "clapp++dfb".
  std::optional<std::string> rule;
  /// Replaces the first dimension (the number of views) of the data input.
  std::optional<int64_t> views;
  /// Annotations attached by node name (side file and command line).
  std::vector<Annotation> annotations;
};

/// Imports the spec at `path`. The spec text is added to `sourceMgr` so that
/// diagnostics can quote it. Returns null after reporting an error.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxSpec(llvm::StringRef path,
                                                 const ImportOptions &options,
                                                 mlir::MLIRContext *context,
                                                 llvm::SourceMgr &sourceMgr);

} // namespace locus

#endif
