//===- OnnxToLocus.cpp - ONNX nodes to locus ops --------------------------===//
//
// Graph input 0 (the first input that is not an initializer) becomes the
// function argument; every other input or initializer that a node uses as a
// convolution or linear weight or bias becomes a `locus.param`, initialised
// like PyTorch does when the spec carries no value. Initializers used as
// shapes (Reshape) are constants. Op results are created unranked.
//
//===----------------------------------------------------------------------===//
#include "OnnxToLocus.h"
#include "NodeAttributes.h"

#include "locus/Dialect/Locus/IR/LocusOps.h"
#include "locus/Dialect/Locus/IR/RulePresets.h"
#include "locus/Support/TensorLimits.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

#include <cstring>

using namespace mlir;
using namespace locus;

namespace {
struct OpName {
  const char *domain;
  const char *type;
};
const OpName kSupportedOps[] = {
    {"", "Conv"},           {"", "Relu"},
    {"", "MaxPool"},        {"", "AveragePool"},
    {"", "GlobalAveragePool"}, {"", "Flatten"},
    {"", "Reshape"},        {"", "Gemm"},
    {"", "MatMul"},         {"", "Add"},
    {"", "Concat"},         {"", "Identity"},
    {"", "Constant"},       {"", "MeanVarianceNormalization"},
    {"locus", "LocalLoss"}, {"locus", "Triangle"},
    {"locus", "Standardize"}, {"locus", "LengthNormalize"},
};

StringRef domainOf(const onnx::NodeProto &node) {
  return node.domain() == "ai.onnx" ? StringRef("") : StringRef(node.domain());
}

/// Checks `dims` (every one positive, their product at most
/// kMaxTensorElements, computed without overflow): a spec asking for more (a
/// billion-element tensor, dimensions whose product overflows) is refused
/// before anything is allocated for it.
LogicalResult checkDims(ArrayRef<int64_t> dims, StringRef what, StringRef name,
                        Location loc) {
  for (auto [i, d] : llvm::enumerate(dims))
    if (d <= 0)
      return emitError(loc) << what << " '" << name << "' has dimension " << i
                            << " of size " << d
                            << " (sizes must be positive)";
  if (!boundedElementCount(dims))
    return emitError(loc)
           << what << " '" << name << "' is too large: its dimensions ["
           << llvm::make_range(dims.begin(), dims.end())
           << "] exceed the " << kMaxTensorElements
           << " elements (1 GiB of float32) locus allows one tensor";
  return success();
}


bool hasControlCharacters(StringRef name) {
  return llvm::any_of(name, [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}
} // namespace

bool locus::isSupportedOp(const onnx::NodeProto &node) {
  for (const OpName &op : kSupportedOps)
    if (domainOf(node) == op.domain && node.op_type() == op.type)
      return true;
  return false;
}

std::string locus::listSupportedOps() {
  std::string list;
  for (const OpName &op : kSupportedOps) {
    if (!list.empty())
      list += ", ";
    list += std::strlen(op.domain) ? std::string(op.domain) + "." + op.type
                                   : std::string(op.type);
  }
  return list;
}

namespace {
/// How a parameter is used, which decides its default initialisation.
struct ParamRole {
  Init init = Init::KaimingUniform;
  int64_t fanIn = 0;
  int usedBy = -1; // node index, for errors
};

class GraphImporter {
public:
  GraphImporter(const OnnxSpec &spec, const ImportOptions &options,
                MLIRContext *ctx)
      : spec(spec), graph(spec.model.graph()), options(options), ctx(ctx),
        builder(ctx) {}

  OwningOpRef<ModuleOp> run();

private:
  LogicalResult checkNames();
  LogicalResult collectConstants();
  LogicalResult findDataInput();
  LogicalResult assignParamRoles();
  LogicalResult createParams();
  LogicalResult convertNode(int index);
  FailureOr<Value> lookup(int index, int operand);
  FailureOr<SmallVector<int64_t>> staticShape(const onnx::TypeProto &type,
                                              StringRef name, Location loc,
                                              StringRef what);
  LogicalResult declareParamRole(int node, int operand, Init init,
                                 int64_t fanIn);
  FailureOr<SmallVector<int64_t>> paramShape(StringRef name);

  // Converters, one per ONNX op family.
  LogicalResult convertConv(NodeAttributes &attrs, int index);
  LogicalResult convertPool(NodeAttributes &attrs, int index, bool isMax);
  LogicalResult convertGemm(NodeAttributes &attrs, int index, bool isMatMul);
  LogicalResult convertReshape(NodeAttributes &attrs, int index);
  LogicalResult convertLocalLoss(NodeAttributes &attrs, int index);
  FailureOr<LossAttr> buildLoss(NodeAttributes &attrs);

  Type unranked() const {
    return UnrankedTensorType::get(Float32Type::get(ctx));
  }
  void define(const onnx::NodeProto &node, Value value) {
    values[node.output(0)] = value;
  }

  const OnnxSpec &spec;
  const onnx::GraphProto &graph;
  const ImportOptions &options;
  MLIRContext *ctx;
  OpBuilder builder;

  std::string dataInput;
  llvm::StringMap<const onnx::TensorProto *> initializers;
  llvm::StringMap<const onnx::TensorProto *> constants; // Constant nodes
  llvm::StringMap<const onnx::TypeProto *> inputTypes;
  llvm::StringMap<ParamRole> paramRoles;
  std::vector<std::string> paramOrder;
  llvm::StringMap<Value> values;
  int blockCount = 0;
};

FailureOr<SmallVector<int64_t>>
GraphImporter::staticShape(const onnx::TypeProto &type, StringRef name,
                           Location loc, StringRef what) {
  if (!type.has_tensor_type()) {
    emitError(loc) << what << " '" << name << "' is not a tensor";
    return failure();
  }
  const onnx::TypeProto::Tensor &tensor = type.tensor_type();
  if (tensor.elem_type() != onnx::TensorProto::FLOAT) {
    emitError(loc) << what << " '" << name << "' has element type "
                   << onnx::TensorProto::DataType_Name(
                          static_cast<onnx::TensorProto::DataType>(
                              tensor.elem_type()))
                   << "; locus networks are float32";
    return failure();
  }
  if (!tensor.has_shape()) {
    emitError(loc) << what << " '" << name << "' has no shape";
    return failure();
  }
  SmallVector<int64_t> shape;
  for (auto [i, dim] : llvm::enumerate(tensor.shape().dim())) {
    if (dim.has_dim_value()) { // checkDims refuses sizes below 1
      shape.push_back(dim.dim_value());
      continue;
    }
    InFlightDiagnostic diag = emitError(loc);
    diag << what << " '" << name << "' has no static shape: dimension " << i
         << " is ";
    if (dim.has_dim_param())
      diag << "'" << OnnxSpec::printable(dim.dim_param()) << "'";
    else
      diag << "unknown";
    if (i == 0 && name == dataInput)
      diag << " (set it in the spec or with --batch-size)";
    return failure();
  }
  if (failed(checkDims(shape, what, name, loc)))
    return failure();
  return shape;
}

LogicalResult GraphImporter::collectConstants() {
  for (const onnx::TensorProto &init : graph.initializer())
    initializers[init.name()] = &init;
  for (const onnx::ValueInfoProto &input : graph.input())
    inputTypes[input.name()] = &input.type();
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    if (node.op_type() != "Constant" || !domainOf(node).empty())
      continue;
    NodeAttributes attrs(node, spec.locOfNode(i));
    const onnx::AttributeProto *value = attrs.get("value");
    if (!value || value->type() != onnx::AttributeProto::TENSOR)
      return attrs.error() << "only tensor constants ('value') are supported";
    if (failed(attrs.checkAllUsed()))
      return failure();
    constants[node.output(0)] = &value->t();
  }
  return success();
}

LogicalResult GraphImporter::findDataInput() {
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializers.count(input.name()))
      continue;
    dataInput = input.name();
    return success();
  }
  return emitError(spec.fileLoc)
         << "the graph has no data input (every input is an initializer)";
}

