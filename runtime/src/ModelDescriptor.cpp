//===- ModelDescriptor.cpp - the model a compiled object describes --------===//
//
// readModel turns the object's typed record (abi/Model.h) into a ModelDesc,
// checking every count, index and enum against its bounds first: a record
// from another locusc, or a damaged one, is refused with the field named.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/ModelDescriptor.h"

#include "locus/runtime/abi/Model.h"

#include <algorithm>

namespace locus::rt {

int64_t ParamDesc::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const char *initName(ParamInit init) {
  switch (init) {
  case ParamInit::KaimingUniform:
    return "kaiming_uniform";
  case ParamInit::FanInUniform:
    return "fan_in_uniform";
  case ParamInit::Zeros:
    return "zeros";
  case ParamInit::Value:
    return "value";
  }
  return "?";
}

const char *layerName(LayerKind kind) {
  switch (kind) {
  case LayerKind::Conv2D:
    return "conv2d";
  case LayerKind::Relu:
    return "relu";
  case LayerKind::MaxPool2D:
    return "max_pool2d";
  case LayerKind::ReluMaxPool2D:
    return "relu_max_pool2d";
  case LayerKind::ConvReluMaxPool2D:
    return "conv_relu_max_pool2d";
  case LayerKind::AvgPool2D:
    return "avg_pool2d";
  case LayerKind::Triangle:
    return "triangle";
  case LayerKind::Standardize:
    return "standardize";
  case LayerKind::LengthNormalize:
    return "length_normalize";
  case LayerKind::ScaledStandardize:
    return "scaled_standardize";
  }
  return "?";
}

namespace {

/// Counts beyond these are not a model locusc writes.
constexpr int64_t kMaxParams = 1 << 20, kMaxBlocks = 1 << 16, kMaxLayers = 1 << 16,
                  kMaxCpuFeatures = 64, kMaxElements = int64_t(1) << 40;

bool inRange(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

template <size_t N> std::array<int64_t, N> array(const int64_t (&a)[N]) {
  std::array<int64_t, N> out;
  std::copy(a, a + N, out.begin());
  return out;
}

/// Parameter `i` of the record, or false with `error` naming what is wrong.
bool readParam(const abi::ParamRecord &r, int64_t i, ParamDesc &p, std::string &error) {
  if (!r.name) {
    error = "parameter " + std::to_string(i) + " has no name";
    return false;
  }
  p.name = r.name;
  auto fail = [&](const std::string &what) {
    error = "parameter '" + p.name + "': " + what;
    return false;
  };
  if (!inRange(r.init, 0, static_cast<int64_t>(ParamInit::Value)))
    return fail("bad initialiser " + std::to_string(r.init));
  p.init = static_cast<ParamInit>(r.init);
  p.fanIn = r.fanIn;
  p.trained = r.trained != 0;
  if (!inRange(r.rank, 1, 4))
    return fail("bad rank " + std::to_string(r.rank));
  p.shape.assign(r.shape, r.shape + r.rank);
  int64_t count = 1;
  for (int64_t d : p.shape) {
    if (!inRange(d, 1, kMaxElements) || count > kMaxElements / d)
      return fail("bad shape");
    count *= d;
  }
  if (p.init == ParamInit::Value) {
    if (!r.values)
      return fail("no initial values");
    p.value.assign(r.values, r.values + count);
  }
  return true;
}

/// Block `l` of the record, or false with `error` naming what is wrong.
bool readBlock(const abi::BlockRecord &r, int64_t l, int64_t params, int64_t blocks,
               BlockDesc &b, std::string &error) {
  if (!r.name) {
    error = "block " + std::to_string(l) + " has no name";
    return false;
  }
  b.name = r.name;
  auto fail = [&](const std::string &what) {
    error = "block '" + b.name + "': " + what;
    return false;
  };
  auto paramOk = [&](int64_t i) { return inRange(i, -1, params - 1); };
  b.outShape = array(r.outShape);
  if (!paramOk(r.projection) || !paramOk(r.lateralProjection))
    return fail("a missing projection");
  b.projection = static_cast<int32_t>(r.projection);
  b.lateralProjection = static_cast<int32_t>(r.lateralProjection);
  if (!inRange(r.layerCount, 0, kMaxLayers) || (r.layerCount && !r.layers))
    return fail("bad layer count");
  if (!inRange(r.inputLayerCount, 0, kMaxLayers) || (r.inputLayerCount && !r.inputLayers))
    return fail("bad input layer count");
  auto readLayer = [&](const abi::LayerRecord &lr, const std::string &which,
                       std::vector<LayerDesc> &layers) {
    if (!inRange(lr.kind, 0, static_cast<int64_t>(LayerKind::ScaledStandardize)))
      return fail(which + " has a bad kind");
    if (!paramOk(lr.weight) || !paramOk(lr.bias))
      return fail(which + " names a missing parameter");
    LayerDesc layer;
    layer.kind = static_cast<LayerKind>(lr.kind);
    layer.weight = static_cast<int32_t>(lr.weight);
    layer.bias = static_cast<int32_t>(lr.bias);
    layer.kernel = array(lr.kernel);
    layer.stride = array(lr.stride);
    layer.pad = array(lr.pad);
    layer.poolKernel = array(lr.poolKernel);
    layer.poolStride = array(lr.poolStride);
    layer.eps = lr.eps;
    layer.inShape = array(lr.inShape);
    layer.outShape = array(lr.outShape);
    layer.scale = lr.scale;
    layer.biasScale = lr.biasScale;
    layers.push_back(layer);
    return true;
  };
  for (int64_t i = 0; i < r.inputLayerCount; ++i)
    if (!readLayer(r.inputLayers[i], "input layer " + std::to_string(i), b.inputLayers))
      return false;
  for (int64_t i = 0; i < r.layerCount; ++i)
    if (!readLayer(r.layers[i], "layer " + std::to_string(i), b.layers))
      return false;
  const abi::LossRecord &lr = r.loss;
  if (!lr.rule || !lr.score || !lr.f || !lr.form || !lr.projection || !lr.context ||
      !lr.negatives || !lr.mode)
    return fail("a loss field without a value");
  if (!inRange(lr.contextBlock, -1, blocks - 1))
    return fail("a missing context block");
  if (lr.dim < 0)
    return fail("a negative loss width");
  LossDesc &loss = b.loss;
  loss.rule = lr.rule;
  loss.score = lr.score;
  loss.f = lr.f;
  loss.form = lr.form;
  loss.projection = lr.projection;
  loss.context = lr.context;
  loss.negatives = lr.negatives;
  loss.mode = lr.mode;
  loss.contextBlock = static_cast<int32_t>(lr.contextBlock);
  loss.pool = lr.pool;
  loss.contextPool = lr.contextPool;
  loss.theta = lr.theta;
  loss.theta2 = lr.theta2;
  loss.lambda = lr.lambda;
  loss.temperature = lr.temperature;
  loss.weight = lr.weight;
  loss.dim = lr.dim;
  loss.contextDim = lr.contextDim;
  return true;
}

} // namespace

bool readModel(const abi::ModelRecord &record, ModelDesc &model, std::string &error) {
  model = ModelDesc();
  auto fail = [&](const std::string &what) {
    error = "the compiled model record: " + what;
    return false;
  };
  if (record.version != abi::kModelRecordVersion)
    return fail("version " + std::to_string(record.version) + ", this runtime reads version " +
                std::to_string(abi::kModelRecordVersion) + " (relink the model with this locusc)");
  if (!record.name || !record.target || !record.cpu)
    return fail("a missing name, target or cpu");
  if (!inRange(record.paramCount, 0, kMaxParams) || (record.paramCount && !record.params))
    return fail("bad parameter count " + std::to_string(record.paramCount));
  if (!inRange(record.blockCount, 1, kMaxBlocks) || !record.blocks)
    return fail("bad block count " + std::to_string(record.blockCount));
  if (!inRange(record.cpuFeatureCount, 0, kMaxCpuFeatures) ||
      (record.cpuFeatureCount && !record.cpuFeatures))
    return fail("bad cpu feature count");
  model.name = record.name;
  model.target = record.target;
  model.cpu = record.cpu;
  for (int64_t i = 0; i < record.cpuFeatureCount; ++i) {
    if (!record.cpuFeatures[i])
      return fail("a missing cpu feature");
    model.cpuFeatures.push_back(record.cpuFeatures[i]);
  }
  model.inputShape = array(record.inputShape);
  for (int64_t d : model.inputShape)
    if (d < 1)
      return fail("a bad input shape");
  std::string what;
  model.params.resize(static_cast<size_t>(record.paramCount));
  for (int64_t i = 0; i < record.paramCount; ++i)
    if (!readParam(record.params[i], i, model.params[i], what))
      return fail(what);
  model.blocks.resize(static_cast<size_t>(record.blockCount));
  for (int64_t l = 0; l < record.blockCount; ++l)
    if (!readBlock(record.blocks[l], l, record.paramCount, record.blockCount, model.blocks[l],
                   what))
      return fail(what);
  return true;
}

} // namespace locus::rt
