// The training engine against an independent float64 reference of METHOD.md §2: one step's
// gradients for CLAPP++, CLAPP++DFB, CLAPP++both and BP-CLAPP++ (global), the update applied by
// step(), block-by-block memory against global mode, determinism, and unsupported rules.
#include "DescriptorTestUtil.h"
#include "EngineTestUtil.h"
#include "RecordingBackend.h"
#include "locus/runtime/backend/cpu/CpuBackend.h"
#include "locus/runtime/train/Checkpoint.h"
#include "locus/runtime/MemoryPlan.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Json.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/Trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;

//===----------------------------------------------------------------------===//
// Tiny models built directly as descriptors
//===----------------------------------------------------------------------===//

/// A block: conv3x3 (pad 1, bias) -> relu (or triangle) -> [maxpool 2x2 (or avgpool 2x2)], loss
/// pooling kernel `pool`.
struct TinyBlock {
  int64_t out = 4;
  bool maxPool = true;
  int64_t pool = 2;
  bool triangle = false, avgPool = false;
  int32_t weight = -1, bias = -1; // filled by buildTinyModel
};

struct TinySpec {
  int64_t views = 8, channels = 2, size = 8;
  std::vector<TinyBlock> blocks = {{4, true, 2}, {6, false, 2}};
  std::string context = "same"; // same (CLAPP++), top (DFB), both
  std::string negatives = "next";
  bool global = false; // BP-CLAPP++
  bool fused = false;  // relu + max-pool as one layer, as locusc compiles them
  bool convFused = false; // and a block's first conv with them (locus-fuse-conv-relu-pool)
  std::string loss = "hinge"; // hinge (the CLAPP family), phyll, or infonce (BP-InfoNCE, global)
};

/// Four blocks of equal size with small projections: activations dominate the step's memory, and
/// global backprop keeps all four blocks' alive where the local rule keeps one.
TinySpec memorySpec() {
  TinySpec spec;
  spec.views = 16;
  spec.channels = 4;
  spec.size = 16;
  spec.blocks = {{8, false, 0}, {8, false, 0}, {8, false, 0}, {8, false, 0}};
  return spec;
}

LayerDesc layer(LayerKind kind, std::array<int64_t, 4> in, std::array<int64_t, 4> out) {
  LayerDesc l;
  l.kind = kind;
  l.inShape = in;
  l.outShape = out;
  return l;
}

