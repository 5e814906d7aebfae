#include "locus/runtime/train/Probe.h"

#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/train/Augment.h"
#include "locus/runtime/train/Random.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>

namespace locus::rt::train {

Status extractFeatures(Engine &engine, const ImageSet &set, const Normalization &norm,
                       const AugmentConfig &views, int64_t count, std::vector<float> &out,
                       std::optional<uint64_t> augmentSeed) {
  Shape4 vs = engine.viewShape();
  int64_t f = engine.featureCount(), chunk = vs.n, imageSize = vs.c * vs.h * vs.w;
  out.assign(static_cast<size_t>(count * f), 0.0f);
  for (int64_t first = 0; first < count; first += chunk) {
    int64_t n = std::min(chunk, count - first);
    Tensor images = Tensor::allocate(engine.memoryHandle(), Shape4{n, vs.c, vs.h, vs.w});
    for (int64_t i = 0; i < n; ++i)
      LOCUS_RETURN_IF_ERROR(
          augmentSeed
              ? renderOneView(set, norm, first + i, viewSeed(*augmentSeed, first + i), views,
                              vs.h, vs.w, images.data() + i * imageSize)
              : renderPlain(set, norm, first + i, views, vs.h, vs.w,
                            images.data() + i * imageSize));
    LOCUS_RETURN_IF_ERROR(engine.features(images, out.data() + first * f));
  }
  return Status::success();
}

double LinearClassifier::accuracy(const float *x, const int32_t *labels, int64_t n) const {
  if (n == 0)
    return 0.0;
  int64_t correct = 0, block = 256;
  std::vector<float> logits(static_cast<size_t>(block * classes));
  for (int64_t first = 0; first < n; first += block) {
    int64_t m = std::min(block, n - first);
    for (int64_t i = 0; i < m; ++i)
      std::copy(bias.begin(), bias.end(), logits.begin() + i * classes);
    cpu::gemm(false, true, m, classes, features, 1.0f, x + first * features, weight.data(), 1.0f,
              logits.data());
    for (int64_t i = 0; i < m; ++i) {
      const float *row = logits.data() + i * classes;
      if (std::max_element(row, row + classes) - row == labels[first + i])
        ++correct;
    }
  }
  return double(correct) / double(n);
}

double trainLinearClassifier(const float *x, const int32_t *labels, int64_t n, int64_t features,
                             int64_t classes, const ProbeOptions &options, LinearClassifier &out,
                             const ProbeLog &log) {
  double loss = 0;
  (void)trainLinearClassifier(
      [x](int64_t, const float *&epochX) {
        epochX = x;
        return Status::success();
      },
      labels, n, features, classes, options, out, loss, log);
  return loss;
}

Status trainLinearClassifier(const EpochFeatures &featuresOf, const int32_t *labels, int64_t n,
                             int64_t features, int64_t classes, const ProbeOptions &options,
                             LinearClassifier &out, double &finalLoss, const ProbeLog &log) {
  out.features = features;
  out.classes = classes;
  out.weight.resize(static_cast<size_t>(classes * features));
  out.bias.resize(static_cast<size_t>(classes));
  // nn.Linear's default init: U(+-1/sqrt(F)) for weight and bias.
  Rng init(mixSeed(options.seed, Stream::Probe, 0));
  double bound = 1.0 / std::sqrt(double(features));
  for (float &w : out.weight)
    w = static_cast<float>(init.uniform(-bound, bound));
  for (float &b : out.bias)
    b = static_cast<float>(init.uniform(-bound, bound));

  AdamW adam; // weight decay 0: plain Adam
  adam.lr = options.lr;
  // The updated copies and the moments in the backend's memory (a GPU's, for
  // a --target=cuda binary, whose compiled updates run there): the gradient
  // goes in and the parameters come back each step.
  Backend &backend = *options.backend;
  const int64_t weights = classes * features;
  Tensor state = backend.zeros(Shape4{4 * weights + 4 * classes, 1, 1, 1});
  float *wDev = state.data(), *gWDev = wDev + weights, *mW = gWDev + weights, *vW = mW + weights;
  float *bDev = vW + weights, *gBDev = bDev + classes, *mB = gBDev + classes, *vB = mB + classes;
  backend.copyToDevice(wDev, out.weight.data(), 4 * weights);
  backend.copyToDevice(bDev, out.bias.data(), 4 * classes);
  std::vector<float> xb(static_cast<size_t>(options.batch * features));
  std::vector<float> logits(static_cast<size_t>(options.batch * classes));
  std::vector<float> dW(out.weight.size()), dB(classes);
  std::vector<int64_t> order(static_cast<size_t>(n));
  int64_t t = 0;
  double epochLoss = 0;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const float *x = nullptr;
    LOCUS_RETURN_IF_ERROR(featuresOf(epoch, x));
    std::iota(order.begin(), order.end(), 0);
    Rng shuffle(mixSeed(options.seed, Stream::Probe, epoch + 1));
    shuffle.shuffle(order.data(), n);
    double lossSum = 0;
    for (int64_t first = 0; first < n; first += options.batch) {
      int64_t m = std::min(options.batch, n - first);
      for (int64_t i = 0; i < m; ++i)
        std::copy(x + order[first + i] * features, x + (order[first + i] + 1) * features,
                  xb.begin() + i * features);
      for (int64_t i = 0; i < m; ++i)
        std::copy(out.bias.begin(), out.bias.end(), logits.begin() + i * classes);
      cpu::gemm(false, true, m, classes, features, 1.0f, xb.data(), out.weight.data(), 1.0f,
                logits.data());
      // Softmax cross-entropy, mean over the batch: dlogits = (p - onehot) / m.
      std::fill(dB.begin(), dB.end(), 0.0f);
      for (int64_t i = 0; i < m; ++i) {
        float *row = logits.data() + i * classes;
        float top = *std::max_element(row, row + classes);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k)
          sum += std::exp(double(row[k]) - top);
        int32_t label = labels[order[first + i]];
        lossSum += std::log(sum) - (double(row[label]) - top);
        for (int64_t k = 0; k < classes; ++k) {
          double p = std::exp(double(row[k]) - top) / sum;
          row[k] = static_cast<float>((p - (k == label ? 1.0 : 0.0)) / double(m));
          dB[k] += row[k];
        }
      }
      cpu::gemm(true, false, classes, features, m, 1.0f, logits.data(), xb.data(), 0.0f,
                dW.data());
      ++t;
      backend.copyToDevice(gWDev, dW.data(), 4 * weights);
      backend.copyToDevice(gBDev, dB.data(), 4 * classes);
      AdamMoments momentsW, momentsB;
      momentsW.m = mW;
      momentsW.v = vW;
      momentsB.m = mB;
      momentsB.v = vB;
      backend.adamwStep(adam, t, weights, wDev, gWDev, momentsW);
      backend.adamwStep(adam, t, classes, bDev, gBDev, momentsB);
      backend.copyToHost(out.weight.data(), wDev, 4 * weights);
      backend.copyToHost(out.bias.data(), bDev, 4 * classes);
    }
    epochLoss = n ? lossSum / double(n) : 0.0;
    if (log)
      log(fmt::format("probe epoch {}/{}: loss {:.4f}", epoch + 1, options.epochs, epochLoss));
  }
  finalLoss = epochLoss;
  return Status::success();
}

