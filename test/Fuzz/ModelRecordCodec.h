//===- ModelRecordCodec.h - model records to bytes and back -----*- C++ -*-===//
//
// A compiled model's record (abi/Model.h) is typed data with pointers, not
// bytes, so the descriptor target builds one from its input: a flat
// little-endian encoding that MakeSeeds.cpp writes from a real record (the
// seed) and decode() turns back into records that readModel reads. Input
// that runs out reads as zeros.
//
//   int64: 8 bytes; double: 8 bytes; string: a byte n (0: null pointer,
//   else n - 1 characters follow); array: int64 count, a byte (0: null
//   pointer), then the elements that are materialised (see Decoder::count).
//
// The records point into the Decoder, which owns them; the step program
// and kernel tables are null (readModel does not read them).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_FUZZ_MODELRECORDCODEC_H
#define LOCUS_TEST_FUZZ_MODELRECORDCODEC_H

#include "locus/runtime/abi/Model.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace locus::fuzz {

/// Encodes a record as decode() reads it (only what readModel reads).
class Encoder {
public:
  std::string bytes;

  void i64(int64_t v) { bytes.append(reinterpret_cast<const char *>(&v), 8); }
  void f64(double v) { bytes.append(reinterpret_cast<const char *>(&v), 8); }
  void str(const char *s) {
    if (!s) {
      bytes.push_back('\0');
      return;
    }
    size_t n = std::min<size_t>(std::strlen(s), 254);
    bytes.push_back(static_cast<char>(n + 1));
    bytes.append(s, n);
  }
  template <size_t N> void i64s(const int64_t (&a)[N]) {
    for (int64_t v : a)
      i64(v);
  }
  void param(const abi::ParamRecord &p) {
    str(p.name);
    i64(p.init);
    i64(p.trained);
    i64(p.fanIn);
    i64(p.rank);
    i64s(p.shape);
    // Values as Decoder::param materialises them: up to 4096 elements.
    int64_t n = 1;
    for (int64_t i = 0; i < p.rank && i < 4; ++i)
      n *= p.shape[i];
    const bool values = p.values && n <= 4096;
    bytes.push_back(values ? 1 : 0);
    if (values)
      bytes.append(reinterpret_cast<const char *>(p.values), 4 * n);
  }
  void layer(const abi::LayerRecord &l) {
    i64(l.kind);
    i64(l.weight);
    i64(l.bias);
    i64s(l.kernel);
    i64s(l.stride);
    i64s(l.pad);
    i64s(l.poolKernel);
    i64s(l.poolStride);
    f64(l.eps);
    i64s(l.inShape);
    i64s(l.outShape);
    f64(l.scale);
    f64(l.biasScale);
  }
  void loss(const abi::LossRecord &l) {
    for (const char *s : {l.rule, l.score, l.f, l.form, l.projection, l.context, l.negatives, l.mode})
      str(s);
    i64(l.contextBlock);
    i64(l.pool);
    i64(l.contextPool);
    for (double d : {l.theta, l.theta2, l.lambda, l.temperature, l.weight})
      f64(d);
    i64(l.dim);
    i64(l.contextDim);
  }
  void block(const abi::BlockRecord &b) {
    str(b.name);
    i64s(b.outShape);
    i64(b.projection);
    i64(b.lateralProjection);
    i64(b.layerCount);
    bytes.push_back(b.layers ? 1 : 0);
    for (int64_t i = 0; b.layers && i < b.layerCount; ++i)
      layer(b.layers[i]);
    i64(b.inputLayerCount);
    bytes.push_back(b.inputLayers ? 1 : 0);
    for (int64_t i = 0; b.inputLayers && i < b.inputLayerCount; ++i)
      layer(b.inputLayers[i]);
    loss(b.loss);
  }
  void model(const abi::ModelRecord &m) {
    i64(m.version);
    str(m.name);
    str(m.target);
    str(m.cpu);
    i64(m.cpuFeatureCount);
    bytes.push_back(m.cpuFeatures ? 1 : 0);
    for (int64_t i = 0; m.cpuFeatures && i < m.cpuFeatureCount; ++i)
      str(m.cpuFeatures[i]);
    i64s(m.inputShape);
    i64(m.paramCount);
    bytes.push_back(m.params ? 1 : 0);
    for (int64_t i = 0; m.params && i < m.paramCount; ++i)
      param(m.params[i]);
    i64(m.blockCount);
    bytes.push_back(m.blocks ? 1 : 0);
    for (int64_t i = 0; m.blocks && i < m.blockCount; ++i)
      block(m.blocks[i]);
  }
};

/// Builds a record from bytes; owns everything the record points to.
class Decoder {
public:
  /// Arrays of at most this many elements are materialised from the input.
  static constexpr int64_t kMaxElements = 64;
  /// readModel's limits (ModelDescriptor.cpp): counts in [0, limit] may be
  /// read in full, so longer ones are brought within kMaxElements; counts
  /// outside them must be refused before a single element is read.
  static constexpr int64_t kParamLimit = 1 << 20, kBlockLimit = 1 << 16,
                           kLayerLimit = 1 << 16, kFeatureLimit = 64;

  Decoder(const uint8_t *data, size_t size) : p(data), end(data + size) {}

