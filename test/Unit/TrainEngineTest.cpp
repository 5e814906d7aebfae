// The compiled step programs of the tiny test models (test/Unit/Models, compiled by locusc at
// build time) against an independent float64 reference of METHOD.md §2: one step's gradients
// for CLAPP++, CLAPP++DFB, CLAPP++both, PhyLL, BP-CLAPP++ and BP-InfoNCE (global), the update
// applied by step(), block-by-block memory against global mode, determinism, whole runs.
#include "EngineTestUtil.h"
#include "RecordingBackend.h"
#include "locus/runtime/backend/cpu/CpuBackend.h"
#include "locus/runtime/train/Checkpoint.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Json.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;

//===----------------------------------------------------------------------===//
// The tiny test models, as the reference sees them
//===----------------------------------------------------------------------===//

using locus::test::TestModel;

/// A block: conv3x3 (pad 1, bias) -> relu (or triangle) -> [maxpool 2x2 (or avgpool 2x2)], loss
/// pooling kernel `pool`.
struct TinyBlock {
  int64_t out = 4;
  bool maxPool = true;
  int64_t pool = 2;
  bool triangle = false, avgPool = false;
  int32_t weight = -1, bias = -1; // filled by tinyModel from the descriptor
};

/// What test model `model` (Models/*.onnxtxt under a locusc --rule) computes.
struct TinySpec {
  std::string model = "tiny";
  std::vector<TinyBlock> blocks = {{4, true, 2}, {6, false, 2}};
  std::string context = "same"; // same (CLAPP++), top (DFB), both
  bool global = false;          // BP-CLAPP++
  std::string loss = "hinge"; // hinge (the CLAPP family), phyll, or infonce (BP-InfoNCE, global)
};

/// The compiled model of `spec`; each block's conv parameters are read off
/// its descriptor for the reference.
const TestModel &tinyModel(TinySpec &spec) {
  const TestModel &model = TestModel::get(spec.model);
  const ModelDesc &desc = model.desc();
  EXPECT_EQ(desc.blocks.size(), spec.blocks.size()) << spec.model;
  for (size_t l = 0; l < spec.blocks.size() && l < desc.blocks.size(); ++l)
    for (const LayerDesc &layer : desc.blocks[l].layers)
      if (hasConvWeights(layer.kind)) {
        spec.blocks[l].weight = layer.weight;
        spec.blocks[l].bias = layer.bias;
        break;
      }
  return model;
}

//===----------------------------------------------------------------------===//
// float64 reference: plain loops straight from the equations
//===----------------------------------------------------------------------===//

struct RefMap {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;
  RefMap() = default;
  RefMap(int64_t n, int64_t c, int64_t h, int64_t w) : n(n), c(c), h(h), w(w), v(n * c * h * w) {}
  double &at(int64_t a, int64_t b, int64_t y, int64_t x) { return v[((a * c + b) * h + y) * w + x]; }
  double at(int64_t a, int64_t b, int64_t y, int64_t x) const {
    return v[((a * c + b) * h + y) * w + x];
  }
};

/// What the reference keeps of one layer for its backward pass.
struct RefSaved {
  RefMap in, pre, out; // conv input, conv output, activation output
};

using Params64 = std::vector<std::vector<double>>;

RefMap refConv(const RefMap &x, const std::vector<double> &wt, const std::vector<double> *bias,
               int64_t o) {
  RefMap y(x.n, o, x.h, x.w); // 3x3, stride 1, pad 1
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t q = 0; q < o; ++q)
      for (int64_t i = 0; i < x.h; ++i)
        for (int64_t j = 0; j < x.w; ++j) {
          double s = bias ? (*bias)[q] : 0.0;
          for (int64_t ch = 0; ch < x.c; ++ch)
            for (int64_t p = 0; p < 3; ++p)
              for (int64_t r = 0; r < 3; ++r) {
                int64_t yy = i + p - 1, xx = j + r - 1;
                if (yy >= 0 && yy < x.h && xx >= 0 && xx < x.w)
                  s += wt[((q * x.c + ch) * 3 + p) * 3 + r] * x.at(a, ch, yy, xx);
              }
          y.at(a, q, i, j) = s;
        }
  return y;
}

RefMap refAvgPool(const RefMap &x, int64_t kh, int64_t kw) {
  RefMap y(x.n, x.c, x.h / kh, x.w / kw);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t q = 0; q < x.c; ++q)
      for (int64_t i = 0; i < y.h; ++i)
        for (int64_t j = 0; j < y.w; ++j) {
          double s = 0;
          for (int64_t p = 0; p < kh; ++p)
            for (int64_t r = 0; r < kw; ++r)
              s += x.at(a, q, i * kh + p, j * kw + r);
          y.at(a, q, i, j) = s / double(kh * kw);
        }
  return y;
}

RefMap refMaxPool2(const RefMap &x) {
  RefMap y(x.n, x.c, x.h / 2, x.w / 2);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t q = 0; q < x.c; ++q)
      for (int64_t i = 0; i < y.h; ++i)
        for (int64_t j = 0; j < y.w; ++j) {
          double m = -1e300;
          for (int64_t p = 0; p < 2; ++p)
            for (int64_t r = 0; r < 2; ++r)
              m = std::max(m, x.at(a, q, 2 * i + p, 2 * j + r));
          y.at(a, q, i, j) = m;
        }
  return y;
}

/// The loss pooling: kernel k (0 = global average) as a [N, D] matrix in a RefMap [N, D, 1, 1].
RefMap refPoolForLoss(const RefMap &h, int64_t k) {
  RefMap p = k == 0 ? refAvgPool(h, h.h, h.w) : refAvgPool(h, k, k);
  RefMap z(h.n, p.c * p.h * p.w, 1, 1);
  z.v = p.v;
  return z;
}

RefMap refUnpool(const RefMap &dz, const RefMap &hShape, int64_t k) {
  int64_t kh = k == 0 ? hShape.h : k, kw = k == 0 ? hShape.w : k;
  RefMap dh(hShape.n, hShape.c, hShape.h, hShape.w);
  int64_t ph = hShape.h / kh, pw = hShape.w / kw;
  for (int64_t a = 0; a < dh.n; ++a)
    for (int64_t q = 0; q < dh.c; ++q)
      for (int64_t i = 0; i < ph * kh; ++i)
        for (int64_t j = 0; j < pw * kw; ++j)
          dh.at(a, q, i, j) = dz.v[a * dz.c + (q * ph + i / kh) * pw + j / kw] / double(kh * kw);
  return dh;
}