ModelDesc buildTinyModel(TinySpec &spec) {
  ModelDesc m;
  m.name = "tiny";
  m.inputShape = {spec.views, spec.channels, spec.size, spec.size};
  std::array<int64_t, 4> shape = m.inputShape;
  auto addParam = [&](std::string name, std::vector<int64_t> dims) {
    ParamDesc p;
    p.name = std::move(name);
    p.shape = std::move(dims);
    p.init = ParamInit::KaimingUniform;
    m.params.push_back(p);
    return static_cast<int32_t>(m.params.size() - 1);
  };
  std::vector<int64_t> dims;
  for (size_t l = 0; l < spec.blocks.size(); ++l) {
    TinyBlock &tb = spec.blocks[l];
    BlockDesc b;
    b.name = "block" + std::to_string(l + 1);
    std::string conv = "conv" + std::to_string(l + 1);
    tb.weight = addParam(conv + "_w", {tb.out, shape[1], 3, 3});
    tb.bias = addParam(conv + "_b", {tb.out});
    LayerDesc c = layer(LayerKind::Conv2D, shape, {shape[0], tb.out, shape[2], shape[3]});
    c.weight = tb.weight;
    c.bias = tb.bias;
    c.kernel = {3, 3};
    c.pad = {1, 1, 1, 1};
    b.layers.push_back(c);
    shape = c.outShape;
    b.layers.push_back(layer(tb.triangle ? LayerKind::Triangle : LayerKind::Relu, shape, shape));
    if (tb.maxPool || tb.avgPool) {
      LayerDesc p = layer(tb.avgPool ? LayerKind::AvgPool2D : LayerKind::MaxPool2D, shape,
                          {shape[0], shape[1], shape[2] / 2, shape[3] / 2});
      p.kernel = p.stride = {2, 2};
      b.layers.push_back(p);
      shape = p.outShape;
    }
    b.outShape = shape;
    b.loss.rule = spec.global ? "bp-clapp++" : spec.context == "same" ? "clapp++" : spec.context == "top" ? "clapp++dfb" : "clapp++both";
    b.loss.context = spec.context;
    if (spec.loss == "phyll") { // Form 1, f(u) = log(1 + exp(-theta u))
      b.loss.rule = "phyll";
      b.loss.f = "logistic";
      b.loss.form = "difference";
      b.loss.theta = 0.7;
    } else if (spec.loss == "infonce") { // cosine scores of a trained head, temperature 0.1
      b.loss.rule = "bp-infonce";
      b.loss.score = "cosine";
      b.loss.f = "infonce";
      b.loss.temperature = 0.1;
    }
    b.loss.negatives = spec.negatives;
    b.loss.mode = spec.global ? "global" : "local";
    b.loss.pool = tb.pool;
    b.loss.contextPool = -2;
    b.loss.dim = tb.pool == 0 ? shape[1] : shape[1] * (shape[2] / tb.pool) * (shape[3] / tb.pool);
    dims.push_back(b.loss.dim);
    m.blocks.push_back(b);
  }
  for (size_t l = 0; l < m.blocks.size(); ++l) {
    BlockDesc &b = m.blocks[l];
    int64_t d = b.loss.dim, top = dims.back();
    b.loss.contextDim = spec.context == "same" ? d : top;
    // As locusc writes it: the top block's index, -1 where that is the block itself.
    int32_t last = static_cast<int32_t>(m.blocks.size()) - 1;
    b.loss.contextBlock = spec.context == "same" || int32_t(l) == last ? -1 : last;
    std::string name = b.name + "_B";
    b.projection = addParam(name, {d, b.loss.contextDim});
    if (spec.context == "both")
      b.lateralProjection = addParam(b.name + "_B_lat", {d, d});
  }
  if (spec.fused || spec.convFused)
    locus::test::fuseReluMaxPool(m);
  if (spec.convFused)
    locus::test::fuseConvReluMaxPool(m);
  locus::test::addBackwardPasses(m);
  return m;
}
ModelDesc buildTinyModel(TinySpec &&spec) { return buildTinyModel(spec); }

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
    auto gradOf = [&](int32_t i) -> std::vector<double> & {
      res.grads[i].assign(p[i].size(), 0.0);
      return res.grads[i];
    };
    double theta = spec.loss == "phyll" ? bd.loss.theta : 0.0;
    if (spec.loss == "infonce") {
      loss += refInfoNce(z, p[bd.projection], bd.loss.temperature, dz, gradOf(bd.projection));
    } else {
      if (spec.context == "same" || spec.context == "both") {
        int32_t lat = spec.context == "both" ? bd.lateralProjection : bd.projection;
        loss += refBilinear(z, z, p[lat], dz, gradOf(lat), theta);
      }
      if (spec.context == "top" || spec.context == "both") {
        RefMap c = refPoolForLoss(outs[nb - 1], spec.blocks[nb - 1].pool);
        loss += refBilinear(z, c, p[bd.projection], dz, gradOf(bd.projection), theta);
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
using locus::test::compiledLosses;
using locus::test::testKernels;

void checkGradients(TinySpec spec) {
  ModelDesc model = buildTinyModel(spec);
  std::unique_ptr<Engine> engine = makeEngine(model, 3);
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
  checkGradients(TinySpec{});
}

TEST(TrainEngine, FusedReluMaxPoolGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.fused = true;
  checkGradients(spec); // local: the fused layer's adjoint feeds the conv's dW
  spec.global = true;
  checkGradients(spec); // global: block 2's dL/dx goes through block 1's fused layer
}

TEST(TrainEngine, FusedConvReluMaxPoolGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.convFused = true;
  spec.blocks = {{4, true, 2}, {6, true, 1}}; // both blocks start with conv + relu + max-pool
  ModelDesc model = buildTinyModel(spec);
  ASSERT_EQ(model.blocks[0].layers.size(), 1u);
  ASSERT_EQ(model.blocks[1].layers[0].kind, LayerKind::ConvReluMaxPool2D);
  checkGradients(spec); // local: both blocks fused
  spec.global = true;
  ModelDesc global = buildTinyModel(spec);
  ASSERT_EQ(global.blocks[0].layers[0].kind, LayerKind::ConvReluMaxPool2D);
  ASSERT_EQ(global.blocks[1].layers[0].kind, LayerKind::Conv2D); // needs its input gradient
  checkGradients(spec);
}

TEST(TrainEngine, PhyllGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.loss = "phyll";
  checkGradients(spec);
}

TEST(TrainEngine, BpInfoNceGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.loss = "infonce";
  spec.global = true;
  checkGradients(spec);
}

TEST(TrainEngine, DirectFeedbackGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.context = "top";
  checkGradients(spec);
}

TEST(TrainEngine, BothGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.context = "both";
  checkGradients(spec);
}

TEST(TrainEngine, GlobalModeGradientsMatchFloat64Backprop) {
  TinySpec spec;
  spec.global = true;
  checkGradients(spec);
}

TEST(TrainEngine, GlobalPoolingGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.blocks[0].pool = 0;
  spec.blocks[1].pool = 0;
  checkGradients(spec);
}

TEST(TrainEngine, TriangleAndAvgPoolGradientsMatchFloat64Reference) {
  TinySpec spec;
  spec.blocks[0].triangle = true;
  spec.blocks[0].maxPool = false;
  spec.blocks[0].avgPool = true;
  spec.blocks[1].triangle = true;
  checkGradients(spec);
  spec.global = true;
  checkGradients(spec);
}

TEST(TrainEngine, RandomNegativesDifferFromNextIndex) {
  TinySpec spec;
  spec.negatives = "random";
  ModelDesc random = buildTinyModel(spec);
  ModelDesc next = buildTinyModel(TinySpec{});
  std::unique_ptr<Engine> a = makeEngine(random, 4), b = makeEngine(next, 4);
  Tensor views = randomViews(*a, 6);
  std::vector<double> la, lb;
  ASSERT_TRUE(a->evaluate(views, la).isOk());
  ASSERT_TRUE(b->evaluate(views, lb).isOk());
  EXPECT_NE(la[0], lb[0]);
  std::vector<double> again;
  ASSERT_TRUE(a->evaluate(views, again).isOk());
  EXPECT_EQ(la, again) << "evaluation draws the same negatives for the same draw index";
}

void expectStepAppliesAdamW(const ModelDesc &model) {
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
      ASSERT_NEAR(b->param(i).data()[k], expected, 1e-7) << model.params[i].name << "[" << k << "]";
    }
}

TEST(TrainEngine, StepAppliesAdamWToTheSameGradients) {
  // A training step updates the projections inside the loss step, from the
  // row factors of dL/dB; gradients() forms dL/dB. Both must agree, for one
  // projection and for two ("both": B_fb and B_lat).
  for (const char *context : {"same", "top", "both"}) {
    TinySpec spec;
    spec.context = context;
    ModelDesc model = buildTinyModel(spec);
    SCOPED_TRACE(context);
    expectStepAppliesAdamW(model);
  }
}


TEST(TrainEngine, LocalStepPeaksBelowGlobalStep) {
  TinySpec spec = memorySpec();
  spec.global = false;
  ModelDesc local = buildTinyModel(spec);
  spec.global = true;
  ModelDesc global = buildTinyModel(spec);
  auto transientPeak = [](const ModelDesc &model) {
    std::unique_ptr<Engine> engine = makeEngine(model);
    Tensor views = randomViews(*engine, 4);
    std::vector<double> losses;
    EXPECT_TRUE(engine->step(views, losses).isOk()); // warm the workspace
    int64_t before = engine->memory().current();
    engine->memory().resetPeak();
    EXPECT_TRUE(engine->step(views, losses).isOk());
    EXPECT_EQ(engine->memory().current(), before) << "a step must not leak tensors";
    return engine->memory().peak() - before;
  };
  int64_t localPeak = transientPeak(local), globalPeak = transientPeak(global);
  EXPECT_GT(localPeak, 0);
  EXPECT_LT(localPeak, globalPeak) << "local " << localPeak << " B, global " << globalPeak << " B";
}

TEST(TrainEngine, SameSeedSameTraining) {
  TinySpec spec;
  spec.negatives = "random";
  ModelDesc model = buildTinyModel(spec);
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
        << model.params[i].name;
    differs |= std::memcmp(pa.data(), pc.data(), sizeof(float) * pa.count()) != 0;
  }
  EXPECT_TRUE(differs) << "another seed must give other parameters";
}

