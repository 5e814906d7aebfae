//===- Probe.h - linear-probe evaluation of the frozen encoder -*- C++ -*-===//
//
// METHOD.md §5: every block's output pooled with its own loss kernel,
// flattened and concatenated, then Linear(F, classes) with bias, softmax
// cross-entropy, Adam lr 1e-3, batch 32, the test transform for the test
// images. By default the training features are computed once from
// un-augmented images and reused every epoch (the encoder is frozen, and
// running it once per epoch over 50k-100k images would dominate a CPU run);
// `--probe-augment` computes them every epoch from a RandomResizedCrop +
// flip view of each image, as the paper does. Features are standardised
// with the un-augmented training statistics either way.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_PROBE_H
#define LOCUS_RUNTIME_TRAIN_PROBE_H

#include "locus/runtime/Error.h"
#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/Augment.h"
#include "locus/runtime/train/Engine.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace locus::rt::train {

struct ProbeOptions {
  int64_t epochs = 10;
  int64_t trainImages = -1, testImages = -1; ///< -1: the whole split
  int64_t batch = 32;
  double lr = 1e-3;
  uint64_t seed = 0;
  /// The backend whose compiled AdamW updates the classifier (its weights
  /// and moments are kept in the backend's memory, its products and softmax
  /// run on the host). Required.
  Backend *backend = nullptr;
  /// The test transform of the features' images (AugmentConfig::testResize)
  /// and, with `augment`, the crop of each epoch's training views.
  AugmentConfig views;
  bool augment = false;
};

struct ProbeResult {
  double trainAccuracy = 0, testAccuracy = 0, finalLoss = 0;
  int64_t features = 0, trainCount = 0, testCount = 0;
};

/// Progress lines ("probe: ...") for stderr.
using ProbeLog = std::function<void(const std::string &)>;

/// Features of the first `count` images of `set`: out is [count, F]; of the
/// test transform, or of one view each drawn from `augmentSeed`.
Status extractFeatures(Engine &engine, const ImageSet &set, const Normalization &norm,
                       const AugmentConfig &views, int64_t count, std::vector<float> &out,
                       std::optional<uint64_t> augmentSeed = std::nullopt);

/// A trained linear classifier: logits = x W^T + b, W is [classes, F].
struct LinearClassifier {
  int64_t features = 0, classes = 0;
  std::vector<float> weight, bias;
  double accuracy(const float *x, const int32_t *labels, int64_t n) const;
};

/// Trains the classifier with Adam on the given features; returns the last
/// epoch's mean loss.
double trainLinearClassifier(const float *x, const int32_t *labels, int64_t n, int64_t features,
                             int64_t classes, const ProbeOptions &options, LinearClassifier &out,
                             const ProbeLog &log = {});

/// The training features of epoch `epoch` ([n, F], valid until the next call).
using EpochFeatures = std::function<Status(int64_t epoch, const float *&x)>;
/// The same, with features that may change every epoch.
Status trainLinearClassifier(const EpochFeatures &featuresOf, const int32_t *labels, int64_t n,
                             int64_t features, int64_t classes, const ProbeOptions &options,
                             LinearClassifier &out, double &finalLoss, const ProbeLog &log = {});

/// Features, training and both accuracies.
Status runLinearProbe(Engine &engine, const Dataset &data, const ProbeOptions &options,
                      ProbeResult &result, const ProbeLog &log = {});

} // namespace locus::rt::train

#endif