/// The bilinear loss with next-index negatives, in scatter form: for each row r the positive is
/// the other view, the negative the row after it. Hinge (CLAPP++) when phyllTheta is 0, else
/// PhyLL's log(1 + exp(theta (u_neg - u_pos))). Adds dL/dz and dL/dB.
double refBilinear(const RefMap &z, const RefMap &c, const std::vector<double> &b, RefMap &dz,
                   std::vector<double> &db, double phyllTheta = 0.0) {
  int64_t n = z.n, d = z.c, dc = c.c;
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    int64_t pos = (r + n / 2) % n, neg = (pos + 1) % n;
    std::vector<double> bc(d, 0.0);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < dc; ++j)
        bc[i] += b[i * dc + j] * c.v[r * dc + j];
    double up = 0, un = 0;
    for (int64_t i = 0; i < d; ++i) {
      up += z.v[pos * d + i] * bc[i];
      un += z.v[neg * d + i] * bc[i];
    }
    double gp, gn;
    if (phyllTheta > 0) {
      double t = phyllTheta * (un - up), sig = 1.0 / (1.0 + std::exp(-t));
      loss += std::log1p(std::exp(t));
      gp = -phyllTheta * sig / n;
      gn = phyllTheta * sig / n;
    } else {
      loss += std::max(0.0, 1 - up) + std::max(0.0, 1 + un);
      gp = up < 1 ? -1.0 / n : 0.0;
      gn = un > -1 ? 1.0 / n : 0.0;
    }
    for (int64_t i = 0; i < d; ++i) {
      dz.v[pos * d + i] += gp * bc[i];
      dz.v[neg * d + i] += gn * bc[i];
      for (int64_t j = 0; j < dc; ++j)
        db[i * dc + j] += (gp * z.v[pos * d + i] + gn * z.v[neg * d + i]) * c.v[r * dc + j];
    }
  }
  return loss / n;
}

/// BP-InfoNCE on z [N, D] with the head W [D, D]: p = z W^T, cosine similarities / T, the
/// positive of row r the other view, every other row a negative; mean cross-entropy. dL/dp comes
/// from central differences of this float64 loss (smooth everywhere), then dz = dp W and
/// dW = dp^T z. Adds dL/dz and dL/dW.
double refInfoNce(const RefMap &z, const std::vector<double> &w, double temperature, RefMap &dz,
                  std::vector<double> &dw) {
  int64_t n = z.n, d = z.c;
  std::vector<double> p(n * d, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        p[r * d + i] += w[i * d + j] * z.v[r * d + j];
  auto lossOf = [&](const std::vector<double> &q) {
    std::vector<double> norm(n, 0.0);
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t i = 0; i < d; ++i)
        norm[r] += q[r * d + i] * q[r * d + i];
      norm[r] = std::sqrt(norm[r]);
    }
    double total = 0;
    for (int64_t r = 0; r < n; ++r) {
      std::vector<double> logits;
      double positive = 0;
      for (int64_t k = 0; k < n; ++k) {
        if (k == r)
          continue;
        double dot = 0;
        for (int64_t i = 0; i < d; ++i)
          dot += q[r * d + i] * q[k * d + i];
        double logit = dot / (norm[r] * norm[k]) / temperature;
        logits.push_back(logit);
        if (k == (r + n / 2) % n)
          positive = logit;
      }
      double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
      for (double logit : logits)
        sum += std::exp(logit - top);
      total += top + std::log(sum) - positive;
    }
    return total / n;
  };
  std::vector<double> dp(n * d);
  for (int64_t k = 0; k < n * d; ++k) {
    std::vector<double> q = p;
    double h = 1e-6 * std::max(1.0, std::abs(p[k]));
    q[k] = p[k] + h;
    double up = lossOf(q);
    q[k] = p[k] - h;
    dp[k] = (up - lossOf(q)) / (2 * h);
  }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) {
        dz.v[r * d + j] += dp[r * d + i] * w[i * d + j];
        dw[i * d + j] += dp[r * d + i] * z.v[r * d + j];
      }
  return lossOf(p);
}

/// Forward of one tiny block: conv3x3 -> relu or triangle -> [maxpool2 or avgpool2].
RefMap refBlockForward(const TinyBlock &tb, const Params64 &p, const RefMap &x, RefSaved &s) {
  s.in = x;
  s.pre = refConv(x, p[tb.weight], &p[tb.bias], tb.out);
  RefMap r = s.pre;
  if (tb.triangle) { // relu(a - mean over channels)
    for (int64_t a = 0; a < r.n; ++a)
      for (int64_t i = 0; i < r.h; ++i)
        for (int64_t j = 0; j < r.w; ++j) {
          double mean = 0;
          for (int64_t q = 0; q < r.c; ++q)
            mean += s.pre.at(a, q, i, j) / double(r.c);
          for (int64_t q = 0; q < r.c; ++q)
            r.at(a, q, i, j) = std::max(0.0, s.pre.at(a, q, i, j) - mean);
        }
  } else {
    for (double &e : r.v)
      e = std::max(0.0, e);
  }
  s.out = r;
  if (tb.avgPool)
    return refAvgPool(r, 2, 2);
  return tb.maxPool ? refMaxPool2(r) : r;
}

/// Backward of one tiny block from dh; adds dW, db; returns dx when asked.
RefMap refBlockBackward(const TinyBlock &tb, const Params64 &p, const RefSaved &s, const RefMap &dh,
                        std::map<int32_t, std::vector<double>> &grads, bool wantDx) {
  const RefMap &r = s.out, &x = s.in;
  RefMap dr(r.n, r.c, r.h, r.w);
  if (tb.maxPool) {
    for (int64_t a = 0; a < r.n; ++a)
      for (int64_t q = 0; q < r.c; ++q)
        for (int64_t i = 0; i < r.h / 2; ++i)
          for (int64_t j = 0; j < r.w / 2; ++j) {
            int64_t bi = 2 * i, bj = 2 * j;
            for (int64_t pp = 0; pp < 2; ++pp)
              for (int64_t rr = 0; rr < 2; ++rr)
                if (r.at(a, q, 2 * i + pp, 2 * j + rr) > r.at(a, q, bi, bj))
                  bi = 2 * i + pp, bj = 2 * j + rr;
            dr.at(a, q, bi, bj) += dh.at(a, q, i, j);
          }
  } else if (tb.avgPool) {
    for (int64_t a = 0; a < r.n; ++a)
      for (int64_t q = 0; q < r.c; ++q)
        for (int64_t i = 0; i < r.h; ++i)
          for (int64_t j = 0; j < r.w; ++j)
            dr.at(a, q, i, j) = dh.at(a, q, i / 2, j / 2) / 4.0;
  } else {
    dr = dh;
  }
  for (size_t i = 0; i < dr.v.size(); ++i)
    if (r.v[i] <= 0)
      dr.v[i] = 0;
  if (tb.triangle) // the mean's adjoint: subtract the channel mean of the masked gradient
    for (int64_t a = 0; a < r.n; ++a)
      for (int64_t i = 0; i < r.h; ++i)
        for (int64_t j = 0; j < r.w; ++j) {
          double mean = 0;
          for (int64_t q = 0; q < r.c; ++q)
            mean += dr.at(a, q, i, j) / double(r.c);
          for (int64_t q = 0; q < r.c; ++q)
            dr.at(a, q, i, j) -= mean;
        }
  std::vector<double> &dw = grads[tb.weight], &db = grads[tb.bias];
  dw.assign(p[tb.weight].size(), 0.0);
  db.assign(p[tb.bias].size(), 0.0);
  RefMap dx(x.n, x.c, x.h, x.w);
  for (int64_t a = 0; a < x.n; ++a)
    for (int64_t q = 0; q < tb.out; ++q)
      for (int64_t i = 0; i < x.h; ++i)
        for (int64_t j = 0; j < x.w; ++j) {
          double g = dr.at(a, q, i, j);
          db[q] += g;
          for (int64_t ch = 0; ch < x.c; ++ch)
            for (int64_t pp = 0; pp < 3; ++pp)
              for (int64_t rr = 0; rr < 3; ++rr) {
                int64_t yy = i + pp - 1, xx = j + rr - 1;
                if (yy < 0 || yy >= x.h || xx < 0 || xx >= x.w)
                  continue;
                int64_t widx = ((q * x.c + ch) * 3 + pp) * 3 + rr;
                dw[widx] += g * x.at(a, ch, yy, xx);
                if (wantDx)
                  dx.at(a, ch, yy, xx) += g * p[tb.weight][widx];
              }
        }
  return dx;
}

