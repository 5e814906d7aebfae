//===- LossKernelHarness.h - one generated loss kernel, run alone -*- C++ -*-===//
//
// The step program runs a loss as GEMM primitives around a generated kernel
// (lib/Conversion/LocusToStep/LossSteps.cpp). These helpers do the same for
// one kernel of a compiled model's tables, with the products written as plain
// loops in float64, so that the kernels' losses and gradients can be checked
// against independent references on small shapes. Test code, not the
// runtime's: the runtime holds no loss.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_LOSSKERNELHARNESS_H
#define LOCUS_TEST_UNIT_LOSSKERNELHARNESS_H

#include "locus/runtime/abi/LossKernels.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace locus::test {

/// One bilinear term: its generated kernel's name and its scalars.
struct BilinearLossConfig {
  std::string_view kernel;
  double theta = 0.0;
  double weight = 1.0;
  bool randomNegatives = false; ///< the kernel reads one drawn row per row
};

namespace detail {
/// out [n, d] = rows B c[r] (B [d, dc], c [n, dc]).
inline std::vector<float> project(int64_t n, int64_t d, int64_t dc, const float *proj,
                                  const float *c) {
  std::vector<float> out(static_cast<size_t>(n * d));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < d; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < dc; ++j)
        s += static_cast<double>(proj[i * dc + j]) * c[r * dc + j];
      out[r * d + i] = static_cast<float>(s);
    }
  return out;
}
} // namespace detail

/// The kernel cfg names on z [n, d] and c [n, dc] through B (null: the
/// identity): the loss, dz (added to with accumulateDz) and the row factors
/// [n, d] of dL/dB. NaN where the table lacks the kernel or random negatives
/// come without valid rows (the kernel reads them unchecked).
inline double bilinearLossFactors(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                                  int64_t n, int64_t d, int64_t dc, const float *z,
                                  const float *c, const float *proj, const int32_t *negIndex,
                                  float *dz, float *factors, bool accumulateDz) {
  const abi::BilinearLossKernel *kernel = kernels.bilinear.find(std::string(cfg.kernel));
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (cfg.randomNegatives) {
    if (!negIndex)
      return std::numeric_limits<double>::quiet_NaN();
    for (int64_t r = 0; r < n; ++r)
      if (negIndex[r] < 0 || negIndex[r] >= n)
        return std::numeric_limits<double>::quiet_NaN();
  }
  if (n <= 0 || d <= 0)
    return 0.0;
  std::vector<float> bc = proj ? detail::project(n, d, dc, proj, c)
                               : std::vector<float>(c, c + n * d);
  std::vector<double> work(static_cast<size_t>(4 * n));
  abi::MemRef2F32 zRef = abi::memref2(const_cast<float *>(z), n, d);
  abi::MemRef2F32 bcRef = abi::memref2(bc.data(), n, d);
  abi::MemRef2F32 dzRef = abi::memref2(dz, n, d);
  abi::MemRef2F32 factorsRef = abi::memref2(factors, n, d);
  abi::MemRef1I32 negRef =
      abi::memref1(const_cast<int32_t *>(negIndex), cfg.randomNegatives ? n : 0);
  abi::MemRef2F64 workRef = abi::memref2(work.data(), n, 4);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel->run(&zRef, &bcRef, &negRef, &dzRef, &factorsRef, &workRef, &lossRef, cfg.theta,
              cfg.weight, accumulateDz);
  return loss;
}

/// The same with dL/dB [d, dc] = factors^T c formed in dproj (added to with
/// accumulateDProj; dproj null: not formed).
inline double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                           int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                           const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                           bool accumulateDz, bool accumulateDProj) {
  std::vector<float> factors(static_cast<size_t>(std::max<int64_t>(n * d, 0)));
  const double loss = bilinearLossFactors(kernels, cfg, n, d, dc, z, c, proj, negIndex, dz,
                                          factors.data(), accumulateDz);
  if (loss != loss || !dproj)
    return loss;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < dc; ++j) {
      double s = accumulateDProj ? dproj[i * dc + j] : 0.0;
      for (int64_t r = 0; r < n; ++r)
        s += static_cast<double>(factors[r * d + i]) * c[r * dc + j];
      dproj[i * dc + j] = static_cast<float>(s);
    }
  return loss;
}

inline double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                           int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                           const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                           bool accumulate) {
  return bilinearLoss(kernels, cfg, n, d, dc, z, c, proj, negIndex, dz, dproj, accumulate,
                      accumulate);
}

/// A goodness kernel on positive and negative halves [m, c, hw] (stacked
/// into the [2m, c, hw] rows the kernel reads), with their gradients.
inline double goodnessLoss(const abi::LossKernels &kernels, std::string_view name, double theta,
                           double theta2, double lambda, double weight, int64_t m, int64_t c,
                           int64_t hw, const float *pos, const float *neg, float *dPos,
                           float *dNeg) {
  const abi::GoodnessLossKernel *kernel = kernels.goodness.find(std::string(name));
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (m <= 0 || c <= 0 || hw <= 0)
    return 0.0;
  const int64_t half = m * c * hw;
  std::vector<float> y(pos, pos + half), dy(static_cast<size_t>(2 * half));
  y.insert(y.end(), neg, neg + half);
  abi::MemRef3F32 yRef = abi::memref3(y.data(), 2 * m, c, hw);
  abi::MemRef3F32 dyRef = abi::memref3(dy.data(), 2 * m, c, hw);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel->run(&yRef, &dyRef, &lossRef, theta, theta2, lambda, weight);
  std::copy(dy.begin(), dy.begin() + half, dPos);
  std::copy(dy.begin() + half, dy.end(), dNeg);
  return loss;
}

/// NT-Xent on p [n, d] through the three InfoNCE kernels, the similarities
/// and their adjoint as loops: dp.
inline double infoNceLoss(const abi::LossKernels &kernels, double temperature, int64_t n,
                          int64_t d, const float *p, float *dp, double weight = 1.0) {
  const abi::InfoNceKernels *k = kernels.infoNce;
  if (!k)
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 1 || d <= 0)
    return 0.0;
  std::vector<float> ph(static_cast<size_t>(n * d)), dph(ph.size());
  std::vector<float> sim(static_cast<size_t>(n * n)), dsim(sim.size());
  std::vector<double> norms(static_cast<size_t>(n));
  abi::MemRef2F32 pRef = abi::memref2(const_cast<float *>(p), n, d);
  abi::MemRef2F32 phRef = abi::memref2(ph.data(), n, d), dphRef = abi::memref2(dph.data(), n, d);
  abi::MemRef2F32 simRef = abi::memref2(sim.data(), n, n);
  abi::MemRef2F32 dsimRef = abi::memref2(dsim.data(), n, n);
  abi::MemRef2F32 dpRef = abi::memref2(dp, n, d);
  abi::MemRef1F64 normRef = abi::memref1(norms.data(), n);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  k->normalize(&pRef, &phRef, &normRef);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t t = 0; t < d; ++t)
        s += static_cast<double>(ph[i * d + t]) * ph[j * d + t];
      sim[i * n + j] = static_cast<float>(s);
    }
  k->loss(&simRef, &dsimRef, &lossRef, temperature, weight);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < d; ++t) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j)
        s += static_cast<double>(dsim[i * n + j]) * ph[j * d + t];
      dph[i * d + t] = static_cast<float>(s);
    }
  k->adjoint(&phRef, &dphRef, &normRef, &dpRef);
  return loss;
}

} // namespace locus::test

#endif
