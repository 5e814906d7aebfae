#include "BlockLoss.h"

#include "ModelInfo.h"

namespace locus::rt::train {

namespace {
/// BP-InfoNCE: p = z W^T with the shared head W [D, D], NT-Xent on the
/// cosine similarities of p; dz = dp W, dW = dp^T z.
double infoNceBlockLoss(Backend &backend, const LossDesc &loss, const Tensor &z,
                        const LossProjections &proj, Tensor &dz) {
  int64_t n = z.shape().n, d = z.shape().c;
  Tensor p = backend.allocate(z.shape()), dp = backend.allocate(z.shape());
  backend.gemm(false, true, n, d, d, 1.0f, z.data(), proj.projection, 0.0f, p.data());
  double value = backend.infoNceLoss(loss.temperature, n, d, p.data(), dp.data(), loss.weight);
  dz = backend.allocate(z.shape());
  backend.gemm(false, false, n, d, d, 1.0f, dp.data(), proj.projection, 0.0f, dz.data());
  Tensor scratch;
  Tensor *dW = proj.dProjection ? proj.dProjection : &scratch;
  *dW = backend.allocate(Shape4{d, d, 1, 1});
  backend.gemm(true, false, d, d, n, 1.0f, dp.data(), z.data(), 0.0f, dW->data());
  return value;
}
} // namespace

double blockLoss(Backend &backend, const LossDesc &loss, const Tensor &z, const Tensor &context,
                 const LossProjections &proj, const int32_t *negIndex, Tensor &dz) {
  if (loss.f == "infonce")
    return infoNceBlockLoss(backend, loss, z, proj, dz);
  cpu::BilinearLossConfig cfg = bilinearConfig(loss);
  int64_t n = z.shape().n, d = z.shape().c;
  bool lateralOnly = loss.context == "same";
  const Tensor &c = lateralOnly ? z : context;
  int64_t dc = c.shape().c;
  dz = backend.allocate(z.shape());
  if (const cpu::AdamW *adam = proj.fused.adam) {
    // The fused loss step: dz and the row factors of dL/dB, then AdamW on B
    // tile by tile from factors^T c. B is read by the factors before it is
    // updated, so the result equals forming dL/dB and stepping.
    Tensor factors = backend.allocate(Shape4{n, d, 1, 1});
    double value = backend.bilinearLossFactors(cfg, n, d, dc, z.data(), c.data(), proj.projection,
                                            negIndex, dz.data(), factors.data(),
                                            /*accumulateDz=*/false);
    backend.adamwFromFactors(*adam, proj.fused.step, d, dc, n, factors.data(), c.data(),
                             proj.projection, proj.fused.moments);
    if (loss.context == "both") {
      value += backend.bilinearLossFactors(cfg, n, d, d, z.data(), z.data(), proj.lateral, negIndex,
                                        dz.data(), factors.data(), /*accumulateDz=*/true);
      backend.adamwFromFactors(*adam, proj.fused.step, d, d, n, factors.data(), z.data(),
                               proj.lateral, proj.fused.lateralMoments);
    }
    return value;
  }
  // The kernel always writes dB; evaluation passes a scratch buffer.
  Tensor scratch;
  Tensor *dB = proj.dProjection ? proj.dProjection : &scratch;
  *dB = backend.allocate(Shape4{d, dc, 1, 1});
  double value = backend.bilinearLoss(cfg, n, d, dc, z.data(), c.data(), proj.projection, negIndex,
                                   dz.data(), dB->data(), /*accumulate=*/false);
  if (loss.context == "both") {
    // L = L_DFB + L_lat: the lateral term adds its dz to the feedback term's.
    Tensor scratchLat;
    Tensor *dLat = proj.dLateral ? proj.dLateral : &scratchLat;
    // With accumulate the kernel adds into dLat too: start it from zero.
    *dLat = backend.zeros(Shape4{d, d, 1, 1});
    value += backend.bilinearLoss(cfg, n, d, d, z.data(), z.data(), proj.lateral, negIndex,
                               dz.data(), dLat->data(), /*accumulate=*/true);
  }
  return value;
}

} // namespace locus::rt::train
