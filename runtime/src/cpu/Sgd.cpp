//===- Sgd.cpp - SGD with momentum and LARS --------------------------------===//
#include "locus/runtime/cpu/Sgd.h"

#include <cmath>

namespace locus::rt::cpu {

void SgdMomentum::step(int64_t count, float *param, const float *grad, float *buf,
                       bool adapt) const {
  const double wd = adapt || !lars ? weightDecay : 0.0;
  double scale = 1.0;
  if (lars && adapt) {
    // ||g + wd p|| needs one pass; double sums keep large layers exact enough.
    double pp = 0.0, gg = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      double g = grad[i] + wd * param[i];
      pp += double(param[i]) * param[i];
      gg += g * g;
    }
    if (pp > 0.0 && gg > 0.0)
      scale = trust * std::sqrt(pp) / std::sqrt(gg);
  }
  const float w = float(wd), s = float(scale), mom = float(momentum), rate = float(lr);
  for (int64_t i = 0; i < count; ++i) {
    float g = (grad[i] + w * param[i]) * s;
    buf[i] = mom * buf[i] + g;
    param[i] -= rate * buf[i];
  }
}

} // namespace locus::rt::cpu
