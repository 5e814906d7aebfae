//===- LocalLoss.cpp - the local losses and their gradients ---------------===//
//
// See LocalLoss.h and METHOD.md sections 1-2. Scores and losses are
// accumulated in double; the two large products of the bilinear rules
// (B c for all rows, and dL/dB = A^T c) are SGEMMs.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/cpu/LocalLoss.h"

#include "locus/runtime/cpu/Kernels.h"

#include "cpu/Blocked.h"
#include "cpu/Parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace locus::rt::cpu {

namespace {

inline double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

inline double sigmoid(double x) {
  if (x >= 0.0)
    return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

inline double dotDouble(const float *a, const float *b, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += static_cast<double>(a[i]) * b[i];
    s1 += static_cast<double>(a[i + 1]) * b[i + 1];
    s2 += static_cast<double>(a[i + 2]) * b[i + 2];
    s3 += static_cast<double>(a[i + 3]) * b[i + 3];
  }
  for (; i < n; ++i)
    s0 += static_cast<double>(a[i]) * b[i];
  return (s0 + s1) + (s2 + s3);
}

/// Scratch buffers reused across calls on one thread.
float *scratch(std::vector<float> &buf, int64_t floats) {
  if (static_cast<int64_t>(buf.size()) < floats)
    buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

/// The per-row loss and its derivatives with respect to u_pos and u_neg.
struct RowTerm {
  double loss, gPos, gNeg;
};

bool rowTerm(const BilinearLossConfig &cfg, double uPos, double uNeg, RowTerm &t) {
  // Returns false for a loss function the bilinear rules do not define.
  const double th = cfg.theta;
  if (cfg.differenceForm) {
    const double dd = uPos - uNeg; // (z_pos - z_neg)^T B c
    double g;
    switch (cfg.f) {
    case LossFunction::Hinge:
      t.loss = std::max(0.0, 1.0 - dd);
      g = dd < 1.0 ? -1.0 : 0.0;
      break;
    case LossFunction::Softplus:
      t.loss = softplus(th - dd);
      g = -sigmoid(th - dd);
      break;
    case LossFunction::Linear:
      t.loss = -dd;
      g = -1.0;
      break;
    case LossFunction::Logistic: // log(1 + exp(theta (u_neg - u_pos)))
      t.loss = softplus(-th * dd);
      g = -th * sigmoid(-th * dd);
      break;
    default:
      return false;
    }
    t.gPos = g;
    t.gNeg = -g;
    return true;
  }
  switch (cfg.f) {
  case LossFunction::Hinge:
    t.loss = std::max(0.0, 1.0 - uPos) + std::max(0.0, 1.0 + uNeg);
    t.gPos = uPos < 1.0 ? -1.0 : 0.0;
    t.gNeg = uNeg > -1.0 ? 1.0 : 0.0;
    return true;
  case LossFunction::Softplus:
    t.loss = softplus(th - uPos) + softplus(uNeg - th);
    t.gPos = -sigmoid(th - uPos);
    t.gNeg = sigmoid(uNeg - th);
    return true;
  case LossFunction::Linear:
    t.loss = -uPos + uNeg;
    t.gPos = -1.0;
    t.gNeg = 1.0;
    return true;
  case LossFunction::Logistic: // f(u) = log(1 + exp(-theta u)) on u_pos and -u_neg
    t.loss = softplus(-th * uPos) + softplus(th * uNeg);
    t.gPos = -th * sigmoid(-th * uPos);
    t.gNeg = th * sigmoid(th * uNeg);
    return true;
  default:
    return false;
  }
}

} // namespace

namespace {

/// The bilinear rules: loss, dz, and the row factors a[r] = g_pos[r] z_pos[r] +
/// g_neg[r] z_neg[r] (so that dL/dB = a^T c) into `factors` when it is not null.
double bilinearCore(const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                    const float *z, const float *c, const float *proj, const int32_t *negIndex,
                    float *dz, bool accumulateDz, float *factors) {
  const int64_t half = n / 2;
  thread_local std::vector<float> bcBuf;
  float *bc = scratch(bcBuf, n * d); // row r: B c[r]
  projectRows(n, d, dc, proj, c, bc);

  std::vector<double> gPos(static_cast<size_t>(n)), gNeg(static_cast<size_t>(n));
  std::vector<int64_t> posRow(static_cast<size_t>(n)), negRow(static_cast<size_t>(n));
  const double scale = cfg.weight / static_cast<double>(n);
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pr = (r + half) % n;
    const int64_t nr = cfg.negatives == Negatives::Next ? (pr + 1) % n : negIndex[r];
    posRow[r] = pr;
    negRow[r] = nr;
    const double uPos = dotDouble(z + pr * d, bc + r * d, d);
    const double uNeg = dotDouble(z + nr * d, bc + r * d, d);
    RowTerm t{0.0, 0.0, 0.0};
    rowTerm(cfg, uPos, uNeg, t); // the configuration was validated by the caller
    total += t.loss;
    gPos[r] = t.gPos * scale;
    gNeg[r] = t.gNeg * scale;
  }

