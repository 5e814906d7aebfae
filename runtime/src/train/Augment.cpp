#include "locus/runtime/train/Augment.h"

#include <algorithm>
#include <cmath>

namespace locus::rt::train {

Crop sampleCrop(Rng &rng, int64_t height, int64_t width, const AugmentConfig &cfg) {
  double area = double(height) * double(width);
  double logLo = std::log(cfg.ratioMin), logHi = std::log(cfg.ratioMax);
  Crop crop;
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = area * rng.uniform(cfg.scaleMin, cfg.scaleMax);
    double aspect = std::exp(rng.uniform(logLo, logHi));
    int64_t w = std::llround(std::sqrt(target * aspect));
    int64_t h = std::llround(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      crop.top = rng.below(height - h + 1);
      crop.left = rng.below(width - w + 1);
      crop.height = h;
      crop.width = w;
      crop.flip = rng.uniform() < cfg.flipProbability;
      return crop;
    }
  }
  // Fallback: the largest centred crop within the ratio range.
  double ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (ratio < cfg.ratioMin)
    h = std::llround(w / cfg.ratioMin);
  else if (ratio > cfg.ratioMax)
    w = std::llround(h * cfg.ratioMax);
  crop.top = (height - h) / 2;
  crop.left = (width - w) / 2;
  crop.height = h;
  crop.width = w;
  crop.flip = rng.uniform() < cfg.flipProbability;
  return crop;
}

namespace {
/// Source coordinate and weight of bilinear resampling along one axis.
struct Tap {
  int64_t i0, i1;
  float t;
};
std::vector<Tap> taps(int64_t in, int64_t out) {
  std::vector<Tap> result(out);
  double scale = double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    double src = std::max(0.0, (o + 0.5) * scale - 0.5);
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    result[o] = {i0, std::min(i0 + 1, in - 1), static_cast<float>(src - i0)};
  }
  return result;
}
} // namespace

void renderView(const ImageSet &set, const Normalization &norm, int64_t index, const Crop &crop,
                int64_t outH, int64_t outW, float *out) {
  std::vector<Tap> ty = taps(crop.height, outH), tx = taps(crop.width, outW);
  const uint8_t *image = set.image(index);
  for (int64_t c = 0; c < set.channels; ++c) {
    const uint8_t *plane = image + c * set.height * set.width;
    float scale = 1.0f / (255.0f * norm.stddev[c]), shift = norm.mean[c] / norm.stddev[c];
    for (int64_t y = 0; y < outH; ++y) {
      const Tap &a = ty[y];
      const uint8_t *r0 = plane + (crop.top + a.i0) * set.width + crop.left;
      const uint8_t *r1 = plane + (crop.top + a.i1) * set.width + crop.left;
      float *row = out + (c * outH + y) * outW;
      for (int64_t x = 0; x < outW; ++x) {
        const Tap &b = tx[x];
        float top = r0[b.i0] + b.t * (float(r0[b.i1]) - r0[b.i0]);
        float bottom = r1[b.i0] + b.t * (float(r1[b.i1]) - r1[b.i0]);
        float v = top + a.t * (bottom - top);
        row[crop.flip ? outW - 1 - x : x] = v * scale - shift;
      }
    }
  }
}

void makeViews(const ImageSet &set, const Normalization &norm, const int64_t *indices, int64_t b,
               Rng &rng, const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out) {
  int64_t viewSize = set.channels * outH * outW;
  for (int64_t k = 0; k < b; ++k)
    for (int64_t v = 0; v < 2; ++v) {
      Crop crop = sampleCrop(rng, set.height, set.width, cfg);
      renderView(set, norm, indices[k], crop, outH, outW, out + (v * b + k) * viewSize);
    }
}

void renderPlain(const ImageSet &set, const Normalization &norm, int64_t index, int64_t outH,
                 int64_t outW, float *out) {
  Crop whole;
  whole.height = set.height;
  whole.width = set.width;
  renderView(set, norm, index, whole, outH, outW, out);
}

} // namespace locus::rt::train