FailureOr<SmallVector<int64_t>> GraphImporter::paramShape(StringRef name) {
  if (const onnx::TensorProto *init = initializers.lookup(name)) {
    SmallVector<int64_t> dims(init->dims().begin(), init->dims().end());
    // assignParamRoles asks before the parameter has a user (usedBy -1).
    int user = paramRoles.lookup(name).usedBy;
    if (failed(checkDims(dims, "initializer", name,
                         user >= 0 ? spec.locOfNode(user) : spec.fileLoc)))
      return failure();
    return dims;
  }
  return staticShape(*inputTypes.lookup(name), name, spec.locOfInput(name),
                     "parameter");
}

LogicalResult GraphImporter::declareParamRole(int node, int operand, Init init,
                                              int64_t fanIn) {
  const onnx::NodeProto &n = graph.node(node);
  if (operand >= n.input_size() || n.input(operand).empty())
    return success();
  const std::string &name = n.input(operand);
  if (name == dataInput || (!initializers.count(name) && !inputTypes.count(name)))
    return NodeAttributes(n, spec.locOfNode(node)).error()
           << "operand " << operand << " ('" << name
           << "') must be a parameter (a graph input after the data, or an "
              "initializer)";
  auto [it, inserted] = paramRoles.try_emplace(name);
  if (!inserted)
    return NodeAttributes(n, spec.locOfNode(node)).error()
           << "parameter '" << name << "' is already used by node '"
           << OnnxSpec::describeNode(graph.node(it->second.usedBy))
           << "'; locus does not share parameters between layers";
  it->second = {init, fanIn, node};
  paramOrder.push_back(name);
  return success();
}

