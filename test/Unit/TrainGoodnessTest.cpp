//===- TrainGoodnessTest.cpp - FF and SCFF block steps vs float64 ---------===//
//
// The compiled Forward-Forward and SCFF step programs (test/Unit/Models/
// goodness.onnxtxt under --rule=ff and --rule=scff) against plain float64
// loops written from METHOD.md §1: the hybrid negatives, length
// normalisation, standardisation, the paired convolution with its doubled
// bias, the goodness losses and every parameter gradient.
//
//===----------------------------------------------------------------------===//
#include "CompiledTables.h"
#include "EngineTestUtil.h"

#include "locus/runtime/backend/cpu/CpuBackend.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;

constexpr int64_t kViews = 8;
const int64_t kWidths[] = {4, 3}; // output channels of the two blocks

using locus::test::TestModel;

/// Two blocks, each conv3x3 (pad 1, bias) -> relu, trained with FF or SCFF.
const TestModel &goodnessModel(const std::string &rule) {
  return TestModel::get("goodness-" + rule);
}

//===----------------------------------------------------------------------===//
// float64 reference
//===----------------------------------------------------------------------===//

/// [n, c, h, w] in float64.
struct Map64 {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;
  Map64() = default;
  Map64(int64_t n, int64_t c, int64_t h, int64_t w) : n(n), c(c), h(h), w(w), v(n * c * h * w) {}
  int64_t row() const { return c * h * w; }
  double &at(int64_t a, int64_t q, int64_t i, int64_t j) { return v[((a * c + q) * h + i) * w + j]; }
  double at(int64_t a, int64_t q, int64_t i, int64_t j) const {
    return v[((a * c + q) * h + i) * w + j];
  }
};

double softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// relu(conv3x3(x; W) + biasScale b).
Map64 convRelu(const Map64 &x, const std::vector<double> &w, const std::vector<double> &b,
               int64_t out, double biasScale) {
  Map64 y(x.n, out, x.h, x.w);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < x.h; ++i)
        for (int64_t j = 0; j < x.w; ++j) {
          double s = biasScale * b[o];
          for (int64_t q = 0; q < x.c; ++q)
            for (int64_t p = 0; p < 3; ++p)
              for (int64_t r = 0; r < 3; ++r) {
                int64_t yy = i + p - 1, xx = j + r - 1;
                if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w)
                  s += w[((o * x.c + q) * 3 + p) * 3 + r] * x.at(a, q, yy, xx);
              }
          y.at(a, o, i, j) = std::max(0.0, s);
        }
  return y;
}

/// dW, db from dL/dy through the relu (mask y > 0) and the conv on x.
void convReluGrads(const Map64 &x, const Map64 &y, const Map64 &dy, double biasScale,
                   std::vector<double> &dw, std::vector<double> &db) {
  dw.assign(y.c * x.c * 9, 0.0);
  db.assign(y.c, 0.0);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t o = 0; o < y.c; ++o)
      for (int64_t i = 0; i < x.h; ++i)
        for (int64_t j = 0; j < x.w; ++j) {
          if (y.at(a, o, i, j) <= 0)
            continue;
          double g = dy.at(a, o, i, j);
          db[o] += biasScale * g;
          for (int64_t q = 0; q < x.c; ++q)
            for (int64_t p = 0; p < 3; ++p)
              for (int64_t r = 0; r < 3; ++r) {
                int64_t yy = i + p - 1, xx = j + r - 1;
                if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w)
                  dw[((o * x.c + q) * 3 + p) * 3 + r] += g * x.at(a, q, yy, xx);
              }
        }
}

/// FF: G = sum y^2 per row; L = 1/M sum softplus(theta - G_pos) + softplus(G_neg - theta).
double ffLoss(const Map64 &y, double theta, Map64 &dy) {
  int64_t m = y.n / 2, f = y.row();
  dy = Map64(y.n, y.c, y.h, y.w);
  double loss = 0;
  for (int64_t r = 0; r < y.n; ++r) {
    double g = 0;
    for (int64_t i = 0; i < f; ++i)
      g += y.v[r * f + i] * y.v[r * f + i];
    bool pos = r < m;
    loss += (pos ? softplus(theta - g) : softplus(g - theta)) / m;
    double dg = (pos ? -sigmoid(theta - g) : sigmoid(g - theta)) / m;
    for (int64_t i = 0; i < f; ++i)
      dy.v[r * f + i] = dg * 2 * y.v[r * f + i];
  }
  return loss;
}

