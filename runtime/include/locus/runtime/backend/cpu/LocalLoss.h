//===- LocalLoss.h - the local losses and their gradients ------*- C++ -*-===//
//
// The losses of METHOD.md section 1 on pooled, flattened block outputs:
// rows r = 0..N-1 are the N = 2B views, row r's other view is (r + B) mod N.
// Each function returns the loss and writes the gradients with respect to its
// inputs (dz for the block's own pooled output, dB for the projection); the
// context is a stop-gradient input and gets no gradient. Gradients are
// overwritten, not accumulated, except where `accumulate` says so.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_LOCALLOSS_H
#define LOCUS_RUNTIME_BACKEND_CPU_LOCALLOSS_H

#include "locus/runtime/abi/LossKernels.h"

#include "locus/runtime/backend/Types.h"

#include <cstdint>
#include <string>
#include <vector>

namespace locus::rt::cpu {

using rt::BilinearLossConfig;

// The bilinear rules (CLAPP++, DFB, pooled CLAPP, PhyLL; "both" is two calls
// summed): z is [N, D], c is [N, Dc] (stop-gradient), B is [D, Dc].
// u_pos[r] = z[(r+B) mod N] . (B c[r]), u_neg[r] = z[neg(r)] . (B c[r]) with
// neg(r) = (pos(r) + 1) mod N for Next, or negIndex[r] (a row != r and != pos(r))
// for Random.
//   contrastive (hinge):   L = 1/N sum relu(1 - u_pos) + relu(1 + u_neg)
//   contrastive (softplus):L = 1/N sum softplus(theta - u_pos) + softplus(u_neg - theta)
//   contrastive (linear):  L = 1/N sum (-u_pos) + u_neg
//   difference (logistic): L = 1/N sum log(1 + exp(theta (u_neg - u_pos)))
// weight scales the loss and all gradients.
//
// The runtime computes none of this, nor chooses it: the scores, the loss
// and its gradient are the kernel locusc generated for (f, form, negatives),
// which the step program names (cfg.kernel, abi/LossKernels.h). The
// functions below run the GEMM primitives around it: bc = B c before,
// dL/dB = factors^T c after.

/// Returns the loss; dz [N, D] and dB [D, Dc] receive dL/dz and dL/dB (added
/// to what they hold when accumulate is true: "both" sums two terms).
/// negIndex (size N) is read only with cfg.randomNegatives. A null proj is
/// the identity B (projection = identity, D = Dc). dproj may be null (a
/// fixed projection: no dL/dB is computed). A kernel name `kernels` lacks,
/// or random negatives without a valid negIndex, return NaN and write
/// nothing.
double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                    int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                    const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                    bool accumulate);

/// The same with separate accumulation flags: CLAPP++both sums the DFB and the
/// lateral term into one dz, but each term has its own projection, so its
/// second call is (accumulateDz = true, accumulateDProj = false).
double bilinearLoss(const abi::LossKernels &kernels, const BilinearLossConfig &cfg,
                    int64_t n, int64_t d, int64_t dc, const float *z, const float *c,
                    const float *proj, const int32_t *negIndex, float *dz, float *dproj,
                    bool accumulateDz, bool accumulateDProj);

/// The bilinear rules without forming dL/dB (which is D x Dc: up to 8192 x
/// 8192 floats): writes dz as bilinearLoss does and rowFactors [N, D] with
/// rowFactors[r] = dL/du_pos[r] z_pos[r] + dL/du_neg[r] z_neg[r], so that
/// dL/dB = rowFactors^T c. adamwStepOuterProduct(opt, t, D, Dc, N, rowFactors, c,
/// ...) then updates B from them directly (same result as bilinearLoss +
/// AdamW::step, without writing and re-reading dL/dB).
double bilinearLossFactors(const abi::LossKernels &kernels,
                           const BilinearLossConfig &cfg, int64_t n, int64_t d, int64_t dc,
                           const float *z, const float *c, const float *proj,
                           const int32_t *negIndex, float *dz, float *rowFactors,
                           bool accumulateDz);

/// The goodness and InfoNCE losses below run locusc's kernels from
/// `kernels` too; without the kernel they return NaN and write nothing.
/// `weight` scales the loss and the gradients.

/// A goodness loss by the kernel named `kernel` on [m, c, hw] positive and
/// negative halves (FF: G = sum y^2 a row, its rows seen as [F, 1]; SCFF:
/// G = mean_c relu(a)^2 a location, L adds lambda mean_m ||G_pos[m]||_2).
double goodnessLoss(const abi::LossKernels &kernels, std::string_view kernel, double theta,
                    double theta2, double lambda, double weight, int64_t m, int64_t c,
                    int64_t hw, const float *pos, const float *neg, float *dPos, float *dNeg);

/// InfoNCE (BP-InfoNCE, SimCLR's NT-Xent) on projections p [N, D]: cosine
/// similarities / temperature, positive pair (r, (r+B) mod N), all other rows
/// negatives, mean cross-entropy over rows. Writes dL/dp.
double infoNceLoss(const abi::LossKernels &kernels, double temperature, int64_t n, int64_t d,
                   const float *p, float *dp, double weight = 1.0);

} // namespace locus::rt::cpu

#endif