struct RefResult {
  std::vector<double> losses;
  std::map<int32_t, std::vector<double>> grads;
};

/// One step's gradients of the tiny model, local (block by block, detached inputs) or global.
RefResult reference(const TinySpec &spec, const ModelDesc &model, const Params64 &p,
                    const RefMap &views) {
  size_t nb = spec.blocks.size();
  RefResult res;
  res.losses.assign(nb, std::nan(""));
  std::vector<RefSaved> saved(nb);
  std::vector<RefMap> outs(nb);
  RefMap h = views;
  for (size_t l = 0; l < nb; ++l)
    outs[l] = h = refBlockForward(spec.blocks[l], p, h, saved[l]);

  auto lossOf = [&](size_t l, RefMap &dh) {
    const TinyBlock &tb = spec.blocks[l];
    const BlockDesc &bd = model.blocks[l];
    RefMap z = refPoolForLoss(outs[l], tb.pool);
    RefMap dz(z.n, z.c, 1, 1);
    double loss = 0;
    // Projection -1 is the identity (projection = identity): B = I, and its
    // gradient is formed into scratch and dropped (nothing is trained).
    std::vector<double> scratch;
    auto projectionOf = [&](int32_t i, int64_t d) {
      if (i >= 0)
        return p[i];
      std::vector<double> eye(d * d, 0.0);
      for (int64_t k = 0; k < d; ++k)
        eye[k * d + k] = 1.0;
      return eye;
    };
    auto gradOf = [&](int32_t i) -> std::vector<double> & {
      if (i < 0) {
        scratch.assign(z.c * z.c, 0.0);
        return scratch;
      }
      res.grads[i].assign(p[i].size(), 0.0);
      return res.grads[i];
    };
    double theta = spec.loss == "phyll" ? bd.loss.theta : 0.0;
    if (spec.loss == "infonce") {
      loss += refInfoNce(z, p[bd.projection], bd.loss.temperature, dz, gradOf(bd.projection));
    } else {
      if (spec.context == "same" || spec.context == "both") {
        int32_t lat = spec.context == "both" ? bd.lateralProjection : bd.projection;
        loss += refBilinear(z, z, projectionOf(lat, z.c), dz, gradOf(lat), theta);
      }
      if (spec.context == "top" || spec.context == "both") {
        RefMap c = refPoolForLoss(outs[nb - 1], spec.blocks[nb - 1].pool);
        loss += refBilinear(z, c, projectionOf(bd.projection, z.c), dz, gradOf(bd.projection),
                            theta);
      }
    }
    dh = refUnpool(dz, outs[l], tb.pool);
    return loss;
  };

  if (!spec.global) {
    for (size_t l = 0; l < nb; ++l) {
      RefMap dh;
      res.losses[l] = lossOf(l, dh);
      refBlockBackward(spec.blocks[l], p, saved[l], dh, res.grads, /*wantDx=*/false);
    }
  } else {
    RefMap dh;
    res.losses[nb - 1] = lossOf(nb - 1, dh);
    for (size_t l = nb; l-- > 0;)
      dh = refBlockBackward(spec.blocks[l], p, saved[l], dh, res.grads, l > 0);
  }
  return res;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

using locus::test::makeEngine;
using locus::test::randomViews;
using locus::test::relativeError;

void checkGradients(TinySpec spec) {
  const TestModel &compiled = tinyModel(spec);
  const ModelDesc &model = compiled.desc();
  std::unique_ptr<Engine> engine = makeEngine(compiled, 3);
  ASSERT_TRUE(engine);
  // Larger projections than the fan-in init keep the hinge terms active and the gradient rich.
  for (int32_t i = 0; i < static_cast<int32_t>(model.params.size()); ++i)
    if (model.params[i].shape.size() == 2)
      for (int64_t k = 0; k < engine->param(i).count(); ++k)
        engine->param(i).data()[k] *= 3.0f;
  Tensor views = randomViews(*engine, 11);

  std::map<int32_t, std::vector<float>> got;
  std::vector<double> losses;
  Status status = engine->gradients(
      views,
      [&](int32_t i, const Tensor &g) {
        ASSERT_TRUE(g.defined()) << model.params[i].name;
        got[i].assign(g.data(), g.data() + g.count());
      },
      losses);
  ASSERT_TRUE(status.isOk()) << status.message();

  Params64 p;
  for (const Tensor &t : engine->params())
    p.emplace_back(t.data(), t.data() + t.count());
  Shape4 vs = engine->viewShape();
  RefMap x(vs.n, vs.c, vs.h, vs.w);
  x.v.assign(views.data(), views.data() + views.count());
  RefResult ref = reference(spec, model, p, x);

  ASSERT_EQ(losses.size(), ref.losses.size());
  for (size_t l = 0; l < losses.size(); ++l) {
    if (std::isnan(ref.losses[l])) {
      EXPECT_TRUE(std::isnan(losses[l])) << "block " << l << " has no optimised loss";
      continue;
    }
    EXPECT_NEAR(losses[l], ref.losses[l], 1e-4 * std::max(1.0, std::abs(ref.losses[l])))
        << "block " << l;
  }
  EXPECT_EQ(got.size(), ref.grads.size());
  for (const auto &[i, g] : ref.grads) {
    ASSERT_TRUE(got.count(i)) << "no gradient for " << model.params[i].name;
    ASSERT_EQ(got[i].size(), g.size()) << model.params[i].name;
    double norm = 0;
    for (double e : g)
      norm = std::max(norm, std::abs(e));
    EXPECT_GT(norm, 0.0) << model.params[i].name << ": the check needs a non-zero gradient";
    EXPECT_LT(relativeError(got[i].data(), g), 1e-4) << model.params[i].name;
  }
}

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

TEST(TrainEngine, ClappPlusPlusGradientsMatchFloat64Reference) {
  TinySpec spec;
  // locusc runs block 1's relu + max-pool as one layer (its conv apart:
  // the model is compiled with --fuse-conv-relu-pool=false).
  ASSERT_EQ(tinyModel(spec).desc().blocks[0].layers[1].kind, LayerKind::ReluMaxPool2D);
  checkGradients(spec);
}

TEST(TrainEngine, FusedConvReluMaxPoolGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-pooled-fused";
  spec.blocks = {{4, true, 2}, {6, true, 1}}; // both blocks start with conv + relu + max-pool
  const ModelDesc &model = tinyModel(spec).desc();
  ASSERT_EQ(model.blocks[0].layers.size(), 1u);
  ASSERT_EQ(model.blocks[1].layers[0].kind, LayerKind::ConvReluMaxPool2D);
  checkGradients(spec); // local: both blocks fused
  spec.model = "tiny-pooled-fused-bp";
  spec.global = true;
  const ModelDesc &global = tinyModel(spec).desc();
  ASSERT_EQ(global.blocks[0].layers[0].kind, LayerKind::ConvReluMaxPool2D);
  ASSERT_EQ(global.blocks[1].layers[0].kind, LayerKind::Conv2D); // needs its input gradient
  checkGradients(spec);
}

TEST(TrainEngine, PhyllGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-phyll";
  spec.loss = "phyll";
  checkGradients(spec);
}

TEST(TrainEngine, BpInfoNceGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-infonce";
  spec.loss = "infonce";
  spec.global = true;
  spec.blocks[0].pool = spec.blocks[1].pool = 0; // the rule pools globally: D = C
  checkGradients(spec);
}

TEST(TrainEngine, IdentityProjectionGradientsMatchFloat64Reference) {
  // B = I is no matrix: the backend takes the context as B c itself.
  TinySpec spec;
  spec.model = "tiny-identity";
  const ModelDesc &model = tinyModel(spec).desc();
  ASSERT_EQ(model.blocks[0].projection, -1);
  for (const ParamDesc &p : model.params)
    EXPECT_NE(p.shape.size(), 2u) << p.name << ": the identity projection is no parameter";
  checkGradients(spec);
}

TEST(TrainEngine, DirectFeedbackGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-dfb";
  spec.context = "top";
  checkGradients(spec);
}

TEST(TrainEngine, BothGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-both";
  spec.context = "both";
  checkGradients(spec);
}

TEST(TrainEngine, GlobalModeGradientsMatchFloat64Backprop) {
  TinySpec spec;
  spec.model = "tiny-bp";
  spec.global = true; // block 2's dL/dx goes through block 1's fused relu + max-pool
  checkGradients(spec);
}

TEST(TrainEngine, GlobalPoolingGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-global-pool";
  spec.blocks[0].pool = 0;
  spec.blocks[1].pool = 0;
  checkGradients(spec);
}

TEST(TrainEngine, TriangleAndAvgPoolGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.model = "tiny-triangle";
  spec.blocks[0].triangle = true;
  spec.blocks[0].maxPool = false;
  spec.blocks[0].avgPool = true;
  spec.blocks[1].triangle = true;
  checkGradients(spec);
  spec.model = "tiny-triangle-bp";
  spec.global = true;
  checkGradients(spec);
}

TEST(TrainEngine, RandomNegativesDifferFromNextIndex) {
  std::unique_ptr<Engine> a = makeEngine(TestModel::get("tiny-random"), 4),
                          b = makeEngine(TestModel::get("tiny"), 4);
  Tensor views = randomViews(*a, 6);
  std::vector<double> la, lb;
  ASSERT_TRUE(a->evaluate(views, la).isOk());
  ASSERT_TRUE(b->evaluate(views, lb).isOk());
  EXPECT_NE(la[0], lb[0]);
  std::vector<double> again;
  ASSERT_TRUE(a->evaluate(views, again).isOk());
  EXPECT_EQ(la, again) << "evaluation draws the same negatives for the same draw index";
}

void expectStepAppliesAdamW(const TestModel &model) {
  std::unique_ptr<Engine> a = makeEngine(model, 5), b = makeEngine(model, 5);
  Tensor views = randomViews(*a, 2);
  std::map<int32_t, std::vector<float>> grads;
  std::vector<double> lossA, lossB;
  ASSERT_TRUE(a->gradients(views, [&](int32_t i, const Tensor &g) {
                 grads[i].assign(g.data(), g.data() + g.count());
               }, lossA).isOk());
  ASSERT_TRUE(b->step(views, lossB).isOk());
  EXPECT_EQ(lossA, lossB);
  // First AdamW step: p -= lr * g / (|g| + eps) (bias corrections cancel).
  cpu::AdamW adam;
  for (const auto &[i, g] : grads)
    for (size_t k = 0; k < g.size(); ++k) {
      double expected = a->param(i).data()[k] - adam.lr * g[k] / (std::abs(g[k]) + adam.eps);
      ASSERT_NEAR(b->param(i).data()[k], expected, 1e-7)
          << model.desc().params[i].name << "[" << k << "]";
    }
}

TEST(TrainEngine, StepAppliesAdamWToTheSameGradients) {
  // A training step updates the projections inside the loss step, from the
  // row factors of dL/dB; gradients() forms dL/dB. Both must agree, for one
  // projection and for two ("both": B_fb and B_lat).
  for (const char *name : {"tiny", "tiny-dfb", "tiny-both"}) {
    SCOPED_TRACE(name);
    expectStepAppliesAdamW(TestModel::get(name));
  }
}

TEST(TrainEngine, BlockLearningRatesScaleEachBlocksUpdate) {
  // --block-lr: a factor per parameter on the scheduled rate. Factor 0 on
  // the first block's parameters (its convolution and projection) freezes
  // them, the others move as with no factors; the fused projection update
  // (adamw_from_factors) and the plain one both honour it.
  const TestModel &model = TestModel::get("tiny");
  const locus::rt::ModelDesc &desc = model.desc();
  std::vector<double> scale(desc.params.size(), 1.0);
  std::set<int32_t> first;
  for (const locus::rt::LayerDesc &layer : desc.blocks[0].layers)
    for (int32_t p : {layer.weight, layer.bias})
      if (p >= 0)
        first.insert(p);
  first.insert(desc.blocks[0].projection);
  for (int32_t p : first)
    scale[p] = 0.0;
  locus::rt::train::EngineOptions options = model.engineOptions(5);
  options.lrScale = scale;
  std::unique_ptr<Engine> scaled;
  ASSERT_TRUE(Engine::create(desc, options, scaled).isOk());
  std::unique_ptr<Engine> plain = makeEngine(model, 5), before = makeEngine(model, 5);
  Tensor views = randomViews(*plain, 3);
  std::vector<double> la, lb;
  ASSERT_TRUE(plain->step(views, la).isOk());
  ASSERT_TRUE(scaled->step(views, lb).isOk());
  EXPECT_EQ(la, lb);
  for (size_t i = 0; i < desc.params.size(); ++i) {
    if (!desc.params[i].trained)
      continue;
    const int64_t n = plain->param(i).count();
    const std::vector<float> p0(before->param(i).data(), before->param(i).data() + n),
        pPlain(plain->param(i).data(), plain->param(i).data() + n),
        pScaled(scaled->param(i).data(), scaled->param(i).data() + n);
    if (first.count(static_cast<int32_t>(i))) {
      EXPECT_EQ(pScaled, p0) << desc.params[i].name << " is frozen";
      EXPECT_NE(pPlain, p0) << desc.params[i].name;
    } else {
      EXPECT_EQ(pScaled, pPlain) << desc.params[i].name;
    }
  }
}

TEST(TrainEngine, LocalStepPeaksBelowGlobalStep) {
  // A step's buffers are the arena locusc planned; the local rule's is
  // smaller than global backprop's on four equal blocks, and what the engine
  // holds after a step is what it held before (the convolutions' workspace
  // grows on the first step only).
  const TestModel &localModel = TestModel::get("equal-blocks"),
                  &globalModel = TestModel::get("equal-blocks-bp");
  const locus::abi::StepProgram &local = localModel.program(), &global = globalModel.program();
  EXPECT_GT(local.trainFusedArenaBytes, 0);
  EXPECT_LT(local.trainFusedArenaBytes, global.trainFusedArenaBytes)
      << "local " << local.trainFusedArenaBytes << " B, global " << global.trainFusedArenaBytes
      << " B";
  for (const TestModel *model : {&localModel, &globalModel}) {
    std::unique_ptr<Engine> engine = makeEngine(*model);
    Tensor views = randomViews(*engine, 4);
    std::vector<double> losses;
    ASSERT_TRUE(engine->step(views, losses).isOk()); // warm the workspace
    int64_t before = engine->memory().current();
    engine->memory().resetPeak();
    ASSERT_TRUE(engine->step(views, losses).isOk());
    EXPECT_EQ(engine->memory().current(), before) << "a step must not allocate";
    EXPECT_EQ(engine->memory().peak(), before);
  }
  EXPECT_LT(makeEngine(localModel)->memory().current(),
            makeEngine(globalModel)->memory().current());
}

TEST(TrainEngine, SameSeedSameTraining) {
  const TestModel &model = TestModel::get("tiny-random");
  std::unique_ptr<Engine> a = makeEngine(model, 9), b = makeEngine(model, 9),
                          c = makeEngine(model, 10);
  for (int s = 0; s < 3; ++s) {
    Tensor views = randomViews(*a, 100 + s);
    std::vector<double> la, lb, lc;
    ASSERT_TRUE(a->step(views, la).isOk());
    ASSERT_TRUE(b->step(views, lb).isOk());
    ASSERT_TRUE(c->step(views, lc).isOk());
    EXPECT_EQ(la, lb);
  }
  bool differs = false;
  for (size_t i = 0; i < a->params().size(); ++i) {
    const Tensor &pa = a->params()[i], &pb = b->params()[i], &pc = c->params()[i];
    EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), sizeof(float) * pa.count()))
        << model.desc().params[i].name;
    differs |= std::memcmp(pa.data(), pc.data(), sizeof(float) * pa.count()) != 0;
  }
  EXPECT_TRUE(differs) << "another seed must give other parameters";
}