TEST(TrainEngine, InitialisationFollowsFanIn) {
  ModelDesc model = buildTinyModel(TinySpec{});
  std::unique_ptr<Engine> engine = makeEngine(model);
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
  ModelDesc model = buildTinyModel(TinySpec{});
  std::unique_ptr<Engine> engine = makeEngine(model);
  Tensor views = Tensor::allocate(engine->memoryHandle(), Shape4{2, 1, 1, 1});
  std::vector<double> losses;
  Status status = engine->step(views, losses);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("views"), std::string::npos) << status.message();
}

TEST(TrainEngine, UnsupportedRulesFailByName) {
  ModelDesc model = buildTinyModel(TinySpec{});
  for (BlockDesc &block : model.blocks) {
    block.loss.rule = "ff";
    block.loss.score = "sum_squares";
    block.loss.f = "softplus";
  }
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model, EngineOptions{}, engine);
  ASSERT_FALSE(status.isOk());
  // FF needs its own setup (identity projection, no pooling, hybrid negatives).
  EXPECT_NE(status.message().find("rule 'ff' is not supported by the CPU runtime yet (block "
                                  "'block1': the goodness score needs f = softplus, an "
                                  "identity projection and no loss pooling)"),
            std::string::npos)
      << status.message();
}

TEST(TrainEngine, BackwardPassesThatAreNotChainsAreRejected) {
  auto expectRefused = [](ModelDesc model, const std::string &text) {
    std::unique_ptr<Engine> engine;
    Status status = Engine::create(model, EngineOptions{}, engine);
    ASSERT_FALSE(status.isOk()) << text;
    EXPECT_NE(status.message().find(text), std::string::npos) << status.message();
  };
  ModelDesc model = buildTinyModel(TinySpec{});
  // Block 1 is conv, relu, max-pool: steps 2 data, 1 data, 0 params.
  ModelDesc skipped = model;
  skipped.blocks[0].backward.erase(skipped.blocks[0].backward.begin());
  expectRefused(skipped, "block 'block1' backward pass: step on layer 1 where the gradient is at "
                         "layer 2");
  ModelDesc untrained = model;
  untrained.blocks[0].backward.pop_back();
  expectRefused(untrained, "block 'block1' backward pass: the conv of layer 0 gets no gradient");
  ModelDesc inputGrad = model;
  inputGrad.blocks[0].backward.push_back({0, GradStep::Kind::Data});
  expectRefused(inputGrad, "block 'block1' backward pass reaches the block input in a local rule");
  inputGrad.blocks[0].inputGradient = true;
  expectRefused(inputGrad, "block 'block1' backward pass: computes the gradient of the block "
                           "input, which only global mode may");
}

