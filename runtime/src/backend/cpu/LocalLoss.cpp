//===- LocalLoss.cpp - the local losses and their gradients ---------------===//
//
// See LocalLoss.h and METHOD.md sections 1-2. The losses and their
// gradients are the kernels locusc generates (abi/LossKernels.h); this file
// finds them, checks their inputs and runs the two large products of the
// bilinear rules around them (B c for all rows, and dL/dB = A^T c: SGEMMs).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/LocalLoss.h"

#include "locus/runtime/backend/cpu/Kernels.h"

#include "backend/cpu/Blocked.h"
#include "backend/cpu/Parallel.h"
#include "backend/cpu/Scratch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace locus::rt::cpu {

namespace {

/// The kernel cfg names, or null where the object has none or random
/// negatives come without a valid row per view (the kernel reads them
/// unchecked).
const abi::BilinearLossKernel *findKernel(const abi::LossKernels &kernels,
                                          const BilinearLossConfig &cfg, int64_t n,
                                          const int32_t *negIndex) {
  if (cfg.randomNegatives) {
    if (!negIndex)
      return nullptr;
    for (int64_t r = 0; r < n; ++r)
      if (negIndex[r] < 0 || negIndex[r] >= n)
        return nullptr;
  }
  return kernels.bilinear.find(std::string(cfg.kernel));
}

/// bc = rows B c[r] (the GEMM primitive; c itself for the identity B, a null
/// proj), then the generated kernel: the loss, dz and the row factors of dL/dB.
double runKernel(const abi::BilinearLossKernel &kernel, const BilinearLossConfig &cfg,
                 int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                 const float *proj, const int32_t *negIndex, float *dz, bool accumulateDz,
                 float *factors) {
  thread_local std::vector<float> bcBuf;
  float *bc = const_cast<float *>(c);
  if (proj) {
    bc = scratch(bcBuf, n * d);
    projectRows(n, d, dc, proj, c, bc);
  }
  abi::MemRef2F32 zRef = abi::memref2(const_cast<float *>(z), n, d);
  abi::MemRef2F32 bcRef = abi::memref2(bc, n, d);
  abi::MemRef2F32 dzRef = abi::memref2(dz, n, d);
  abi::MemRef2F32 factorsRef = abi::memref2(factors, n, d);
  abi::MemRef1I32 negRef = abi::memref1(
      const_cast<int32_t *>(negIndex), cfg.randomNegatives ? n : 0);
  thread_local std::vector<double> workBuf;
  workBuf.resize(static_cast<size_t>(4 * n));
  abi::MemRef2F64 gRef = abi::memref2(workBuf.data(), n, 4);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel.run(&zRef, &bcRef, &negRef, &dzRef, &factorsRef, &gRef, &lossRef, cfg.theta, cfg.weight,
             accumulateDz);
  return loss;
}

} // namespace

double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                    int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                    const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                    bool accumulate) {
  return bilinearLoss(kernels, cfg, n, d, dc, z, c, proj, negIndex, dz, dproj, accumulate,
                      accumulate);
}

double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
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

double bilinearLossFactors(const abi::LossKernels &kernels,
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

namespace {
/// Runs a goodness kernel on [m, c, hw] halves.
double runGoodness(const abi::GoodnessLossKernel *kernel, double theta, double theta2,
                   double lambda, double weight, int64_t m, int64_t c, int64_t hw,
                   const float *pos, const float *neg, float *dPos, float *dNeg) {
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (m <= 0 || c <= 0 || hw <= 0)
    return 0.0;
  abi::MemRef3F32 posRef = abi::memref3(const_cast<float *>(pos), m, c, hw);
  abi::MemRef3F32 negRef = abi::memref3(const_cast<float *>(neg), m, c, hw);
  abi::MemRef3F32 dPosRef = abi::memref3(dPos, m, c, hw);
  abi::MemRef3F32 dNegRef = abi::memref3(dNeg, m, c, hw);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel->run(&posRef, &negRef, &dPosRef, &dNegRef, &lossRef, theta, theta2, lambda, weight);
  return loss;
}
} // namespace

double goodnessLoss(const abi::LossKernels &kernels, std::string_view kernel, double theta,
                    double theta2, double lambda, double weight, int64_t m, int64_t c,
                    int64_t hw, const float *pos, const float *neg, float *dPos, float *dNeg) {
  return runGoodness(kernels.goodness.find(std::string(kernel)), theta, theta2, lambda, weight, m,
                     c, hw, pos, neg, dPos, dNeg);
}

double infoNceLoss(const abi::LossKernels &kernels, double temperature, int64_t n, int64_t d,
                   const float *p, float *dp, double weight) {
  const abi::InfoNceKernels *kernel = kernels.infoNce;
  if (!kernel)
    return std::numeric_limits<double>::quiet_NaN();
  if (n <= 1 || d <= 0)
    return 0.0;
  thread_local std::vector<float> buf;
  thread_local std::vector<double> normBuf;
  float *ph = scratch(buf, 2 * n * d + 2 * n * n);
  float *dph = ph + n * d;
  float *sim = dph + n * d;
  float *dsim = sim + n * n;
  normBuf.resize(static_cast<size_t>(n));
  abi::MemRef2F32 pRef = abi::memref2(const_cast<float *>(p), n, d);
  abi::MemRef2F32 phRef = abi::memref2(ph, n, d), dphRef = abi::memref2(dph, n, d);
  abi::MemRef2F32 simRef = abi::memref2(sim, n, n), dsimRef = abi::memref2(dsim, n, n);
  abi::MemRef2F32 dpRef = abi::memref2(dp, n, d);
  abi::MemRef1F64 normRef = abi::memref1(normBuf.data(), n);
  double loss = 0.0;
  abi::MemRef0F64 lossRef{&loss, &loss, 0};
  kernel->normalize(&pRef, &phRef, &normRef);
  gemm(false, true, n, n, d, 1.0f, ph, ph, 0.0f, sim);
  kernel->loss(&simRef, &dsimRef, &lossRef, temperature, weight);
  gemm(false, false, n, d, n, 1.0f, dsim, ph, 0.0f, dph);
  kernel->adjoint(&phRef, &dphRef, &normRef, &dpRef);
  return loss;
}

} // namespace locus::rt::cpu
