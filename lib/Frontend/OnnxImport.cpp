//===- OnnxImport.cpp - the import pipeline for ONNX model specs ----------===//
//
// load -> attach annotations -> override the batch -> reject unknown ops ->
// ONNX checker -> ONNX shape inference -> static input shapes -> locus ops.
// Unknown ops are rejected before the checker so that the error names the
// node and its line instead of the checker's generic schema message.
//
//===----------------------------------------------------------------------===//
#include "locus/Frontend/OnnxImport.h"
#include "OnnxSpec.h"
#include "OnnxToLocus.h"

#include "mlir/IR/Diagnostics.h"

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
           << (node.domain().empty() ? "" : node.domain() + ".")
           << node.op_type() << "'; locus imports " << listSupportedOps();
  }
  return success();
}

/// ONNX's checker and shape inference throw; their messages are kept whole.
LogicalResult runOnnxChecks(OnnxSpec &spec) {
  try {
    onnx::checker::check_model(spec.model);
  } catch (const std::exception &e) {
    return emitError(spec.fileLoc)
           << "ONNX checker rejected the model: " << StringRef(e.what()).trim();
  }
  try {
    // Node-level shape errors are left to locus-infer-shapes, which reports
    // them at the node; conflicts with declared shapes still throw here.
    onnx::shape_inference::InferShapes(
        spec.model, onnx::OpSchemaRegistry::Instance(),
        onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/0));
  } catch (const std::exception &e) {
    return emitError(spec.fileLoc) << "ONNX shape inference failed: "
                                   << StringRef(e.what()).trim();
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
  if (failed(rejectUnknownOps(*spec)) || failed(runOnnxChecks(*spec)))
    return nullptr;
  return convertOnnxGraph(*spec, options, context);
}