/// Parameters are recognised by use: weights and biases of Conv, Gemm and
/// MatMul. The fan-in comes from the weight's shape, as in PyTorch.
LogicalResult GraphImporter::assignParamRoles() {
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    if (!domainOf(node).empty())
      continue;
    bool isConv = node.op_type() == "Conv";
    bool isGemm = node.op_type() == "Gemm", isMatMul = node.op_type() == "MatMul";
    if (!isConv && !isGemm && !isMatMul)
      continue;
    if (node.input_size() < 2)
      continue; // the checker has already rejected this
    const std::string &weight = node.input(1);
    if (!initializers.count(weight) && !inputTypes.count(weight))
      return NodeAttributes(node, spec.locOfNode(i)).error()
             << "the weight '" << weight
             << "' must be a parameter (a graph input after the data, or an "
                "initializer)";
    FailureOr<SmallVector<int64_t>> shape = paramShape(weight);
    if (failed(shape))
      return failure();
    // Before the fan-in reads past its first dimension (a scalar weight
    // passes ONNX's checker: test/Fuzz).
    if (isConv && shape->size() < 3)
      return NodeAttributes(node, spec.locOfNode(i)).error()
             << "the weight '" << weight << "' has rank " << shape->size()
             << "; a Conv weight is [out channels, in channels, kernel...]";
    int64_t fanIn = 1;
    if (isConv) {
      for (int64_t d : llvm::drop_begin(*shape))
        fanIn *= d;
    } else {
      bool transB = false;
      for (const onnx::AttributeProto &attr : node.attribute())
        if (attr.name() == "transB")
          transB = attr.i() != 0;
      fanIn = shape->size() == 2 ? (*shape)[transB ? 1 : 0] : 0;
    }
    if (failed(declareParamRole(i, 1, Init::KaimingUniform, fanIn)) ||
        (!isMatMul &&
         failed(declareParamRole(i, 2, Init::FanInUniform, fanIn))))
      return failure();
  }
  return success();
}

/// Initializer data as a dense f32 attribute (raw_data or float_data).
FailureOr<DenseElementsAttr> tensorValue(const onnx::TensorProto &tensor,
                                         RankedTensorType type, Location loc) {
  if (tensor.data_type() != onnx::TensorProto::FLOAT) {
    emitError(loc) << "initializer '" << OnnxSpec::printable(tensor.name())
                   << "' must be float32";
    return failure();
  }
  int64_t count = type.getNumElements();
  SmallVector<float> data(count);
  if (tensor.has_raw_data()) {
    if (static_cast<int64_t>(tensor.raw_data().size()) !=
        count * static_cast<int64_t>(sizeof(float))) {
      emitError(loc) << "initializer '" << OnnxSpec::printable(tensor.name()) << "' has "
                     << tensor.raw_data().size() << " bytes, expected "
                     << count * sizeof(float);
      return failure();
    }
    std::memcpy(data.data(), tensor.raw_data().data(), count * sizeof(float));
  } else if (tensor.float_data_size() == count) {
    std::copy(tensor.float_data().begin(), tensor.float_data().end(),
              data.begin());
  } else {
    emitError(loc) << "initializer '" << OnnxSpec::printable(tensor.name()) << "' has "
                   << tensor.float_data_size() << " values, expected " << count;
    return failure();
  }
  return DenseElementsAttr::get(type, ArrayRef<float>(data));
}

