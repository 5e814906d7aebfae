//===- NodeAttributes.h - typed access to an ONNX node's attributes -*- C++ -*-===//
//
// Every getter reports a wrongly typed attribute at the node and fails; the
// reader remembers which attributes were read so that `checkAllUsed` can
// reject attributes locus would otherwise silently ignore.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_LIB_FRONTEND_NODEATTRIBUTES_H
#define LOCUS_LIB_FRONTEND_NODEATTRIBUTES_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace locus {

class NodeAttributes {
public:
  NodeAttributes(const onnx::NodeProto &node, mlir::Location loc);

  /// Starts an error at the node: "node 'NAME' (OpType): ...".
  mlir::InFlightDiagnostic error() const;

  bool has(llvm::StringRef name) const { return find(name) != nullptr; }
  mlir::FailureOr<int64_t> getInt(llvm::StringRef name, int64_t fallback);
  /// Accepts INT attributes too (`theta = 1` in a hand-written spec).
  mlir::FailureOr<double> getFloat(llvm::StringRef name, double fallback);
  mlir::FailureOr<std::string> getString(llvm::StringRef name,
                                         llvm::StringRef fallback);
  mlir::FailureOr<llvm::SmallVector<int64_t>>
  getInts(llvm::StringRef name, llvm::ArrayRef<int64_t> fallback);
  /// The raw attribute (marked as read), or null.
  const onnx::AttributeProto *get(llvm::StringRef name);

  /// Fails unless the attribute is absent or equals `supported`.
  mlir::LogicalResult requireInt(llvm::StringRef name, int64_t supported);

  /// Reports the first attribute that no getter read.
  mlir::LogicalResult checkAllUsed() const;

  const onnx::NodeProto &node() const { return node_; }
  mlir::Location loc() const { return loc_; }

private:
  const onnx::AttributeProto *find(llvm::StringRef name) const;
  mlir::FailureOr<const onnx::AttributeProto *>
  typed(llvm::StringRef name, onnx::AttributeProto::AttributeType type,
        llvm::StringRef what);

  const onnx::NodeProto &node_;
  mlir::Location loc_;
  llvm::StringSet<> used_;
};

/// "Conv" or "locus.LocalLoss".
std::string qualifiedOpType(const onnx::NodeProto &node);

} // namespace locus

#endif
