//===- Augment.h - the two augmented views of each image --------*- C++ -*-===//
//
// SimCLR-style views (METHOD.md §5), reduced to the geometric part for
// grey-scale data: RandomResizedCrop (scale (0.25, 1), ratio (3/4, 4/3),
// bilinear, as torchvision samples it) and a horizontal flip with p = 0.5,
// then per-channel normalisation. Colour jitter, grey-scale and blur are not
// implemented. Draws come from the caller's Rng, so a seed fixes every view.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_AUGMENT_H
#define LOCUS_RUNTIME_TRAIN_AUGMENT_H

#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/Random.h"

namespace locus::rt::train {

struct AugmentConfig {
  double scaleMin = 0.25, scaleMax = 1.0;
  double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
  double flipProbability = 0.5;
};

/// A crop window of the source image and whether to mirror it.
struct Crop {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool flip = false;
};

/// torchvision's RandomResizedCrop.get_params (10 tries, then a centre crop).
Crop sampleCrop(Rng &rng, int64_t height, int64_t width, const AugmentConfig &cfg);

/// Renders image `index` cropped by `crop`, resized bilinearly (half-pixel
/// centres, like F.interpolate(align_corners=False)) to outH x outW, flipped,
/// normalised: out is [C, outH, outW].
void renderView(const ImageSet &set, const Normalization &norm, int64_t index, const Crop &crop,
                int64_t outH, int64_t outW, float *out);

/// Two views of each of the b images: out is [2b, C, outH, outW] with the
/// first views in rows 0..b-1 and the second in rows b..2b-1 (X = [v1; v2]).
void makeViews(const ImageSet &set, const Normalization &norm, const int64_t *indices, int64_t b,
               Rng &rng, const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out);

/// The whole image, no augmentation (probe features).
void renderPlain(const ImageSet &set, const Normalization &norm, int64_t index, int64_t outH,
                 int64_t outW, float *out);

} // namespace locus::rt::train

#endif