LogicalResult GraphImporter::createParams() {
  for (const std::string &name : paramOrder) {
    const ParamRole &role = paramRoles[name];
    Location loc = initializers.count(name) ? spec.locOfNode(role.usedBy)
                                            : spec.locOfInput(name);
    FailureOr<SmallVector<int64_t>> shape = paramShape(name);
    if (failed(shape))
      return failure();
    auto type = RankedTensorType::get(*shape, Float32Type::get(ctx));
    auto param = builder.create<ParamOp>(
        loc, type, builder.getStringAttr(name),
        InitAttr::get(ctx, role.init), builder.getI64IntegerAttr(role.fanIn),
        ElementsAttr());
    if (const onnx::TensorProto *init = initializers.lookup(name)) {
      FailureOr<DenseElementsAttr> value = tensorValue(*init, type, loc);
      if (failed(value))
        return failure();
      param.setInit(Init::Value);
      param.setValueAttr(*value);
    }
    values[name] = param;
  }
  // Non-data graph inputs that no layer uses as a parameter are mistakes.
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (input.name() == dataInput || paramRoles.count(input.name()) ||
        initializers.count(input.name()))
      continue;
    bool used = false;
    for (const onnx::NodeProto &node : graph.node())
      used |= llvm::is_contained(node.input(), input.name());
    if (used)
      return emitError(spec.locOfInput(input.name()))
             << "input '" << OnnxSpec::printable(input.name())
             << "' is used as data, but every graph input after the first ('"
             << dataInput
             << "') is a trainable parameter (a layer's weight or bias)";
    emitWarning(spec.locOfInput(input.name()))
        << "input '" << OnnxSpec::printable(input.name()) << "' is not used";
  }
  return success();
}

FailureOr<Value> GraphImporter::lookup(int index, int operand) {
  const onnx::NodeProto &node = graph.node(index);
  // ONNX's checker knows the standard ops' arity, not the locus domain's.
  if (operand >= node.input_size()) {
    NodeAttributes(node, spec.locOfNode(index)).error()
        << "expected at least " << operand + 1 << " input" << (operand ? "s" : "")
        << ", got " << node.input_size();
    return failure();
  }
  const std::string &name = node.input(operand);
  Value value = values.lookup(name);
  if (!value) {
    NodeAttributes(node, spec.locOfNode(index)).error()
        << "input '" << OnnxSpec::printable(name) << "' is not defined before this node";
    return failure();
  }
  return value;
}

LogicalResult GraphImporter::checkNames() {
  auto check = [&](StringRef name, StringRef what, Location loc) -> LogicalResult {
    if (!hasControlCharacters(name))
      return success();
    return emitError(loc) << what << " name \"" << OnnxSpec::printable(name)
                          << "\" contains control characters";
  };
  for (const onnx::ValueInfoProto &v : graph.input())
    if (failed(check(v.name(), "input", spec.locOfInput(v.name()))))
      return failure();
  for (const onnx::ValueInfoProto &v : graph.output())
    if (failed(check(v.name(), "output", spec.fileLoc)))
      return failure();
  for (const onnx::TensorProto &t : graph.initializer())
    if (failed(check(t.name(), "initializer", spec.fileLoc)))
      return failure();
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    Location loc = spec.locOfNode(i);
    if (failed(check(node.name(), "node", loc)) ||
        failed(check(node.op_type(), "operator", loc)))
      return failure();
    for (const std::string &name : node.input())
      if (failed(check(name, "value", loc)))
        return failure();
    for (const std::string &name : node.output())
      if (failed(check(name, "value", loc)))
        return failure();
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  if (failed(checkNames()) || failed(collectConstants()) ||
      failed(findDataInput()) || failed(assignParamRoles()))
    return nullptr;
  FailureOr<SmallVector<int64_t>> dataShape =
      staticShape(*inputTypes.lookup(dataInput), dataInput,
                  spec.locOfInput(dataInput), "input");
  if (failed(dataShape))
    return nullptr;
  auto dataType = RankedTensorType::get(*dataShape, Float32Type::get(ctx));

  OwningOpRef<ModuleOp> module = ModuleOp::create(spec.fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  std::string name = graph.name().empty() ? "network" : graph.name();
  SmallVector<Type> resultTypes(graph.output_size(), unranked());
  auto func = builder.create<func::FuncOp>(
      spec.fileLoc, name, builder.getFunctionType({dataType}, resultTypes));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  values[dataInput] = body->getArgument(0);

  if (failed(createParams()))
    return nullptr;
  for (int i = 0; i < graph.node_size(); ++i)
    if (failed(convertNode(i)))
      return nullptr;

  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    Value value = values.lookup(output.name());
    if (!value) {
      emitError(spec.fileLoc) << "graph output '" << OnnxSpec::printable(output.name())
                              << "' is not computed by any node";
      return nullptr;
    }
    results.push_back(value);
  }
  builder.create<func::ReturnOp>(spec.fileLoc, results);
  if (blockCount == 0)
    emitWarning(spec.fileLoc)
        << "the spec marks no learning block (no locus.LocalLoss node)";
  return module;
}

