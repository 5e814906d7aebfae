//===- OnnxImport.cpp - the import pipeline for ONNX model specs ----------===//
//
// load -> attach annotations -> override the batch -> reject unknown ops ->
// ONNX checker -> ONNX shape inference -> static input shapes -> locus ops.
// Unknown ops are rejected before the checker so that the error names the
// node and its line instead of the checker's generic schema message.
//
//===----------------------------------------------------------------------===//
#include "locus/Frontend/OnnxImport.h"
#include "NodeAttributes.h"
#include "OnnxSpec.h"
#include "OnnxToLocus.h"
#include "locus/Support/TensorLimits.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <optional>
#include <vector>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

using namespace mlir;
using namespace locus;

namespace {
LogicalResult overrideViews(OnnxSpec &spec, int64_t views) {
  onnx::GraphProto *graph = spec.model.mutable_graph();
  if (views < 1)
    return emitError(spec.fileLoc) << "the number of views must be positive";
  auto setBatch = [&](onnx::ValueInfoProto &value) {
    auto *shape = value.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() > 0)
      shape->mutable_dim(0)->set_dim_value(views);
  };
  if (graph->input_size() == 0)
    return emitError(spec.fileLoc) << "the graph has no inputs";
  setBatch(*graph->mutable_input(0));
  // Declared shapes of intermediate values and outputs follow the batch.
  for (onnx::ValueInfoProto &value : *graph->mutable_value_info())
    setBatch(value);
  for (onnx::ValueInfoProto &value : *graph->mutable_output())
    setBatch(value);
  return success();
}

LogicalResult rejectUnknownOps(const OnnxSpec &spec) {
  const onnx::GraphProto &graph = spec.model.graph();
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    if (isSupportedOp(node))
      continue;
    return emitError(spec.locOfNode(i))
           << "node '" << OnnxSpec::describeNode(node) << "': unknown op '"
           << qualifiedOpType(node) << "'; locus imports " << listSupportedOps();
  }
  return success();
}

/// The declared shape of `name` when it is an initializer or a graph input
/// with a shape (nullopt for a dimension without a size); nullopt otherwise.
using DeclaredShape = std::vector<std::optional<int64_t>>;
std::optional<DeclaredShape> declaredShape(const onnx::GraphProto &graph,
                                           const std::string &name) {
  for (const onnx::TensorProto &init : graph.initializer())
    if (init.name() == name)
      return DeclaredShape(init.dims().begin(), init.dims().end());
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (input.name() != name)
      continue;
    if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
      return std::nullopt;
    DeclaredShape dims;
    for (const onnx::TensorShapeProto_Dimension &dim : input.type().tensor_type().shape().dim())
      dims.push_back(dim.has_dim_value() ? std::optional<int64_t>(dim.dim_value())
                                         : std::nullopt);
    return dims;
  }
  return std::nullopt;
}

/// ONNX's shape inference (libonnx 1.12) trusts what it should check, both
/// found by test/Fuzz: it divides by a convolution's or pooling's strides
/// (SIGFPE on `strides = [0, 1]`), and it takes a Conv's kernel from the
/// weight's shape when `kernel_shape` is missing, then indexes it as if it had
/// the input's rank (a read out of bounds when they differ). Strides, kernel
/// sizes, dilations and pads are checked here (pads of 10^13 once gave a loss
/// projection of 4 * 10^26 elements whose size overflowed); a missing
/// `kernel_shape` is filled in from the weight's declared shape (whose length
/// ONNX then compares with the input's rank), or the node is refused when that
/// shape does not give every kernel size.
LogicalResult prepareConvPoolAttributes(OnnxSpec &spec) {
  onnx::GraphProto &graph = *spec.model.mutable_graph();
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto &node = *graph.mutable_node(i);
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      continue;
    const bool conv = node.op_type() == "Conv";
    if (!conv && node.op_type() != "MaxPool" && node.op_type() != "AveragePool")
      continue;
    auto error = [&]() {
      return emitError(spec.locOfNode(i)) << "node '" << OnnxSpec::describeNode(node) << "' ("
                                          << node.op_type() << "): ";
    };
    bool hasKernelShape = false;
    for (const onnx::AttributeProto &attr : node.attribute()) {
      hasKernelShape |= attr.name() == "kernel_shape";
      const bool pads = attr.name() == "pads";
      if (!pads && attr.name() != "strides" && attr.name() != "kernel_shape" &&
          attr.name() != "dilations")
        continue;
      for (int64_t value : attr.ints()) {
        if (attr.name() == "strides" && value < 1)
          return error() << "stride " << value << " (strides must be positive)";
        // Output sizes are computed from these: bounded like a tensor's
        // size, so that no sum or product of them overflows.
        if (value < (pads ? 0 : 1) || value > kMaxTensorElements)
          return error() << attr.name() << " value " << value << " is out of range ("
                         << (pads ? 0 : 1) << " to " << kMaxTensorElements << ")";
      }
    }
    if (!conv || hasKernelShape || node.input_size() < 2)
      continue; // ONNX's checker counts the inputs
    const std::string &weight = node.input(1);
    bool parameter = llvm::any_of(graph.initializer(), [&](const onnx::TensorProto &t) {
      return t.name() == weight;
    }) || llvm::any_of(graph.input(), [&](const onnx::ValueInfoProto &v) {
      return v.name() == weight;
    });
    if (!parameter)
      return error() << "the weight '" << OnnxSpec::printable(weight)
                     << "' must be a parameter (a graph input after the data, or an "
                        "initializer)";
    // ONNX never takes the kernel from the weight: it is given here, or the
    // spec is refused (locus needs the weight's static shape anyway).
    std::optional<DeclaredShape> dims = declaredShape(graph, weight);
    if (dims && dims->size() < 3)
      return error() << "the weight '" << OnnxSpec::printable(weight) << "' has rank "
                     << dims->size()
                     << "; a Conv weight is [out channels, in channels, kernel...]";
    if (!dims || std::any_of(dims->begin() + 2, dims->end(), [](auto d) { return !d; }))
      return error() << "no kernel_shape, and the weight '" << OnnxSpec::printable(weight)
                     << "' has no declared size for every kernel dimension";
    onnx::AttributeProto *kernel = node.add_attribute();
    kernel->set_name("kernel_shape");
    kernel->set_type(onnx::AttributeProto::INTS);
    for (size_t d = 2; d < dims->size(); ++d)
      kernel->add_ints(*(*dims)[d]);
  }
  return success();
}

