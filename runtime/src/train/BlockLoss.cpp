#include "BlockLoss.h"

#include "ModelInfo.h"
#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/backend/cpu/LocalLoss.h"

namespace locus::rt::train {

namespace {
/// BP-InfoNCE: p = z W^T with the shared head W [D, D], NT-Xent on the
/// cosine similarities of p; dz = dp W, dW = dp^T z.
double infoNceBlockLoss(ExecContext &ctx, const LossDesc &loss, const Tensor &z,
                        const LossProjections &proj, Tensor &dz) {
  int64_t n = z.shape().n, d = z.shape().c;
  Tensor p = ctx.allocate(z.shape()), dp = ctx.allocate(z.shape());
  cpu::gemm(false, true, n, d, d, 1.0f, z.data(), proj.projection, 0.0f, p.data());
  double value = cpu::infoNceLoss(*ctx.kernels.losses, loss.temperature, n, d, p.data(), dp.data(),
                                  loss.weight);
  dz = ctx.allocate(z.shape());
  cpu::gemm(false, false, n, d, d, 1.0f, dp.data(), proj.projection, 0.0f, dz.data());
  Tensor scratch;
  Tensor *dW = proj.dProjection ? proj.dProjection : &scratch;
  *dW = ctx.allocate(Shape4{d, d, 1, 1});
  cpu::gemm(true, false, d, d, n, 1.0f, dp.data(), z.data(), 0.0f, dW->data());
  return value;
}
} // namespace

double blockLoss(ExecContext &ctx, const LossDesc &loss, const Tensor &z, const Tensor &context,
                 const LossProjections &proj, const int32_t *negIndex, Tensor &dz) {
  if (loss.f == "infonce")
    return infoNceBlockLoss(ctx, loss, z, proj, dz);
  cpu::BilinearLossConfig cfg = bilinearConfig(loss);
  int64_t n = z.shape().n, d = z.shape().c;
  bool lateralOnly = loss.context == "same";
  const Tensor &c = lateralOnly ? z : context;
  int64_t dc = c.shape().c;
  dz = ctx.allocate(z.shape());
  if (const cpu::AdamW *adam = proj.fused.adam) {
    // The fused loss step: dz and the row factors of dL/dB, then AdamW on B
    // tile by tile from factors^T c. B is read by the factors before it is
    // updated, so the result equals forming dL/dB and stepping.
    Tensor factors = ctx.allocate(Shape4{n, d, 1, 1});
    double value = cpu::bilinearLossFactors(*ctx.kernels.losses, cfg, n, d, dc, z.data(), c.data(), proj.projection,
                                            negIndex, dz.data(), factors.data(),
                                            /*accumulateDz=*/false);
    adam->stepOuterProduct(proj.fused.step, d, dc, n, factors.data(), c.data(), proj.projection,
                           proj.fused.moments);
    if (loss.context == "both") {
      value += cpu::bilinearLossFactors(*ctx.kernels.losses, cfg, n, d, d, z.data(), z.data(), proj.lateral, negIndex,
                                        dz.data(), factors.data(), /*accumulateDz=*/true);
      adam->stepOuterProduct(proj.fused.step, d, d, n, factors.data(), z.data(), proj.lateral,
                             proj.fused.lateralMoments);
    }
    return value;
  }
  // The kernel always writes dB; evaluation passes a scratch buffer.
  Tensor scratch;
  Tensor *dB = proj.dProjection ? proj.dProjection : &scratch;
  *dB = ctx.allocate(Shape4{d, dc, 1, 1});
  double value = cpu::bilinearLoss(*ctx.kernels.losses, cfg, n, d, dc, z.data(), c.data(), proj.projection, negIndex,
                                   dz.data(), dB->data(), /*accumulate=*/false);
  if (loss.context == "both") {
    // L = L_DFB + L_lat: the lateral term adds its dz to the feedback term's.
    Tensor scratchLat;
    Tensor *dLat = proj.dLateral ? proj.dLateral : &scratchLat;
    // With accumulate the kernel adds into dLat too: start it from zero.
    *dLat = ctx.zeros(Shape4{d, d, 1, 1});
    value += cpu::bilinearLoss(*ctx.kernels.losses, cfg, n, d, d, z.data(), z.data(), proj.lateral, negIndex,
                               dz.data(), dLat->data(), /*accumulate=*/true);
  }
  return value;
}

} // namespace locus::rt::train