namespace {
/// Scales every feature to zero mean and unit variance over the training
/// images (statistics applied to the test images too). The pooled block
/// outputs differ in scale by orders of magnitude between blocks and
/// networks; without this, a few probe epochs of Adam stay far from the
/// optimum and the probe measures its own conditioning, not the features.
struct FeatureScaling {
  std::vector<double> mean;
  std::vector<float> scale;
  void apply(std::vector<float> &x, int64_t count) const {
    const int64_t f = static_cast<int64_t>(mean.size());
    for (int64_t i = 0; i < count; ++i)
      for (int64_t j = 0; j < f; ++j)
        x[i * f + j] = float((x[i * f + j] - mean[j]) * scale[j]);
  }
};

FeatureScaling featureScaling(const std::vector<float> &train, int64_t trainCount, int64_t f) {
  std::vector<double> mean(f, 0.0), var(f, 0.0);
  for (int64_t i = 0; i < trainCount; ++i)
    for (int64_t j = 0; j < f; ++j)
      mean[j] += train[i * f + j];
  for (double &m : mean)
    m /= double(std::max<int64_t>(1, trainCount));
  for (int64_t i = 0; i < trainCount; ++i)
    for (int64_t j = 0; j < f; ++j) {
      double d = train[i * f + j] - mean[j];
      var[j] += d * d;
    }
  std::vector<float> scale(f);
  for (int64_t j = 0; j < f; ++j)
    scale[j] = float(1.0 / std::sqrt(var[j] / double(std::max<int64_t>(1, trainCount)) + 1e-8));
  return FeatureScaling{std::move(mean), std::move(scale)};
}
} // namespace

