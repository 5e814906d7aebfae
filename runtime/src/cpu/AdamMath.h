//===- AdamMath.h - the AdamW element update --------------------*- C++ -*-===//
//
// PyTorch's single-tensor AdamW on float32, operation by operation:
//   p *= 1 - lr wd;  m = m.lerp(g, 1 - b1);  v = v * b2 + (1 - b2) g g;
//   denom = sqrt(v) / sqrt(bc2) + eps;  p += -(lr / bc1) * (m / denom).
// Shared by AdamW::step and the fused rank-k update of Blocked.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_CPU_ADAMMATH_H
#define LOCUS_RUNTIME_SRC_CPU_ADAMMATH_H

#include "locus/runtime/cpu/Optimizer.h"

#include <cmath>
#include <cstdint>

namespace locus::rt::cpu {

struct AdamCoefficients {
  float decay, w1, b1, b2, c2, negStep, bc2Sqrt, eps;
  bool lerpLow, doDecay;
};

inline AdamCoefficients adamCoefficients(const AdamW &opt, int64_t t) {
  const double bc1 = 1.0 - std::pow(opt.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(opt.beta2, static_cast<double>(t));
  AdamCoefficients k;
  k.decay = static_cast<float>(1.0 - opt.lr * opt.weightDecay);
  k.w1 = static_cast<float>(1.0 - opt.beta1);
  k.b1 = static_cast<float>(opt.beta1);
  k.b2 = static_cast<float>(opt.beta2);
  k.c2 = static_cast<float>(1.0 - opt.beta2);
  k.negStep = static_cast<float>(-(opt.lr / bc1));
  k.bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  k.eps = static_cast<float>(opt.eps);
  k.lerpLow = std::fabs(k.w1) < 0.5f; // torch's lerp: start + w (end - start) for |w| < 0.5
  k.doDecay = opt.weightDecay != 0.0;
  return k;
}

inline void adamScalar(const AdamCoefficients &k, float &p, float g, float &m, float &v) {
  float pi = p;
  if (k.doDecay)
    pi *= k.decay;
  const float mi = k.lerpLow ? m + k.w1 * (g - m) : g - (g - m) * k.b1;
  const float vi = v * k.b2 + k.c2 * g * g;
  const float denom = std::sqrt(vi) / k.bc2Sqrt + k.eps;
  p = pi + k.negStep * (mi / denom);
  m = mi;
  v = vi;
}

} // namespace locus::rt::cpu

#endif