TEST(TrainEngine, InitialisationFollowsFanIn) {
  const ModelDesc &model = TestModel::get("tiny").desc();
  std::unique_ptr<Engine> engine = makeEngine(TestModel::get("tiny"));
  for (size_t i = 0; i < model.params.size(); ++i) {
    const ParamDesc &p = model.params[i];
    // conv weight [O, C, 3, 3] and its bias: C*9; projection [D, Dc]: Dc.
    double fan = p.shape.size() == 4 ? double(p.shape[1] * 9)
                 : p.shape.size() == 2 ? double(p.shape[1])
                                       : double(model.params[i - 1].shape[1] * 9);
    double bound = 1 / std::sqrt(fan), top = 0;
    const Tensor &t = engine->params()[i];
    for (int64_t k = 0; k < t.count(); ++k)
      top = std::max(top, double(std::abs(t.data()[k])));
    EXPECT_LE(top, bound) << p.name;
    if (t.count() >= 32) { // enough draws that one lands in the outer half
      EXPECT_GT(top, 0.5 * bound) << p.name;
    }
  }
}

TEST(TrainEngine, ViewsOfTheWrongSizeAreRejected) {
  std::unique_ptr<Engine> engine = makeEngine(TestModel::get("tiny"));
  Tensor views = Tensor::allocate(engine->memoryHandle(), Shape4{2, 1, 1, 1});
  std::vector<double> losses;
  Status status = engine->step(views, losses);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("views"), std::string::npos) << status.message();
}

