//===- NodeAttributes.cpp - typed access to ONNX node attributes ----------===//
#include "NodeAttributes.h"
#include "OnnxSpec.h"

using namespace mlir;
using namespace locus;

std::string locus::qualifiedOpType(const onnx::NodeProto &node) {
  if (node.domain().empty() || node.domain() == "ai.onnx")
    return OnnxSpec::printable(node.op_type());
  return OnnxSpec::printable(node.domain() + "." + node.op_type());
}

NodeAttributes::NodeAttributes(const onnx::NodeProto &node, Location loc)
    : node_(node), loc_(loc) {}

InFlightDiagnostic NodeAttributes::error() const {
  return emitError(loc_) << "node '" << OnnxSpec::describeNode(node_) << "' ("
                         << qualifiedOpType(node_) << "): ";
}

const onnx::AttributeProto *NodeAttributes::find(StringRef name) const {
  for (const onnx::AttributeProto &attr : node_.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

const onnx::AttributeProto *NodeAttributes::get(StringRef name) {
  used_.insert(name);
  return find(name);
}

FailureOr<const onnx::AttributeProto *>
NodeAttributes::typed(StringRef name, onnx::AttributeProto::AttributeType type,
                      StringRef what) {
  const onnx::AttributeProto *attr = get(name);
  if (attr && attr->type() != type) {
    error() << "attribute '" << name << "' must be " << what;
    return failure();
  }
  return attr;
}

FailureOr<int64_t> NodeAttributes::getInt(StringRef name, int64_t fallback) {
  auto attr = typed(name, onnx::AttributeProto::INT, "an integer");
  if (failed(attr))
    return failure();
  return *attr ? (*attr)->i() : fallback;
}

FailureOr<double> NodeAttributes::getFloat(StringRef name, double fallback) {
  const onnx::AttributeProto *attr = get(name);
  if (!attr)
    return fallback;
  if (attr->type() == onnx::AttributeProto::FLOAT)
    return static_cast<double>(attr->f());
  if (attr->type() == onnx::AttributeProto::INT)
    return static_cast<double>(attr->i());
  error() << "attribute '" << name << "' must be a number";
  return failure();
}

FailureOr<std::string> NodeAttributes::getString(StringRef name,
                                                 StringRef fallback) {
  auto attr = typed(name, onnx::AttributeProto::STRING, "a string");
  if (failed(attr))
    return failure();
  return *attr ? (*attr)->s() : fallback.str();
}

FailureOr<SmallVector<int64_t>>
NodeAttributes::getInts(StringRef name, ArrayRef<int64_t> fallback) {
  auto attr = typed(name, onnx::AttributeProto::INTS, "a list of integers");
  if (failed(attr))
    return failure();
  if (!*attr)
    return SmallVector<int64_t>(fallback);
  return SmallVector<int64_t>((*attr)->ints().begin(), (*attr)->ints().end());
}

LogicalResult NodeAttributes::requireInt(StringRef name, int64_t supported) {
  FailureOr<int64_t> value = getInt(name, supported);
  if (failed(value))
    return failure();
  if (*value != supported)
    return error() << "unsupported attribute value " << name << " = "
                   << *value << " (locus supports only " << name << " = "
                   << supported << ")";
  return success();
}

LogicalResult NodeAttributes::checkAllUsed() const {
  for (const onnx::AttributeProto &attr : node_.attribute())
    if (!used_.contains(attr.name()))
      return error() << "unsupported attribute '" << OnnxSpec::printable(attr.name()) << "'";
  return success();
}