LogicalResult GraphImporter::convertNode(int index) {
  const onnx::NodeProto &node = graph.node(index);
  Location loc = spec.locOfNode(index);
  NodeAttributes attrs(node, loc);
  StringRef type = node.op_type();
  bool locusOp = domainOf(node) == "locus";
  if (type == "Constant" && !locusOp)
    return success(); // collected up front
  if (node.output_size() != 1)
    return attrs.error() << "expected 1 output, got " << node.output_size();

  auto unary = [&](auto build) -> LogicalResult {
    // ONNX's checker has counted the standard ops' inputs, not locus's.
    if (locusOp && node.input_size() != 1)
      return attrs.error() << "takes one input, got "
                           << node.input_size();
    FailureOr<Value> input = lookup(index, 0);
    if (failed(input))
      return failure();
    define(node, build(*input));
    return success();
  };

  LogicalResult result = success();
  if (locusOp && type == "LocalLoss") {
    result = convertLocalLoss(attrs, index);
  } else if (locusOp && type == "Triangle") {
    result = unary([&](Value x) {
      return builder.create<TriangleOp>(loc, unranked(), x).getResult();
    });
  } else if (locusOp && (type == "Standardize" || type == "LengthNormalize")) {
    bool standardize = type == "Standardize";
    FailureOr<double> eps = attrs.getFloat("eps", standardize ? 1e-5 : 1e-8);
    if (failed(eps))
      return failure();
    result = unary([&](Value x) -> Value {
      if (standardize)
        return builder.create<StandardizeOp>(loc, unranked(), x,
                                             builder.getF64FloatAttr(*eps));
      return builder.create<LengthNormalizeOp>(loc, unranked(), x,
                                               builder.getF64FloatAttr(*eps));
    });
  } else if (type == "Conv") {
    result = convertConv(attrs, index);
  } else if (type == "Relu") {
    result = unary([&](Value x) {
      return builder.create<ReluOp>(loc, unranked(), x).getResult();
    });
  } else if (type == "MaxPool" || type == "AveragePool") {
    result = convertPool(attrs, index, type == "MaxPool");
  } else if (type == "GlobalAveragePool") {
    result = unary([&](Value x) {
      return builder.create<GlobalAvgPoolOp>(loc, unranked(), x).getResult();
    });
  } else if (type == "Flatten") {
    FailureOr<int64_t> axis = attrs.getInt("axis", 1);
    if (failed(axis))
      return failure();
    result = unary([&](Value x) {
      return builder.create<FlattenOp>(loc, unranked(), x, *axis).getResult();
    });
  } else if (type == "Reshape") {
    result = convertReshape(attrs, index);
  } else if (type == "Gemm" || type == "MatMul") {
    result = convertGemm(attrs, index, type == "MatMul");
  } else if (type == "Add") {
    FailureOr<Value> lhs = lookup(index, 0), rhs = lookup(index, 1);
    if (failed(lhs) || failed(rhs))
      return failure();
    define(node, builder.create<AddOp>(loc, unranked(), *lhs, *rhs));
  } else if (type == "Concat") {
    FailureOr<int64_t> axis = attrs.getInt("axis", 1);
    if (failed(axis))
      return failure();
    SmallVector<Value> inputs;
    for (int i = 0; i < node.input_size(); ++i) {
      FailureOr<Value> input = lookup(index, i);
      if (failed(input))
        return failure();
      inputs.push_back(*input);
    }
    define(node, builder.create<ConcatOp>(loc, unranked(), inputs, *axis));
  } else if (type == "Identity") {
    FailureOr<Value> input = lookup(index, 0);
    if (failed(input))
      return failure();
    define(node, *input);
  } else if (type == "MeanVarianceNormalization") {
    FailureOr<SmallVector<int64_t>> axes = attrs.getInts("axes", {0, 2, 3});
    if (failed(axes))
      return failure();
    if (*axes != SmallVector<int64_t>{1, 2, 3})
      return attrs.error() << "unsupported attribute value axes (locus "
                              "supports per-sample standardisation, axes = "
                              "[1, 2, 3])";
    result = unary([&](Value x) {
      return builder
          .create<StandardizeOp>(loc, unranked(), x,
                                 builder.getF64FloatAttr(1e-9))
          .getResult();
    });
  } else {
    return attrs.error() << "unknown op"; // rejectUnknownOps ran first
  }
  if (failed(result))
    return failure();
  return attrs.checkAllUsed();
}