TEST(TrainEngine, AModelWithoutItsStepProgramIsRefused) {
  // The runtime holds no rule: without the compiled program there is nothing to run.
  const TestModel &model = TestModel::get("tiny");
  EngineOptions options = model.engineOptions();
  options.program = nullptr;
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model.desc(), options, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_FALSE(engine);
  EXPECT_NE(status.message().find("the model has no step program: recompile it with this locusc"),
            std::string::npos)
      << status.message();
  // A program of another ABI version is refused by name, not run.
  locus::abi::StepProgram stale = model.program();
  stale.version = locus::abi::kStepProgramVersion - 1;
  options.program = &stale;
  status = Engine::create(model.desc(), options, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("step program has version"), std::string::npos)
      << status.message();
}

TEST(TrainEngine, WithoutStaticShapeKernelsTheGeneralKernelsRun) {
  // The loss poolings and the relu + max-pool epilogues come twice from
  // locusc: as static-shape kernels for the model's shapes and as general
  // ones. Without the static tables the general kernels run, to rounding.
  // (BP-CLAPP++: in global mode the relu + max-pool keeps its arg-max; in
  // local mode it has no general twin, below.)
  const TestModel &model = TestModel::get("tiny-bp");
  ASSERT_GT(model.record().lossPools.count, 0);
  ASSERT_GT(model.record().reluPools.count, 0);
  cpu::LossPoolKernels noLossPools{nullptr, 0};
  cpu::ReluPoolKernels noReluPools{nullptr, 0};
  EngineOptions options = model.engineOptions(6);
  options.kernels.lossPools = &noLossPools;
  options.kernels.reluPools = &noReluPools;
  std::unique_ptr<Engine> general, compiled = makeEngine(model, 6);
  ASSERT_TRUE(Engine::create(model.desc(), options, general).isOk());
  for (int s = 0; s < 2; ++s) {
    Tensor views = randomViews(*compiled, 30 + s);
    std::vector<double> a, b;
    ASSERT_TRUE(compiled->step(views, a).isOk());
    ASSERT_TRUE(general->step(views, b).isOk());
    for (size_t l = 0; l < a.size(); ++l) // NaN: block1 has no loss of its own here
      EXPECT_TRUE(std::abs(b[l] - a[l]) <= 1e-5 * std::abs(a[l]) ||
                  (std::isnan(a[l]) && std::isnan(b[l])))
          << "step " << s << " block " << l << ": " << b[l] << " vs " << a[l];
  }
}

TEST(TrainEngine, ModelsWithoutTheirCompiledKernelsStopNamingThem) {
  // The runtime has no loss, activation, pooling or update math of its own:
  // a kernel the program launches that the object lacks stops the binary,
  // naming it (a Backend call cannot hand an error back into the program).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const TestModel &compiled = TestModel::get("tiny");
  const ModelDesc &model = compiled.desc();
  const cpu::ModelKernels all = compiled.engineOptions().kernels;
  auto stepWith = [&](cpu::ModelKernels kernels, const TestModel &which) {
    EngineOptions options = which.engineOptions();
    options.kernels = kernels;
    std::unique_ptr<Engine> engine;
    if (!Engine::create(which.desc(), options, engine).isOk())
      std::exit(3);
    Tensor views = randomViews(*engine, 1);
    std::vector<double> losses;
    (void)engine->step(views, losses);
    std::exit(0);
  };
  cpu::ModelKernels noUpdates = all;
  noUpdates.update = nullptr;
  EngineOptions options = compiled.engineOptions();
  options.kernels = noUpdates;
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model, options, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("no update kernels"), std::string::npos) << status.message();
  EXPECT_FALSE(engine) << "a refused model gets no engine";

  cpu::ModelKernels noActivations = all;
  noActivations.activations = nullptr;
  EXPECT_EXIT(stepWith(noActivations, compiled), testing::ExitedWithCode(1),
              "no activation kernels");
  // Local mode: block1's relu + max-pool runs without an arg-max, a kernel
  // only the static table has.
  cpu::ModelKernels noReluPools = all;
  noReluPools.reluPools = nullptr;
  EXPECT_EXIT(stepWith(noReluPools, compiled), testing::ExitedWithCode(1),
              "no relu \\+ max-pool kernel without an arg-max");
  // Global mode keeps the arg-max, which the general pooling kernels serve.
  const TestModel &global = TestModel::get("tiny-bp");
  cpu::ModelKernels noPooling = global.engineOptions().kernels;
  noPooling.pooling = nullptr;
  noPooling.reluPools = nullptr;
  EXPECT_EXIT(stepWith(noPooling, global), testing::ExitedWithCode(1), "no pooling kernels");
  EXPECT_EXIT(stepWith(all, compiled), testing::ExitedWithCode(0), "")
      << "the complete tables run";
}