TEST(TrainEngine, CompiledPoolingTableMustCoverTheModel) {
  // A compiled table that lacks one of the model's loss poolings is refused
  // at start, naming the block, rather than pooled some other way.
  ModelDesc model = buildTinyModel(TinySpec{});
  const std::array<int64_t, 4> &s = model.blocks[0].outShape;
  cpu::LossPoolKernel only{s[1], s[2], s[3], model.blocks[0].loss.pool, nullptr, nullptr};
  cpu::LossPoolKernels table{&only, 1};
  EngineOptions options;
  options.kernels.lossPools = &table;
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model, options, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("the compiled model has no loss pooling kernel for block "
                                  "'block2'"),
            std::string::npos)
      << status.message();
}

TEST(TrainEngine, CompiledReluPoolTableMustCoverTheModel) {
  // Block 1's relu + max-pool (2x2 windows of its 8x8 map) is one locusc
  // compiles; a table without it is refused at start, naming the layer.
  TinySpec spec;
  spec.fused = true;
  ModelDesc model = buildTinyModel(spec);
  ASSERT_EQ(model.blocks[0].layers.back().kind, LayerKind::ReluMaxPool2D);
  cpu::ReluPoolKernels empty{nullptr, 0};
  EngineOptions options;
  options.kernels = testKernels();
  options.kernels.reluPools = &empty;
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model, options, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("the compiled model has no relu + max-pool kernel for block "
                                  "'block1' layer 1 ([4, 8, 8], window 2x2)"),
            std::string::npos)
      << status.message();
  // An overlapping window is not compiled: the runtime's general kernel runs it.
  LayerDesc &pool = model.blocks[0].layers.back();
  pool.kernel = {3, 3};
  pool.pad = {1, 1, 1, 1};
  EXPECT_TRUE(Engine::create(model, options, engine).isOk());
}