  if (!accumulateDz)
    std::fill(dz, dz + n * d, 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    const float gp = static_cast<float>(gPos[r]), gn = static_cast<float>(gNeg[r]);
    const float *zp = z + posRow[r] * d, *zn = z + negRow[r] * d, *br = bc + r * d;
    float *dzp = dz + posRow[r] * d, *dzn = dz + negRow[r] * d;
    if (factors) {
      float *ar = factors + r * d;
      for (int64_t i = 0; i < d; ++i)
        ar[i] = gp * zp[i] + gn * zn[i];
    }
    for (int64_t i = 0; i < d; ++i)
      dzp[i] += gp * br[i];
    for (int64_t i = 0; i < d; ++i)
      dzn[i] += gn * br[i];
  }
  return total * scale;
}

/// NaN for configurations the bilinear rules do not define, else 0.
double validate(const BilinearLossConfig &cfg, int64_t n, const int32_t *negIndex) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (cfg.negatives != Negatives::Next && cfg.negatives != Negatives::Random)
    return nan;
  if (cfg.f != LossFunction::Hinge && cfg.f != LossFunction::Softplus &&
      cfg.f != LossFunction::Linear && cfg.f != LossFunction::Logistic)
    return nan;
  if (cfg.negatives == Negatives::Random) {
    if (!negIndex)
      return nan;
    for (int64_t r = 0; r < n; ++r)
      if (negIndex[r] < 0 || negIndex[r] >= n)
        return nan;
  }
  return 0.0;
}

} // namespace

double bilinearLoss(const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                    const float *z, const float *c, const float *proj,
                    const int32_t *negIndex, float *dz, float *dproj, bool accumulate) {
  return bilinearLoss(cfg, n, d, dc, z, c, proj, negIndex, dz, dproj, accumulate, accumulate);
}

double bilinearLoss(const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                    const float *z, const float *c, const float *proj,
                    const int32_t *negIndex, float *dz, float *dproj, bool accumulateDz,
                    bool accumulateDProj) {
  if (std::isnan(validate(cfg, n, negIndex)))
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 0 || d <= 0) {
    if (dproj && !accumulateDProj)
      std::fill(dproj, dproj + std::max<int64_t>(d, 0) * std::max<int64_t>(dc, 0), 0.0f);
    return 0.0;
  }
  thread_local std::vector<float> aBuf;
  float *a = dproj ? scratch(aBuf, n * d) : nullptr;
  const double loss = bilinearCore(cfg, n, d, dc, z, c, proj, negIndex, dz, accumulateDz, a);
  if (dproj && dc > 0)
    outerProduct(d, dc, n, a, c, accumulateDProj, dproj);
  return loss;
}

double bilinearLossFactors(const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                           const float *z, const float *c, const float *proj,
                           const int32_t *negIndex, float *dz, float *rowFactors,
                           bool accumulateDz) {
  if (std::isnan(validate(cfg, n, negIndex)))
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 0 || d <= 0)
    return 0.0;
  return bilinearCore(cfg, n, d, dc, z, c, proj, negIndex, dz, accumulateDz, rowFactors);
}

double forwardForwardLoss(double theta, int64_t m, int64_t f, const float *yPos,
                          const float *yNeg, float *dyPos, float *dyNeg) {
  if (m <= 0)
    return 0.0;
  double total = 0.0;
  const double inv = 1.0 / static_cast<double>(m);
  for (int64_t r = 0; r < m; ++r) {
    const float *yp = yPos + r * f, *yn = yNeg + r * f;
    const double gp = dotDouble(yp, yp, f), gn = dotDouble(yn, yn, f);
    total += softplus(theta - gp) + softplus(gn - theta);
    const float sp = static_cast<float>(-2.0 * sigmoid(theta - gp) * inv);
    const float sn = static_cast<float>(2.0 * sigmoid(gn - theta) * inv);
    float *dp = dyPos + r * f, *dn = dyNeg + r * f;
    for (int64_t i = 0; i < f; ++i)
      dp[i] = sp * yp[i];
    for (int64_t i = 0; i < f; ++i)
      dn[i] = sn * yn[i];
  }
  return total * inv;
}

