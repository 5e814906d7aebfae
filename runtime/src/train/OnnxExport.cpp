//===- OnnxExport.cpp - the trained encoder as a standard ONNX model ------===//
//
// One pass over the descriptor's blocks builds the graph (OnnxExport.h):
// each layer becomes its standard ops, each block's last op writes the graph
// output block_<name>, which the feature pooling then reads. The map's
// [C, H, W] is tracked through every layer and checked against the
// descriptor's shapes, so a layer the mapping gets wrong is an export error,
// not a model that computes something else. Field numbers are onnx.proto's
// (IR version 8).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/OnnxExport.h"

#include "locus/runtime/train/AtomicFile.h"

#include "locus/runtime/train/Json.h"

#include "ProtoWriter.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <set>

namespace locus::rt::train {

namespace {

// onnx.proto field numbers and enum values.
namespace model_f {
constexpr uint32_t IrVersion = 1, ProducerName = 2, DocString = 6, Graph = 7, OpsetImport = 8,
                   MetadataProps = 14;
} // namespace model_f
namespace opset_f {
constexpr uint32_t Domain = 1, Version = 2;
} // namespace opset_f
namespace entry_f {
constexpr uint32_t Key = 1, Value = 2;
} // namespace entry_f
namespace graph_f {
constexpr uint32_t Node = 1, Name = 2, Initializer = 5, DocString = 10, Input = 11, Output = 12;
} // namespace graph_f
namespace node_f {
constexpr uint32_t Input = 1, Output = 2, Name = 3, OpType = 4, Attribute = 5;
} // namespace node_f
namespace attr_f {
constexpr uint32_t Name = 1, I = 3, Ints = 8, Type = 20;
constexpr int64_t TypeInt = 2, TypeInts = 7; // AttributeProto.AttributeType
} // namespace attr_f
namespace tensor_f {
constexpr uint32_t Dims = 1, DataType = 2, Name = 8, RawData = 9;
constexpr int64_t Float = 1;
} // namespace tensor_f
namespace value_f {
constexpr uint32_t Name = 1, Type = 2;         // ValueInfoProto
constexpr uint32_t TensorType = 1;             // TypeProto
constexpr uint32_t ElemType = 1, Shape = 2;    // TypeProto.Tensor
constexpr uint32_t Dim = 1;                    // TensorShapeProto
constexpr uint32_t DimValue = 1, DimParam = 2; // TensorShapeProto.Dimension
} // namespace value_f

constexpr int64_t kIrVersion = 8, kOpset = 17;
constexpr const char *kBatch = "batch";
/// An INT or INTS attribute (the graph's constants are initializers).
struct Attr {
  enum Kind { Int, Ints } kind = Int;
  std::string name;
  int64_t i = 0;
  std::vector<int64_t> ints;
};
Attr intAttr(std::string name, int64_t v) {
  Attr a;
  a.kind = Attr::Int;
  a.name = std::move(name);
  a.i = v;
  return a;
}
Attr intsAttr(std::string name, std::vector<int64_t> v) {
  Attr a;
  a.kind = Attr::Ints;
  a.name = std::move(name);
  a.ints = std::move(v);
  return a;
}

/// [C, H, W] of the map between layers (the batch is symbolic).
struct Map {
  int64_t c = 0, h = 0, w = 0;
  bool operator==(const Map &o) const { return c == o.c && h == o.h && w == o.w; }
  bool operator!=(const Map &o) const { return !(*this == o); }
};
std::string text(const Map &m) { return fmt::format("[{}, {}, {}]", m.c, m.h, m.w); }
Map mapOf(const std::array<int64_t, 4> &nchw) { return Map{nchw[1], nchw[2], nchw[3]}; }

/// Floor-mode output size of a window (ONNX's ceil_mode = 0, the runtime's).
int64_t windowed(int64_t in, int64_t kernel, int64_t stride, int64_t padBefore, int64_t padAfter) {
  return (in + padBefore + padAfter - kernel) / stride + 1;
}

class GraphBuilder {
public:
  /// Claims `name` for a graph input, output or initializer; false if taken.
  bool reserve(const std::string &name) { return values_.insert(name).second; }

  /// A value name from `hint` no other value has.
  std::string fresh(const std::string &hint) {
    std::string name = hint;
    for (int k = 1; values_.count(name); ++k)
      name = fmt::format("{}_{}", hint, k);
    values_.insert(name);
    return name;
  }

