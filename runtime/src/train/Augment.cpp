//===- Augment.cpp - SimCLR views as torchvision computes them ------------===//
#include "locus/runtime/train/Augment.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <vector>

namespace locus::rt::train {

AugmentConfig cropViews() { return AugmentConfig{}; }

AugmentConfig simclrViews(double scaleMin) {
  AugmentConfig cfg;
  cfg.scaleMin = scaleMin;
  cfg.brightness = cfg.contrast = cfg.saturation = 0.8;
  cfg.hue = 0.2;
  cfg.jitterProbability = 0.8;
  cfg.grayscaleProbability = 0.2;
  cfg.blurProbability = 0.5;
  return cfg;
}

namespace {

/// SimCLR's kernel: odd(0.1 x side), at least 3.
int64_t blurKernelFor(const AugmentConfig &cfg, int64_t side) {
  if (cfg.blurKernel > 0)
    return cfg.blurKernel;
  int64_t k = static_cast<int64_t>(0.1 * double(side));
  return std::max<int64_t>(3, k % 2 ? k : k + 1);
}

Status parsePair(const std::string &name, const std::string &value, double lo, double hi,
                 double &first, double &second) {
  const size_t comma = value.find(',');
  char *end = nullptr;
  const std::string a = value.substr(0, comma), b = comma == std::string::npos ? a : value.substr(comma + 1);
  first = std::strtod(a.c_str(), &end);
  bool ok = !a.empty() && *end == '\0';
  second = std::strtod(b.c_str(), &end);
  ok = ok && !b.empty() && *end == '\0' && comma != std::string::npos;
  if (!ok || !(first >= lo && second <= hi && first <= second) || !std::isfinite(first) ||
      !std::isfinite(second))
    return Status::error(fmt::format("{} {}: expected LO,HI with {} <= LO <= HI <= {}", name, value,
                                     lo, hi));
  return Status::success();
}

Status parseNumber(const std::string &name, const std::string &value, double lo, double hi,
                   double &out) {
  char *end = nullptr;
  out = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(out >= lo && out <= hi))
    return Status::error(fmt::format("{} {}: expected a number in [{}, {}]", name, value, lo, hi));
  return Status::success();
}

} // namespace

const char *viewOptionsHelp() {
  return "views (METHOD.md §5; defaults: simclr for colour data, crop for grey):\n"
         "  --views crop|simclr       crop+flip only, or SimCLR's views\n"
         "  --crop-scale LO,HI        RandomResizedCrop area range (0 < LO <= HI <= 1)\n"
         "  --crop-ratio LO,HI        its aspect ratio range\n"
         "  --flip-p P                horizontal flip probability\n"
         "  --jitter B,C,S,H          colour jitter strengths (hue <= 0.5)\n"
         "  --jitter-p P              colour jitter probability\n"
         "  --grayscale-p P           random grayscale probability\n"
         "  --blur-p P                Gaussian blur probability\n"
         "  --blur-kernel K           its odd kernel size (0: odd(0.1 x side))\n"
         "  --blur-sigma LO,HI        its sigma range\n"
         "  --test-resize R           probe/held-out: Resize(R) + CenterCrop (0: whole image)\n";
}

bool isViewOption(const std::string &name) {
  static const char *const kNames[] = {"--views",  "--crop-scale",  "--crop-ratio",
                                       "--flip-p", "--jitter",      "--jitter-p",
                                       "--grayscale-p", "--blur-p", "--blur-kernel",
                                       "--blur-sigma",  "--test-resize"};
  return std::find_if(std::begin(kNames), std::end(kNames),
                      [&](const char *n) { return name == n; }) != std::end(kNames);
}

