#include "Goodness.h"

#include "locus/runtime/train/Random.h"

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

void drawHybrid(int64_t n, int64_t plane, uint64_t seed, float *masks, int32_t *partners) {
  // The random draws, in the order of the data stream: each row's partner
  // (another image: rows r and r + n/2 are views of one image), then its
  // mask's bits. The kernel blurs the masks and mixes.
  const int64_t images = n / 2;
  Rng rng(seed);
  for (int64_t r = 0; r < n; ++r) {
    int64_t q = r;
    while (q % images == r % images)
      q = rng.below(n);
    partners[r] = static_cast<int32_t>(q);
    for (int64_t p = 0; p < plane; ++p)
      masks[r * plane + p] = static_cast<float>(rng.next() & 1);
  }
}

Tensor withHybridNegatives(Backend &backend, const Tensor &views, uint64_t seed) {
  const Shape4 s = views.shape();
  const int64_t n = s.n, plane = s.h * s.w;
  Tensor out = backend.allocate(Shape4{2 * n, s.c, s.h, s.w});
  std::vector<float> masks(static_cast<size_t>(n * plane));
  std::vector<int32_t> partners(static_cast<size_t>(n));
  drawHybrid(n, plane, seed, masks.data(), partners.data());
  backend.hybridNegatives(views.data(), s, masks.data(), partners.data(), out.data());
  return out;
}

Tensor goodnessBlockInput(Backend &backend, GoodnessRule rule, int32_t l, const Tensor &h,
                          bool pairs) {
  const Shape4 s = h.shape();
  const int64_t n = s.n, row = s.c * s.h * s.w;
  if (rule == GoodnessRule::ForwardForward) {
    if (l == 0)
      return h;
    Tensor y = backend.allocate(s);
    backend.lengthNormalizeRows(h.data(), n, row, y.data());
    return y;
  }
  // SCFF: standardise each row, then sum the pair of inputs.
  Tensor st = backend.allocate(s);
  Tensor y = backend.allocate(Shape4{pairs ? 2 * n : n, s.c, s.h, s.w});
  backend.standardizePairs(h.data(), n, row, st.data(), y.data(), pairs);
  return y;
}

float goodnessBiasScale(GoodnessRule rule) { return rule == GoodnessRule::Scff ? 2.0f : 1.0f; }

double goodnessLoss(Backend &backend, GoodnessRule rule, const LossDesc &loss, const Tensor &y,
                    Tensor &dy) {
  const Shape4 s = y.shape();
  const int64_t m = s.n / 2, row = s.c * s.h * s.w;
  dy = backend.allocate(s);
  const float *pos = y.data(), *neg = y.data() + m * row;
  float *dPos = dy.data(), *dNeg = dy.data() + m * row;
  double value =
      rule == GoodnessRule::ForwardForward
          ? backend.forwardForwardLoss(loss.theta, m, row, pos, neg, dPos, dNeg, loss.weight)
          : backend.scffLoss(loss.theta, loss.theta2, loss.lambda, m, s.c, s.h * s.w, pos, neg,
                             dPos, dNeg, loss.weight);
  return value;
}

Tensor leadingRows(Backend &backend, const Tensor &t, int64_t rows) {
  const Shape4 s = t.shape();
  Tensor y = backend.allocate(Shape4{rows, s.c, s.h, s.w});
  std::memcpy(y.data(), t.data(), sizeof(float) * y.count());
  return y;
}

} // namespace locus::rt::train
