// SimCLR views (Augment.h): every transform checked against its formula on a constructed draw,
// the statistics of the random draws, the test transform, and views that are the same bytes for
// any number of worker threads (ViewPipeline.h), with a row's error reaching the step.
#include "locus/runtime/train/Augment.h"
#include "locus/runtime/train/ViewPipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace {

using namespace locus::rt;
using namespace locus::rt::train;

/// A one-image set of [C, H, W] pixels.
ImageSet oneImage(int64_t channels, int64_t h, int64_t w, std::vector<uint8_t> pixels) {
  ImageSet set;
  set.count = 1;
  set.channels = channels;
  set.height = h;
  set.width = w;
  set.pixels = std::move(pixels);
  set.labels = {0};
  return set;
}

/// The identity normalisation: views come out in [0, 1].
Normalization unit(int64_t channels) {
  return Normalization{std::vector<float>(channels, 0.0f), std::vector<float>(channels, 1.0f)};
}

/// A draw that keeps the whole image, unflipped, with nothing else applied.
ViewDraw wholeImage(int64_t h, int64_t w) {
  ViewDraw d;
  d.crop.height = h;
  d.crop.width = w;
  return d;
}

std::vector<float> render(const ImageSet &set, const ViewDraw &draw, const AugmentConfig &cfg) {
  std::vector<float> out(static_cast<size_t>(set.channels * set.height * set.width));
  renderView(ImageRef{set.image(0), set.channels, set.height, set.width}, unit(set.channels), draw,
             cfg, set.height, set.width, out.data());
  return out;
}

std::vector<uint8_t> rampPixels(size_t n, int step) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>((i * step) % 256);
  return v;
}

TEST(TrainAugment, CropsFollowTorchvisionBounds) {
  for (double scaleMin : {0.25, 0.08}) {
    Rng rng(3);
    AugmentConfig cfg;
    cfg.scaleMin = scaleMin;
    int flips = 0;
    double smallest = 1;
    for (int i = 0; i < 2000; ++i) {
      Crop c = sampleCrop(rng, 96, 96, cfg);
      ASSERT_GE(c.top, 0);
      ASSERT_GE(c.left, 0);
      ASSERT_LE(c.top + c.height, 96);
      ASSERT_LE(c.left + c.width, 96);
      double area = double(c.height * c.width) / (96 * 96);
      // Rounding the sides to whole pixels moves the area and ratio a little past the limits.
      EXPECT_GE(area, scaleMin * 0.9);
      smallest = std::min(smallest, area);
      double ratio = double(c.width) / c.height;
      EXPECT_GE(ratio, 0.75 * 0.95);
      EXPECT_LE(ratio, 4.0 / 3.0 / 0.95);
      flips += c.flip;
    }
    EXPECT_LT(smallest, scaleMin * 1.2) << "the scale range's low end is reached";
    EXPECT_NEAR(flips / 2000.0, 0.5, 0.05);
  }
}

TEST(TrainAugment, WholeImageIsTheIdentityAndFlipMirrors) {
  ImageSet set = oneImage(3, 4, 5, rampPixels(60, 4));
  AugmentConfig cfg;
  std::vector<float> out = render(set, wholeImage(4, 5), cfg);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_NEAR(out[i], set.pixels[i] / 255.0f, 1e-6f) << i;
  ViewDraw flipped = wholeImage(4, 5);
  flipped.crop.flip = true;
  std::vector<float> mirror = render(set, flipped, cfg);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 5; ++x)
        EXPECT_EQ(mirror[(c * 4 + y) * 5 + x], out[(c * 4 + y) * 5 + (4 - x)]);
}