/// SCFF: G[m, loc] = mean_c y^2; L = mean_{m,loc} softplus(th1 - G_pos) + softplus(G_neg - th2)
/// + lambda mean_m ||G_pos[m]||.
double scffLoss(const Map64 &y, const LossDesc &loss, Map64 &dy) {
  int64_t m = y.n / 2, hw = y.h * y.w;
  dy = Map64(y.n, y.c, y.h, y.w);
  double total = 0;
  for (int64_t s = 0; s < m; ++s) {
    std::vector<double> gp(hw, 0.0), gn(hw, 0.0);
    for (int64_t q = 0; q < y.c; ++q)
      for (int64_t l = 0; l < hw; ++l) {
        gp[l] += y.v[(s * y.c + q) * hw + l] * y.v[(s * y.c + q) * hw + l] / y.c;
        gn[l] += y.v[((m + s) * y.c + q) * hw + l] * y.v[((m + s) * y.c + q) * hw + l] / y.c;
      }
    double norm = 0;
    for (double g : gp)
      norm += g * g;
    norm = std::sqrt(norm);
    total += loss.lambda * norm / m;
    for (int64_t l = 0; l < hw; ++l) {
      total += (softplus(loss.theta - gp[l]) + softplus(gn[l] - loss.theta2)) / (m * hw);
      double dgp = -sigmoid(loss.theta - gp[l]) / (m * hw) + loss.lambda * gp[l] / (norm * m);
      double dgn = sigmoid(gn[l] - loss.theta2) / (m * hw);
      for (int64_t q = 0; q < y.c; ++q) {
        int64_t ip = (s * y.c + q) * hw + l, in = ((m + s) * y.c + q) * hw + l;
        dy.v[ip] = dgp * 2 * y.v[ip] / y.c;
        dy.v[in] = dgn * 2 * y.v[in] / y.c;
      }
    }
  }
  return total;
}

struct Reference {
  std::vector<double> losses;
  std::map<int32_t, std::vector<double>> grads;
};

/// One step of the two-block model on `input` (FF: views and hybrids; SCFF: the views).
Reference reference(const ModelDesc &model, const std::vector<Tensor> &params, Map64 h) {
  bool ff = model.blocks[0].loss.score == "sum_squares";
  Reference ref;
  for (int l = 0; l < 2; ++l) {
    const LossDesc &loss = model.blocks[l].loss;
    int64_t row = h.row();
    Map64 x;
    if (ff) { // block 2 on: unit-length rows
      x = h;
      if (l > 0)
        for (int64_t r = 0; r < h.n; ++r) {
          double norm = 0;
          for (int64_t i = 0; i < row; ++i)
            norm += h.v[r * row + i] * h.v[r * row + i];
          for (int64_t i = 0; i < row; ++i)
            x.v[r * row + i] = h.v[r * row + i] / (std::sqrt(norm) + 1e-5);
        }
    } else { // standardised rows, then [s + s; s + roll(s)]
      Map64 s = h;
      for (int64_t r = 0; r < h.n; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < row; ++i)
          mean += h.v[r * row + i] / row;
        for (int64_t i = 0; i < row; ++i)
          var += (h.v[r * row + i] - mean) * (h.v[r * row + i] - mean) / row;
        for (int64_t i = 0; i < row; ++i)
          s.v[r * row + i] = (h.v[r * row + i] - mean) / (std::sqrt(var) + 1e-5);
      }
      x = Map64(2 * h.n, h.c, h.h, h.w);
      for (int64_t r = 0; r < h.n; ++r)
        for (int64_t i = 0; i < row; ++i) {
          x.v[r * row + i] = 2 * s.v[r * row + i];
          x.v[(h.n + r) * row + i] = s.v[r * row + i] + s.v[((r + 1) % h.n) * row + i];
        }
    }
    const Tensor &w = params[2 * l], &b = params[2 * l + 1];
    std::vector<double> w64(w.data(), w.data() + w.count()), b64(b.data(), b.data() + b.count());
    double biasScale = ff ? 1.0 : 2.0;
    Map64 y = convRelu(x, w64, b64, kWidths[l], biasScale);
    Map64 dy;
    ref.losses.push_back(ff ? ffLoss(y, loss.theta, dy) : scffLoss(y, loss, dy));
    convReluGrads(x, y, dy, biasScale, ref.grads[2 * l], ref.grads[2 * l + 1]);
    if (ff) {
      h = y;
    } else { // the positive half goes on
      h = Map64(y.n / 2, y.c, y.h, y.w);
      h.v.assign(y.v.begin(), y.v.begin() + h.v.size());
    }
  }
  return ref;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

using locus::test::makeEngine;
using locus::test::randomViews;
using locus::test::relativeError;

Map64 toMap(const Tensor &t) {
  Map64 m(t.shape().n, t.shape().c, t.shape().h, t.shape().w);
  m.v.assign(t.data(), t.data() + t.count());
  return m;
}