LogicalResult GraphImporter::convertConv(NodeAttributes &attrs, int index) {
  const onnx::NodeProto &node = attrs.node();
  auto strides = attrs.getInts("strides", {1, 1});
  auto pads = attrs.getInts("pads", {0, 0, 0, 0});
  auto dilations = attrs.getInts("dilations", {1, 1});
  auto kernel = attrs.getInts("kernel_shape", {});
  auto autoPad = attrs.getString("auto_pad", "NOTSET");
  if (failed(strides) || failed(pads) || failed(dilations) || failed(kernel) ||
      failed(autoPad) || failed(attrs.requireInt("group", 1)))
    return failure();
  if (*autoPad != "NOTSET" && *autoPad != "VALID")
    return attrs.error() << "unsupported attribute value auto_pad = '"
                         << *autoPad << "' (use explicit pads)";
  if (strides->size() != 2 || pads->size() != 4 || dilations->size() != 2)
    return attrs.error() << "locus supports 2D convolutions only (strides, "
                            "dilations of 2 and pads of 4 entries)";
  FailureOr<Value> input = lookup(index, 0), weight = lookup(index, 1);
  if (failed(input) || failed(weight))
    return failure();
  auto weightShape = cast<RankedTensorType>(weight->getType()).getShape();
  if (!kernel->empty() &&
      (weightShape.size() != 4 || kernel->size() != 2 ||
       (*kernel)[0] != weightShape[2] || (*kernel)[1] != weightShape[3]))
    return attrs.error() << "kernel_shape does not match the weight's shape";
  Value bias;
  if (node.input_size() > 2 && !node.input(2).empty()) {
    FailureOr<Value> b = lookup(index, 2);
    if (failed(b))
      return failure();
    bias = *b;
  }
  define(node, builder.create<Conv2DOp>(
                   attrs.loc(), unranked(), *input, *weight, bias,
                   builder.getDenseI64ArrayAttr(*strides),
                   builder.getDenseI64ArrayAttr(*pads),
                   builder.getDenseI64ArrayAttr(*dilations)));
  return success();
}

LogicalResult GraphImporter::convertPool(NodeAttributes &attrs, int index,
                                         bool isMax) {
  auto kernel = attrs.getInts("kernel_shape", {});
  auto strides = attrs.getInts("strides", {1, 1});
  auto pads = attrs.getInts("pads", {0, 0, 0, 0});
  auto autoPad = attrs.getString("auto_pad", "NOTSET");
  if (failed(kernel) || failed(strides) || failed(pads) || failed(autoPad) ||
      failed(attrs.requireInt("ceil_mode", 0)))
    return failure();
  if (*autoPad != "NOTSET" && *autoPad != "VALID")
    return attrs.error() << "unsupported attribute value auto_pad = '"
                         << *autoPad << "' (use explicit pads)";
  if (kernel->size() != 2 || strides->size() != 2 || pads->size() != 4)
    return attrs.error() << "locus supports 2D pooling only";
  FailureOr<Value> input = lookup(index, 0);
  if (failed(input))
    return failure();
  Location loc = attrs.loc();
  Value result;
  if (isMax) {
    auto dilations = attrs.getInts("dilations", {1, 1});
    if (failed(dilations) || failed(attrs.requireInt("storage_order", 0)))
      return failure();
    if (*dilations != SmallVector<int64_t>{1, 1})
      return attrs.error() << "unsupported attribute value dilations (locus "
                              "supports only undilated max pooling)";
    result = builder.create<MaxPool2DOp>(
        loc, unranked(), *input, builder.getDenseI64ArrayAttr(*kernel),
        builder.getDenseI64ArrayAttr(*strides),
        builder.getDenseI64ArrayAttr(*pads));
  } else {
    FailureOr<int64_t> includePad = attrs.getInt("count_include_pad", 0);
    if (failed(includePad))
      return failure();
    result = builder.create<AvgPool2DOp>(
        loc, unranked(), *input, builder.getDenseI64ArrayAttr(*kernel),
        builder.getDenseI64ArrayAttr(*strides),
        builder.getDenseI64ArrayAttr(*pads),
        builder.getBoolAttr(*includePad != 0));
  }
  define(attrs.node(), result);
  return success();
}

