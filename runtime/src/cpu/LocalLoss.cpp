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

} // namespace

std::string bilinearLossKernelName(const BilinearLossConfig &cfg) {
  const char *f = cfg.f == LossFunction::Hinge      ? "hinge"
                  : cfg.f == LossFunction::Softplus ? "softplus"
                  : cfg.f == LossFunction::Linear   ? "linear"
                  : cfg.f == LossFunction::Logistic ? "logistic"
                                                    : "infonce";
  const char *negatives = cfg.negatives == Negatives::Next     ? "next"
                          : cfg.negatives == Negatives::Random ? "random"
                          : cfg.negatives == Negatives::Hybrid ? "hybrid"
                                                               : "roll";
  return abi::bilinearLossKernelName(f, cfg.differenceForm ? "difference" : "contrastive",
                                     negatives);
}

namespace {

/// The kernel of cfg, or null where the object has none or Random negatives
/// come without a valid row per view (the kernel reads them unchecked).
const abi::BilinearLossKernel *findKernel(const abi::BilinearLossKernels &kernels,
                                          const BilinearLossConfig &cfg, int64_t n,
                                          const int32_t *negIndex) {
  if (cfg.negatives == Negatives::Random) {
    if (!negIndex)
      return nullptr;
    for (int64_t r = 0; r < n; ++r)
      if (negIndex[r] < 0 || negIndex[r] >= n)
        return nullptr;
  }
  return kernels.find(bilinearLossKernelName(cfg));
}

/// bc = rows B c[r] (the GEMM primitive), then the generated kernel: the
/// loss, dz and the row factors of dL/dB.
double runKernel(const abi::BilinearLossKernel &kernel, const BilinearLossConfig &cfg,
                 int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                 const float *proj, const int32_t *negIndex, float *dz, bool accumulateDz,
                 float *factors) {
  thread_local std::vector<float> bcBuf;
  float *bc = scratch(bcBuf, n * d);
  projectRows(n, d, dc, proj, c, bc);
  abi::MemRef2F32 zRef = abi::memref2(const_cast<float *>(z), n, d);
  abi::MemRef2F32 bcRef = abi::memref2(bc, n, d);
  abi::MemRef2F32 dzRef = abi::memref2(dz, n, d);
  abi::MemRef2F32 factorsRef = abi::memref2(factors, n, d);
  abi::MemRef1I32 negRef = abi::memref1(
      const_cast<int32_t *>(negIndex), cfg.negatives == Negatives::Random ? n : 0);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel.run(&zRef, &bcRef, &negRef, &dzRef, &factorsRef, &lossRef, cfg.theta, cfg.weight,
             accumulateDz);
  return loss;
}

} // namespace

double bilinearLoss(const abi::BilinearLossKernels &kernels, const BilinearLossConfig &cfg,
                    int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                    const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                    bool accumulate) {
  return bilinearLoss(kernels, cfg, n, d, dc, z, c, proj, negIndex, dz, dproj, accumulate,
                      accumulate);
}

double bilinearLoss(const abi::BilinearLossKernels &kernels, const BilinearLossConfig &cfg,
                    int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                    const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                    bool accumulateDz, bool accumulateDProj) {
  const abi::BilinearLossKernel *kernel = findKernel(kernels, cfg, n, negIndex);
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 0 || d <= 0) {
    if (dproj && !accumulateDProj)
      std::fill(dproj, dproj + std::max<int64_t>(d, 0) * std::max<int64_t>(dc, 0), 0.0f);
    return 0.0;
  }
  thread_local std::vector<float> factorBuf;
  float *factors = scratch(factorBuf, n * d);
  const double loss =
      runKernel(*kernel, cfg, n, d, dc, z, c, proj, negIndex, dz, accumulateDz, factors);
  if (dproj && dc > 0)
    outerProduct(d, dc, n, factors, c, accumulateDProj, dproj);
  return loss;
}

double bilinearLossFactors(const abi::BilinearLossKernels &kernels,
                           const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                           const float *z, const float *c, const float *proj,
                           const int32_t *negIndex, float *dz, float *rowFactors,
                           bool accumulateDz) {
  const abi::BilinearLossKernel *kernel = findKernel(kernels, cfg, n, negIndex);
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 0 || d <= 0)
    return 0.0;
  return runKernel(*kernel, cfg, n, d, dc, z, c, proj, negIndex, dz, accumulateDz, rowFactors);
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
