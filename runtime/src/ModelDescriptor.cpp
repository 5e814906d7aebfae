//===- ModelDescriptor.cpp - the descriptor's byte format -----------------===//
//
// Text records keep the format inspectable (`strings` on a training binary
// shows the network) and easy to version; only parameter values are binary.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/ModelDescriptor.h"

#include <cstring>
#include <sstream>

namespace locus::rt {

int64_t ParamDesc::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {
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
  }
  return "?";
}

template <size_t N> void put(std::ostream &os, const std::array<int64_t, N> &a) {
  for (int64_t v : a)
    os << ' ' << v;
}
} // namespace

std::string serialize(const ModelDesc &model) {
  std::ostringstream os;
  os.precision(17);
  os << "locus-model " << model.version << '\n';
  os << "name " << model.name << '\n';
  os << "target " << model.target << '\n';
  os << "cpu " << model.cpu << ' ' << model.cpuFeatures.size();
  for (const std::string &f : model.cpuFeatures)
    os << ' ' << f;
  os << '\n';
  os << "input";
  put(os, model.inputShape);
  os << '\n';
  int64_t offset = 0;
  for (const ParamDesc &p : model.params) {
    os << "param " << p.name << ' ' << initName(p.init) << ' ' << p.fanIn << ' '
       << (p.trained ? 1 : 0) << ' ' << p.shape.size();
    for (int64_t d : p.shape)
      os << ' ' << d;
    if (p.init == ParamInit::Value) {
      os << ' ' << offset;
      offset += p.count();
    } else {
      os << " -1";
    }
    os << '\n';
  }
  for (const BlockDesc &b : model.blocks) {
    os << "block " << b.name;
    put(os, b.outShape);
    os << ' ' << b.projection << ' ' << b.lateralProjection << '\n';
    for (const LayerDesc &l : b.layers) {
      os << "layer " << layerName(l.kind) << ' ' << l.weight << ' ' << l.bias;
      put(os, l.kernel);
      put(os, l.stride);
      put(os, l.pad);
      put(os, l.poolKernel);
      put(os, l.poolStride);
      os << ' ' << l.eps;
      put(os, l.inShape);
      put(os, l.outShape);
      os << '\n';
    }
    const LossDesc &s = b.loss;
    os << "loss " << s.rule << ' ' << s.score << ' ' << s.f << ' ' << s.form << ' '
       << s.projection << ' ' << s.context << ' ' << s.negatives << ' ' << s.mode << ' '
       << s.contextBlock << ' ' << s.pool << ' ' << s.contextPool << ' ' << s.theta
       << ' ' << s.theta2 << ' ' << s.lambda << ' ' << s.temperature << ' ' << s.weight
       << ' ' << s.dim << ' ' << s.contextDim << '\n';
  }
  os << "payload " << offset << '\n';
  std::string blob = os.str();
  for (const ParamDesc &p : model.params)
    if (p.init == ParamInit::Value)
      blob.append(reinterpret_cast<const char *>(p.value.data()),
                  p.value.size() * sizeof(float));
  return blob;
}

namespace {
struct Reader {
  std::istringstream line;
  template <typename T> bool get(T &v) { return static_cast<bool>(line >> v); }
  template <size_t N> bool get(std::array<int64_t, N> &a) {
    for (int64_t &v : a)
      if (!get(v))
        return false;
    return true;
  }
};

bool parseInit(const std::string &s, ParamInit &init) {
  for (ParamInit i : {ParamInit::KaimingUniform, ParamInit::FanInUniform, ParamInit::Zeros,
                      ParamInit::Value})
    if (s == initName(i)) {
      init = i;
      return true;
    }
  return false;
}

bool parseLayer(const std::string &s, LayerKind &kind) {
  for (LayerKind k : {LayerKind::Conv2D, LayerKind::Relu, LayerKind::MaxPool2D,
                      LayerKind::ReluMaxPool2D, LayerKind::ConvReluMaxPool2D, LayerKind::AvgPool2D, LayerKind::Triangle, LayerKind::Standardize,
                      LayerKind::LengthNormalize})
    if (s == layerName(k)) {
      kind = k;
      return true;
    }
  return false;
}
} // namespace

