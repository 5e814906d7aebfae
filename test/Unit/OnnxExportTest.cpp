//===- OnnxExportTest.cpp - the encoder as a standard ONNX model ----------===//
//
// exportOnnx (OnnxExport.h) read back with a small protobuf decoder written
// here from onnx.proto (independent of ProtoWriter.h): the ModelProto's
// structure (IR version, opset, standard ops only, inputs, outputs,
// initializers bit for bit), then the graph run by a float64 interpreter of
// the few ONNX ops it uses, against Engine::features of the compiled test
// models (every layer kind the step program runs, both goodness rules).
// Standardize and LengthNormalize, which no compiled model has yet, are
// checked by what they guarantee. Also the errors, which name the file and
// leave nothing behind.
//
// The end-to-end check with onnx.checker and onnxruntime is
// test/Target/Inputs/onnx_roundtrip.py.
//
//===----------------------------------------------------------------------===//
#include "TestModels.h"

#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/OnnxExport.h"
#include "locus/runtime/train/Random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace locus;
using namespace locus::rt;
using namespace locus::rt::train;
namespace fs = std::filesystem;

//===----------------------------------------------------------------------===//
// A protobuf decoder of the ONNX fields the exporter writes
//===----------------------------------------------------------------------===//

struct Field {
  uint32_t number = 0, wire = 0;
  uint64_t value = 0; // varint, fixed32 or fixed64
  std::string bytes;  // length-delimited
};

bool readVarint(std::string_view in, size_t &at, uint64_t &v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at >= in.size())
      return false;
    uint8_t byte = static_cast<uint8_t>(in[at++]);
    v |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80))
      return true;
  }
  return false;
}

/// The fields of one message, in order; false if the bytes are not one.
bool parseMessage(std::string_view in, std::vector<Field> &out) {
  out.clear();
  size_t at = 0;
  while (at < in.size()) {
    uint64_t tag;
    if (!readVarint(in, at, tag) || tag >> 3 == 0)
      return false;
    Field f;
    f.number = static_cast<uint32_t>(tag >> 3);
    f.wire = static_cast<uint32_t>(tag & 7);
    if (f.wire == 0) {
      if (!readVarint(in, at, f.value))
        return false;
    } else if (f.wire == 1 || f.wire == 5) {
      size_t n = f.wire == 1 ? 8 : 4;
      if (at + n > in.size())
        return false;
      for (size_t b = 0; b < n; ++b)
        f.value |= uint64_t(static_cast<uint8_t>(in[at + b])) << (8 * b);
      at += n;
    } else if (f.wire == 2) {
      uint64_t n;
      if (!readVarint(in, at, n) || n > in.size() - at)
        return false;
      f.bytes = std::string(in.substr(at, n));
      at += n;
    } else {
      return false;
    }
    out.push_back(std::move(f));
  }
  return true;
}

/// A repeated int64 field, packed or not.
void appendInts(const Field &f, std::vector<int64_t> &out) {
  if (f.wire == 0) {
    out.push_back(static_cast<int64_t>(f.value));
    return;
  }
  size_t at = 0;
  uint64_t v;
  while (at < f.bytes.size() && readVarint(f.bytes, at, v))
    out.push_back(static_cast<int64_t>(v));
}