/// ONNX external data names a file to open; a spec from elsewhere could
/// point it anywhere (an absolute path, `..`), and ONNX's checker would
/// already look for it. locus reads only tensors whose values are in the
/// spec: any other is refused before the checker runs.
LogicalResult refuseExternalData(const OnnxSpec &spec) {
  auto refuse = [&](const onnx::TensorProto &tensor, Location loc) -> LogicalResult {
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL)
      return success();
    std::string location = "?";
    for (const onnx::StringStringEntryProto &entry : tensor.external_data())
      if (entry.key() == "location")
        location = entry.value();
    return emitError(loc) << "tensor '" << OnnxSpec::printable(tensor.name())
                          << "' keeps its values in an external file ('"
                          << OnnxSpec::printable(location)
                          << "'): locus reads only specs with their tensors inside "
                             "(save the model with onnx.save(..., "
                             "save_as_external_data=False))";
  };
  const onnx::GraphProto &graph = spec.model.graph();
  for (const onnx::TensorProto &tensor : graph.initializer())
    if (failed(refuse(tensor, spec.fileLoc)))
      return failure();
  for (int i = 0; i < graph.node_size(); ++i)
    for (const onnx::AttributeProto &attr : graph.node(i).attribute()) {
      if (attr.has_t() && failed(refuse(attr.t(), spec.locOfNode(i))))
        return failure();
      for (const onnx::TensorProto &tensor : attr.tensors())
        if (failed(refuse(tensor, spec.locOfNode(i))))
          return failure();
    }
  return success();
}

/// An ONNX checker or shape-inference message on one line, the spec's names
/// in it printable.
std::string checkerMessage(const std::exception &e) {
  std::string text = StringRef(e.what()).trim().str();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return OnnxSpec::printable(text);
}

/// ONNX's checker and shape inference throw; their messages are kept whole.
LogicalResult runOnnxChecks(OnnxSpec &spec) {
  try {
    onnx::checker::check_model(spec.model);
  } catch (const std::exception &e) {
    return emitError(spec.fileLoc)
           << "ONNX checker rejected the model: " << checkerMessage(e);
  }
  try {
    // Node-level shape errors are left to locus-infer-shapes, which reports
    // them at the node; conflicts with declared shapes still throw here.
    onnx::shape_inference::InferShapes(
        spec.model, onnx::OpSchemaRegistry::Instance(),
        onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/0));
  } catch (const std::exception &e) {
    return emitError(spec.fileLoc) << "ONNX shape inference failed: "
                                   << checkerMessage(e);
  }
  return success();
}
} // namespace

OwningOpRef<ModuleOp> locus::importOnnxSpec(StringRef path,
                                            const ImportOptions &options,
                                            MLIRContext *context,
                                            llvm::SourceMgr &sourceMgr) {
  std::unique_ptr<OnnxSpec> spec = loadOnnxSpec(path, context, sourceMgr);
  if (!spec)
    return nullptr;
  if (failed(applyAnnotations(*spec, options.annotations, context)))
    return nullptr;
  if (options.views && failed(overrideViews(*spec, *options.views)))
    return nullptr;
  if (failed(rejectUnknownOps(*spec)) || failed(refuseExternalData(*spec)) ||
      failed(prepareConvPoolAttributes(*spec)) || failed(runOnnxChecks(*spec)))
    return nullptr;
  return convertOnnxGraph(*spec, options, context);
}