TEST(TrainEngine, ModelsWithoutTheirCompiledKernelsAreRefused) {
  // The runtime has no loss, activation, pooling or update math of its own:
  // each table a model needs must be there, and a missing one is named.
  ModelDesc model = buildTinyModel(TinySpec{});
  auto refusal = [&](const ModelDesc &m, cpu::ModelKernels kernels) {
    EngineOptions options;
    options.kernels = kernels;
    std::unique_ptr<Engine> engine;
    Status status = Engine::create(m, options, engine);
    if (status.isOk())
      return std::string("accepted");
    EXPECT_FALSE(engine) << "a refused model gets no engine";
    return status.message();
  };
  ASSERT_EQ(refusal(model, testKernels()), "accepted");
  cpu::ModelKernels noUpdates = testKernels();
  noUpdates.update = nullptr;
  EXPECT_NE(refusal(model, noUpdates).find("no update kernels"), std::string::npos);
  cpu::ModelKernels noLosses = testKernels();
  noLosses.losses = nullptr;
  EXPECT_NE(refusal(model, noLosses)
                .find("no loss kernel 'locus_bilinear_loss_hinge_contrastive_next' for block "
                      "'block1' (rule clapp++)"),
            std::string::npos);
  // A table without the one variant the model needs.
  const locus::abi::LossKernels &all = compiledLosses();
  std::vector<locus::abi::BilinearLossKernel> others;
  for (int64_t i = 0; i < all.bilinear.count; ++i)
    if (std::string(all.bilinear.entries[i].name) != "locus_bilinear_loss_hinge_contrastive_next")
      others.push_back(all.bilinear.entries[i]);
  ASSERT_EQ(static_cast<int64_t>(others.size()), all.bilinear.count - 1);
  locus::abi::LossKernels partial = all;
  partial.bilinear = {others.data(), static_cast<int64_t>(others.size())};
  cpu::ModelKernels missingVariant = testKernels();
  missingVariant.losses = &partial;
  EXPECT_NE(refusal(model, missingVariant).find("no loss kernel"), std::string::npos);
  cpu::ModelKernels noActivations = testKernels();
  noActivations.activations = nullptr;
  EXPECT_NE(refusal(model, noActivations).find("no activation kernels for block 'block1' layer"),
            std::string::npos);
  cpu::ModelKernels noPooling = testKernels();
  noPooling.pooling = nullptr;
  EXPECT_NE(refusal(model, noPooling).find("no pooling kernels for block 'block1'"),
            std::string::npos);
}

