#include "Goodness.h"

#include "locus/runtime/cpu/LocalLoss.h"
#include "locus/runtime/train/Random.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace locus::rt::train {

GoodnessRule goodnessRuleOf(const LossDesc &loss) {
  if (loss.score == "sum_squares")
    return GoodnessRule::ForwardForward;
  if (loss.score == "mean_relu_squares")
    return GoodnessRule::Scff;
  return GoodnessRule::None;
}

namespace {

/// One [1/4, 1/2, 1/4] pass along rows and one along columns, edges repeated.
void blur(std::vector<float> &mask, int64_t h, int64_t w) {
  std::vector<float> tmp(mask.size());
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      float l = mask[i * w + std::max<int64_t>(j - 1, 0)];
      float r = mask[i * w + std::min<int64_t>(j + 1, w - 1)];
      tmp[i * w + j] = 0.25f * l + 0.5f * mask[i * w + j] + 0.25f * r;
    }
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      float u = tmp[std::max<int64_t>(i - 1, 0) * w + j];
      float d = tmp[std::min<int64_t>(i + 1, h - 1) * w + j];
      mask[i * w + j] = 0.25f * u + 0.5f * tmp[i * w + j] + 0.25f * d;
    }
}

constexpr float kEps = 1e-5f;

} // namespace

Tensor withHybridNegatives(ExecContext &ctx, const Tensor &views, uint64_t seed) {
  const Shape4 s = views.shape();
  const int64_t n = s.n, images = n / 2, plane = s.h * s.w, row = s.c * plane;
  Tensor out = ctx.allocate(Shape4{2 * n, s.c, s.h, s.w});
  std::memcpy(out.data(), views.data(), sizeof(float) * n * row);
  Rng rng(seed);
  std::vector<float> mask(plane);
  for (int64_t r = 0; r < n; ++r) {
    // A partner from another image (rows r and r + B are views of one image).
    int64_t q = r;
    while (q % images == r % images)
      q = rng.below(n);
    for (float &m : mask)
      m = static_cast<float>(rng.next() & 1);
    for (int k = 0; k < 6; ++k)
      blur(mask, s.h, s.w);
    const float *a = views.data() + r * row, *b = views.data() + q * row;
    float *y = out.data() + (n + r) * row;
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t p = 0; p < plane; ++p)
        y[c * plane + p] = mask[p] > 0.5f ? a[c * plane + p] : b[c * plane + p];
  }
  return out;
}

Tensor goodnessBlockInput(ExecContext &ctx, GoodnessRule rule, int32_t l, const Tensor &h,
                          bool pairs) {
  const Shape4 s = h.shape();
  const int64_t n = s.n, row = s.c * s.h * s.w;
  if (rule == GoodnessRule::ForwardForward) {
    if (l == 0)
      return h;
    Tensor y = ctx.allocate(s);
    for (int64_t r = 0; r < n; ++r) {
      const float *x = h.data() + r * row;
      double sq = 0.0;
      for (int64_t i = 0; i < row; ++i)
        sq += double(x[i]) * x[i];
      const float inv = static_cast<float>(1.0 / (std::sqrt(sq) + kEps));
      for (int64_t i = 0; i < row; ++i)
        y.data()[r * row + i] = x[i] * inv;
    }
    return y;
  }
  // SCFF: standardise each row, then sum the pair of inputs.
  Tensor st = ctx.allocate(s);
  for (int64_t r = 0; r < n; ++r) {
    const float *x = h.data() + r * row;
    double sum = 0.0, sq = 0.0;
    for (int64_t i = 0; i < row; ++i) {
      sum += x[i];
      sq += double(x[i]) * x[i];
    }
    const double mean = sum / row, var = std::max(0.0, sq / row - mean * mean);
    const float m = static_cast<float>(mean), inv = static_cast<float>(1.0 / (std::sqrt(var) + kEps));
    for (int64_t i = 0; i < row; ++i)
      st.data()[r * row + i] = (x[i] - m) * inv;
  }
  Tensor y = ctx.allocate(Shape4{pairs ? 2 * n : n, s.c, s.h, s.w});
  for (int64_t r = 0; r < n; ++r) {
    const float *a = st.data() + r * row, *b = st.data() + ((r + 1) % n) * row;
    for (int64_t i = 0; i < row; ++i) {
      y.data()[r * row + i] = a[i] + a[i];
      if (pairs)
        y.data()[(n + r) * row + i] = a[i] + b[i];
    }
  }
  return y;
}

float goodnessBiasScale(GoodnessRule rule) { return rule == GoodnessRule::Scff ? 2.0f : 1.0f; }

double goodnessLoss(ExecContext &ctx, GoodnessRule rule, const LossDesc &loss, const Tensor &y,
                    Tensor &dy) {
  const Shape4 s = y.shape();
  const int64_t m = s.n / 2, row = s.c * s.h * s.w;
  dy = ctx.allocate(s);
  const float *pos = y.data(), *neg = y.data() + m * row;
  float *dPos = dy.data(), *dNeg = dy.data() + m * row;
  double value =
      rule == GoodnessRule::ForwardForward
          ? cpu::forwardForwardLoss(*ctx.lossKernels, loss.theta, m, row, pos, neg, dPos, dNeg,
                                    loss.weight)
          : cpu::scffLoss(*ctx.lossKernels, loss.theta, loss.theta2, loss.lambda, m, s.c,
                          s.h * s.w, pos, neg, dPos, dNeg, loss.weight);
  return value;
}

Tensor leadingRows(ExecContext &ctx, const Tensor &t, int64_t rows) {
  const Shape4 s = t.shape();
  Tensor y = ctx.allocate(Shape4{rows, s.c, s.h, s.w});
  std::memcpy(y.data(), t.data(), sizeof(float) * y.count());
  return y;
}

} // namespace locus::rt::train