TEST(TrainAugment, BrightnessContrastSaturationFollowTorchvision) {
  ImageSet set = oneImage(3, 2, 2, {40, 80, 120, 160, 60, 90, 120, 150, 200, 10, 30, 70});
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i)
    x[i] = set.pixels[i] / 255.0f;
  AugmentConfig cfg;
  cfg.brightness = cfg.contrast = cfg.saturation = 0.8;
  ViewDraw d = wholeImage(2, 2);
  d.jitter = true;
  d.order = {0, 1, 2, 3};
  // Brightness alone: clamp(f x, 0, 1).
  d.brightness = 1.5;
  d.contrast = d.saturation = 1.0;
  std::vector<float> out = render(set, d, cfg);
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], std::min(1.0f, 1.5f * x[i]), 1e-6f);
  // Contrast alone: blend with the mean of the grey image.
  d.brightness = 1.0;
  d.contrast = 0.5;
  float mean = 0;
  for (int k = 0; k < 4; ++k)
    mean += (0.2989f * x[k] + 0.587f * x[4 + k] + 0.114f * x[8 + k]) / 4;
  out = render(set, d, cfg);
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], 0.5f * x[i] + 0.5f * mean, 1e-6f);
  // Saturation 0: every channel is the pixel's grey value.
  d.contrast = 1.0;
  d.saturation = 0.0;
  out = render(set, d, cfg);
  for (int k = 0; k < 4; ++k) {
    float grey = 0.2989f * x[k] + 0.587f * x[4 + k] + 0.114f * x[8 + k];
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(out[c * 4 + k], grey, 1e-6f);
  }
  // Without the jitter coin, nothing changes.
  d.jitter = false;
  out = render(set, d, cfg);
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], x[i], 1e-6f);
}

TEST(TrainAugment, HueRotatesTheColourWheel) {
  // Red, green, blue, grey.
  ImageSet set = oneImage(3, 1, 4, {255, 0, 0, 128, 0, 255, 0, 128, 0, 0, 255, 128});
  AugmentConfig cfg;
  cfg.hue = 0.5;
  ViewDraw d = wholeImage(1, 4);
  d.jitter = true;
  d.hue = 1.0 / 3.0; // red -> green -> blue -> red
  std::vector<float> out = render(set, d, cfg);
  const float expected[12] = {0, 0, 1, 128 / 255.f, 1, 0, 0, 128 / 255.f, 0, 1, 0, 128 / 255.f};
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], expected[i], 1e-5f) << i;
  d.hue = 0.0;
  out = render(set, d, cfg);
  for (int i = 0; i < 12; ++i)
    EXPECT_NEAR(out[i], set.pixels[i] / 255.0f, 1e-5f) << i;
}

TEST(TrainAugment, GrayscaleAndBlur) {
  ImageSet set = oneImage(3, 1, 2, {200, 10, 100, 50, 20, 240});
  AugmentConfig cfg;
  ViewDraw d = wholeImage(1, 2);
  d.grayscale = true;
  std::vector<float> out = render(set, d, cfg);
  for (int k = 0; k < 2; ++k) {
    float grey = (0.2989f * set.pixels[k] + 0.587f * set.pixels[2 + k] +
                  0.114f * set.pixels[4 + k]) / 255.0f;
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(out[c * 2 + k], grey, 1e-6f);
  }
  // Blur: a constant image stays constant (reflect padding), a centred dot keeps its mass and
  // spreads symmetrically.
  std::vector<uint8_t> dot(81, 0);
  dot[40] = 255;
  ImageSet grey = oneImage(1, 9, 9, dot);
  cfg.blurKernel = 5;
  ViewDraw b = wholeImage(9, 9);
  b.blur = true;
  b.sigma = 1.0;
  out = render(grey, b, cfg);
  float mass = std::accumulate(out.begin(), out.end(), 0.0f);
  EXPECT_NEAR(mass, 1.0f, 1e-5f);
  EXPECT_NEAR(out[40], std::pow(1.0f / (1 + 2 * std::exp(-0.5f) + 2 * std::exp(-2.0f)), 2.0f),
              1e-5f);
  EXPECT_FLOAT_EQ(out[39], out[41]);
  EXPECT_FLOAT_EQ(out[31], out[49]);
  EXPECT_EQ(out[0], 0.0f); // outside the 5x5 kernel
  ImageSet flat = oneImage(1, 9, 9, std::vector<uint8_t>(81, 77));
  out = render(flat, b, cfg);
  for (float v : out)
    EXPECT_NEAR(v, 77 / 255.0f, 1e-6f);
}