TEST(TrainEngine, BadProjectionShapeIsRejected) {
  ModelDesc model = buildTinyModel(TinySpec{});
  model.params[model.blocks[0].projection].shape = {3, 3};
  std::unique_ptr<Engine> engine;
  Status status = Engine::create(model, EngineOptions{}, engine);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("projection"), std::string::npos) << status.message();
}

TEST(TrainEngine, FeaturesConcatenatePooledBlockOutputs) {
  ModelDesc model = buildTinyModel(TinySpec{});
  std::unique_ptr<Engine> engine = makeEngine(model);
  EXPECT_EQ(engine->featureCount(), 4 * 2 * 2 + 6 * 2 * 2);
  Shape4 vs = engine->viewShape();
  Tensor images = Tensor::allocate(engine->memoryHandle(), Shape4{3, vs.c, vs.h, vs.w});
  Rng rng(1);
  for (int64_t i = 0; i < images.count(); ++i)
    images.data()[i] = float(rng.uniform());
  std::vector<float> features(3 * engine->featureCount());
  ASSERT_TRUE(engine->features(images, features.data()).isOk());
  // Block 1 of image 1, first feature: the reference pooled output.
  Params64 p;
  for (const Tensor &t : engine->params())
    p.emplace_back(t.data(), t.data() + t.count());
  RefMap x(3, vs.c, vs.h, vs.w);
  x.v.assign(images.data(), images.data() + images.count());
  RefSaved s;
  TinySpec spec;
  buildTinyModel(spec);
  RefMap z1 = refPoolForLoss(refBlockForward(spec.blocks[0], p, x, s), 2);
  RefMap z2 = refPoolForLoss(refBlockForward(spec.blocks[1], p, refBlockForward(spec.blocks[0], p, x, s), s), 2);
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
  ModelDesc model = buildTinyModel(TinySpec{});
  model.planPeakLocalBytes = 1000;
  std::string metrics = tempFile("metrics.jsonl"), checkpoint = tempFile("ck.safetensors");
  Options o = syntheticRun(metrics);
  o.save = checkpoint;
  Status status = runTraining(model, o, CompiledModel{testKernels()});
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
  EXPECT_EQ(memory[0]->find("planned_peak_bytes")->number, 1000);
  EXPECT_GT(memory[0]->find("measured_peak_bytes")->number, 0);
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
  status = loadCheckpoint(checkpoint, model, params);
  ASSERT_TRUE(status.isOk()) << status.message();
  std::filesystem::remove(metrics);
  std::filesystem::remove(checkpoint);
}

TEST(TrainRun, SameSeedSameRun) {
  ModelDesc model = buildTinyModel(TinySpec{});
  std::string m1 = tempFile("a.jsonl"), m2 = tempFile("b.jsonl");
  Options o = syntheticRun(m1);
  o.logEvery = 1;
  o.probeEpochs = 0;
  ASSERT_TRUE(runTraining(model, o, CompiledModel{testKernels()}).isOk());
  o.metrics = m2;
  ASSERT_TRUE(runTraining(model, o, CompiledModel{testKernels()}).isOk());
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

TEST(TrainRun, FixedBatchTrainsOnOneStepsViews) {
  ModelDesc model = buildTinyModel(TinySpec{});
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
  Status status = runTraining(model, o, CompiledModel{testKernels()});
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
  status = runTraining(model, o, CompiledModel{testKernels()});
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("missing.f32"), std::string::npos) << status.message();
  std::filesystem::remove(batch);
  std::filesystem::remove(metrics);
}

} // namespace

