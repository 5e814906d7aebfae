//===- Annotations.cpp - attaching locus.LocalLoss by node name -----------===//
#include "locus/Frontend/Annotations.h"
#include "OnnxSpec.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace locus;

namespace {
/// Splits "key=value" and records it; reports malformed pairs at `loc`.
LogicalResult parsePair(StringRef pair, Location loc, Annotation &out) {
  auto [key, value] = pair.split('=');
  key = key.trim();
  value = value.trim();
  if (key.empty() || value.empty() || !pair.contains('='))
    return emitError(loc) << "expected key=value, got '" << pair << "'";
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.drop_front().drop_back();
  for (const auto &existing : out.attributes)
    if (existing.first == key)
      return emitError(loc) << "attribute '" << key << "' given twice";
  out.attributes.emplace_back(key.str(), value.str());
  return success();
}
} // namespace

LogicalResult locus::parseAnnotationFile(StringRef path, MLIRContext *ctx,
                                         llvm::SourceMgr &sourceMgr,
                                         std::vector<Annotation> &out) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    return emitError(UnknownLoc::get(ctx))
           << "cannot open annotation file '" << path << "': "
           << ec.message();
  StringRef text = (*buffer)->getBuffer();
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());

  SmallVector<StringRef> lines;
  text.split(lines, '\n');
  for (auto [index, rawLine] : llvm::enumerate(lines)) {
    StringRef line = rawLine.split('#').first;
    size_t indent = line.find_first_not_of(" \t");
    if (line.trim().empty())
      continue;
    unsigned lineNo = index + 1;
    SmallVector<StringRef> fields;
    line.trim().split(fields, ' ', -1, /*KeepEmpty=*/false);
    Annotation annotation{fields.front().str(), {},
                          FileLineColLoc::get(ctx, path, lineNo, indent + 1)};
    for (StringRef field : llvm::drop_begin(fields)) {
      field = field.trim();
      if (field.empty())
        continue;
      unsigned col = field.data() - rawLine.data() + 1;
      if (failed(parsePair(field, FileLineColLoc::get(ctx, path, lineNo, col),
                           annotation)))
        return failure();
    }
    if (annotation.attributes.empty())
      return emitError(annotation.loc)
             << "annotation of '" << annotation.node
             << "' has no attributes (expected e.g. rule=clapp++ pool=4)";
    out.push_back(std::move(annotation));
  }
  return success();
}

LogicalResult locus::parseAnnotationOption(StringRef option, MLIRContext *ctx,
                                           std::vector<Annotation> &out) {
  Location loc =
      NameLoc::get(StringAttr::get(ctx, "--annotate=" + option.str()));
  // Node names may contain ':' (rarely); the attributes follow the last one.
  size_t colon = option.rfind(':');
  if (colon == StringRef::npos || colon == 0)
    return emitError(loc) << "expected NODE:key=value[,key=value...]";
  Annotation annotation{option.take_front(colon).str(), {}, loc};
  SmallVector<StringRef> pairs;
  option.drop_front(colon + 1).split(pairs, ',', -1, /*KeepEmpty=*/false);
  for (StringRef pair : pairs)
    if (failed(parsePair(pair, loc, annotation)))
      return failure();
  if (annotation.attributes.empty())
    return emitError(loc) << "annotation of '" << annotation.node
                          << "' has no attributes";
  out.push_back(std::move(annotation));
  return success();
}

namespace {
/// Types a written value like the ONNX text parser would: integer, float or
/// string.
void setAttributeValue(onnx::AttributeProto &attr, StringRef value) {
  int64_t asInt;
  double asFloat;
  if (!value.getAsInteger(10, asInt)) {
    attr.set_type(onnx::AttributeProto::INT);
    attr.set_i(asInt);
  } else if (!value.getAsDouble(asFloat)) {
    attr.set_type(onnx::AttributeProto::FLOAT);
    attr.set_f(static_cast<float>(asFloat));
  } else {
    attr.set_type(onnx::AttributeProto::STRING);
    attr.set_s(value.str());
  }
}
} // namespace

LogicalResult locus::applyAnnotations(OnnxSpec &spec,
                                      ArrayRef<Annotation> annotations,
                                      MLIRContext *ctx) {
  onnx::GraphProto *graph = spec.model.mutable_graph();
  bool needsDomain = false;
  for (const Annotation &annotation : annotations) {
    int target = -1;
    for (int i = 0; i < graph->node_size(); ++i) {
      const onnx::NodeProto &node = graph->node(i);
      if (node.name() == annotation.node ||
          (node.output_size() > 0 && node.output(0) == annotation.node)) {
        target = i;
        break;
      }
    }
    if (target < 0)
      return emitError(annotation.loc)
             << "no node named '" << annotation.node << "' in '" << spec.path
             << "'";
    const onnx::NodeProto &annotated = graph->node(target);
    if (annotated.output_size() != 1)
      return emitError(annotation.loc)
             << "node '" << annotation.node << "' has "
             << annotated.output_size()
             << " outputs; a block output must be a single tensor";
    std::string blockOut = annotated.output(0);
    std::string marked = blockOut + "__locus_block";

    // Users of the block output read the marked value from now on.
    for (onnx::NodeProto &node : *graph->mutable_node())
      for (std::string &input : *node.mutable_input())
        if (input == blockOut)
          input = marked;
    for (onnx::ValueInfoProto &output : *graph->mutable_output())
      if (output.name() == blockOut)
        output.set_name(marked);

    onnx::NodeProto marker;
    marker.set_op_type("LocalLoss");
    marker.set_domain("locus");
    marker.set_name(annotated.name().empty() ? marked
                                             : annotated.name() + "/LocalLoss");
    marker.add_input(blockOut);
    marker.add_output(marked);
    for (const auto &[key, value] : annotation.attributes) {
      onnx::AttributeProto *attr = marker.add_attribute();
      attr->set_name(key);
      setAttributeValue(*attr, value);
    }
    // Keep the node list topological: the marker goes right after its input.
    graph->mutable_node()->Add(std::move(marker));
    for (int i = graph->node_size() - 1; i > target + 1; --i)
      graph->mutable_node()->SwapElements(i, i - 1);
    spec.nodeLocs.insert(spec.nodeLocs.begin() + target + 1, annotation.loc);
    needsDomain = true;
  }
  if (needsDomain) {
    bool hasDomain = false;
    for (const onnx::OperatorSetIdProto &opset : spec.model.opset_import())
      hasDomain |= opset.domain() == "locus";
    if (!hasDomain) {
      onnx::OperatorSetIdProto *opset = spec.model.add_opset_import();
      opset->set_domain("locus");
      opset->set_version(1);
    }
  }
  return success();
}