Status parseViewOption(const std::string &name, const std::string &value, AugmentConfig &cfg) {
  if (name == "--views") {
    const int64_t testResize = cfg.testResize;
    if (value == "crop")
      cfg = cropViews();
    else if (value == "simclr")
      cfg = simclrViews(cfg.scaleMin);
    else
      return Status::error(fmt::format("--views {}: expected crop or simclr", value));
    cfg.testResize = testResize;
    return Status::success();
  }
  if (name == "--crop-scale")
    return parsePair(name, value, 1e-6, 1.0, cfg.scaleMin, cfg.scaleMax);
  if (name == "--crop-ratio")
    return parsePair(name, value, 1e-3, 1e3, cfg.ratioMin, cfg.ratioMax);
  if (name == "--flip-p")
    return parseNumber(name, value, 0, 1, cfg.flipProbability);
  if (name == "--jitter-p")
    return parseNumber(name, value, 0, 1, cfg.jitterProbability);
  if (name == "--grayscale-p")
    return parseNumber(name, value, 0, 1, cfg.grayscaleProbability);
  if (name == "--blur-p")
    return parseNumber(name, value, 0, 1, cfg.blurProbability);
  if (name == "--blur-sigma")
    return parsePair(name, value, 1e-3, 100.0, cfg.blurSigmaMin, cfg.blurSigmaMax);
  if (name == "--jitter") {
    double v[4];
    std::string rest = value;
    for (int k = 0; k < 4; ++k) {
      const size_t comma = rest.find(',');
      if ((comma == std::string::npos) != (k == 3))
        return Status::error(fmt::format("--jitter {}: expected four numbers B,C,S,H", value));
      LOCUS_RETURN_IF_ERROR(
          parseNumber("--jitter", rest.substr(0, comma), 0, k == 3 ? 0.5 : 1e3, v[k]));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    cfg.brightness = v[0];
    cfg.contrast = v[1];
    cfg.saturation = v[2];
    cfg.hue = v[3];
    return Status::success();
  }
  double n = 0;
  if (name == "--blur-kernel") {
    LOCUS_RETURN_IF_ERROR(parseNumber(name, value, 0, 1023, n));
    if (n != std::floor(n) || (n > 0 && int64_t(n) % 2 == 0))
      return Status::error(fmt::format("--blur-kernel {}: expected an odd size (or 0)", value));
    cfg.blurKernel = static_cast<int64_t>(n);
    return Status::success();
  }
  if (name == "--test-resize") {
    LOCUS_RETURN_IF_ERROR(parseNumber(name, value, 0, 1 << 16, n));
    if (n != std::floor(n))
      return Status::error(fmt::format("--test-resize {}: expected a whole number", value));
    cfg.testResize = static_cast<int64_t>(n);
    return Status::success();
  }
  return Status::error(fmt::format("{}: not a view option", name));
}

std::string describeViews(const AugmentConfig &cfg, int64_t side) {
  std::string text = fmt::format("views: RandomResizedCrop({}, scale ({:g}, {:g}), ratio ({:.3g}, "
                                 "{:.3g})), flip p {:g}",
                                 side, cfg.scaleMin, cfg.scaleMax, cfg.ratioMin, cfg.ratioMax,
                                 cfg.flipProbability);
  if (cfg.jitterProbability > 0)
    text += fmt::format(", colour jitter ({:g}, {:g}, {:g}, {:g}) p {:g}", cfg.brightness,
                        cfg.contrast, cfg.saturation, cfg.hue, cfg.jitterProbability);
  if (cfg.grayscaleProbability > 0)
    text += fmt::format(", grayscale p {:g}", cfg.grayscaleProbability);
  if (cfg.blurProbability > 0)
    text += fmt::format(", Gaussian blur p {:g} kernel {} sigma ({:g}, {:g})", cfg.blurProbability,
                        blurKernelFor(cfg, side), cfg.blurSigmaMin, cfg.blurSigmaMax);
  text += cfg.testResize > 0 ? fmt::format("; test Resize({}) + CenterCrop({})", cfg.testResize, side)
                             : std::string("; test: the whole image");
  return text;
}

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

ViewDraw drawView(Rng &rng, int64_t height, int64_t width, const AugmentConfig &cfg) {
  ViewDraw d;
  d.crop = sampleCrop(rng, height, width, cfg);
  // The draws happen whether or not the transform applies, so changing one
  // probability does not shift the others' draws.
  d.jitter = rng.uniform() < cfg.jitterProbability;
  for (int i = 3; i > 0; --i) // ColorJitter's torch.randperm(4)
    std::swap(d.order[i], d.order[rng.below(i + 1)]);
  d.brightness = rng.uniform(std::max(0.0, 1.0 - cfg.brightness), 1.0 + cfg.brightness);
  d.contrast = rng.uniform(std::max(0.0, 1.0 - cfg.contrast), 1.0 + cfg.contrast);
  d.saturation = rng.uniform(std::max(0.0, 1.0 - cfg.saturation), 1.0 + cfg.saturation);
  d.hue = rng.uniform(-cfg.hue, cfg.hue);
  d.grayscale = rng.uniform() < cfg.grayscaleProbability;
  d.blur = rng.uniform() < cfg.blurProbability;
  d.sigma = rng.uniform(cfg.blurSigmaMin, cfg.blurSigmaMax);
  return d;
}

namespace {

/// Source coordinate and weight of bilinear resampling along one axis:
/// `out` samples over [first, first + length) of the source, half-pixel
/// centres (F.interpolate(align_corners=False)). `crop`: reads stay inside
/// the window, as cropping first and then resizing would (RandomResizedCrop);
/// otherwise the image was resized whole, then cropped (Resize + CenterCrop).
struct Tap {
  int64_t i0, i1;
  float t;
};
std::vector<Tap> taps(double first, double length, int64_t in, int64_t out, bool crop) {
  std::vector<Tap> result(out);
  double scale = length / double(out);
  const double lo = crop ? first : 0.0;
  const double hi = crop ? std::min(double(in - 1), first + length - 1.0) : double(in - 1);
  for (int64_t o = 0; o < out; ++o) {
    double src = std::clamp(first + (o + 0.5) * scale - 0.5, lo, hi);
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    result[o] = {i0, std::min(i0 + 1, in - 1), static_cast<float>(src - i0)};
  }
  return result;
}

/// The window of `image` resized to [C, outH, outW] in [0, 1], mirrored if
/// asked.
void resample(const ImageRef &image, double top, double left, double height, double width,
              bool crop, bool flip, int64_t outH, int64_t outW, float *out) {
  std::vector<Tap> ty = taps(top, height, image.height, outH, crop);
  std::vector<Tap> tx = taps(left, width, image.width, outW, crop);
  for (int64_t c = 0; c < image.channels; ++c) {
    const uint8_t *plane = image.pixels + c * image.height * image.width;
    for (int64_t y = 0; y < outH; ++y) {
      const Tap &a = ty[y];
      const uint8_t *r0 = plane + a.i0 * image.width;
      const uint8_t *r1 = plane + a.i1 * image.width;
      float *row = out + (c * outH + y) * outW;
      for (int64_t x = 0; x < outW; ++x) {
        const Tap &b = tx[x];
        float upper = r0[b.i0] + b.t * (float(r0[b.i1]) - r0[b.i0]);
        float lower = r1[b.i0] + b.t * (float(r1[b.i1]) - r1[b.i0]);
        row[flip ? outW - 1 - x : x] = (upper + a.t * (lower - upper)) * (1.0f / 255.0f);
      }
    }
  }
}

inline float clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }

/// torchvision's rgb_to_grayscale weights.
inline float luma(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

void adjustBrightness(float *img, int64_t n, float factor) {
  for (int64_t i = 0; i < n; ++i)
    img[i] = clamp01(img[i] * factor);
}

void adjustContrast(float *img, int64_t channels, int64_t plane, float factor) {
  double mean = 0;
  if (channels == 3)
    for (int64_t k = 0; k < plane; ++k)
      mean += luma(img[k], img[plane + k], img[2 * plane + k]);
  else
    for (int64_t k = 0; k < plane; ++k)
      mean += img[k];
  const float m = static_cast<float>(mean / double(plane));
  for (int64_t i = 0; i < channels * plane; ++i)
    img[i] = clamp01(factor * img[i] + (1.0f - factor) * m);
}

void adjustSaturation(float *img, int64_t plane, float factor) {
  for (int64_t k = 0; k < plane; ++k) {
    const float g = luma(img[k], img[plane + k], img[2 * plane + k]);
    for (int64_t c = 0; c < 3; ++c)
      img[c * plane + k] = clamp01(factor * img[c * plane + k] + (1.0f - factor) * g);
  }
}

/// torchvision's _rgb2hsv, a shift of the hue, _hsv2rgb.
void adjustHue(float *img, int64_t plane, float shift) {
  for (int64_t k = 0; k < plane; ++k) {
    float r = img[k], g = img[plane + k], b = img[2 * plane + k];
    float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    float cr = maxc - minc;
    bool equal = maxc == minc;
    float s = cr / (equal ? 1.0f : maxc);
    float divisor = equal ? 1.0f : cr;
    float rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
    float h;
    if (maxc == r)
      h = bc - gc;
    else if (maxc == g)
      h = 2.0f + rc - bc;
    else
      h = 4.0f + gc - rc;
    h = std::fmod(h / 6.0f + 1.0f, 1.0f);
    h = std::fmod(h + shift + 1.0f, 1.0f);
    float v = maxc;
    float h6 = h * 6.0f;
    int i = static_cast<int>(std::floor(h6));
    float f = h6 - float(i);
    i %= 6;
    float p = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * f)),
          t = clamp01(v * (1.0f - s * (1.0f - f)));
    const float table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    img[k] = table[i][0];
    img[plane + k] = table[i][1];
    img[2 * plane + k] = table[i][2];
  }
}