  /// Appends a node; its one output is `output`, or a fresh name in the
  /// current scope when empty. Returns the output's name.
  std::string node(const std::string &op, const std::vector<std::string> &inputs,
                   const std::vector<Attr> &attrs = {}, std::string output = {}) {
    if (output.empty())
      output = fresh(fmt::format("{}/{}", scope_, op));
    std::string name = fmt::format("{}/{}", scope_, op);
    for (int k = 1; nodeNames_.count(name); ++k)
      name = fmt::format("{}/{}_{}", scope_, op, k);
    nodeNames_.insert(name);
    ProtoWriter n;
    for (const std::string &in : inputs)
      n.bytes(node_f::Input, in);
    n.bytes(node_f::Output, output);
    n.bytes(node_f::Name, name);
    n.bytes(node_f::OpType, op);
    for (const Attr &a : attrs) {
      ProtoWriter p;
      p.bytes(attr_f::Name, a.name);
      switch (a.kind) {
      case Attr::Int:
        p.integer(attr_f::I, a.i).integer(attr_f::Type, attr_f::TypeInt);
        break;
      case Attr::Ints:
        for (int64_t v : a.ints)
          p.integer(attr_f::Ints, v);
        p.integer(attr_f::Type, attr_f::TypeInts);
        break;
      }
      n.message(node_f::Attribute, p);
    }
    nodes_.message(graph_f::Node, n);
    return output;
  }

