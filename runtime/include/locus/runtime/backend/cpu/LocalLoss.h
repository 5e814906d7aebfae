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
using rt::LossFunction;
using rt::Negatives;

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
// The runtime computes none of this: the scores, the loss and its gradient
// are the kernel locusc generated for (f, form, negatives)
// (abi/LossKernels.h). The functions below run the GEMM primitives
// around it: bc = B c before, dL/dB = factors^T c after.

/// The name of the generated kernel that computes cfg's loss.
std::string bilinearLossKernelName(const BilinearLossConfig &cfg);

/// Returns the loss; dz [N, D] and dB [D, Dc] receive dL/dz and dL/dB (added
/// to what they hold when accumulate is true: "both" sums two terms).
/// negIndex (size N) is read only for Negatives::Random. A null proj is the
/// identity B (projection = identity, D = Dc). dproj may be null (a
/// fixed projection: no dL/dB is computed). A configuration without a kernel
/// in `kernels` (Hybrid/Roll negatives, InfoNCE, a variant the object lacks)
/// or Random negatives without a valid negIndex return NaN and write nothing.
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

/// Forward-Forward on the block output y [N, F] (F = C*H*W), pos rows and neg
/// rows given separately (each [M, F]): G = sum y^2,
/// L = 1/M sum softplus(theta - G_pos) + softplus(G_neg - theta).
double forwardForwardLoss(const abi::LossKernels &kernels, double theta, int64_t m, int64_t f,
                          const float *yPos, const float *yNeg, float *dyPos, float *dyNeg,
                          double weight = 1.0);

/// SCFF on pre-activations a [M, C, H*W] for pos and neg: per location
/// G = mean_c relu(a)^2, L = mean over (m, location) of softplus(th1 - G_pos)
/// + softplus(G_neg - th2) + lambda * mean_m ||G_pos[m]||_2 (norm over locations).
double scffLoss(const abi::LossKernels &kernels, double th1, double th2, double lambda,
                int64_t m, int64_t c, int64_t hw, const float *aPos, const float *aNeg,
                float *daPos, float *daNeg, double weight = 1.0);

/// InfoNCE (BP-InfoNCE, SimCLR's NT-Xent) on projections p [N, D]: cosine
/// similarities / temperature, positive pair (r, (r+B) mod N), all other rows
/// negatives, mean cross-entropy over rows. Writes dL/dp.
double infoNceLoss(const abi::LossKernels &kernels, double temperature, int64_t n, int64_t d,
                   const float *p, float *dp, double weight = 1.0);

} // namespace locus::rt::cpu

#endif
