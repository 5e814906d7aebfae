#include "BlockLoss.h"

#include "ModelInfo.h"
#include "locus/runtime/cpu/LocalLoss.h"

namespace locus::rt::train {

double blockLoss(ExecContext &ctx, const LossDesc &loss, const Tensor &z, const Tensor &context,
                 const LossProjections &proj, const int32_t *negIndex, Tensor &dz) {
  cpu::BilinearLossConfig cfg = bilinearConfig(loss);
  int64_t n = z.shape().n, d = z.shape().c;
  bool lateralOnly = loss.context == "same";
  const Tensor &c = lateralOnly ? z : context;
  int64_t dc = c.shape().c;
  dz = ctx.allocate(z.shape());
  // The kernel always writes dB; evaluation passes a scratch buffer.
  Tensor scratch;
  Tensor *dB = proj.dProjection ? proj.dProjection : &scratch;
  *dB = ctx.allocate(Shape4{d, dc, 1, 1});
  double value = cpu::bilinearLoss(cfg, n, d, dc, z.data(), c.data(), proj.projection, negIndex,
                                   dz.data(), dB->data(), /*accumulate=*/false);
  if (loss.context == "both") {
    // L = L_DFB + L_lat: the lateral term adds its dz to the feedback term's.
    Tensor scratchLat;
    Tensor *dLat = proj.dLateral ? proj.dLateral : &scratchLat;
    // With accumulate the kernel adds into dLat too: start it from zero.
    *dLat = ctx.zeros(Shape4{d, d, 1, 1});
    value += cpu::bilinearLoss(cfg, n, d, d, z.data(), z.data(), proj.lateral, negIndex,
                               dz.data(), dLat->data(), /*accumulate=*/true);
  }
  return value;
}

} // namespace locus::rt::train