Status runLinearProbe(Engine &engine, const Dataset &data, const ProbeOptions &options,
                      ProbeResult &result, const ProbeLog &log) {
  result = ProbeResult{};
  if (!options.backend)
    return Status::error("the linear probe needs the backend whose compiled updates it runs");
  int64_t trainCount = options.trainImages < 0 ? data.train.count
                                               : std::min(options.trainImages, data.train.count);
  int64_t testCount = options.testImages < 0 ? data.test.count
                                             : std::min(options.testImages, data.test.count);
  int64_t f = engine.featureCount();
  if (log)
    log(fmt::format("probe: {} features, {} training and {} test images", f, trainCount,
                    testCount));
  std::vector<float> trainX, testX;
  LOCUS_RETURN_IF_ERROR(extractFeatures(engine, data.train, data.norm, options.views, trainCount, trainX));
  LOCUS_RETURN_IF_ERROR(extractFeatures(engine, data.test, data.norm, options.views, testCount, testX));
  const FeatureScaling scaling = featureScaling(trainX, trainCount, f);
  scaling.apply(testX, testCount);
  // The un-augmented training features: the train accuracy, and every
  // epoch's input unless the probe augments.
  std::vector<float> plainX = trainX;
  scaling.apply(plainX, trainCount);
  LinearClassifier classifier;
  AugmentConfig crop = options.views; // the paper's probe: RandomResizedCrop + flip only
  crop.jitterProbability = crop.grayscaleProbability = crop.blurProbability = 0;
  auto featuresOf = [&](int64_t epoch, const float *&x) -> Status {
    if (!options.augment) {
      x = plainX.data();
      return Status::success();
    }
    LOCUS_RETURN_IF_ERROR(extractFeatures(engine, data.train, data.norm, crop, trainCount, trainX,
                                          mixSeed(options.seed, Stream::Probe, 1000 + epoch)));
    scaling.apply(trainX, trainCount);
    x = trainX.data();
    return Status::success();
  };
  LOCUS_RETURN_IF_ERROR(trainLinearClassifier(featuresOf, data.train.labels.data(), trainCount, f,
                                              data.classes, options, classifier, result.finalLoss,
                                              log));
  trainX.swap(plainX);
  result.trainAccuracy = classifier.accuracy(trainX.data(), data.train.labels.data(), trainCount);
  result.testAccuracy = classifier.accuracy(testX.data(), data.test.labels.data(), testCount);
  result.features = f;
  result.trainCount = trainCount;
  result.testCount = testCount;
  return Status::success();
}

} // namespace locus::rt::train
