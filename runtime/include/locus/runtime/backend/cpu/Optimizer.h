//===- Optimizer.h - parameter updates -------------------------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_OPTIMIZER_H
#define LOCUS_RUNTIME_BACKEND_CPU_OPTIMIZER_H

#include <cstdint>

namespace locus::rt::cpu {

/// A bfloat16 value: the high 16 bits of a float32.
struct BFloat16 {
  uint16_t bits;
};

/// How AdamW stores its two moments.
enum class MomentFormat { Float32, BFloat16 };

/// One parameter's AdamW moments: float32 arrays (m, v), or bfloat16 arrays
/// (mBf16, vBf16) written with stochastic rounding. A stored value rounds up
/// with probability equal to the fraction it drops, so the moments stay
/// unbiased where round-to-nearest would stall: v moves by (1 - b2) = 0.001
/// of itself a step, below bfloat16's half-ulp of 2^-9. The rounding bits
/// hash (stream, step, element index), so they do not depend on threads.
struct AdamMoments {
  float *m = nullptr, *v = nullptr;
  BFloat16 *mBf16 = nullptr, *vBf16 = nullptr;
  uint64_t stream = 0; ///< bfloat16: the parameter's rounding stream
  bool bf16() const { return mBf16 != nullptr; }
};

/// PyTorch's AdamW (decoupled weight decay), step t counted from 1:
/// p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
struct AdamW {
  double lr = 2e-4, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.0;
  // The element update is the compiled kernels' (UpdateKernels.h: adamwStep).

  /// AdamW on a matrix param [rows, cols] whose gradient is the rank-k product
  /// a^T b (a [k, rows], b [k, cols]), computed tile by tile and never stored:
  /// the projection B^l of the bilinear rules, with a = the row factors of
  /// bilinearLossFactors and b = the context. Same result as forming the
  /// gradient and stepping, without its 2 x rows x cols floats of traffic.
  void stepOuterProduct(int64_t t, int64_t rows, int64_t cols, int64_t k, const float *a,
                        const float *b, float *param, float *m, float *v) const;
  void stepOuterProduct(int64_t t, int64_t rows, int64_t cols, int64_t k, const float *a,
                        const float *b, float *param, const AdamMoments &moments) const;
};

} // namespace locus::rt::cpu

#endif
