//===- Types.h - the values a Backend call takes ----------------*- C++ -*-===//
//
// Target-neutral: shapes and windows of the maps and the optimizers'
// hyperparameters and state layout. The
// Backend interface (Backend.h) speaks only these; each backend (cpu/, and
// cuda/ next) brings its own code for them.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_TYPES_H
#define LOCUS_RUNTIME_BACKEND_TYPES_H

#include <cstdint>

namespace locus::rt {

/// An NCHW map's shape.
struct Shape4 {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t count() const { return n * c * h * w; }
  int64_t plane() const { return h * w; }
};

/// A 2D window: kernel, stride, padding [top, left, bottom, right].
struct Window {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  /// The output of a convolution or pooling with this window (floor mode;
  /// 0 where the padded map is smaller than the kernel).
  Shape4 outputShape(Shape4 in, int64_t outChannels) const {
    Shape4 out{in.n, outChannels, (in.h + pt + pb - kh) / sh + 1, (in.w + pl + pr - kw) / sw + 1};
    if (in.h + pt + pb < kh)
      out.h = 0;
    if (in.w + pl + pr < kw)
      out.w = 0;
    return out;
  }
  /// Whether the windows tile the map: kernel = stride, no padding (the
  /// static-shape relu + max-pool kernels locusc compiles need it).
  bool tiles() const {
    return kh == sh && kw == sw && pt == 0 && pl == 0 && pb == 0 && pr == 0;
  }
};

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
};

/// PyTorch's SGD with momentum and (coupled) weight decay:
///   g' = g + wd p;  buf = momentum buf + g';  p -= lr buf
/// With `lars` (You et al. 2017, as in SimCLR's ImageNet runs), g' is scaled
/// by the layer-wise trust ratio trust * ||p|| / ||g'|| first (1 when either
/// norm is 0); `adapt` = false skips the ratio and the weight decay for one
/// parameter (biases, by the usual convention).
struct SgdMomentum {
  double lr = 0.1, momentum = 0.9, weightDecay = 0.0, trust = 1e-3;
  bool lars = false;
};

} // namespace locus::rt

#endif