  /// A float32 initializer (raw little-endian data); `name` must be reserved.
  void initializer(const std::string &name, const std::vector<int64_t> &dims, const float *data,
                   int64_t count) {
    ProtoWriter t;
    for (int64_t d : dims)
      t.integer(tensor_f::Dims, d);
    t.integer(tensor_f::DataType, tensor_f::Float);
    t.bytes(tensor_f::Name, name);
    std::string raw(static_cast<size_t>(count) * 4, '\0');
    for (int64_t i = 0; i < count; ++i) {
      uint32_t bits;
      std::memcpy(&bits, data + i, 4);
      for (int b = 0; b < 4; ++b)
        raw[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
    t.bytes(tensor_f::RawData, raw);
    initializers_.message(graph_f::Initializer, t);
  }

  /// A float32 scalar constant (an initializer of rank 0), one per value.
  std::string scalar(const std::string &hint, float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    std::string &name = scalars_[bits];
    if (name.empty()) {
      name = fresh(hint);
      initializer(name, {}, &value, 1);
    }
    return name;
  }

  void setScope(std::string scope) { scope_ = std::move(scope); }
  const ProtoWriter &nodes() const { return nodes_; }
  const ProtoWriter &initializers() const { return initializers_; }

private:
  std::set<std::string> values_, nodeNames_;
  std::map<uint32_t, std::string> scalars_;
  std::string scope_ = "locus";
  ProtoWriter nodes_, initializers_;
};

/// ValueInfoProto of a float32 tensor [batch, dims...].
ProtoWriter valueInfo(const std::string &name, const std::vector<int64_t> &dims) {
  ProtoWriter shape;
  ProtoWriter batch;
  batch.bytes(value_f::DimParam, kBatch);
  shape.message(value_f::Dim, batch);
  for (int64_t d : dims) {
    ProtoWriter dim;
    dim.integer(value_f::DimValue, d);
    shape.message(value_f::Dim, dim);
  }
  ProtoWriter tensor;
  tensor.integer(value_f::ElemType, tensor_f::Float).message(value_f::Shape, shape);
  ProtoWriter type;
  type.message(value_f::TensorType, tensor);
  ProtoWriter info;
  info.bytes(value_f::Name, name).message(value_f::Type, type);
  return info;
}

/// The graph of `model`: nodes, initializers, inputs and outputs.
class Exporter {
public:
  Exporter(const ModelDesc &model, const std::vector<std::vector<float>> &params)
      : model_(model), params_(params) {}

  Status build(std::string &bytes);

private:
  Status checkParam(int32_t index, const std::vector<int64_t> &shape, const std::string &where);
  /// The initializer of parameter `index` (added once).
  std::string param(int32_t index);
  /// The conv's bias input: the parameter times `scale` (LayerDesc::biasScale).
  std::string bias(int32_t index, double scale);
  Status conv(const LayerDesc &layer, Map &map, std::string &x, const std::string &where,
              const std::string &out);
  std::string pool(const char *op, const std::array<int64_t, 2> &kernel,
                   const std::array<int64_t, 2> &stride, const std::array<int64_t, 4> &pad,
                   Map &map, const std::string &x, std::vector<Attr> extra, const std::string &out);
  Status layer(const LayerDesc &layer, Map &map, std::string &x, const std::string &where,
               const std::string &out);
  /// layer(), with the map it reads and the one it computes checked against
  /// the descriptor's shapes; `where` names the layer.
  Status checkedLayer(const LayerDesc &layer, Map &map, std::string &x, const std::string &where,
                      const std::string &out);
  /// x - mean and the population variance over C, H, W of each sample.
  std::pair<std::string, std::string> centredAndVariance(const std::string &x);
  /// x over (its per-sample length + eps).
  std::string lengthNormalize(const std::string &x, float eps, const std::string &out);
  /// Block output h pooled for the features, [batch, D]; empty when D = 0.
  Status features(const BlockDesc &block, const Map &map, const std::string &h, std::string &z);

  const ModelDesc &model_;
  const std::vector<std::vector<float>> &params_;
  GraphBuilder g_;
  std::set<int32_t> added_;
  std::map<std::pair<int32_t, double>, std::string> scaledBias_;
};

Status Exporter::checkParam(int32_t index, const std::vector<int64_t> &shape,
                            const std::string &where) {
  if (index < 0 || static_cast<size_t>(index) >= model_.params.size())
    return Status::error(fmt::format("{}: parameter index {} is not one of the model's {}", where,
                                     index, model_.params.size()));
  const ParamDesc &p = model_.params[index];
  if (p.shape != shape)
    return Status::error(fmt::format("{}: parameter '{}' is [{}], the layer needs [{}]", where,
                                     p.name, fmt::join(p.shape, ", "), fmt::join(shape, ", ")));
  if (static_cast<int64_t>(params_[index].size()) != p.count())
    return Status::error(fmt::format("{}: parameter '{}' has {} values, not the {} of [{}]", where,
                                     p.name, params_[index].size(), p.count(),
                                     fmt::join(p.shape, ", ")));
  return Status::success();
}

std::string Exporter::param(int32_t index) {
  const ParamDesc &p = model_.params[index];
  if (added_.insert(index).second)
    g_.initializer(p.name, p.shape, params_[index].data(), p.count());
  return p.name;
}

std::string Exporter::bias(int32_t index, double scale) {
  std::string b = param(index);
  if (scale == 1.0)
    return b;
  std::string &scaled = scaledBias_[{index, scale}];
  if (scaled.empty())
    scaled = g_.node("Mul", {b, g_.scalar("locus_bias_scale", static_cast<float>(scale))}, {},
                     g_.fresh(fmt::format("{}_x{}", b, scale)));
  return scaled;
}

Status Exporter::conv(const LayerDesc &layer, Map &map, std::string &x, const std::string &where,
                      const std::string &out) {
  if (layer.weight < 0 || static_cast<size_t>(layer.weight) >= model_.params.size())
    return Status::error(fmt::format("{}: no convolution weight", where));
  const std::vector<int64_t> &ws = model_.params[layer.weight].shape;
  if (ws.size() != 4)
    return Status::error(fmt::format("{}: the weight '{}' is not [O, C, kh, kw]", where,
                                     model_.params[layer.weight].name));
  const int64_t o = ws[0];
  LOCUS_RETURN_IF_ERROR(
      checkParam(layer.weight, {o, map.c, layer.kernel[0], layer.kernel[1]}, where));
  std::vector<std::string> inputs{x, param(layer.weight)};
  if (layer.bias >= 0) {
    LOCUS_RETURN_IF_ERROR(checkParam(layer.bias, {o}, where));
    inputs.push_back(bias(layer.bias, layer.biasScale));
  }
  const auto &k = layer.kernel, &s = layer.stride;
  const auto &p = layer.pad; // top, left, bottom, right = ONNX's [H begin, W begin, H end, W end]
  x = g_.node("Conv", inputs,
              {intsAttr("kernel_shape", {k[0], k[1]}), intsAttr("strides", {s[0], s[1]}),
               intsAttr("pads", {p[0], p[1], p[2], p[3]}), intsAttr("dilations", {1, 1}),
               intAttr("group", 1)},
              out);
  map = Map{o, windowed(map.h, k[0], s[0], p[0], p[2]), windowed(map.w, k[1], s[1], p[1], p[3])};
  return Status::success();
}

std::string Exporter::pool(const char *op, const std::array<int64_t, 2> &kernel,
                           const std::array<int64_t, 2> &stride, const std::array<int64_t, 4> &pad,
                           Map &map, const std::string &x, std::vector<Attr> extra,
                           const std::string &out) {
  std::vector<Attr> attrs{
      intsAttr("kernel_shape", {kernel[0], kernel[1]}), intsAttr("strides", {stride[0], stride[1]}),
      intsAttr("pads", {pad[0], pad[1], pad[2], pad[3]}), intAttr("ceil_mode", 0)};
  attrs.insert(attrs.end(), extra.begin(), extra.end());
  map.h = windowed(map.h, kernel[0], stride[0], pad[0], pad[2]);
  map.w = windowed(map.w, kernel[1], stride[1], pad[1], pad[3]);
  return g_.node(op, {x}, attrs, out);
}

std::pair<std::string, std::string> Exporter::centredAndVariance(const std::string &x) {
  std::vector<Attr> chw{intsAttr("axes", {1, 2, 3}), intAttr("keepdims", 1)};
  std::string mean = g_.node("ReduceMean", {x}, chw);
  std::string centred = g_.node("Sub", {x, mean});
  std::string var = g_.node("ReduceMean", {g_.node("Mul", {centred, centred})}, chw);
  return {centred, var};
}

std::string Exporter::lengthNormalize(const std::string &x, float eps, const std::string &out) {
  std::string norm =
      g_.node("ReduceL2", {x}, {intsAttr("axes", {1, 2, 3}), intAttr("keepdims", 1)});
  std::string den = g_.node("Add", {norm, g_.scalar("locus_eps", eps)});
  return g_.node("Div", {x, den}, {}, out);
}

Status Exporter::layer(const LayerDesc &layer, Map &map, std::string &x, const std::string &where,
                       const std::string &out) {
  for (int i = 0; i < 2; ++i)
    if (layer.kernel[i] < 1 || layer.stride[i] < 1 || layer.poolKernel[i] < 1 ||
        layer.poolStride[i] < 1)
      return Status::error(fmt::format("{}: a window with a kernel or stride below 1", where));
  for (int64_t p : layer.pad)
    if (p < 0)
      return Status::error(fmt::format("{}: a negative padding", where));
  const std::array<int64_t, 4> noPad{0, 0, 0, 0};
  switch (layer.kind) {
  case LayerKind::Conv2D:
    return conv(layer, map, x, where, out);
  case LayerKind::ConvReluMaxPool2D:
    LOCUS_RETURN_IF_ERROR(conv(layer, map, x, where, {}));
    x = g_.node("Relu", {x});
    x = pool("MaxPool", layer.poolKernel, layer.poolStride, noPad, map, x, {}, out);
    return Status::success();
  case LayerKind::Relu:
    x = g_.node("Relu", {x}, {}, out);
    return Status::success();
  case LayerKind::MaxPool2D:
    x = pool("MaxPool", layer.kernel, layer.stride, layer.pad, map, x, {}, out);
    return Status::success();
  case LayerKind::ReluMaxPool2D:
    x = g_.node("Relu", {x});
    x = pool("MaxPool", layer.kernel, layer.stride, layer.pad, map, x, {}, out);
    return Status::success();
  case LayerKind::AvgPool2D: {
    // The runtime's average pooling (locus_avg_pool_forward) divides every
    // window's sum by kh * kw, padding included.
    const bool padded = layer.pad != noPad;
    x = pool("AveragePool", layer.kernel, layer.stride, layer.pad, map, x,
             {intAttr("count_include_pad", padded ? 1 : 0)}, out);
    return Status::success();
  }
  case LayerKind::Triangle: {
    // relu(x - mean over the channels), per sample and position.
    std::string mean = g_.node("ReduceMean", {x}, {intsAttr("axes", {1}), intAttr("keepdims", 1)});
    std::string centred = g_.node("Sub", {x, mean});
    x = g_.node("Relu", {centred}, {}, out);
    return Status::success();
  }
  case LayerKind::Standardize: {
    // (x - mean) / sqrt(var + eps) over C, H, W of each sample.
    auto [centred, var] = centredAndVariance(x);
    std::string sd = g_.node(
        "Sqrt", {g_.node("Add", {var, g_.scalar("locus_eps", static_cast<float>(layer.eps))})});
    x = g_.node("Div", {centred, sd}, {}, out);
    return Status::success();
  }
  case LayerKind::LengthNormalize:
    x = lengthNormalize(x, static_cast<float>(layer.eps), out);
    return Status::success();
  case LayerKind::ScaledStandardize: {
    // scale * (x - mean) / (std + eps) over C, H, W (population variance).
    auto [centred, var] = centredAndVariance(x);
    std::string den = g_.node(
        "Add", {g_.node("Sqrt", {var}), g_.scalar("locus_eps", static_cast<float>(layer.eps))});
    std::string s = g_.node("Div", {centred, den});
    x = g_.node("Mul", {s, g_.scalar("locus_scale", static_cast<float>(layer.scale))}, {}, out);
    return Status::success();
  }
  }
  return Status::error(
      fmt::format("{}: layer kind {} has no ONNX form", where, static_cast<int>(layer.kind)));
}

Status Exporter::checkedLayer(const LayerDesc &layer, Map &map, std::string &x,
                              const std::string &where, const std::string &out) {
  const std::string at = fmt::format("{} ({})", where, layerName(layer.kind));
  if (mapOf(layer.inShape) != map)
    return Status::error(fmt::format("{}: its input is {} but the map before it is {}", at,
                                     text(mapOf(layer.inShape)), text(map)));
  LOCUS_RETURN_IF_ERROR(this->layer(layer, map, x, at, out));
  if (mapOf(layer.outShape) != map)
    return Status::error(fmt::format("{}: computes {} but the descriptor says {}", at, text(map),
                                     text(mapOf(layer.outShape))));
  return Status::success();
}

Status Exporter::features(const BlockDesc &block, const Map &map, const std::string &h,
                          std::string &z) {
  const int64_t k = block.loss.pool;
  int64_t dim = 0;
  if (k == -1)
    dim = map.c * map.h * map.w;
  else if (k == 0)
    dim = map.c;
  else if (k > 0)
    dim = map.c * (map.h / k) * (map.w / k);
  else
    return Status::error(
        fmt::format("block '{}': loss pooling kernel {} is not -1, 0 or positive", block.name, k));
  if (dim != block.loss.dim)
    return Status::error(fmt::format("block '{}': pooling its {} output with kernel {} gives {} "
                                     "features, the descriptor says {}",
                                     block.name, text(map), k, dim, block.loss.dim));
  z.clear();
  if (dim == 0)
    return Status::success(); // the runtime's features have no column of it either
  std::string pooled = h;
  if (k == 0) {
    pooled = g_.node("GlobalAveragePool", {h});
  } else if (k > 1) {
    Map m = map;
    pooled = pool("AveragePool", {k, k}, {k, k}, {0, 0, 0, 0}, m, h,
                  {intAttr("count_include_pad", 0)}, {});
  }
  z = g_.node("Flatten", {pooled}, {intAttr("axis", 1)});
  return Status::success();
}

Status Exporter::build(std::string &bytes) {
  if (params_.size() != model_.params.size())
    return Status::error(fmt::format("{} parameter arrays for the model's {} parameters",
                                     params_.size(), model_.params.size()));
  if (model_.blocks.empty())
    return Status::error("the model has no blocks");
  // Graph inputs, outputs and parameters keep their names; the graph's own
  // values take fresh ones around them.
  const std::string input = "images", output = "features";
  std::vector<std::string> reserved{input, output};
  for (const BlockDesc &block : model_.blocks)
    reserved.push_back("block_" + block.name);
  std::set<int32_t> used;
  for (const BlockDesc &block : model_.blocks)
    for (const LayerDesc &layer : block.layers)
      if (hasConvWeights(layer.kind))
        for (int32_t p : {layer.weight, layer.bias})
          if (p >= 0 && static_cast<size_t>(p) < model_.params.size() && used.insert(p).second)
            reserved.push_back(model_.params[p].name);
  for (const std::string &name : reserved)
    if (name.empty() || !g_.reserve(name))
      return Status::error(fmt::format("two graph values would be named '{}' (block outputs are "
                                       "block_<name>; parameters keep their names)",
                                       name));

  Map map = mapOf(model_.inputShape);
  const Map in = map;
  if (in.c < 1 || in.h < 1 || in.w < 1)
    return Status::error(fmt::format("the model's input {} is empty", text(in)));
  std::string x = input;
  std::vector<std::string> pooled;
  std::vector<std::pair<std::string, Map>> blockOutputs;
  std::string layout;
  int64_t offset = 0;
  for (size_t b = 0; b < model_.blocks.size(); ++b) {
    const BlockDesc &block = model_.blocks[b];
    g_.setScope(block.name);
    // The block's input treatment (a goodness rule's), as the compiler
    // describes it, then its layers.
    for (size_t l = 0; l < block.inputLayers.size(); ++l)
      LOCUS_RETURN_IF_ERROR(
          checkedLayer(block.inputLayers[l], map, x,
                       fmt::format("block '{}' input layer {}", block.name, l), {}));
    const std::string out = "block_" + block.name;
    if (block.layers.empty())
      x = g_.node("Identity", {x}, {}, out);
    for (size_t l = 0; l < block.layers.size(); ++l)
      LOCUS_RETURN_IF_ERROR(checkedLayer(block.layers[l], map, x,
                                         fmt::format("block '{}' layer {}", block.name, l),
                                         l + 1 == block.layers.size() ? out : std::string()));
    if (mapOf(block.outShape) != map)
      return Status::error(fmt::format("block '{}': its layers give {} but its output is {}",
                                       block.name, text(map), text(mapOf(block.outShape))));
    blockOutputs.emplace_back(out, map);
    std::string z;
    LOCUS_RETURN_IF_ERROR(features(block, map, x, z));
    if (!z.empty())
      pooled.push_back(z);
    JsonWriter entry;
    entry.add("block", block.name)
        .add("output", out)
        .add("offset", offset)
        .add("count", block.loss.dim)
        .add("pool", block.loss.pool);
    layout += (b ? ", " : "") + entry.str();
    offset += block.loss.dim;
  }
  if (offset == 0)
    return Status::error("the model has no features (every block pools to 0 values)");
  g_.setScope("features");
  g_.node("Concat", pooled, {intAttr("axis", 1)}, output);

  // GraphProto: node*, name, initializer*, doc_string, input*, output*
  // (the order the reference serializer writes).
  const std::string doc = fmt::format(
      "The encoder of locus model '{}': features = every block's output pooled with its loss "
      "kernel (average pooling, stride = kernel; 0 = global average, -1 = none), flattened, "
      "concatenated in block order; block_<name> = each block's output.",
      model_.name);
  ProtoWriter name, tail;
  name.bytes(graph_f::Name, model_.name.empty() ? std::string("locus") : model_.name);
  tail.bytes(graph_f::DocString, doc);
  tail.message(graph_f::Input, valueInfo(input, {in.c, in.h, in.w}));
  tail.message(graph_f::Output, valueInfo(output, {offset}));
  for (const auto &[value, m] : blockOutputs)
    tail.message(graph_f::Output, valueInfo(value, {m.c, m.h, m.w}));
  const std::string graph = g_.nodes().str() + name.str() + g_.initializers().str() + tail.str();

  ProtoWriter opset;
  opset.bytes(opset_f::Domain, "").integer(opset_f::Version, kOpset);
  ProtoWriter m;
  m.integer(model_f::IrVersion, kIrVersion)
      .bytes(model_f::ProducerName, "locus")
      .bytes(model_f::DocString, doc)
      .bytes(model_f::Graph, graph) // an embedded message is its bytes
      .message(model_f::OpsetImport, opset);
  auto meta = [&](const std::string &key, const std::string &value) {
    ProtoWriter e;
    e.bytes(entry_f::Key, key).bytes(entry_f::Value, value);
    m.message(model_f::MetadataProps, e);
  };
  meta("locus.model", model_.name);
  meta("locus.rule", model_.blocks.front().loss.rule);
  // Where each block's features are: [{"block", "output", "offset",
  // "count", "pool"}, ...] in block order.
  meta("locus.features", "[" + layout + "]");
  bytes = m.str();
  return Status::success();
}

} // namespace

Status encodeOnnx(const ModelDesc &model, const std::vector<std::vector<float>> &params,
                  std::string &bytes) {
  Exporter exporter(model, params);
  return exporter.build(bytes);
}

Status exportOnnx(const ModelDesc &model, const std::vector<std::vector<float>> &params,
                  const std::string &path) {
  std::string bytes;
  Status built = encodeOnnx(model, params, bytes);
  if (!built.isOk())
    return Status::error(
        fmt::format("{}: cannot export the ONNX model: {}", path, built.message()));
  return writeFileAtomically(path, {bytes});
}

} // namespace locus::rt::train
