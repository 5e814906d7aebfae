//===- Optimizer.h - parameter updates -------------------------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_CPU_OPTIMIZER_H
#define LOCUS_RUNTIME_CPU_OPTIMIZER_H

#include <cstdint>

namespace locus::rt::cpu {

/// PyTorch's AdamW (decoupled weight decay), step t counted from 1:
/// p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
struct AdamW {
  double lr = 2e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.0;
  void step(int64_t t, int64_t count, float *param, const float *grad, float *m,
            float *v) const;
  /// step() on a matrix param [rows, cols] whose gradient is the rank-k product
  /// a^T b (a [k, rows], b [k, cols]), computed tile by tile and never stored:
  /// the projection B^l of the bilinear rules, with a = the row factors of
  /// bilinearLossFactors and b = the context. Same result as forming the
  /// gradient and calling step(), without its 2 x rows x cols floats of traffic.
  void stepOuterProduct(int64_t t, int64_t rows, int64_t cols, int64_t k, const float *a,
                        const float *b, float *param, float *m, float *v) const;
};

} // namespace locus::rt::cpu

#endif