TEST(TrainEngine, FeaturesConcatenatePooledBlockOutputs) {
  TinySpec spec;
  std::unique_ptr<Engine> engine = makeEngine(tinyModel(spec));
  EXPECT_EQ(engine->featureCount(), 4 * 2 * 2 + 6 * 2 * 2);
  Shape4 vs = engine->viewShape();
  Tensor images = Tensor::allocate(engine->memoryHandle(), Shape4{3, vs.c, vs.h, vs.w});
  Rng rng(1);
  for (int64_t i = 0; i < images.count(); ++i)
    images.data()[i] = float(rng.uniform());
  std::vector<float> features(3 * engine->featureCount());
  ASSERT_TRUE(engine->features(images, features.data()).isOk());
  // Every block's pooled output, block after block, against the reference.
  Params64 p;
  for (const Tensor &t : engine->params())
    p.emplace_back(t.data(), t.data() + t.count());
  RefMap x(3, vs.c, vs.h, vs.w);
  x.v.assign(images.data(), images.data() + images.count());
  RefSaved s;
  RefMap h1 = refBlockForward(spec.blocks[0], p, x, s);
  RefMap z1 = refPoolForLoss(h1, 2);
  RefMap z2 = refPoolForLoss(refBlockForward(spec.blocks[1], p, h1, s), 2);
  int64_t f = engine->featureCount();
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t k = 0; k < z1.c; ++k)
      EXPECT_NEAR(features[i * f + k], z1.v[i * z1.c + k], 1e-5);
    for (int64_t k = 0; k < z2.c; ++k)
      EXPECT_NEAR(features[i * f + z1.c + k], z2.v[i * z2.c + k], 1e-5);
  }
}

//===----------------------------------------------------------------------===//
// Whole runs (what the compiled binary does after parsing its options)
//===----------------------------------------------------------------------===//

std::string tempFile(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("locus-run-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

std::vector<JsonValue> readMetrics(const std::string &path) {
  std::ifstream in(path);
  std::vector<JsonValue> lines;
  for (std::string line; std::getline(in, line);) {
    JsonValue v;
    EXPECT_TRUE(parseJson(line, v).isOk()) << line;
    lines.push_back(v);
  }
  return lines;
}

/// Pointers into `lines`, which must outlive them.
std::vector<const JsonValue *> ofType(const std::vector<JsonValue> &lines, const std::string &type) {
  std::vector<const JsonValue *> out;
  for (const JsonValue &v : lines)
    if (v.find("type") && v.find("type")->text == type)
      out.push_back(&v);
  return out;
}

Options syntheticRun(const std::string &metrics) {
  Options o;
  o.data.kind = "synthetic";
  o.data.count = 64; // 16 steps of 4 images
  o.epochs = 2;
  o.logEvery = 4;
  o.heldOut = 16;
  o.probeEpochs = 2;
  o.seed = 3;
  o.metrics = metrics;
  return o;
}

TEST(TrainRun, SyntheticRunLogsEverything) {
  const TestModel &model = TestModel::get("tiny");
  std::string metrics = tempFile("metrics.jsonl"), checkpoint = tempFile("ck.safetensors");
  Options o = syntheticRun(metrics);
  o.save = checkpoint;
  Status status = runTraining(model.desc(), o, model.compiled());
  ASSERT_TRUE(status.isOk()) << status.message();
  std::vector<JsonValue> lines = readMetrics(metrics);
  EXPECT_EQ(ofType(lines, "run").size(), 1u);
  auto steps = ofType(lines, "step");
  ASSERT_EQ(steps.size(), 8u); // 32 steps, one line every 4
  EXPECT_EQ(steps.back()->find("step")->number, 32);
  EXPECT_EQ(steps.back()->find("loss")->items.size(), 2u);
  EXPECT_EQ(ofType(lines, "epoch").size(), 2u);
  auto memory = ofType(lines, "memory");
  ASSERT_EQ(memory.size(), 1u);
  EXPECT_GT(memory[0]->find("measured_peak_bytes")->number, 0);
  EXPECT_EQ(memory[0]->find("planned_peak_bytes")->number,
            memory[0]->find("measured_peak_bytes")->number)
      << "the plan is exact";
  auto held = ofType(lines, "heldout");
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0]->find("block")->text, "block1");
  EXPECT_EQ(held[0]->find("before")->kind, JsonValue::Kind::Number);
  EXPECT_EQ(held[0]->find("after")->kind, JsonValue::Kind::Number);
  auto probe = ofType(lines, "probe");
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(probe[0]->find("features")->number, 16 + 24);
  EXPECT_GE(probe[0]->find("test_acc")->number, 0.0);

  // The checkpoint holds the trained parameters under the descriptor's names.
  std::unique_ptr<Engine> fresh = makeEngine(model, 99);
  std::vector<Tensor> params = fresh->params();
  status = loadCheckpoint(checkpoint, model.desc(), params);
  ASSERT_TRUE(status.isOk()) << status.message();
  std::filesystem::remove(metrics);
  std::filesystem::remove(checkpoint);
}

TEST(TrainRun, SameSeedSameRun) {
  const TestModel &model = TestModel::get("tiny");
  std::string m1 = tempFile("a.jsonl"), m2 = tempFile("b.jsonl");
  Options o = syntheticRun(m1);
  o.logEvery = 1;
  o.probeEpochs = 0;
  ASSERT_TRUE(runTraining(model.desc(), o, model.compiled()).isOk());
  o.metrics = m2;
  ASSERT_TRUE(runTraining(model.desc(), o, model.compiled()).isOk());
  std::vector<JsonValue> linesA = readMetrics(m1), linesB = readMetrics(m2);
  auto a = ofType(linesA, "step"), b = ofType(linesB, "step");
  ASSERT_EQ(a.size(), 32u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t l = 0; l < 2; ++l)
      EXPECT_EQ(a[i]->find("loss")->items[l].number, b[i]->find("loss")->items[l].number)
          << "step " << i + 1;
  std::filesystem::remove(m1);
  std::filesystem::remove(m2);
}