TEST(TrainAugment, DrawStatisticsMatchTheConfiguration) {
  AugmentConfig cfg = simclrViews(0.08);
  Rng rng(11);
  const int n = 24000;
  int jitter = 0, grey = 0, blur = 0;
  double brightness = 0, hueLo = 1, hueHi = -1, sigmaLo = 10, sigmaHi = 0;
  std::map<std::array<int, 4>, int> orders;
  for (int i = 0; i < n; ++i) {
    ViewDraw d = drawView(rng, 32, 32, cfg);
    jitter += d.jitter;
    grey += d.grayscale;
    blur += d.blur;
    brightness += d.brightness / n;
    EXPECT_GE(d.brightness, 0.2);
    EXPECT_LE(d.brightness, 1.8);
    EXPECT_GE(d.contrast, 0.2);
    EXPECT_LE(d.saturation, 1.8);
    hueLo = std::min(hueLo, d.hue);
    hueHi = std::max(hueHi, d.hue);
    sigmaLo = std::min(sigmaLo, d.sigma);
    sigmaHi = std::max(sigmaHi, d.sigma);
    ++orders[d.order];
  }
  EXPECT_NEAR(jitter / double(n), 0.8, 0.01);
  EXPECT_NEAR(grey / double(n), 0.2, 0.01);
  EXPECT_NEAR(blur / double(n), 0.5, 0.01);
  EXPECT_NEAR(brightness, 1.0, 0.01);
  EXPECT_LT(hueLo, -0.19);
  EXPECT_GT(hueHi, 0.19);
  EXPECT_GE(hueLo, -0.2);
  EXPECT_LE(hueHi, 0.2);
  EXPECT_GE(sigmaLo, 0.1);
  EXPECT_LE(sigmaHi, 2.0);
  // torch.randperm(4): all 24 orders, equally likely.
  ASSERT_EQ(orders.size(), 24u);
  for (const auto &[order, count] : orders)
    EXPECT_NEAR(count / double(n), 1.0 / 24, 0.01);
}

TEST(TrainAugment, ViewOptionsAreCheckedAndDescribed) {
  AugmentConfig cfg;
  ASSERT_TRUE(parseViewOption("--views", "simclr", cfg).isOk());
  EXPECT_DOUBLE_EQ(cfg.jitterProbability, 0.8);
  ASSERT_TRUE(parseViewOption("--crop-scale", "0.08,1", cfg).isOk());
  EXPECT_DOUBLE_EQ(cfg.scaleMin, 0.08);
  ASSERT_TRUE(parseViewOption("--jitter", "0.4,0.4,0.4,0.1", cfg).isOk());
  EXPECT_DOUBLE_EQ(cfg.hue, 0.1);
  EXPECT_NE(describeViews(cfg, 96).find("kernel 9"), std::string::npos) << describeViews(cfg, 96);
  EXPECT_NE(describeViews(cfg, 32).find("kernel 3"), std::string::npos);
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"--crop-scale", "0.5,0.2"}, {"--crop-scale", "0,1"}, {"--crop-scale", "0.5"},
           {"--flip-p", "1.5"}, {"--jitter", "0.4,0.4,0.4"}, {"--jitter", "0.4,0.4,0.4,0.7"},
           {"--blur-kernel", "4"}, {"--grayscale-p", "x"}, {"--views", "fancy"}}) {
    AugmentConfig c;
    Status s = parseViewOption(name, value, c);
    ASSERT_FALSE(s.isOk()) << name << " " << value;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  }
}

TEST(TrainAugment, TestResizeTakesTheCentre) {
  // 8x8 ramp; Resize(16) doubles it, CenterCrop(4) keeps its pixels 6..9, which sample the
  // source at 2.75, 3.25, 3.75, 4.25 (half-pixel centres).
  ImageSet set = oneImage(1, 8, 8, rampPixels(64, 3));
  AugmentConfig cfg;
  cfg.testResize = 16;
  std::vector<float> out(16);
  ASSERT_TRUE(renderPlain(set, unit(1), 0, cfg, 4, 4, out.data()).isOk());
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 4; ++x) {
      double sy = 2.75 + 0.5 * y, sx = 2.75 + 0.5 * x;
      double v = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          int64_t iy = int64_t(sy) + dy, ix = int64_t(sx) + dx;
          double wy = dy ? sy - int64_t(sy) : 1 - (sy - int64_t(sy));
          double wx = dx ? sx - int64_t(sx) : 1 - (sx - int64_t(sx));
          v += wy * wx * set.pixels[iy * 8 + ix];
        }
      EXPECT_NEAR(out[y * 4 + x], v / 255.0, 1e-5) << y << "," << x;
    }
  // No test resize: the whole image, normalised.
  cfg.testResize = 0;
  Normalization norm{{0.5f}, {0.25f}};
  std::vector<float> whole(64);
  ASSERT_TRUE(renderPlain(set, norm, 0, cfg, 8, 8, whole.data()).isOk());
  for (int i = 0; i < 64; ++i)
    EXPECT_NEAR(whole[i], (set.pixels[i] / 255.0 - 0.5) / 0.25, 1e-5) << i;
}

