// The linear probe's classifier: softmax regression with Adam, batch 32, on features with a known
// answer.
#include "CompiledTables.h"

#include "locus/runtime/train/Probe.h"
#include "locus/runtime/train/Random.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace locus::rt::train;

/// Points around one centre per class; the classes are linearly separable when `spread` is small.
void clusters(int64_t n, int64_t features, int64_t classes, double spread, uint64_t seed,
              std::vector<float> &x, std::vector<int32_t> &y) {
  Rng rng(seed);
  std::vector<double> centres(classes * features);
  Rng fixed(1234);
  for (double &c : centres)
    c = fixed.uniform(-1, 1);
  x.resize(n * features);
  y.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<int32_t>(rng.below(classes));
    for (int64_t f = 0; f < features; ++f)
      x[i * features + f] =
          static_cast<float>(centres[y[i] * features + f] + spread * rng.uniform(-1, 1));
  }
}

TEST(TrainProbe, LearnsSeparableClasses) {
  std::vector<float> x, xt;
  std::vector<int32_t> y, yt;
  clusters(2000, 16, 5, 0.3, 1, x, y);
  clusters(500, 16, 5, 0.3, 2, xt, yt);
  ProbeOptions options;
  options.backend = &locus::test::compiledCpuBackend();
  options.epochs = 5;
  LinearClassifier classifier;
  std::vector<std::string> lines;
  double loss = trainLinearClassifier(x.data(), y.data(), 2000, 16, 5, options, classifier,
                                      [&](const std::string &l) { lines.push_back(l); });
  EXPECT_LT(loss, 0.6); // ln 5 = 1.61 at chance
  EXPECT_GT(classifier.accuracy(x.data(), y.data(), 2000), 0.97);
  EXPECT_GT(classifier.accuracy(xt.data(), yt.data(), 500), 0.97);
  EXPECT_EQ(lines.size(), 5u);
}

TEST(TrainProbe, EpochFeaturesAreAskedForEveryEpoch) {
  // --probe-augment: each epoch trains on that epoch's features (here a
  // different noisy copy of the clusters each time), and an error in them
  // stops the probe.
  std::vector<int32_t> y;
  std::vector<std::vector<float>> epochs(4);
  clusters(1000, 8, 4, 0.3, 10, epochs[0], y);
  for (int e = 1; e < 4; ++e) {
    Rng noise(20 + e);
    epochs[e] = epochs[0];
    for (float &v : epochs[e])
      v += static_cast<float>(noise.uniform(-0.05, 0.05));
  }
  ProbeOptions options;
  options.backend = &locus::test::compiledCpuBackend();
  options.epochs = 4;
  std::vector<int64_t> asked;
  LinearClassifier classifier;
  double loss = 0;
  locus::rt::Status s = trainLinearClassifier(
      [&](int64_t epoch, const float *&x) {
        asked.push_back(epoch);
        x = epochs[epoch].data();
        return locus::rt::Status::success();
      },
      y.data(), 1000, 8, 4, options, classifier, loss);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(asked, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_LT(loss, 1.2); // ln 4 = 1.39 at chance
  EXPECT_GT(classifier.accuracy(epochs[0].data(), y.data(), 1000), 0.9);
  s = trainLinearClassifier(
      [&](int64_t epoch, const float *&x) {
        x = epochs[0].data();
        return epoch == 2 ? locus::rt::Status::error("img.png: not a readable PNG image")
                          : locus::rt::Status::success();
      },
      y.data(), 1000, 8, 4, options, classifier, loss);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("img.png"), std::string::npos);
}

TEST(TrainProbe, RandomLabelsStayNearChance) {
  std::vector<float> x;
  std::vector<int32_t> y;
  clusters(1000, 8, 10, 0.5, 3, x, y);
  std::vector<int32_t> shuffled(y.size());
  Rng rng(5);
  for (int32_t &l : shuffled)
    l = static_cast<int32_t>(rng.below(10));
  std::vector<float> xt;
  std::vector<int32_t> yt;
  clusters(1000, 8, 10, 0.5, 4, xt, yt);
  for (int32_t &l : yt)
    l = static_cast<int32_t>(rng.below(10));
  ProbeOptions options;
  options.backend = &locus::test::compiledCpuBackend();
  options.epochs = 3;
  LinearClassifier classifier;
  trainLinearClassifier(x.data(), shuffled.data(), 1000, 8, 10, options, classifier);
  EXPECT_LT(classifier.accuracy(xt.data(), yt.data(), 1000), 0.2);
}

TEST(TrainProbe, SameSeedSameClassifier) {
  std::vector<float> x;
  std::vector<int32_t> y;
  clusters(300, 6, 3, 0.5, 7, x, y);
  ProbeOptions options;
  options.backend = &locus::test::compiledCpuBackend();
  options.epochs = 2;
  options.seed = 11;
  LinearClassifier a, b;
  trainLinearClassifier(x.data(), y.data(), 300, 6, 3, options, a);
  trainLinearClassifier(x.data(), y.data(), 300, 6, 3, options, b);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.bias, b.bias);
}

} // namespace