TEST(TrainRun, OverlappedUploadsTrainOnTheSameViews) {
  // A backend whose uploads overlap the step (a GPU's) gets the next step's
  // views while one trains, into a second buffer. Emulated strictly on the
  // CPU (copies land only when the trainer waits for them), with one slot of
  // rendered views (the next step renders into the buffer just uploaded) and
  // with workers (slots refilled ahead): every step's losses as the plain
  // run's, bit for bit.
  const TestModel &model = TestModel::get("tiny");
  for (int64_t workers : {0, 2}) {
    std::string plainMetrics = tempFile("plain.jsonl"), overlapMetrics = tempFile("overlap.jsonl");
    Options o = syntheticRun(plainMetrics);
    o.logEvery = 1;
    o.probeEpochs = 0;
    o.heldOut = 0;
    o.workers = workers;
    ASSERT_TRUE(runTraining(model.desc(), o, model.compiled()).isOk());
    std::map<std::string, int64_t> calls;
    CompiledModel overlapped = model.compiled();
    overlapped.makeBackend = [&](const locus::rt::cpu::ModelKernels &kernels, const Options &,
                                 std::string &) -> std::unique_ptr<locus::rt::Backend> {
      auto backend = std::make_unique<locus::test::RecordingBackend>(
          locus::rt::cpu::makeCpuBackend(kernels));
      backend->deferUploads = true;
      backend->callsAtEnd = &calls;
      return backend;
    };
    o.metrics = overlapMetrics;
    Status status = runTraining(model.desc(), o, overlapped);
    ASSERT_TRUE(status.isOk()) << status.message();
    const std::vector<JsonValue> plainLines = readMetrics(plainMetrics),
                                 overlapLines = readMetrics(overlapMetrics);
    auto a = ofType(plainLines, "step"), b = ofType(overlapLines, "step");
    ASSERT_EQ(a.size(), 32u);
    ASSERT_EQ(b.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const JsonValue *la = a[i]->find("loss"), *lb = b[i]->find("loss");
      ASSERT_TRUE(la && lb && la->items.size() == 2 && lb->items.size() == 2) << "step " << i + 1;
      for (size_t l = 0; l < 2; ++l)
        EXPECT_EQ(la->items[l].number, lb->items[l].number)
            << "workers " << workers << ", step " << i + 1;
    }
    // One upload a step, each waited for; the pipeline's buffers pinned
    // (one without workers, three with).
    EXPECT_EQ(calls["uploadAsync"], 32);
    EXPECT_GE(calls["waitForUploads"], 32);
    EXPECT_EQ(calls["pinHostMemory"], workers ? 3 : 1);
    std::filesystem::remove(plainMetrics);
    std::filesystem::remove(overlapMetrics);
  }
}

TEST(TrainRun, FixedBatchTrainsOnOneStepsViews) {
  const TestModel &model = TestModel::get("tiny");
  std::string batch = tempFile("batch.f32"), metrics = tempFile("fixed.jsonl");
  {
    std::ofstream out(batch, std::ios::binary);
    Rng rng(1);
    for (int64_t i = 0; i < 8 * 2 * 8 * 8; ++i) {
      float v = static_cast<float>(rng.uniform(-1, 1));
      out.write(reinterpret_cast<const char *>(&v), 4);
    }
  }
  Options o;
  o.fixedBatch = batch;
  o.maxSteps = 20;
  o.heldOut = 0;
  o.probeEpochs = 0;
  o.logEvery = 1;
  o.metrics = metrics;
  Status status = runTraining(model.desc(), o, model.compiled());
  ASSERT_TRUE(status.isOk()) << status.message();
  std::vector<JsonValue> lines = readMetrics(metrics);
  auto steps = ofType(lines, "step");
  ASSERT_EQ(steps.size(), 20u);
  // The same views every step: the loss must go down.
  double first = steps.front()->find("loss")->items[0].number,
         last = steps.back()->find("loss")->items[0].number;
  EXPECT_LT(last, first);

  o.maxSteps = 1;
  o.fixedBatch = tempFile("missing.f32");
  status = runTraining(model.desc(), o, model.compiled());
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("missing.f32"), std::string::npos) << status.message();
  std::filesystem::remove(batch);
  std::filesystem::remove(metrics);
}

} // namespace

namespace {
/// The engine's measured peak over two steps and an evaluation against the
/// plan the training binary prints: the compiler's, in the step program's
/// record (resident state and workspace from locus-plan-memory, the arena
/// from locus-plan-arena).
void expectPlanMatchesEngine(const char *name, OptimizerKind kind = OptimizerKind::AdamW,
                             cpu::MomentFormat moments = cpu::MomentFormat::Float32) {
  SCOPED_TRACE(name);
  const TestModel &model = locus::test::TestModel::get(name);
  EngineOptions options = model.engineOptions();
  options.kind = kind;
  options.moments = moments;
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::create(model.desc(), options, engine).isOk());
  Tensor views = randomViews(*engine, 3);
  std::vector<double> losses;
  engine->memory().resetPeak();
  ASSERT_TRUE(engine->step(views, losses).isOk());
  ASSERT_TRUE(engine->evaluate(views, losses).isOk());
  ASSERT_TRUE(engine->step(views, losses).isOk());
  int64_t planned = engine->plannedPeakBytes();
  int64_t measured = engine->memory().peak();
  // The plan follows every buffer the engine allocates, at the 64-byte
  // granularity its tracker counts: the two agree to the byte.
  EXPECT_EQ(measured, planned) << "(workspace planned " << model.program().workspaceBytes
                               << " B, measured " << engine->memory().peakExternal() << " B)";
}
} // namespace

TEST(TrainMemoryPlan, PlanMatchesTheEnginesMeasuredPeak) {
  for (const char *name : {"tiny", "tiny-dfb", "tiny-both", "tiny-bp", "tiny-fused",
                           "tiny-pooled-fused", "tiny-pooled-fused-bp", "tiny-triangle",
                           "equal-blocks", "equal-blocks-bp", "goodness-ff", "goodness-scff"})
    expectPlanMatchesEngine(name);
  // SGD and LARS keep one momentum buffer and form dL/dB.
  expectPlanMatchesEngine("tiny", OptimizerKind::Sgd);
  expectPlanMatchesEngine("tiny-both", OptimizerKind::Lars);
  expectPlanMatchesEngine("tiny-both", OptimizerKind::AdamW, cpu::MomentFormat::BFloat16);
  expectPlanMatchesEngine("equal-blocks-bp", OptimizerKind::AdamW, cpu::MomentFormat::BFloat16);
}