LogicalResult GraphImporter::convertGemm(NodeAttributes &attrs, int index,
                                         bool isMatMul) {
  const onnx::NodeProto &node = attrs.node();
  bool transB = false;
  Value bias;
  if (!isMatMul) {
    FailureOr<double> alpha = attrs.getFloat("alpha", 1.0),
                      beta = attrs.getFloat("beta", 1.0);
    FailureOr<int64_t> tb = attrs.getInt("transB", 0);
    if (failed(alpha) || failed(beta) || failed(tb) ||
        failed(attrs.requireInt("transA", 0)))
      return failure();
    if (*alpha != 1.0 || *beta != 1.0)
      return attrs.error() << "unsupported attribute value: alpha and beta "
                              "must be 1";
    transB = *tb != 0;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      FailureOr<Value> b = lookup(index, 2);
      if (failed(b))
        return failure();
      bias = *b;
    }
  }
  FailureOr<Value> input = lookup(index, 0), weight = lookup(index, 1);
  if (failed(input) || failed(weight))
    return failure();
  define(node, builder.create<LinearOp>(attrs.loc(), unranked(), *input,
                                        *weight, bias,
                                        builder.getBoolAttr(transB)));
  return success();
}

LogicalResult GraphImporter::convertReshape(NodeAttributes &attrs, int index) {
  const onnx::NodeProto &node = attrs.node();
  if (failed(attrs.requireInt("allowzero", 0)))
    return failure();
  const std::string &shapeName = node.input(1);
  const onnx::TensorProto *shape = constants.lookup(shapeName);
  if (!shape)
    shape = initializers.lookup(shapeName);
  if (!shape || shape->data_type() != onnx::TensorProto::INT64)
    return attrs.error() << "the target shape '" << shapeName
                         << "' must be a constant int64 tensor";
  SmallVector<int64_t> dims;
  if (shape->has_raw_data()) {
    dims.resize(shape->raw_data().size() / sizeof(int64_t));
    std::memcpy(dims.data(), shape->raw_data().data(),
                dims.size() * sizeof(int64_t));
  } else {
    dims.assign(shape->int64_data().begin(), shape->int64_data().end());
  }
  FailureOr<Value> input = lookup(index, 0);
  if (failed(input))
    return failure();
  define(node, builder.create<ReshapeOp>(attrs.loc(), unranked(), *input,
                                         builder.getDenseI64ArrayAttr(dims)));
  return success();
}

//===----------------------------------------------------------------------===//
// locus.LocalLoss: a rule preset, then per-field overrides
//===----------------------------------------------------------------------===//

namespace {
/// Reads an enum-valued string attribute through its `symbolize` function.
template <typename EnumT>
LogicalResult readEnum(NodeAttributes &attrs, StringRef name, EnumT &field,
                       std::optional<EnumT> (*symbolize)(StringRef),
                       StringRef choices) {
  if (!attrs.has(name)) {
    attrs.get(name);
    return success();
  }
  FailureOr<std::string> text = attrs.getString(name, "");
  if (failed(text))
    return failure();
  std::optional<EnumT> value = symbolize(*text);
  if (!value)
    return attrs.error() << "bad annotation: " << name << " = '" << OnnxSpec::printable(*text)
                         << "' (expected one of " << choices << ")";
  field = *value;
  return success();
}

/// `pool` and `context_pool`: a kernel size, or "global" / "none" / "auto".
LogicalResult readPool(NodeAttributes &attrs, StringRef name, int64_t &field,
                       bool allowAuto) {
  const onnx::AttributeProto *attr = attrs.get(name);
  if (!attr)
    return success();
  if (attr->type() == onnx::AttributeProto::INT) {
    if (attr->i() < 0)
      return attrs.error() << "bad annotation: " << name
                           << " must be a positive kernel or 0 (global "
                              "average), got "
                           << attr->i();
    field = attr->i() == 0 ? LossAttr::kPoolGlobal : attr->i();
    return success();
  }
  if (attr->type() == onnx::AttributeProto::STRING) {
    StringRef s = attr->s();
    if (s == "global")
      field = LossAttr::kPoolGlobal;
    else if (s == "none")
      field = LossAttr::kPoolNone;
    else if (s == "auto" && allowAuto)
      field = LossAttr::kPoolAuto;
    else
      return attrs.error() << "bad annotation: " << name << " = '" << OnnxSpec::printable(s)
                           << "' (expected a kernel size, 'global' or 'none'"
                           << (allowAuto ? " or 'auto'" : "") << ")";
    return success();
  }
  return attrs.error() << "bad annotation: " << name
                       << " must be an integer kernel size or a string";
}
} // namespace