void toGrayscale(float *img, int64_t plane) {
  for (int64_t k = 0; k < plane; ++k) {
    const float g = luma(img[k], img[plane + k], img[2 * plane + k]);
    img[k] = img[plane + k] = img[2 * plane + k] = g;
  }
}

/// Separable Gaussian blur with torch's reflect padding (no edge repeat).
void gaussianBlur(float *img, int64_t channels, int64_t h, int64_t w, int64_t kernel,
                  double sigma) {
  std::vector<float> weights(kernel);
  const double half = double(kernel - 1) / 2.0;
  double sum = 0;
  for (int64_t i = 0; i < kernel; ++i) {
    const double x = (double(i) - half) / sigma;
    sum += weights[i] = static_cast<float>(std::exp(-0.5 * x * x));
  }
  for (float &v : weights)
    v = static_cast<float>(v / sum);
  const int64_t r = kernel / 2;
  auto reflect = [](int64_t i, int64_t n) {
    if (n == 1)
      return int64_t(0);
    while (i < 0 || i >= n)
      i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  std::vector<float> tmp(static_cast<size_t>(h * w));
  for (int64_t c = 0; c < channels; ++c) {
    float *p = img + c * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        float acc = 0;
        for (int64_t k = 0; k < kernel; ++k)
          acc += weights[k] * p[y * w + reflect(x + k - r, w)];
        tmp[y * w + x] = acc;
      }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        float acc = 0;
        for (int64_t k = 0; k < kernel; ++k)
          acc += weights[k] * tmp[reflect(y + k - r, h) * w + x];
        p[y * w + x] = acc;
      }
  }
}