/// [views; hybrids] as FF's program forms them: the step's draws (seeded as
/// the program's locus_rt_draw_hybrid seeds them) mixed by the generated
/// hybrid negatives kernel.
Tensor withHybridNegatives(Backend &backend, const Tensor &views, uint64_t seed) {
  const Shape4 s = views.shape();
  const int64_t plane = s.h * s.w;
  Tensor out = backend.allocate(Shape4{2 * s.n, s.c, s.h, s.w});
  std::vector<float> masks(static_cast<size_t>(s.n * plane));
  std::vector<int32_t> partners(static_cast<size_t>(s.n));
  drawHybrid(s.n, plane, seed, masks.data(), partners.data());
  locus::abi::MemRef3F32 in = locus::abi::memref3(const_cast<float *>(views.data()), s.n, s.c, plane);
  locus::abi::MemRef3F32 maskRef = locus::abi::memref3(masks.data(), s.n, s.h, s.w);
  locus::abi::MemRef1I32 partnerRef = locus::abi::memref1(partners.data(), s.n);
  locus::abi::MemRef3F32 outRef = locus::abi::memref3(out.data(), 2 * s.n, s.c, plane);
  locus::test::compiledGoodnessInputs().hybridNegatives(&in, &maskRef, &partnerRef, &outRef);
  return out;
}

void checkStep(const std::string &rule) {
  constexpr uint64_t kSeed = 5;
  const TestModel &compiled = goodnessModel(rule);
  const ModelDesc &model = compiled.desc();
  std::unique_ptr<Engine> engine = makeEngine(compiled, kSeed);
  ASSERT_TRUE(engine);
  Tensor views = randomViews(*engine, 17);

  std::map<int32_t, std::vector<float>> got;
  std::vector<double> losses;
  Status status = engine->gradients(
      views, [&](int32_t i, const Tensor &g) { got[i].assign(g.data(), g.data() + g.count()); },
      losses);
  ASSERT_TRUE(status.isOk()) << status.message();

  Map64 input = toMap(views);
  if (rule == "ff") {
    // The seed chain of a gradients() call before any step: negatives of
    // step 0, then the hybrid stream after the blocks' own.
    std::unique_ptr<Backend> backend = cpu::makeCpuBackend(compiled.compiled().kernels);
    uint64_t step = mixSeed(kSeed, Stream::Negatives, 0);
    input = toMap(withHybridNegatives(*backend, views, mixSeed(step, Stream::Negatives, 2)));
  }
  Reference ref = reference(model, engine->params(), input);
  ASSERT_EQ(losses.size(), 2u);
  for (int l = 0; l < 2; ++l)
    EXPECT_NEAR(losses[l], ref.losses[l], 1e-4 * std::max(1.0, std::abs(ref.losses[l])))
        << rule << " block " << l;
  ASSERT_EQ(got.size(), ref.grads.size()) << rule;
  for (const auto &[i, g] : ref.grads) {
    double norm = 0;
    for (double e : g)
      norm = std::max(norm, std::abs(e));
    EXPECT_GT(norm, 0.0) << model.params[i].name << ": the check needs a non-zero gradient";
    EXPECT_LT(relativeError(got[i].data(), g), 1e-4) << rule << " " << model.params[i].name;
  }
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

TEST(TrainGoodness, ForwardForwardStepMatchesFloat64Reference) { checkStep("ff"); }

TEST(TrainGoodness, ScffStepMatchesFloat64Reference) { checkStep("scff"); }

TEST(TrainGoodness, HybridsMixTheImageWithAnotherImage) {
  std::unique_ptr<Backend> backend = cpu::makeCpuBackend(goodnessModel("ff").compiled().kernels);
  Tensor views = backend->allocate(Shape4{kViews, 1, 16, 16});
  // Every pixel of row r holds r: a hybrid's values name its two sources.
  for (int64_t r = 0; r < kViews; ++r)
    for (int64_t i = 0; i < 256; ++i)
      views.data()[r * 256 + i] = static_cast<float>(r);
  Tensor out = withHybridNegatives(*backend, views, 9);
  ASSERT_EQ(out.shape().n, 2 * kViews);
  int64_t images = kViews / 2, mixed = 0;
  for (int64_t r = 0; r < kViews; ++r) {
    EXPECT_EQ(out.data()[r * 256], float(r)) << "the positives come first, unchanged";
    std::map<float, int> sources;
    for (int64_t i = 0; i < 256; ++i)
      ++sources[out.data()[(kViews + r) * 256 + i]];
    EXPECT_LE(sources.size(), 2u) << "hybrid " << r;
    for (const auto &[value, count] : sources) {
      if (value != float(r)) { // the partner is a different image, not the other view
        EXPECT_NE(int64_t(value) % images, r % images) << "hybrid " << r;
      }
    }
    mixed += sources.size() == 2;
  }
  EXPECT_GE(mixed, kViews - 1) << "the smooth masks should almost always mix both images";
}

} // namespace