TEST(TrainAugment, ViewsAreSeededAndStacked) {
  Dataset data = makeSynthetic(3, 32, 32, 8, 1, 5);
  std::vector<int64_t> indices = {0, 1, 2, 3};
  AugmentConfig cfg = simclrViews(0.25);
  const size_t view = 3 * 32 * 32;
  std::vector<float> a(8 * view), b(a.size()), c(a.size());
  ASSERT_TRUE(makeViews(data.train, data.norm, indices.data(), 4, 42, cfg, 32, 32, a.data()).isOk());
  ASSERT_TRUE(makeViews(data.train, data.norm, indices.data(), 4, 42, cfg, 32, 32, b.data()).isOk());
  ASSERT_TRUE(makeViews(data.train, data.norm, indices.data(), 4, 43, cfg, 32, 32, c.data()).isOk());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Rows 0..3 and 4..7 are two different views of images 0..3.
  EXPECT_NE(std::vector<float>(a.begin(), a.begin() + view),
            std::vector<float>(a.begin() + 4 * view, a.begin() + 5 * view));
  // Each row is its own draw: rendering row 5 alone gives the same bytes.
  std::vector<float> row(view);
  ASSERT_TRUE(
      renderViewRow(data.train, data.norm, indices.data(), 4, 5, 42, cfg, 32, 32, row.data())
          .isOk());
  EXPECT_EQ(row, std::vector<float>(a.begin() + 5 * view, a.begin() + 6 * view));
}

TEST(ViewPipeline, SameViewsForAnyWorkerCount) {
  Dataset data = makeSynthetic(3, 32, 32, 64, 1, 9);
  AugmentConfig cfg = simclrViews(0.25);
  const int64_t b = 4, rows = 2 * b, rowFloats = 3 * 32 * 32, steps = 12;
  auto render = [&](int64_t step, int64_t row, float *out) {
    std::vector<int64_t> indices(b);
    std::iota(indices.begin(), indices.end(), (step * b) % 64);
    return renderViewRow(data.train, data.norm, indices.data(), b, row, 1000 + step, cfg, 32, 32,
                         out);
  };
  std::vector<std::vector<float>> reference;
  for (int64_t workers : {0, 1, 2, 3}) {
    ViewPipeline pipeline(workers, rows, rowFloats, render);
    EXPECT_EQ(pipeline.workers(), workers);
    pipeline.start(2, steps);
    for (int64_t step = 2; step < steps; ++step) {
      const float *batch = nullptr;
      ASSERT_TRUE(pipeline.next(step, batch).isOk());
      std::vector<float> got(batch, batch + rows * rowFloats);
      if (workers == 0)
        reference.push_back(got);
      else
        ASSERT_EQ(got, reference[step - 2]) << workers << " workers, step " << step;
    }
  }
}

TEST(ViewPipeline, ARowErrorReachesItsStep) {
  auto render = [](int64_t step, int64_t row, float *out) {
    *out = float(step);
    if (step == 3 && row == 1)
      return Status::error("images/bad.jpg: not a readable JPEG image");
    return Status::success();
  };
  for (int64_t workers : {0, 2}) {
    ViewPipeline pipeline(workers, 2, 1, render);
    pipeline.start(0, 6);
    const float *batch = nullptr;
    for (int64_t step = 0; step < 3; ++step) {
      ASSERT_TRUE(pipeline.next(step, batch).isOk());
      EXPECT_EQ(batch[0], float(step));
    }
    Status s = pipeline.next(3, batch);
    ASSERT_FALSE(s.isOk());
    EXPECT_NE(s.message().find("images/bad.jpg"), std::string::npos);
  }
}

} // namespace