bool parse(std::string_view blob, ModelDesc &model, std::string &error) {
  model = ModelDesc();
  std::vector<int64_t> valueOffsets;
  size_t pos = 0;
  int lineNo = 0;
  auto fail = [&](const std::string &what) {
    error = "model descriptor line " + std::to_string(lineNo) + ": " + what;
    return false;
  };
  while (pos < blob.size()) {
    size_t end = blob.find('\n', pos);
    if (end == std::string_view::npos)
      return fail("unterminated header");
    ++lineNo;
    Reader r{std::istringstream(std::string(blob.substr(pos, end - pos)))};
    pos = end + 1;
    std::string key;
    r.get(key);
    if (lineNo == 1) {
      if (key != "locus-model" || !r.get(model.version))
        return fail("not a locus model descriptor");
      if (model.version != 5)
        return fail("unsupported descriptor version " + std::to_string(model.version) +
                    " (this runtime reads version 5: recompile the model with locusc)");
      continue;
    }
    if (key == "name") {
      if (!r.get(model.name))
        return fail("bad name");
    } else if (key == "target") {
      if (!r.get(model.target))
        return fail("bad target");
    } else if (key == "cpu") {
      size_t count = 0;
      if (!r.get(model.cpu) || !r.get(count) || count > 64)
        return fail("bad cpu record");
      model.cpuFeatures.resize(count);
      for (std::string &f : model.cpuFeatures)
        if (!r.get(f))
          return fail("bad cpu record");
    } else if (key == "input") {
      if (!r.get(model.inputShape))
        return fail("bad input shape");
    } else if (key == "param") {
      ParamDesc p;
      std::string init;
      size_t rank = 0;
      int64_t offset = -1;
      int trained = 0;
      if (!r.get(p.name) || !r.get(init) || !parseInit(init, p.init) || !r.get(p.fanIn) ||
          !r.get(trained) || !r.get(rank))
        return fail("bad param record");
      p.shape.resize(rank);
      for (int64_t &d : p.shape)
        if (!r.get(d) || d < 1)
          return fail("bad shape of param '" + p.name + "'");
      if (!r.get(offset))
        return fail("bad param record");
      p.trained = trained != 0;
      valueOffsets.push_back(offset);
      model.params.push_back(std::move(p));
    } else if (key == "block") {
      BlockDesc b;
      if (!r.get(b.name) || !r.get(b.outShape) || !r.get(b.projection) ||
          !r.get(b.lateralProjection))
        return fail("bad block record");
      model.blocks.push_back(std::move(b));
    } else if (key == "layer" || key == "loss") {
      if (model.blocks.empty())
        return fail(key + " before any block");
      BlockDesc &b = model.blocks.back();
      if (key == "layer") {
        LayerDesc l;
        std::string kind;
        if (!r.get(kind) || !parseLayer(kind, l.kind) || !r.get(l.weight) ||
            !r.get(l.bias) || !r.get(l.kernel) || !r.get(l.stride) || !r.get(l.pad) ||
            !r.get(l.poolKernel) || !r.get(l.poolStride) || !r.get(l.eps) || !r.get(l.inShape) || !r.get(l.outShape))
          return fail("bad layer record");
        b.layers.push_back(l);
      } else if (key == "loss") {
        LossDesc &s = b.loss;
        if (!r.get(s.rule) || !r.get(s.score) || !r.get(s.f) || !r.get(s.form) ||
            !r.get(s.projection) || !r.get(s.context) || !r.get(s.negatives) ||
            !r.get(s.mode) || !r.get(s.contextBlock) || !r.get(s.pool) ||
            !r.get(s.contextPool) || !r.get(s.theta) || !r.get(s.theta2) ||
            !r.get(s.lambda) || !r.get(s.temperature) || !r.get(s.weight) ||
            !r.get(s.dim) || !r.get(s.contextDim))
          return fail("bad loss record");
      }
    } else if (key == "payload") {
      int64_t floats = 0;
      if (!r.get(floats) || floats < 0)
        return fail("bad payload record");
      if (blob.size() - pos != static_cast<size_t>(floats) * sizeof(float))
        return fail("payload holds " + std::to_string(blob.size() - pos) +
                    " bytes, expected " + std::to_string(floats * sizeof(float)));
      const char *data = blob.data() + pos;
      for (size_t i = 0; i < model.params.size(); ++i) {
        ParamDesc &p = model.params[i];
        if (p.init != ParamInit::Value)
          continue;
        int64_t offset = valueOffsets[i];
        if (offset < 0 || offset + p.count() > floats)
          return fail("value of param '" + p.name + "' lies outside the payload");
        p.value.resize(p.count());
        std::memcpy(p.value.data(), data + offset * sizeof(float), p.count() * sizeof(float));
      }
      // Cross-references must point at existing entries.
      auto paramOk = [&](int32_t i) {
        return i >= -1 && i < static_cast<int32_t>(model.params.size());
      };
      for (const BlockDesc &b : model.blocks) {
        if (!paramOk(b.projection) || !paramOk(b.lateralProjection))
          return fail("block '" + b.name + "' names a missing projection");
        if (b.loss.contextBlock < -1 ||
            b.loss.contextBlock >= static_cast<int32_t>(model.blocks.size()))
          return fail("block '" + b.name + "' names a missing context block");
        for (const LayerDesc &l : b.layers)
          if (!paramOk(l.weight) || !paramOk(l.bias))
            return fail("a layer of block '" + b.name + "' names a missing parameter");
      }
      return true;
    } else {
      return fail("unknown record '" + key + "'");
    }
  }
  return fail("no payload record");
}

} // namespace locus::rt
