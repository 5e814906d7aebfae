//===- PrintDescriptor.cpp - the model as readable text -------------------===//
//
// `locusc --emit=descriptor`: the model the object's record describes, one
// record a line, for people and the lit tests (the runtime reads the typed
// record, never this text).
//
//===----------------------------------------------------------------------===//
#include "locus/Target/ModelDescriptor.h"

#include "locus/runtime/abi/Model.h"

#include "llvm/Support/Format.h"

namespace {
template <size_t N> void put(llvm::raw_ostream &os, const std::array<int64_t, N> &a) {
  for (int64_t v : a)
    os << ' ' << v;
}

/// Doubles as the shortest text that reads back to the same value.
std::string number(double v) {
  std::string s;
  llvm::raw_string_ostream(s) << llvm::format("%.17g", v);
  return s;
}
} // namespace

void locus::printDescriptor(const rt::ModelDesc &model, llvm::raw_ostream &os) {
  os << "locus-model " << abi::kModelRecordVersion << '\n';
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
  for (const rt::ParamDesc &p : model.params) {
    os << "param " << p.name << ' ' << rt::initName(p.init) << ' ' << p.fanIn << ' '
       << (p.trained ? 1 : 0) << ' ' << p.shape.size();
    for (int64_t d : p.shape)
      os << ' ' << d;
    if (p.init == rt::ParamInit::Value) {
      os << ' ' << offset;
      offset += p.count();
    } else {
      os << " -1";
    }
    os << '\n';
  }
  for (const rt::BlockDesc &b : model.blocks) {
    os << "block " << b.name;
    put(os, b.outShape);
    os << ' ' << b.projection << ' ' << b.lateralProjection << '\n';
    // Input layers (a goodness rule's) carry their factor; a layer's bias
    // factor is printed where it is not 1.
    auto layer = [&](const char *what, const rt::LayerDesc &l) {
      os << what << ' ' << rt::layerName(l.kind) << ' ' << l.weight << ' ' << l.bias;
      put(os, l.kernel);
      put(os, l.stride);
      put(os, l.pad);
      put(os, l.poolKernel);
      put(os, l.poolStride);
      os << ' ' << number(l.eps);
      put(os, l.inShape);
      put(os, l.outShape);
      if (l.kind == rt::LayerKind::ScaledStandardize)
        os << " scale " << number(l.scale);
      if (l.biasScale != 1.0)
        os << " bias_scale " << number(l.biasScale);
      os << '\n';
    };
    for (const rt::LayerDesc &l : b.inputLayers)
      layer("input_layer", l);
    for (const rt::LayerDesc &l : b.layers)
      layer("layer", l);
    const rt::LossDesc &s = b.loss;
    os << "loss " << s.rule << ' ' << s.score << ' ' << s.f << ' ' << s.form << ' '
       << s.projection << ' ' << s.context << ' ' << s.negatives << ' ' << s.mode << ' '
       << s.contextBlock << ' ' << s.pool << ' ' << s.contextPool << ' ' << number(s.theta)
       << ' ' << number(s.theta2) << ' ' << number(s.lambda) << ' ' << number(s.temperature)
       << ' ' << number(s.weight) << ' ' << s.dim << ' ' << s.contextDim << '\n';
  }
  os << "initial values " << offset << '\n';
}
