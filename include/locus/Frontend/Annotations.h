//===- Annotations.h - locus annotations attached by node name -*- C++ -*-===//
//
// A model exported from PyTorch has no locus nodes. Annotations name a node
// (by node name, or by its first output's name) and give the attributes of
// the `locus.LocalLoss` node to insert after it, as `key=value` pairs:
//
//   side file (one block a line, '#' comments):
//     /block1/pool/MaxPool  block=block1 rule=clapp++ pool=7
//   command line:
//     --annotate=/block1/pool/MaxPool:block=block1,rule=clapp++,pool=7
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_FRONTEND_ANNOTATIONS_H
#define LOCUS_FRONTEND_ANNOTATIONS_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <utility>
#include <vector>

namespace locus {

struct Annotation {
  std::string node;
  /// Attributes in the order given; values are kept as written and typed by
  /// the importer like the attributes of a spec node.
  std::vector<std::pair<std::string, std::string>> attributes;
  /// Where the annotation was written, for errors.
  mlir::Location loc;
};

/// Parses a side file; reports errors at file:line:col and returns failure.
mlir::LogicalResult parseAnnotationFile(llvm::StringRef path,
                                        mlir::MLIRContext *context,
                                        llvm::SourceMgr &sourceMgr,
                                        std::vector<Annotation> &out);

/// Parses one `NODE:key=value,key=value` command-line annotation.
mlir::LogicalResult parseAnnotationOption(llvm::StringRef option,
                                          mlir::MLIRContext *context,
                                          std::vector<Annotation> &out);

} // namespace locus

#endif