void normalize(const Normalization &norm, int64_t channels, int64_t plane, float *out) {
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = 1.0f / norm.stddev[c], shift = norm.mean[c] / norm.stddev[c];
    for (int64_t k = 0; k < plane; ++k)
      out[c * plane + k] = out[c * plane + k] * scale - shift;
  }
}

} // namespace

void renderView(const ImageRef &image, const Normalization &norm, const ViewDraw &draw,
                const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out) {
  const Crop &crop = draw.crop;
  resample(image, double(crop.top), double(crop.left), double(crop.height), double(crop.width),
           /*crop=*/true, crop.flip, outH, outW, out);
  const int64_t channels = image.channels, plane = outH * outW;
  if (draw.jitter)
    for (int fn : draw.order) {
      if (fn == 0 && cfg.brightness > 0)
        adjustBrightness(out, channels * plane, static_cast<float>(draw.brightness));
      else if (fn == 1 && cfg.contrast > 0)
        adjustContrast(out, channels, plane, static_cast<float>(draw.contrast));
      // Saturation and hue leave one-channel images as they are
      // (torchvision does the same).
      else if (fn == 2 && cfg.saturation > 0 && channels == 3)
        adjustSaturation(out, plane, static_cast<float>(draw.saturation));
      else if (fn == 3 && cfg.hue > 0 && channels == 3)
        adjustHue(out, plane, static_cast<float>(draw.hue));
    }
  if (draw.grayscale && channels == 3)
    toGrayscale(out, plane);
  if (draw.blur)
    gaussianBlur(out, channels, outH, outW, blurKernelFor(cfg, std::min(outH, outW)), draw.sigma);
  normalize(norm, channels, plane, out);
}