namespace {
/// The engine's measured peak over a step (after a warm-up step grew the
/// workspace) against rt::planMemory, which locusc stores as the plan.
void expectPlanMatchesEngine(const TinySpec &spec, const char *what,
                             OptimizerKind kind = OptimizerKind::AdamW,
                             cpu::MomentFormat moments = cpu::MomentFormat::Float32) {
  TinySpec copy = spec;
  ModelDesc model = buildTinyModel(copy);
  PlanOptions planOptions;
  planOptions.adamW = kind == OptimizerKind::AdamW;
  planOptions.bf16Moments = moments == cpu::MomentFormat::BFloat16;
  MemoryPlan plan = planMemory(model, planOptions);
  EngineOptions options;
  options.seed = 1;
  options.kind = kind;
  options.kernels = testKernels();
  options.moments = moments;
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::create(model, options, engine).isOk());
  Tensor views = randomViews(*engine, 3);
  std::vector<double> losses;
  ASSERT_TRUE(engine->step(views, losses).isOk());
  engine->memory().resetPeak();
  ASSERT_TRUE(engine->step(views, losses).isOk());
  int64_t planned = spec.global ? plan.peakGlobalBytes : plan.peakLocalBytes;
  int64_t measured = engine->memory().peak();
  // The plan follows every tensor the engine allocates, at the 64-byte
  // granularity its tracker counts: the two agree to the byte.
  EXPECT_EQ(measured, planned) << what << " (workspace planned " << plan.workspaceBytes
                               << " B, measured " << engine->memory().peakExternal() << " B)";
}
} // namespace

TEST(TrainMemoryPlan, PlanMatchesTheEnginesMeasuredPeak) {
  TinySpec spec;
  expectPlanMatchesEngine(spec, "clapp++");
  spec.context = "top";
  expectPlanMatchesEngine(spec, "clapp++dfb");
  spec.context = "both";
  expectPlanMatchesEngine(spec, "clapp++both");
  spec.context = "same";
  spec.global = true;
  expectPlanMatchesEngine(spec, "bp-clapp++");
  spec.fused = true;
  expectPlanMatchesEngine(spec, "bp-clapp++, relu + max-pool fused");
  spec.global = false;
  expectPlanMatchesEngine(spec, "clapp++, relu + max-pool fused");
  // SGD and LARS keep one momentum buffer and form dL/dB.
  expectPlanMatchesEngine(spec, "clapp++, sgd", OptimizerKind::Sgd);
  spec.context = "both";
  expectPlanMatchesEngine(spec, "clapp++both, lars", OptimizerKind::Lars);
  expectPlanMatchesEngine(spec, "clapp++both, bfloat16 moments", OptimizerKind::AdamW,
                          cpu::MomentFormat::BFloat16);
  TinySpec equal = memorySpec();
  expectPlanMatchesEngine(equal, "four equal blocks, local");
  TinySpec convFused;
  convFused.convFused = true;
  convFused.blocks = {{4, true, 2}, {6, true, 1}};
  expectPlanMatchesEngine(convFused, "conv + relu + max-pool fused, local");
  convFused.global = true;
  expectPlanMatchesEngine(convFused, "conv + relu + max-pool fused, global");
  equal.global = true;
  expectPlanMatchesEngine(equal, "four equal blocks, global");
  expectPlanMatchesEngine(equal, "four equal blocks, global, bfloat16 moments",
                          OptimizerKind::AdamW, cpu::MomentFormat::BFloat16);
}

