//===- Augment.h - the two augmented views of each image --------*- C++ -*-===//
//
// SimCLR's views (METHOD.md §5), as torchvision computes them on tensors:
// RandomResizedCrop (bilinear), horizontal flip, colour jitter (brightness,
// contrast, saturation, hue in a random order) with its probability, random
// grayscale, Gaussian blur with a random sigma (reflect padding), then the
// data set's per-channel normalisation. Every draw of a view comes from its
// own generator, seeded by (run seed, step, row), so a view is the same
// whichever worker thread renders it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_AUGMENT_H
#define LOCUS_RUNTIME_TRAIN_AUGMENT_H

#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/Random.h"

#include <array>
#include <string>

namespace locus::rt::train {

struct AugmentConfig {
  double scaleMin = 0.25, scaleMax = 1.0;
  double ratioMin = 3.0 / 4.0, ratioMax = 4.0 / 3.0;
  double flipProbability = 0.5;
  /// ColorJitter(brightness, contrast, saturation, hue) applied with
  /// jitterProbability; 0 strengths leave that adjustment out.
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
  double jitterProbability = 0;
  double grayscaleProbability = 0;
  /// GaussianBlur(blurKernel, sigma ~ U(blurSigmaMin, blurSigmaMax)) applied
  /// with blurProbability; kernel 0 means odd(0.1 x the view's side).
  double blurProbability = 0;
  int64_t blurKernel = 0;
  double blurSigmaMin = 0.1, blurSigmaMax = 2.0;
  /// The held-out/probe transform: Resize(testResize) (shorter side) then
  /// CenterCrop to the view's size; 0: the whole image resized to the view.
  int64_t testResize = 0;
};

/// `--views crop`: crop (0.25, 1) and flip only (grey-scale data's default).
AugmentConfig cropViews();
/// `--views simclr`: METHOD.md §5's views with crop scale (scaleMin, 1).
AugmentConfig simclrViews(double scaleMin);
/// One line naming every setting, for the run's log.
std::string describeViews(const AugmentConfig &cfg, int64_t side);
/// Applies one view option (`--views`, `--crop-scale`, `--jitter`, ...) to
/// `cfg`; a value out of range is an error naming the option.
Status parseViewOption(const std::string &name, const std::string &value, AugmentConfig &cfg);
/// Whether `name` is one of parseViewOption's options.
bool isViewOption(const std::string &name);
/// The view options' --help text.
const char *viewOptionsHelp();

/// A crop window of the source image and whether to mirror it.
struct Crop {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool flip = false;
};

/// torchvision's RandomResizedCrop.get_params (10 tries, then a centre crop).
Crop sampleCrop(Rng &rng, int64_t height, int64_t width, const AugmentConfig &cfg);

/// Every random choice of one view, drawn before any pixel is touched.
struct ViewDraw {
  Crop crop;
  bool jitter = false;
  std::array<int, 4> order{0, 1, 2, 3}; ///< brightness, contrast, saturation, hue
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  bool grayscale = false;
  bool blur = false;
  double sigma = 0;
};
ViewDraw drawView(Rng &rng, int64_t height, int64_t width, const AugmentConfig &cfg);

/// Renders `image` as `draw` says to a normalised [C, outH, outW] view.
void renderView(const ImageRef &image, const Normalization &norm, const ViewDraw &draw,
                const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out);

/// The generator of row `row` of step `step`'s views (rows 0..b-1 are the
/// first views, b..2b-1 the second: X = [v1; v2]).
uint64_t viewSeed(uint64_t stepSeed, int64_t row);

/// Renders row `row` of the views of images `indices[0..b)`: image
/// indices[row % b], drawn from viewSeed(stepSeed, row).
Status renderViewRow(const ImageSet &set, const Normalization &norm, const int64_t *indices,
                     int64_t b, int64_t row, uint64_t stepSeed, const AugmentConfig &cfg,
                     int64_t outH, int64_t outW, float *out);
/// All 2b rows of one step on the calling thread: out is [2b, C, outH, outW].
Status makeViews(const ImageSet &set, const Normalization &norm, const int64_t *indices, int64_t b,
                 uint64_t stepSeed, const AugmentConfig &cfg, int64_t outH, int64_t outW,
                 float *out);

/// One view of image `index` drawn from `seed` (the probe's augmented
/// features).
Status renderOneView(const ImageSet &set, const Normalization &norm, int64_t index, uint64_t seed,
                     const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out);

/// The test transform (cfg.testResize), no randomness: probe features and
/// evaluation.
Status renderPlain(const ImageSet &set, const Normalization &norm, int64_t index,
                   const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out);

} // namespace locus::rt::train

#endif