struct Attribute {
  std::string name;
  int64_t type = 0, i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
struct Node {
  std::vector<std::string> inputs, outputs;
  std::string name, op, domain;
  std::vector<Attribute> attrs;
  const Attribute *attr(const std::string &n) const {
    for (const Attribute &a : attrs)
      if (a.name == n)
        return &a;
    return nullptr;
  }
  int64_t integer(const std::string &n, int64_t otherwise) const {
    const Attribute *a = attr(n);
    return a ? a->i : otherwise;
  }
  std::vector<int64_t> ints(const std::string &n) const {
    const Attribute *a = attr(n);
    return a ? a->ints : std::vector<int64_t>{};
  }
};
struct Initializer {
  std::string name, raw;
  std::vector<int64_t> dims;
  int64_t type = 0;
};
struct ValueInfo {
  std::string name;
  int64_t elemType = 0;
  std::vector<std::string> dims; // a dim_value's digits or a dim_param
};
struct OnnxModel {
  int64_t irVersion = 0;
  std::vector<std::pair<std::string, int64_t>> opsets;
  std::string producer, graphName;
  std::map<std::string, std::string> metadata;
  std::vector<Node> nodes;
  std::vector<Initializer> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

bool decodeValueInfo(const std::string &bytes, ValueInfo &v) {
  std::vector<Field> fields, type, tensor, shape, dim;
  if (!parseMessage(bytes, fields))
    return false;
  for (const Field &f : fields) {
    if (f.number == 1)
      v.name = f.bytes;
    if (f.number != 2 || !parseMessage(f.bytes, type))
      continue;
    for (const Field &t : type) {
      if (t.number != 1 || !parseMessage(t.bytes, tensor))
        continue;
      for (const Field &e : tensor) {
        if (e.number == 1)
          v.elemType = static_cast<int64_t>(e.value);
        if (e.number != 2 || !parseMessage(e.bytes, shape))
          continue;
        for (const Field &d : shape) {
          if (d.number != 1 || !parseMessage(d.bytes, dim) || dim.size() != 1)
            return false;
          v.dims.push_back(dim[0].number == 1 ? std::to_string(dim[0].value) : dim[0].bytes);
        }
      }
    }
  }
  return true;
}

bool decodeNode(const std::string &bytes, Node &n) {
  std::vector<Field> fields, attr;
  if (!parseMessage(bytes, fields))
    return false;
  for (const Field &f : fields) {
    switch (f.number) {
    case 1:
      n.inputs.push_back(f.bytes);
      break;
    case 2:
      n.outputs.push_back(f.bytes);
      break;
    case 3:
      n.name = f.bytes;
      break;
    case 4:
      n.op = f.bytes;
      break;
    case 7:
      n.domain = f.bytes;
      break;
    case 5: {
      if (!parseMessage(f.bytes, attr))
        return false;
      Attribute a;
      for (const Field &g : attr) {
        if (g.number == 1)
          a.name = g.bytes;
        else if (g.number == 20)
          a.type = static_cast<int64_t>(g.value);
        else if (g.number == 3)
          a.i = static_cast<int64_t>(g.value);
        else if (g.number == 2) {
          uint32_t bits = static_cast<uint32_t>(g.value);
          std::memcpy(&a.f, &bits, 4);
        } else if (g.number == 8)
          appendInts(g, a.ints);
      }
      n.attrs.push_back(a);
      break;
    }
    default:
      break;
    }
  }
  return true;
}

/// ModelProto -> OnnxModel; false if any of it is malformed.
bool decodeModel(const std::string &bytes, OnnxModel &m) {
  std::vector<Field> fields, sub, graph;
  if (!parseMessage(bytes, fields))
    return false;
  for (const Field &f : fields) {
    if (f.number == 1)
      m.irVersion = static_cast<int64_t>(f.value);
    else if (f.number == 2)
      m.producer = f.bytes;
    else if (f.number == 8 || f.number == 14) {
      if (!parseMessage(f.bytes, sub))
        return false;
      // OperatorSetIdProto {domain = 1, version = 2} or
      // StringStringEntryProto {key = 1, value = 2}.
      std::string key, value;
      int64_t version = 0;
      for (const Field &s : sub) {
        if (s.number == 1)
          key = s.bytes;
        else if (s.number == 2 && s.wire == 0)
          version = static_cast<int64_t>(s.value);
        else if (s.number == 2)
          value = s.bytes;
      }
      if (f.number == 8)
        m.opsets.emplace_back(key, version);
      else
        m.metadata[key] = value;
    } else if (f.number == 7 && !parseMessage(f.bytes, graph)) {
      return false;
    }
  }
  for (const Field &f : graph) {
    if (f.number == 1) {
      m.nodes.emplace_back();
      if (!decodeNode(f.bytes, m.nodes.back()))
        return false;
    } else if (f.number == 2) {
      m.graphName = f.bytes;
    } else if (f.number == 5) {
      if (!parseMessage(f.bytes, sub))
        return false;
      Initializer t;
      for (const Field &s : sub) {
        if (s.number == 1)
          appendInts(s, t.dims);
        else if (s.number == 2)
          t.type = static_cast<int64_t>(s.value);
        else if (s.number == 8)
          t.name = s.bytes;
        else if (s.number == 9)
          t.raw = s.bytes;
      }
      m.initializers.push_back(t);
    } else if (f.number == 11 || f.number == 12) {
      ValueInfo v;
      if (!decodeValueInfo(f.bytes, v))
        return false;
      (f.number == 11 ? m.inputs : m.outputs).push_back(v);
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// A float64 interpreter of the ops the exporter emits (ONNX semantics)
//===----------------------------------------------------------------------===//

struct Value {
  std::vector<int64_t> dims;
  std::vector<double> v;
  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    return n;
  }
};

Value elementwise(const Value &a, const Value &b, double (*op)(double, double)) {
  // numpy broadcasting, right-aligned to rank 4.
  auto pad = [](std::vector<int64_t> d) {
    d.insert(d.begin(), 4 - d.size(), 1);
    return d;
  };
  std::vector<int64_t> da = pad(a.dims), db = pad(b.dims), dout(4);
  for (int i = 0; i < 4; ++i)
    dout[i] = std::max(da[i], db[i]);
  Value out;
  out.dims = std::vector<int64_t>(dout.end() - std::max(a.dims.size(), b.dims.size()), dout.end());
  out.v.resize(dout[0] * dout[1] * dout[2] * dout[3]);
  auto index = [](const std::vector<int64_t> &d, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return (((d[0] == 1 ? 0 : i0) * d[1] + (d[1] == 1 ? 0 : i1)) * d[2] + (d[2] == 1 ? 0 : i2)) *
               d[3] +
           (d[3] == 1 ? 0 : i3);
  };
  int64_t k = 0;
  for (int64_t i0 = 0; i0 < dout[0]; ++i0)
    for (int64_t i1 = 0; i1 < dout[1]; ++i1)
      for (int64_t i2 = 0; i2 < dout[2]; ++i2)
        for (int64_t i3 = 0; i3 < dout[3]; ++i3)
          out.v[k++] = op(a.v[index(da, i0, i1, i2, i3)], b.v[index(db, i0, i1, i2, i3)]);
  return out;
}

/// Conv, MaxPool and AveragePool over NCHW (dilations 1, group 1, floor).
Value window(const Node &n, const Value &x, const Value *w, const Value *b) {
  std::vector<int64_t> k = n.ints("kernel_shape"), s = n.ints("strides"), p = n.ints("pads");
  if (s.empty())
    s = {1, 1};
  if (p.empty())
    p = {0, 0, 0, 0};
  const int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  const int64_t O = w ? w->dims[0] : C;
  const int64_t OH = (H + p[0] + p[2] - k[0]) / s[0] + 1, OW = (W + p[1] + p[3] - k[1]) / s[1] + 1;
  const bool includePad = n.integer("count_include_pad", 0) != 0;
  Value y;
  y.dims = {N, O, OH, OW};
  y.v.resize(N * O * OH * OW);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = n.op == "MaxPool" ? -INFINITY : 0.0;
          int64_t inside = 0;
          for (int64_t c = w ? 0 : o; c < (w ? C : o + 1); ++c)
            for (int64_t ky = 0; ky < k[0]; ++ky)
              for (int64_t kx = 0; kx < k[1]; ++kx) {
                int64_t iy = oy * s[0] - p[0] + ky, ix = ox * s[1] - p[1] + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue;
                double v = x.v[((i * C + c) * H + iy) * W + ix];
                ++inside;
                if (n.op == "MaxPool")
                  acc = std::max(acc, v);
                else if (w)
                  acc += v * w->v[((o * C + c) * k[0] + ky) * k[1] + kx];
                else
                  acc += v;
              }
          if (n.op == "AveragePool")
            acc /= includePad ? double(k[0] * k[1]) : double(inside);
          if (b)
            acc += b->v[o];
          y.v[((i * O + o) * OH + oy) * OW + ox] = acc;
        }
  return y;
}

/// ReduceMean / ReduceL2 over `axes`, keepdims = 1 (the exporter's only form).
Value reduce(const Node &n, const Value &x) {
  std::vector<int64_t> axes = n.ints("axes");
  std::vector<int64_t> dims = x.dims;
  std::vector<bool> reduced(dims.size(), false);
  for (int64_t a : axes)
    reduced[a < 0 ? a + dims.size() : a] = true;
  Value y;
  y.dims = dims;
  for (size_t d = 0; d < dims.size(); ++d)
    if (reduced[d])
      y.dims[d] = 1;
  y.v.assign(y.count(), 0.0);
  std::vector<int64_t> at(dims.size(), 0);
  const bool l2 = n.op == "ReduceL2";
  for (int64_t i = 0; i < x.count(); ++i) {
    int64_t rest = i, out = 0;
    for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
      at[d] = rest % dims[d];
      rest /= dims[d];
    }
    for (size_t d = 0; d < dims.size(); ++d)
      out = out * y.dims[d] + (reduced[d] ? 0 : at[d]);
    y.v[out] += l2 ? x.v[i] * x.v[i] : x.v[i];
  }
  const double per = double(x.count()) / double(y.count());
  for (double &v : y.v)
    v = l2 ? std::sqrt(v) : v / per;
  return y;
}

/// Runs the graph on `images`; the values of every graph output by name.
std::map<std::string, Value> run(const OnnxModel &m, const Value &images) {
  std::map<std::string, Value> values;
  values["images"] = images;
  for (const Initializer &t : m.initializers) {
    Value v;
    v.dims = t.dims;
    v.v.resize(t.raw.size() / 4);
    for (size_t i = 0; i < v.v.size(); ++i) {
      float f;
      std::memcpy(&f, t.raw.data() + 4 * i, 4);
      v.v[i] = f;
    }
    values[t.name] = v;
  }
  for (const Node &n : m.nodes) {
    std::vector<const Value *> in;
    for (const std::string &name : n.inputs) {
      auto it = values.find(name);
      EXPECT_NE(it, values.end()) << n.name << " reads '" << name << "' before anything defines it";
      if (it == values.end())
        return {};
      in.push_back(&it->second);
    }
    Value y;
    if (n.op == "Conv") {
      EXPECT_EQ(n.ints("dilations"), (std::vector<int64_t>{1, 1}));
      EXPECT_EQ(n.integer("group", 1), 1);
      y = window(n, *in[0], in[1], in.size() > 2 ? in[2] : nullptr);
    } else if (n.op == "MaxPool" || n.op == "AveragePool") {
      EXPECT_EQ(n.integer("ceil_mode", 0), 0);
      y = window(n, *in[0], nullptr, nullptr);
    } else if (n.op == "GlobalAveragePool") {
      Node whole = n;
      whole.op = "ReduceMean";
      whole.attrs = {Attribute{"axes", 7, 0, 0, {2, 3}}};
      y = reduce(whole, *in[0]);
    } else if (n.op == "ReduceMean" || n.op == "ReduceL2") {
      EXPECT_EQ(n.integer("keepdims", 1), 1);
      y = reduce(n, *in[0]);
    } else if (n.op == "Relu" || n.op == "Sqrt" || n.op == "Identity") {
      y = *in[0];
      for (double &v : y.v)
        v = n.op == "Relu" ? std::max(v, 0.0) : n.op == "Sqrt" ? std::sqrt(v) : v;
    } else if (n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") {
      static const std::map<std::string, double (*)(double, double)> ops{
          {"Add", [](double a, double b) { return a + b; }},
          {"Sub", [](double a, double b) { return a - b; }},
          {"Mul", [](double a, double b) { return a * b; }},
          {"Div", [](double a, double b) { return a / b; }}};
      y = elementwise(*in[0], *in[1], ops.at(n.op));
    } else if (n.op == "Flatten") {
      EXPECT_EQ(n.integer("axis", 1), 1);
      y = *in[0];
      y.dims = {in[0]->dims[0], in[0]->count() / in[0]->dims[0]};
    } else if (n.op == "Concat") {
      EXPECT_EQ(n.integer("axis", 0), 1);
      const int64_t rows = in[0]->dims[0];
      int64_t cols = 0;
      for (const Value *v : in)
        cols += v->dims[1];
      y.dims = {rows, cols};
      for (int64_t r = 0; r < rows; ++r)
        for (const Value *v : in)
          y.v.insert(y.v.end(), v->v.begin() + r * v->dims[1], v->v.begin() + (r + 1) * v->dims[1]);
    } else {
      ADD_FAILURE() << "the interpreter has no " << n.op;
      return {};
    }
    values[n.outputs.at(0)] = std::move(y);
  }
  std::map<std::string, Value> outputs;
  for (const ValueInfo &o : m.outputs)
    outputs[o.name] = values[o.name];
  return outputs;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

class OnnxExportFiles : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("locus-onnx-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string &name) const { return (dir_ / name).string(); }
  /// The names in the folder (a failed export must leave no temporary).
  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto &e : fs::directory_iterator(dir_))
      names.insert(e.path().filename().string());
    return names;
  }
  fs::path dir_;
};

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Uniform values in [-scale, scale) for every parameter of `m`.
std::vector<std::vector<float>> randomParams(const ModelDesc &m, uint64_t seed, double scale) {
  Rng rng(seed);
  std::vector<std::vector<float>> params;
  for (const ParamDesc &p : m.params) {
    params.emplace_back(static_cast<size_t>(p.count()));
    for (float &v : params.back())
      v = static_cast<float>(rng.uniform(-scale, scale));
  }
  return params;
}

int64_t windowed(int64_t in, int64_t k, int64_t s, int64_t a, int64_t b) {
  return (in + a + b - k) / s + 1;
}

/// A model no compiler builds yet, with every layer kind, asymmetric pads,
/// strides and padded poolings: [3, 11, 10] images, three blocks.
ModelDesc everyLayerKind() {
  ModelDesc m;
  m.name = "every_kind";
  m.inputShape = {8, 3, 11, 10};
  std::array<int64_t, 4> map = m.inputShape;
  auto param = [&](const std::string &name, std::vector<int64_t> shape) {
    ParamDesc p;
    p.name = name;
    p.shape = std::move(shape);
    m.params.push_back(p);
    return static_cast<int32_t>(m.params.size() - 1);
  };
  auto add = [&](BlockDesc &block, LayerDesc l) {
    l.inShape = map;
    if (hasConvWeights(l.kind))
      map[1] = m.params[l.weight].shape[0];
    if (l.kind != LayerKind::Relu && l.kind != LayerKind::Triangle &&
        l.kind != LayerKind::Standardize && l.kind != LayerKind::LengthNormalize) {
      map[2] = windowed(map[2], l.kernel[0], l.stride[0], l.pad[0], l.pad[2]);
      map[3] = windowed(map[3], l.kernel[1], l.stride[1], l.pad[1], l.pad[3]);
    }
    if (l.kind == LayerKind::ConvReluMaxPool2D) {
      map[2] = windowed(map[2], l.poolKernel[0], l.poolStride[0], 0, 0);
      map[3] = windowed(map[3], l.poolKernel[1], l.poolStride[1], 0, 0);
    }
    l.outShape = map;
    block.layers.push_back(l);
  };
  auto finish = [&](BlockDesc &block, int64_t pool) {
    block.outShape = map;
    block.loss.pool = pool;
    block.loss.dim = pool == -1  ? map[1] * map[2] * map[3]
                     : pool == 0 ? map[1]
                                 : map[1] * (map[2] / pool) * (map[3] / pool);
    m.blocks.push_back(block);
  };
  auto layer = [](LayerKind kind, std::array<int64_t, 2> k = {1, 1},
                  std::array<int64_t, 2> s = {1, 1}, std::array<int64_t, 4> p = {0, 0, 0, 0}) {
    LayerDesc l;
    l.kind = kind;
    l.kernel = k;
    l.stride = s;
    l.pad = p;
    return l;
  };
  BlockDesc a;
  a.name = "a";
  LayerDesc conv = layer(LayerKind::Conv2D, {3, 2}, {2, 1}, {1, 0, 2, 1});
  conv.weight = param("a.w", {5, 3, 3, 2});
  conv.bias = param("a.b", {5});
  add(a, conv);
  add(a, layer(LayerKind::Relu));
  add(a, layer(LayerKind::MaxPool2D, {3, 3}, {2, 2}, {1, 1, 1, 1}));
  LayerDesc standardize = layer(LayerKind::Standardize);
  standardize.eps = 1e-5;
  add(a, standardize);
  finish(a, 2);
  BlockDesc b;
  b.name = "b";
  conv = layer(LayerKind::Conv2D, {3, 3}, {1, 1}, {1, 1, 1, 1});
  conv.weight = param("b.w", {4, 5, 3, 3}); // no bias
  add(b, conv);
  add(b, layer(LayerKind::Triangle));
  add(b, layer(LayerKind::AvgPool2D, {3, 2}, {1, 1}, {1, 0, 1, 1}));
  LayerDesc normalize = layer(LayerKind::LengthNormalize);
  normalize.eps = 1e-8;
  add(b, normalize);
  finish(b, 0);
  BlockDesc c;
  c.name = "c";
  LayerDesc fused = layer(LayerKind::ConvReluMaxPool2D, {3, 3}, {1, 1}, {1, 1, 1, 1});
  fused.weight = param("c.w", {6, 4, 3, 3});
  fused.bias = param("c.b", {6});
  fused.poolKernel = {2, 2};
  fused.poolStride = {2, 2};
  add(c, fused);
  add(c, layer(LayerKind::ReluMaxPool2D, {2, 2}, {1, 1}, {0, 0, 1, 1}));
  finish(c, -1);
  return m;
}

Value randomImages(const ModelDesc &m, int64_t n, uint64_t seed) {
  Value images;
  images.dims = {n, m.inputShape[1], m.inputShape[2], m.inputShape[3]};
  Rng rng(seed);
  images.v.resize(images.count());
  for (double &v : images.v)
    v = static_cast<float>(rng.uniform(-1.0, 1.0));
  return images;
}

/// The exported model of `m`, decoded, with the structure every export has.
OnnxModel exportAndDecode(const ModelDesc &m, const std::vector<std::vector<float>> &params) {
  std::string bytes;
  Status status = encodeOnnx(m, params, bytes);
  EXPECT_TRUE(status.isOk()) << status.message();
  OnnxModel onnx;
  EXPECT_TRUE(decodeModel(bytes, onnx)) << "not a well-formed ModelProto";
  return onnx;
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

TEST(OnnxExport, WritesAStandardModelProto) {
  const ModelDesc m = everyLayerKind();
  const std::vector<std::vector<float>> params = randomParams(m, 1, 0.5);
  const OnnxModel onnx = exportAndDecode(m, params);
  EXPECT_EQ(onnx.irVersion, 8);
  EXPECT_EQ(onnx.opsets, (std::vector<std::pair<std::string, int64_t>>{{"", 17}}));
  EXPECT_EQ(onnx.producer, "locus");
  EXPECT_EQ(onnx.graphName, "every_kind");

  // Standard ops only, in the default domain.
  const std::set<std::string> standard{
      "Conv",       "Relu",     "MaxPool", "AveragePool", "GlobalAveragePool",
      "ReduceMean", "ReduceL2", "Add",     "Sub",         "Mul",
      "Div",        "Sqrt",     "Flatten", "Concat",      "Identity"};
  std::set<std::string> nodeNames;
  for (const Node &n : onnx.nodes) {
    EXPECT_TRUE(standard.count(n.op)) << n.op;
    EXPECT_EQ(n.domain, "") << n.name;
    EXPECT_EQ(n.outputs.size(), 1u) << n.name;
    EXPECT_TRUE(nodeNames.insert(n.name).second) << "two nodes named " << n.name;
  }

  // images [batch, 3, 11, 10] in; features [batch, F] and each block's map out.
  ASSERT_EQ(onnx.inputs.size(), 1u);
  EXPECT_EQ(onnx.inputs[0].name, "images");
  EXPECT_EQ(onnx.inputs[0].elemType, 1);
  EXPECT_EQ(onnx.inputs[0].dims, (std::vector<std::string>{"batch", "3", "11", "10"}));
  ASSERT_EQ(onnx.outputs.size(), 1 + m.blocks.size());
  int64_t features = 0;
  for (const BlockDesc &b : m.blocks)
    features += b.loss.dim;
  EXPECT_EQ(onnx.outputs[0].name, "features");
  EXPECT_EQ(onnx.outputs[0].dims, (std::vector<std::string>{"batch", std::to_string(features)}));
  for (size_t b = 0; b < m.blocks.size(); ++b) {
    const ValueInfo &o = onnx.outputs[1 + b];
    const auto &s = m.blocks[b].outShape;
    EXPECT_EQ(o.name, "block_" + m.blocks[b].name);
    EXPECT_EQ(o.elemType, 1);
    EXPECT_EQ(o.dims, (std::vector<std::string>{"batch", std::to_string(s[1]), std::to_string(s[2]),
                                                std::to_string(s[3])}));
  }

  // Every convolution parameter is an initializer under its name, bit for bit
  // (little-endian float32); the rest are scalar constants.
  std::map<std::string, const Initializer *> inits;
  for (const Initializer &t : onnx.initializers) {
    EXPECT_EQ(t.type, 1) << t.name;
    EXPECT_TRUE(inits.emplace(t.name, &t).second) << "two initializers named " << t.name;
  }
  for (size_t i = 0; i < m.params.size(); ++i) {
    auto it = inits.find(m.params[i].name);
    ASSERT_NE(it, inits.end()) << m.params[i].name;
    EXPECT_EQ(it->second->dims, m.params[i].shape);
    ASSERT_EQ(it->second->raw.size(), 4 * params[i].size());
    for (size_t k = 0; k < params[i].size(); ++k) {
      uint32_t bits;
      std::memcpy(&bits, &params[i][k], 4);
      for (int byte = 0; byte < 4; ++byte)
        ASSERT_EQ(static_cast<uint8_t>(it->second->raw[4 * k + byte]), (bits >> (8 * byte)) & 0xff);
    }
  }
  for (const Initializer &t : onnx.initializers) {
    if (t.dims.empty()) {
      EXPECT_EQ(t.raw.size(), 4u) << t.name;
    }
  }

  // The descriptor's pads (top, left, bottom, right) are ONNX's (H begin,
  // W begin, H end, W end); padded average pooling counts the padding, as
  // the runtime's kernel divides by the whole window.
  const Node *conv = nullptr, *avg = nullptr, *lossPool = nullptr;
  for (const Node &n : onnx.nodes) {
    if (!conv && n.op == "Conv")
      conv = &n;
    if (n.op == "AveragePool")
      (n.ints("kernel_shape") == std::vector<int64_t>{3, 2} ? avg : lossPool) = &n;
  }
  ASSERT_TRUE(conv && avg && lossPool);
  EXPECT_EQ(conv->ints("pads"), (std::vector<int64_t>{1, 0, 2, 1}));
  EXPECT_EQ(conv->ints("strides"), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(conv->ints("kernel_shape"), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(avg->ints("pads"), (std::vector<int64_t>{1, 0, 1, 1}));
  EXPECT_EQ(avg->integer("count_include_pad", 0), 1);
  // Block a's features: average pooling, kernel = stride = 2, no padding.
  EXPECT_EQ(lossPool->ints("kernel_shape"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(lossPool->ints("strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(lossPool->ints("pads"), (std::vector<int64_t>{0, 0, 0, 0}));

  // Where each block's features are.
  ASSERT_TRUE(onnx.metadata.count("locus.features"));
  EXPECT_NE(onnx.metadata.at("locus.features")
                .find(R"({"block":"b","output":"block_b","offset":10,"count":4,"pool":0})"),
            std::string::npos)
      << onnx.metadata.at("locus.features");
}

TEST(OnnxExport, NormalisationsDoWhatTheyPromise) {
  // Standardize: zero mean, unit variance per sample; LengthNormalize: unit
  // length per sample; the features are each block's map pooled as its loss
  // says.
  const ModelDesc m = everyLayerKind();
  const OnnxModel onnx = exportAndDecode(m, randomParams(m, 2, 0.5));
  const int64_t n = 3;
  std::map<std::string, Value> out = run(onnx, randomImages(m, n, 3));
  ASSERT_EQ(out.size(), 4u);
  const Value &a = out["block_a"], &b = out["block_b"], &f = out["features"];
  ASSERT_EQ(a.dims[0], n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t per = a.count() / n;
    double sum = 0, sq = 0;
    for (int64_t k = 0; k < per; ++k)
      sum += a.v[i * per + k];
    for (int64_t k = 0; k < per; ++k)
      sq += (a.v[i * per + k] - sum / per) * (a.v[i * per + k] - sum / per);
    EXPECT_NEAR(sum / per, 0.0, 1e-12);
    EXPECT_NEAR(sq / per, 1.0, 1e-3);
    const int64_t bper = b.count() / n;
    double norm = 0;
    for (int64_t k = 0; k < bper; ++k)
      norm += b.v[i * bper + k] * b.v[i * bper + k];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-6);
  }
  // Block b pools globally: its features are its channel means.
  const int64_t F = f.dims[1], plane = b.dims[2] * b.dims[3];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < b.dims[1]; ++c) {
      double mean = 0;
      for (int64_t k = 0; k < plane; ++k)
        mean += b.v[(i * b.dims[1] + c) * plane + k] / plane;
      EXPECT_NEAR(f.v[i * F + 10 + c], mean, 1e-12);
    }
}

TEST(OnnxExport, InputLayersAndBiasFactorsAreTheRecords) {
  // A block's input layers (SCFF's 2 (x - mean) / (std + eps)) run before
  // its layers, and a convolution adds its bias times biasScale: both as the
  // compiler describes them, computed here in float64.
  ModelDesc m;
  m.name = "input_layers";
  m.inputShape = {4, 2, 3, 3};
  for (auto [name, shape] : {std::pair<const char *, std::vector<int64_t>>{"w", {3, 2, 1, 1}},
                             {"b", {3}}}) {
    ParamDesc p;
    p.name = name;
    p.shape = shape;
    m.params.push_back(p);
  }
  BlockDesc block;
  block.name = "s";
  LayerDesc input;
  input.kind = LayerKind::ScaledStandardize;
  input.eps = 1e-5;
  input.scale = 2.0;
  input.inShape = input.outShape = m.inputShape;
  block.inputLayers.push_back(input);
  LayerDesc conv;
  conv.kind = LayerKind::Conv2D;
  conv.weight = 0;
  conv.bias = 1;
  conv.biasScale = 2.0;
  conv.inShape = m.inputShape;
  conv.outShape = {4, 3, 3, 3};
  block.layers.push_back(conv);
  block.outShape = conv.outShape;
  block.loss.pool = -1;
  block.loss.dim = 27;
  m.blocks.push_back(block);
  const std::vector<std::vector<float>> params = randomParams(m, 5, 0.5);
  const OnnxModel onnx = exportAndDecode(m, params);
  const int64_t n = 3, per = 18, plane = 9;
  const Value images = randomImages(m, n, 6);
  std::map<std::string, Value> out = run(onnx, images);
  const Value &y = out["block_s"];
  ASSERT_EQ(y.dims, (std::vector<int64_t>{n, 3, 3, 3}));
  for (int64_t i = 0; i < n; ++i) {
    const double *x = images.v.data() + i * per;
    double mean = 0, var = 0;
    for (int64_t k = 0; k < per; ++k)
      mean += x[k] / per;
    for (int64_t k = 0; k < per; ++k)
      var += (x[k] - mean) * (x[k] - mean) / per;
    const double den = std::sqrt(var) + 1e-5;
    for (int64_t o = 0; o < 3; ++o)
      for (int64_t k = 0; k < plane; ++k) {
        double expected = 2.0 * params[1][o];
        for (int64_t c = 0; c < 2; ++c)
          expected += params[0][o * 2 + c] * 2.0 * (x[c * plane + k] - mean) / den;
        EXPECT_NEAR(y.v[(i * 3 + o) * plane + k], expected, 1e-5) << i << ' ' << o << ' ' << k;
      }
  }
}

/// The compiled test models' features against the exported graph's.
class OnnxExportMatchesEngine : public ::testing::TestWithParam<const char *> {};

TEST_P(OnnxExportMatchesEngine, Features) {
  const test::TestModel &model = test::TestModel::get(GetParam());
  std::unique_ptr<Engine> engine = test::makeEngine(model, 5);
  ASSERT_TRUE(engine);
  const ModelDesc &m = model.desc();
  // Trained-like parameters: a few steps away from the initialisation.
  Rng rng(9);
  for (int step = 0; step < 2; ++step) {
    Tensor views = Tensor::allocate(engine->memoryHandle(), engine->viewShape());
    for (int64_t i = 0; i < views.count(); ++i)
      views.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
    std::vector<double> losses;
    ASSERT_TRUE(engine->step(views, losses).isOk());
  }
  std::vector<std::vector<float>> params;
  for (size_t i = 0; i < m.params.size(); ++i) {
    const Tensor &t = engine->params()[i];
    params.emplace_back(t.data(), t.data() + t.count());
  }
  const int64_t n = 5; // not a step's views: a padded chunk
  const Value images = randomImages(m, n, 4);
  Tensor batch = Tensor::allocate(engine->memoryHandle(),
                                  Shape4{n, images.dims[1], images.dims[2], images.dims[3]});
  std::copy(images.v.begin(), images.v.end(), batch.data());
  const int64_t F = engine->featureCount();
  std::vector<float> expected(static_cast<size_t>(n * F));
  ASSERT_TRUE(engine->features(batch, expected.data()).isOk());

  const OnnxModel onnx = exportAndDecode(m, params);
  std::map<std::string, Value> out = run(onnx, images);
  const Value &got = out["features"];
  ASSERT_EQ(got.dims, (std::vector<int64_t>{n, F}));
  int64_t offset = 0;
  for (const BlockDesc &block : m.blocks) {
    // Norm-wise per block, as the float64 references of the engine tests.
    double error = 0, scale = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = offset; k < offset + block.loss.dim; ++k) {
        error = std::max(error, std::abs(got.v[i * F + k] - expected[i * F + k]));
        scale = std::max(scale, std::abs(double(expected[i * F + k])));
      }
    EXPECT_GT(scale, 0.0) << block.name;
    EXPECT_LT(error, 1e-5 * scale) << block.name << " (pool " << block.loss.pool << ")";
    const Value &map = out["block_" + block.name];
    EXPECT_EQ(map.dims,
              (std::vector<int64_t>{n, block.outShape[1], block.outShape[2], block.outShape[3]}));
    offset += block.loss.dim;
  }
}

INSTANTIATE_TEST_SUITE_P(TestModels, OnnxExportMatchesEngine,
                         ::testing::Values("tiny", "tiny-fused", "tiny-pooled-fused",
                                           "tiny-global-pool", "tiny-triangle", "equal-blocks",
                                           "goodness-ff", "goodness-scff"),
                         [](const ::testing::TestParamInfo<const char *> &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST_F(OnnxExportFiles, WritesTheFileAtomically) {
  const ModelDesc m = everyLayerKind();
  const std::vector<std::vector<float>> params = randomParams(m, 1, 0.5);
  const std::string file = path("encoder.onnx");
  { std::ofstream(file, std::ios::binary) << "an older export"; }
  ASSERT_TRUE(exportOnnx(m, params, file).isOk());
  std::string bytes;
  ASSERT_TRUE(encodeOnnx(m, params, bytes).isOk());
  EXPECT_EQ(readAll(file), bytes) << "the new model replaced the old file whole";
  EXPECT_EQ(files(), (std::set<std::string>{"encoder.onnx"})) << "no temporary is left";
}

TEST_F(OnnxExportFiles, ErrorsNameTheFileAndLeaveItAlone) {
  const ModelDesc m = everyLayerKind();
  const std::string file = path("encoder.onnx");
  { std::ofstream(file, std::ios::binary) << "an older export"; }
  auto refused = [&](const ModelDesc &model, const std::vector<std::vector<float>> &params,
                     const std::string &why) {
    Status status = exportOnnx(model, params, file);
    ASSERT_FALSE(status.isOk()) << why;
    EXPECT_NE(status.message().find(file), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(why), std::string::npos) << status.message();
    EXPECT_EQ(readAll(file), "an older export");
    EXPECT_EQ(files(), (std::set<std::string>{"encoder.onnx"}));
  };
  std::vector<std::vector<float>> params = randomParams(m, 1, 0.5);
  refused(m, {}, "0 parameter arrays for the model's 5 parameters");
  std::vector<std::vector<float>> short_ = params;
  short_[2].pop_back();
  refused(m, short_, "parameter 'b.w' has 179 values, not the 180 of [4, 5, 3, 3]");

  ModelDesc wrongShape = m;
  wrongShape.blocks[1].layers[2].outShape[3] += 1;
  refused(wrongShape, params, "block 'b' layer 2 (avg_pool2d): computes");
  ModelDesc wrongDim = m;
  wrongDim.blocks[0].loss.dim += 1;
  refused(wrongDim, params, "block 'a': pooling its [5, 3, 5] output with kernel 2 gives 10");
  ModelDesc clash = m;
  clash.params[0].name = "features";
  refused(clash, params, "two graph values would be named 'features'");
  ModelDesc wrongWeight = m;
  wrongWeight.params[2].shape = {4, 3, 3, 3}; // block b's input has 5 channels
  refused(wrongWeight, randomParams(wrongWeight, 1, 0.5),
          "parameter 'b.w' is [4, 3, 3, 3], the layer needs [4, 5, 3, 3]");

  // A folder that is not there.
  const std::string missing = path("no/such/folder/encoder.onnx");
  Status status = exportOnnx(m, params, missing);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find(missing), std::string::npos) << status.message();
}

} // namespace