uint64_t viewSeed(uint64_t stepSeed, int64_t row) {
  return mixSeed(stepSeed, Stream::Augment, static_cast<uint64_t>(row));
}

Status renderOneView(const ImageSet &set, const Normalization &norm, int64_t index, uint64_t seed,
                     const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out) {
  thread_local std::vector<uint8_t> scratch;
  ImageRef image;
  LOCUS_RETURN_IF_ERROR(set.read(index, scratch, image));
  Rng rng(seed);
  const ViewDraw draw = drawView(rng, image.height, image.width, cfg);
  renderView(image, norm, draw, cfg, outH, outW, out);
  return Status::success();
}

Status renderViewRow(const ImageSet &set, const Normalization &norm, const int64_t *indices,
                     int64_t b, int64_t row, uint64_t stepSeed, const AugmentConfig &cfg,
                     int64_t outH, int64_t outW, float *out) {
  return renderOneView(set, norm, indices[row % b], viewSeed(stepSeed, row), cfg, outH, outW, out);
}

Status makeViews(const ImageSet &set, const Normalization &norm, const int64_t *indices, int64_t b,
                 uint64_t stepSeed, const AugmentConfig &cfg, int64_t outH, int64_t outW,
                 float *out) {
  const int64_t viewSize = set.channels * outH * outW;
  for (int64_t row = 0; row < 2 * b; ++row)
    LOCUS_RETURN_IF_ERROR(renderViewRow(set, norm, indices, b, row, stepSeed, cfg, outH, outW,
                                        out + row * viewSize));
  return Status::success();
}

Status renderPlain(const ImageSet &set, const Normalization &norm, int64_t index,
                   const AugmentConfig &cfg, int64_t outH, int64_t outW, float *out) {
  thread_local std::vector<uint8_t> scratch;
  ImageRef image;
  LOCUS_RETURN_IF_ERROR(set.read(index, scratch, image));
  double top = 0, left = 0, height = double(image.height), width = double(image.width);
  if (cfg.testResize > 0) {
    // Resize(R) scales the shorter side to R; CenterCrop(out) then keeps
    // out/R of it: the same window, taken on the source.
    const double scale = double(std::min(image.height, image.width)) / double(cfg.testResize);
    height = std::min(double(image.height), double(outH) * scale);
    width = std::min(double(image.width), double(outW) * scale);
    top = (double(image.height) - height) / 2.0;
    left = (double(image.width) - width) / 2.0;
  }
  resample(image, top, left, height, width, /*crop=*/false, /*flip=*/false, outH, outW, out);
  normalize(norm, image.channels, outH * outW, out);
  return Status::success();
}

} // namespace locus::rt::train
