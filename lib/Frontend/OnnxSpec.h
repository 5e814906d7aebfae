//===- OnnxSpec.h - a loaded ONNX spec and where its parts are -*- C++ -*-===//
//
// Internal to the frontend: the parsed ModelProto plus the source locations
// of its nodes and inputs. ONNX's text parser keeps no positions, so for text
// specs they are recovered by scanning the text for each node's first output
// in order; binary specs locate everything at the file, named by node.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_FRONTEND_ONNXSPEC_H
#define LOCUS_LIB_FRONTEND_ONNXSPEC_H

#include "locus/Frontend/Annotations.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SourceMgr.h"

#include <onnx/onnx_pb.h>

#include <memory>
#include <string>
#include <vector>

namespace locus {

struct OnnxSpec {
  std::string path;
  bool isText = false;
  onnx::ModelProto model;
  /// One location per graph node, in node order.
  std::vector<mlir::Location> nodeLocs;
  /// Locations of graph inputs by name.
  llvm::StringMap<mlir::Location> inputLocs;
  mlir::Location fileLoc;

  explicit OnnxSpec(mlir::Location fileLoc) : fileLoc(fileLoc) {}

  /// How errors name a node: its name, else its first output (printable).
  static std::string describeNode(const onnx::NodeProto &node);
  /// `text` with control characters escaped (\1B): a spec's names reach
  /// the terminal only through this, so a hostile name cannot drive it.
  static std::string printable(llvm::StringRef text);
  mlir::Location locOfNode(int index) const { return nodeLocs[index]; }
  mlir::Location locOfInput(llvm::StringRef name) const;
};

/// Reads and parses the spec (text or binary). Reports and returns null on
/// failure.
std::unique_ptr<OnnxSpec> loadOnnxSpec(llvm::StringRef path,
                                       mlir::MLIRContext *context,
                                       llvm::SourceMgr &sourceMgr);

/// Inserts a `locus.LocalLoss` node after each annotated node, rewiring its
/// users and the graph outputs. Reports and fails on unknown nodes.
mlir::LogicalResult applyAnnotations(OnnxSpec &spec,
                                     llvm::ArrayRef<Annotation> annotations,
                                     mlir::MLIRContext *context);

} // namespace locus

#endif