double scffLoss(double th1, double th2, double lambda, int64_t m, int64_t c, int64_t hw,
                const float *aPos, const float *aNeg, float *daPos, float *daNeg) {
  if (m <= 0 || hw <= 0 || c <= 0)
    return 0.0;
  const double invC = 1.0 / static_cast<double>(c);
  const double invMl = 1.0 / static_cast<double>(m * hw);
  const double invM = 1.0 / static_cast<double>(m);
  std::vector<double> gp(static_cast<size_t>(hw)), gn(static_cast<size_t>(hw));
  std::vector<float> dgp(static_cast<size_t>(hw)), dgn(static_cast<size_t>(hw));
  double total = 0.0;
  for (int64_t s = 0; s < m; ++s) {
    const float *ap = aPos + s * c * hw, *an = aNeg + s * c * hw;
    std::fill(gp.begin(), gp.end(), 0.0);
    std::fill(gn.begin(), gn.end(), 0.0);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t l = 0; l < hw; ++l) {
        const double vp = std::max(ap[ch * hw + l], 0.0f), vn = std::max(an[ch * hw + l], 0.0f);
        gp[l] += vp * vp;
        gn[l] += vn * vn;
      }
    double norm2 = 0.0;
    for (int64_t l = 0; l < hw; ++l) {
      gp[l] *= invC;
      gn[l] *= invC;
      norm2 += gp[l] * gp[l];
    }
    const double norm = std::sqrt(norm2);
    total += lambda * norm * invM;
    for (int64_t l = 0; l < hw; ++l) {
      total += (softplus(th1 - gp[l]) + softplus(gn[l] - th2)) * invMl;
      double dp = -sigmoid(th1 - gp[l]) * invMl;
      if (norm > 0.0)
        dp += lambda * invM * gp[l] / norm;
      const double dn = sigmoid(gn[l] - th2) * invMl;
      // dG/da = (2 / C) relu(a)
      dgp[l] = static_cast<float>(2.0 * invC * dp);
      dgn[l] = static_cast<float>(2.0 * invC * dn);
    }
    float *dp = daPos + s * c * hw, *dn = daNeg + s * c * hw;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t l = 0; l < hw; ++l) {
        dp[ch * hw + l] = dgp[l] * std::max(ap[ch * hw + l], 0.0f);
        dn[ch * hw + l] = dgn[l] * std::max(an[ch * hw + l], 0.0f);
      }
  }
  return total;
}

double infoNceLoss(double temperature, int64_t n, int64_t d, const float *p, float *dp) {
  if (n <= 1 || d <= 0)
    return 0.0;
  const int64_t half = n / 2;
  const double invT = 1.0 / temperature;
  thread_local std::vector<float> buf;
  float *ph = scratch(buf, 2 * n * d + 2 * n * n);
  float *dph = ph + n * d;
  float *sim = dph + n * d;
  float *dsim = sim + n * n;
  std::vector<double> norm(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    // F.normalize: p / max(||p||, 1e-12).
    norm[r] = std::max(std::sqrt(dotDouble(p + r * d, p + r * d, d)), 1e-12);
    const float inv = static_cast<float>(1.0 / norm[r]);
    for (int64_t i = 0; i < d; ++i)
      ph[r * d + i] = p[r * d + i] * inv;
  }
  gemm(false, true, n, n, d, 1.0f, ph, ph, 0.0f, sim);
  double total = 0.0;
  std::vector<double> row(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pr = (r + half) % n;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j)
      if (j != r) {
        row[j] = sim[r * n + j] * invT;
        mx = std::max(mx, row[j]);
      }
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j)
      if (j != r)
        sum += std::exp(row[j] - mx);
    total += mx + std::log(sum) - row[pr];
    for (int64_t j = 0; j < n; ++j) {
      double g = j == r ? 0.0 : std::exp(row[j] - mx) / sum;
      if (j == pr)
        g -= 1.0;
      dsim[r * n + j] = static_cast<float>(g * invT / static_cast<double>(n));
    }
  }
  // dL/dph = (dS + dS^T) ph; symmetrise dS in place.
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = r; j < n; ++j) {
      const float s = dsim[r * n + j] + dsim[j * n + r];
      dsim[r * n + j] = s;
      dsim[j * n + r] = s;
    }
  gemm(false, false, n, d, n, 1.0f, dsim, ph, 0.0f, dph);
  for (int64_t r = 0; r < n; ++r) {
    const float *u = ph + r * d, *g = dph + r * d;
    const double proj = dotDouble(u, g, d);
    const bool clamped = norm[r] <= 1e-12;
    const float inv = static_cast<float>(1.0 / norm[r]);
    float *out = dp + r * d;
    for (int64_t i = 0; i < d; ++i)
      out[i] = clamped ? g[i] * inv : (g[i] - static_cast<float>(proj) * u[i]) * inv;
  }
  return total / static_cast<double>(n);
}

} // namespace locus::rt::cpu