  const abi::ModelRecord &model() {
    auto &m = make<abi::ModelRecord>();
    m.version = i64();
    m.name = str();
    m.target = str();
    m.cpu = str();
    m.cpuFeatureCount = count(kFeatureLimit);
    const char **features = array<const char *>(m.cpuFeatureCount);
    for (int64_t i = 0; features && i < materialised(m.cpuFeatureCount); ++i)
      features[i] = str();
    m.cpuFeatures = features;
    for (int64_t &d : m.inputShape)
      d = i64();
    m.paramCount = count(kParamLimit);
    abi::ParamRecord *params = array<abi::ParamRecord>(m.paramCount);
    for (int64_t i = 0; params && i < materialised(m.paramCount); ++i)
      param(params[i]);
    m.params = params;
    m.blockCount = count(kBlockLimit);
    abi::BlockRecord *blocks = array<abi::BlockRecord>(m.blockCount);
    for (int64_t i = 0; blocks && i < materialised(m.blockCount); ++i)
      block(blocks[i]);
    m.blocks = blocks;
    return m;
  }

private:
  const uint8_t *p, *end;
  std::deque<std::string> strings;
  std::vector<std::shared_ptr<void>> owned;

  uint8_t byte() { return p < end ? *p++ : 0; }
  int64_t i64() {
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b)
      v |= uint64_t(byte()) << (8 * b);
    return static_cast<int64_t>(v);
  }
  double f64() {
    uint64_t bits = static_cast<uint64_t>(i64());
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  const char *str() {
    uint8_t n = byte();
    if (n == 0)
      return nullptr;
    std::string s;
    for (int i = 0; i < n - 1; ++i)
      s.push_back(static_cast<char>(byte()));
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
  /// A count from the input: counts readModel may accept are brought within
  /// kMaxElements (so every element it reads exists); the others are kept.
  static int64_t fit(int64_t v, int64_t limit) {
    if (v >= 0 && v <= limit && v > kMaxElements)
      return v % (kMaxElements + 1);
    return v;
  }
  int64_t count(int64_t limit) { return fit(i64(), limit); }
  /// Elements that exist behind a pointer for `count`: all of them, or one
  /// for a count readModel must refuse (so reading any is a finding).
  static int64_t materialised(int64_t count) {
    return count >= 0 && count <= kMaxElements ? count : 1;
  }
  template <typename T> T &make() {
    auto object = std::make_shared<T>();
    std::memset(static_cast<void *>(object.get()), 0, sizeof(T));
    owned.push_back(object);
    return *object;
  }
  /// Null where the input says so; else materialised(count) zeroed elements.
  template <typename T> T *array(int64_t count) {
    if (byte() == 0)
      return nullptr;
    size_t n = static_cast<size_t>(std::max<int64_t>(materialised(count), 1));
    std::shared_ptr<T> a(new T[n], std::default_delete<T[]>());
    std::memset(static_cast<void *>(a.get()), 0, n * sizeof(T));
    owned.push_back(a);
    return a.get();
  }
  void param(abi::ParamRecord &r) {
    r.name = str();
    r.init = i64();
    r.trained = i64();
    r.fanIn = i64();
    r.rank = i64();
    for (int64_t &d : r.shape)
      d = i64();
    // The values exist where readModel may read them: a shape it accepts
    // of at most 4096 elements (a larger one gets none).
    int64_t elements = 1;
    bool accepted = r.rank >= 1 && r.rank <= 4;
    for (int64_t i = 0; accepted && i < r.rank; ++i) {
      int64_t d = r.shape[i];
      accepted = d >= 1 && d <= (int64_t(1) << 40) && elements <= (int64_t(1) << 40) / d;
      if (accepted)
        elements *= d;
    }
    if (byte() == 0)
      return;
    if (accepted && elements > 4096)
      return;
    int64_t n = accepted ? elements : 1;
    std::shared_ptr<float> values(new float[n], std::default_delete<float[]>());
    for (int64_t i = 0; i < n; ++i) {
      uint32_t bits = 0;
      for (int b = 0; b < 4; ++b)
        bits |= uint32_t(byte()) << (8 * b);
      std::memcpy(values.get() + i, &bits, 4);
    }
    owned.push_back(values);
    r.values = values.get();
  }
  void layer(abi::LayerRecord &l) {
    l.kind = i64();
    l.weight = i64();
    l.bias = i64();
    for (int64_t &v : l.kernel)
      v = i64();
    for (int64_t &v : l.stride)
      v = i64();
    for (int64_t &v : l.pad)
      v = i64();
    for (int64_t &v : l.poolKernel)
      v = i64();
    for (int64_t &v : l.poolStride)
      v = i64();
    l.eps = f64();
    for (int64_t &v : l.inShape)
      v = i64();
    for (int64_t &v : l.outShape)
      v = i64();
    l.scale = f64();
    l.biasScale = f64();
  }
  void loss(abi::LossRecord &l) {
    for (const char **s : {&l.rule, &l.score, &l.f, &l.form, &l.projection, &l.context,
                           &l.negatives, &l.mode})
      *s = str();
    l.contextBlock = i64();
    l.pool = i64();
    l.contextPool = i64();
    for (double *d : {&l.theta, &l.theta2, &l.lambda, &l.temperature, &l.weight})
      *d = f64();
    l.dim = i64();
    l.contextDim = i64();
  }
  void block(abi::BlockRecord &b) {
    b.name = str();
    for (int64_t &d : b.outShape)
      d = i64();
    b.projection = i64();
    b.lateralProjection = i64();
    b.layerCount = count(kLayerLimit);
    abi::LayerRecord *layers = array<abi::LayerRecord>(b.layerCount);
    for (int64_t i = 0; layers && i < materialised(b.layerCount); ++i)
      layer(layers[i]);
    b.layers = layers;
    b.inputLayerCount = count(kLayerLimit);
    abi::LayerRecord *inputLayers = array<abi::LayerRecord>(b.inputLayerCount);
    for (int64_t i = 0; inputLayers && i < materialised(b.inputLayerCount); ++i)
      layer(inputLayers[i]);
    b.inputLayers = inputLayers;
    loss(b.loss);
  }
};

} // namespace locus::fuzz

#endif