FailureOr<LossAttr> GraphImporter::buildLoss(NodeAttributes &attrs) {
  FailureOr<std::string> ruleAttr = attrs.getString("rule", "clapp++");
  if (failed(ruleAttr))
    return failure();
  int64_t pool = LossAttr::kPoolGlobal;
  if (failed(readPool(attrs, "pool", pool, /*allowAuto=*/false)))
    return failure();
  std::string rule = options.rule ? *options.rule : *ruleAttr;
  std::optional<LossSpec> spec = getRulePreset(rule, pool);
  if (!spec) {
    attrs.error() << "bad annotation: unknown rule '" << rule
                  << "' (expected one of "
                  << llvm::join(getRuleNames(), ", ") << ")";
    return failure();
  }
  // A rule given on the command line replaces the spec's rule with all its
  // components; only the block-specific pooling and weight carry over.
  bool keepComponents = !options.rule;
  if (failed(readPool(attrs, "context_pool", spec->contextPool,
                      /*allowAuto=*/true)))
    return failure();
  FailureOr<double> weight = attrs.getFloat("weight", 1.0);
  if (failed(weight))
    return failure();
  spec->weight = *weight;

  LossSpec components = *spec;
  if (failed(readEnum(attrs, "score", components.score, symbolizeScore,
                      "bilinear, sum_squares, mean_relu_squares, cosine")) ||
      failed(readEnum(attrs, "f", components.f, symbolizeLossFunction,
                      "hinge, softplus, linear, logistic, infonce")) ||
      failed(readEnum(attrs, "form", components.form, symbolizeLossForm,
                      "contrastive, difference")) ||
      failed(readEnum(attrs, "projection", components.projection,
                      symbolizeProjection, "trainable, identity, shared")) ||
      failed(readEnum(attrs, "context", components.context, symbolizeContext,
                      "same, top, both")) ||
      failed(readEnum(attrs, "negatives", components.negatives,
                      symbolizeNegatives, "next, random, hybrid, roll")) ||
      failed(readEnum(attrs, "mode", components.mode, symbolizeTrainingMode,
                      "local, global")))
    return failure();
  FailureOr<std::string> contextBlock = attrs.getString("context_block", "");
  FailureOr<double> theta = attrs.getFloat("theta", spec->theta),
                    theta2 = attrs.getFloat("theta2", spec->theta2),
                    lambda = attrs.getFloat("lambda", spec->lambda),
                    temperature =
                        attrs.getFloat("temperature", spec->temperature);
  if (failed(contextBlock) || failed(theta) || failed(theta2) ||
      failed(lambda) || failed(temperature))
    return failure();
  if (keepComponents) {
    components.contextBlock = *contextBlock;
    components.theta = *theta;
    components.theta2 = *theta2;
    components.lambda = *lambda;
    components.temperature = *temperature;
    *spec = components;
  }
  LossAttr loss = spec->getChecked(
      [&] { return attrs.error() << "bad annotation: "; }, ctx);
  if (!loss)
    return failure();
  return loss;
}

LogicalResult GraphImporter::convertLocalLoss(NodeAttributes &attrs,
                                              int index) {
  const onnx::NodeProto &node = attrs.node();
  if (node.input_size() != 1)
    return attrs.error() << "bad annotation: LocalLoss takes the block output "
                            "as its one input, got "
                         << node.input_size() << " inputs";
  ++blockCount;
  FailureOr<std::string> block =
      attrs.getString("block", "block" + std::to_string(blockCount));
  if (failed(block))
    return failure();
  if (block->empty())
    return attrs.error() << "bad annotation: the block name is empty";
  FailureOr<LossAttr> loss = buildLoss(attrs);
  FailureOr<Value> input = lookup(index, 0);
  if (failed(loss) || failed(input))
    return failure();
  define(node, builder.create<LocalLossOp>(attrs.loc(), unranked(),
                                           builder.getStringAttr(*block),
                                           *input, *loss));
  return success();
}
} // namespace

OwningOpRef<ModuleOp> locus::convertOnnxGraph(const OnnxSpec &spec,
                                              const ImportOptions &options,
                                              MLIRContext *context) {
  context->loadDialect<LocusDialect, func::FuncDialect>();
  return GraphImporter(spec, options, context).run();
}