TEST(TrainEngine, Bf16MomentsHalveTheStateAndTrainLikeFloat32) {
  for (const char *name : {"tiny", "tiny-both"}) {
    SCOPED_TRACE(name);
    const TestModel &compiled = TestModel::get(name);
    const ModelDesc &model = compiled.desc();
    EngineOptions options = compiled.engineOptions(4);
    std::unique_ptr<Engine> f32, bf16;
    ASSERT_TRUE(Engine::create(model, options, f32).isOk());
    options.moments = cpu::MomentFormat::BFloat16;
    ASSERT_TRUE(Engine::create(model, options, bf16).isOk());
    // Parameters and views are float32 in both; the moments halve.
    int64_t stateFloats = 0;
    for (size_t i = 0; i < model.params.size(); ++i)
      stateFloats += 2 * model.params[i].count();
    EXPECT_NEAR(double(f32->memory().current() - bf16->memory().current()),
                double(stateFloats) * 2.0, double(model.params.size()) * 8.0);
    std::vector<double> lf, lb;
    for (int s = 0; s < 30; ++s) {
      Tensor views = randomViews(*f32, 200 + s % 3);
      ASSERT_TRUE(f32->step(views, lf).isOk());
      ASSERT_TRUE(bf16->step(views, lb).isOk());
      if (s == 0) {
        EXPECT_EQ(lf, lb) << "the first step's losses come before any update";
      }
    }
    // 30 steps of lr 2e-4 on three batches: the two runs stay within the
    // moments' rounding noise of each other.
    for (size_t l = 0; l < lf.size(); ++l)
      EXPECT_NEAR(lb[l], lf[l], 1e-3 * std::fabs(lf[l]) + 1e-4) << "block " << l;
    double differs = 0.0;
    for (size_t i = 0; i < model.params.size(); ++i)
      for (int64_t k = 0; k < f32->params()[i].count(); ++k)
        differs = std::max(differs, double(std::fabs(f32->params()[i].data()[k] -
                                                     bf16->params()[i].data()[k])));
    EXPECT_GT(differs, 0.0) << "the bfloat16 run must not be the float32 run";
    EXPECT_LT(differs, 30 * 2e-4 * 0.1) << "at most a tenth of the distance 30 steps can move";
  }
  // SGD has no bfloat16 state.
  const TestModel &tiny = TestModel::get("tiny");
  EngineOptions sgd = tiny.engineOptions();
  sgd.kind = OptimizerKind::Sgd;
  sgd.moments = cpu::MomentFormat::BFloat16;
  std::unique_ptr<Engine> refused;
  Status status = Engine::create(tiny.desc(), sgd, refused);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("bfloat16 optimizer state is for AdamW"), std::string::npos)
      << status.message();
}

//===----------------------------------------------------------------------===//
// The Backend interface
//===----------------------------------------------------------------------===//

namespace {
/// Three training steps of test model `name` on the default CPU backend and
/// on a recording backend over another CPU backend: the same losses, bit for
/// bit, and the same measured peak, with the recorder's call counts.
void expectSameStepsThroughTheBackend(const char *name, std::map<std::string, int64_t> &calls) {
  const TestModel &model = TestModel::get(name);
  std::unique_ptr<Engine> plain = makeEngine(model, 3);
  ASSERT_TRUE(plain);
  auto recorder = std::make_shared<locus::test::RecordingBackend>(
      locus::rt::cpu::makeCpuBackend(model.compiled().kernels));
  EngineOptions options = model.engineOptions(3);
  options.backend = recorder;
  std::unique_ptr<Engine> recorded;
  Status status = Engine::create(model.desc(), options, recorded);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(&recorded->backend(), recorder.get());
  recorder->calls.clear(); // count the steps' calls only
  for (int step = 0; step < 3; ++step) {
    Tensor a = randomViews(*plain, 40 + step);
    Tensor b = randomViews(*recorded, 40 + step);
    std::vector<double> la, lb;
    ASSERT_TRUE(plain->step(a, la).isOk());
    ASSERT_TRUE(recorded->step(b, lb).isOk());
    ASSERT_EQ(la.size(), lb.size());
    for (size_t l = 0; l < la.size(); ++l) // NaN: a block whose loss is not optimised
      EXPECT_TRUE(la[l] == lb[l] || (std::isnan(la[l]) && std::isnan(lb[l])))
          << "step " << step << " block " << l << ": " << la[l] << " vs " << lb[l];
  }
  EXPECT_EQ(plain->memory().peak(), recorded->memory().peak());
  calls = recorder->calls;
}
} // namespace

TEST(TrainEngine, RunsEveryCallOnTheBackendItIsGiven) {
  std::map<std::string, int64_t> calls;
  expectSameStepsThroughTheBackend("tiny", calls);
  // Two blocks, three steps: conv, relu + max-pool (block 1) or relu (block
  // 2), the loss with B's fused update, conv and bias updates, all through
  // the interface.
  EXPECT_EQ(calls["conv2dForward"], 6);
  EXPECT_EQ(calls["conv2dBackwardWeight"], 6);
  // Block 1's relu + max-pool: no arg-max, its adjoint over the conv output.
  EXPECT_EQ(calls["reluMaxPool2dForwardUnindexed"], 3);
  EXPECT_EQ(calls["reluMaxPool2dBackwardInPlace"], 3);
  EXPECT_EQ(calls["reluMaxPool2dForward"], 0);
  EXPECT_EQ(calls["reluMaxPool2dBackward"], 0);
  EXPECT_EQ(calls["reluForward"], 3);
  EXPECT_EQ(calls["reluBackward"], 3);
  EXPECT_EQ(calls["lossPool"], 6);
  EXPECT_EQ(calls["lossUnpool"], 6);
  EXPECT_EQ(calls["projectRows"], 6) << "B c of each block's loss (the program runs its kernel)";
  EXPECT_EQ(calls["adamwFromFactors"], 6);
  EXPECT_EQ(calls["adamwStep"], 12); // each conv's weight and bias
  EXPECT_EQ(calls["conv2dBackwardData"], 0) << "a local rule never differentiates its input";
  EXPECT_EQ(calls["allocate"], 0) << "a step allocates nothing: its buffers are the arena's";
}

TEST(TrainEngine, RunsTheFusedLayersAndGlobalModeOnTheBackendItIsGiven) {
  std::map<std::string, int64_t> calls;
  expectSameStepsThroughTheBackend("tiny-fused", calls);
  EXPECT_EQ(calls["convReluPoolForward"], 3);
  EXPECT_EQ(calls["convReluPoolBackwardWeight"], 3);
  expectSameStepsThroughTheBackend("tiny-bp", calls);
  EXPECT_EQ(calls["conv2dBackwardData"], 3) << "backprop hands dL/dx down to block 1";
  EXPECT_EQ(calls["projectRows"], 3) << "one loss, the top's: its B c";
}

TEST(TrainEngine, TellsTheBackendWhichBlockAndLayerEachCallIsFor) {
  // The program enters each block before its calls (locus_rt_enter_block),
  // and a convolution call names its weight as the layer: a GPU backend's
  // errors say where they happened. BP-CLAPP++ (global mode) runs the data
  // gradient of block2's convolution too; block1 is then trained through it.
  const TestModel &model = TestModel::get("tiny-bp");
  auto recorder = std::make_shared<locus::test::RecordingBackend>(
      locus::rt::cpu::makeCpuBackend(model.compiled().kernels));
  EngineOptions options = model.engineOptions(3);
  options.backend = recorder;
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::create(model.desc(), options, engine).isOk());
  std::vector<double> losses;
  ASSERT_TRUE(engine->step(randomViews(*engine, 5), losses).isOk());
  // block1's relu + max-pool is one call (not recorded); the weight
  // gradient call carries no weight index, so it names the block alone.
  EXPECT_EQ(recorder->places, (std::vector<std::string>{
                                  "conv2dForward block1 conv1_w",
                                  "conv2dForward block2 conv2_w",
                                  "reluForward block2 -",
                                  "conv2dBackwardWeight block2 -",
                                  "conv2dBackwardData block2 conv2_w",
                                  "conv2dBackwardWeight block1 -",
                              }));
}