TEST(TrainEngine, Bf16MomentsHalveTheStateAndTrainLikeFloat32) {
  for (const char *context : {"same", "both"}) {
    SCOPED_TRACE(context);
    TinySpec spec;
    spec.context = context;
    ModelDesc model = buildTinyModel(spec);
    EngineOptions options;
    options.seed = 4;
    options.kernels = testKernels();
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
  EngineOptions sgd;
  sgd.kind = OptimizerKind::Sgd;
  sgd.moments = cpu::MomentFormat::BFloat16;
  std::unique_ptr<Engine> refused;
  TinySpec spec;
  Status status = Engine::create(buildTinyModel(spec), sgd, refused);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("bfloat16 optimizer state is for AdamW"), std::string::npos)
      << status.message();
}

TEST(TrainMemoryPlan, LocalPlanPeaksBelowGlobalForEqualBlocks) {
  TinySpec spec = memorySpec();
  MemoryPlan local = planMemory(buildTinyModel(spec));
  spec.global = true;
  MemoryPlan global = planMemory(buildTinyModel(spec));
  EXPECT_LT(local.peakLocalBytes, global.peakGlobalBytes);
}

//===----------------------------------------------------------------------===//
// The Backend interface
//===----------------------------------------------------------------------===//

namespace {
/// Three training steps of `spec` on the default CPU backend and on a
/// recording backend over another CPU backend: the same losses, bit for bit,
/// and the same measured peak, with the recorder's call counts.
void expectSameStepsThroughTheBackend(TinySpec spec,
                                      std::map<std::string, int64_t> &calls) {
  ModelDesc model = buildTinyModel(spec);
  std::unique_ptr<Engine> plain = locus::test::makeEngine(model, 3);
  ASSERT_TRUE(plain);
  auto recorder = std::make_shared<locus::test::RecordingBackend>(
      locus::rt::cpu::makeCpuBackend(locus::test::testKernels()));
  EngineOptions options;
  options.seed = 3;
  options.backend = recorder;
  std::unique_ptr<Engine> recorded;
  Status status = Engine::create(model, options, recorded);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(&recorded->backend(), recorder.get());
  for (int step = 0; step < 3; ++step) {
    Tensor a = locus::test::randomViews(*plain, 40 + step);
    Tensor b = locus::test::randomViews(*recorded, 40 + step);
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
  expectSameStepsThroughTheBackend(TinySpec{}, calls);
  // Two blocks, three steps: conv, relu, max-pool (block 1), the loss with
  // B's fused update, conv and bias updates, all through the interface.
  EXPECT_EQ(calls["conv2dForward"], 6);
  EXPECT_EQ(calls["conv2dBackwardWeight"], 6);
  EXPECT_EQ(calls["reluForward"], 6);
  EXPECT_EQ(calls["reluBackward"], 6);
  EXPECT_EQ(calls["maxPool2dForward"], 3);
  EXPECT_EQ(calls["maxPool2dBackward"], 3);
  EXPECT_EQ(calls["lossPool"], 6);
  EXPECT_EQ(calls["lossUnpool"], 6);
  EXPECT_EQ(calls["bilinearLossFactors"], 6);
  EXPECT_EQ(calls["adamwFromFactors"], 6);
  EXPECT_EQ(calls["adamwStep"], 12); // each conv's weight and bias
  EXPECT_EQ(calls["conv2dBackwardData"], 0) << "a local rule never differentiates its input";
  EXPECT_GT(calls["allocate"], 0);
}

TEST(TrainEngine, RunsTheFusedLayersAndGlobalModeOnTheBackendItIsGiven) {
  std::map<std::string, int64_t> calls;
  TinySpec fused;
  fused.convFused = true;
  expectSameStepsThroughTheBackend(fused, calls);
  EXPECT_EQ(calls["convReluPoolForward"], 3);
  EXPECT_EQ(calls["convReluPoolBackwardWeight"], 3);
  TinySpec global;
  global.global = true;
  expectSameStepsThroughTheBackend(global, calls);
  EXPECT_EQ(calls["conv2dBackwardData"], 3) << "backprop hands dL/dx down to block 1";
  EXPECT_EQ(calls["bilinearLoss"] + calls["bilinearLossFactors"], 3) << "one loss, the top's";
}
