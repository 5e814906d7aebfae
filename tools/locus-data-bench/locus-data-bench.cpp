//===- locus-data-bench.cpp - images/s of the views pipeline --------------===//
//
// Renders the views of consecutive training steps exactly as the training
// binary does (StepViews: the epoch's shuffle, each row's own seed, the data
// set's default views and normalisation) with --workers N threads ahead of a
// consumer that only takes each batch, and prints one JSON line:
//   {"data": ..., "workers": N, "images_per_s": X, "views_per_s": 2X, ...}
// `--data` takes what the training binary's --data takes. `--dump DIR`
// instead writes the first step's views with every draw and source image
// (bench/data/check_views.py redoes them with torchvision).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Augment.h"
#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/Json.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/ViewPipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <numeric>
#include <string>

using namespace locus::rt;
using namespace locus::rt::train;

namespace {

int usage(const char *message) {
  fmt::print(stderr,
             "error: {}\nusage: locus-data-bench --data KIND:PATH --side S --channels C "
             "[--batch B] [--steps N] [--workers W] [--views crop|simclr] [--seed N]\n",
             message);
  return 2;
}

/// The first step's 2B views: views.f32 [2B, C, S, S], and per row one JSON
/// line in draws.jsonl with the draw and its source image (sources.u8, the
/// images' uint8 planes one after another).
int dumpViews(const std::string &dir, const ImageSet &set, const Normalization &norm,
              const AugmentConfig &cfg, const int64_t *indices, int64_t b, int64_t side,
              uint64_t seed) {
  std::FILE *draws = std::fopen((dir + "/draws.jsonl").c_str(), "w");
  std::FILE *views = std::fopen((dir + "/views.f32").c_str(), "wb");
  std::FILE *sources = std::fopen((dir + "/sources.u8").c_str(), "wb");
  if (!draws || !views || !sources) {
    fmt::print(stderr, "error: {}: cannot write the dump files\n", dir);
    return 1;
  }
  std::vector<uint8_t> scratch;
  std::vector<float> out(static_cast<size_t>(set.channels * side * side));
  const uint64_t stepSeed = mixSeed(seed, Stream::Augment, 0);
  for (int64_t row = 0; row < 2 * b; ++row) {
    ImageRef image;
    if (Status s = set.read(indices[row % b], scratch, image); !s.isOk()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return 1;
    }
    Rng rng(viewSeed(stepSeed, row));
    const ViewDraw d = drawView(rng, image.height, image.width, cfg);
    renderView(image, norm, d, cfg, side, side, out.data());
    std::fwrite(out.data(), 4, out.size(), views);
    std::fwrite(image.pixels, 1, image.channels * image.height * image.width, sources);
    fmt::print(draws, "{}\n",
               JsonWriter()
                   .add("channels", image.channels)
                   .add("height", image.height)
                   .add("width", image.width)
                   .add("crop", std::vector<int64_t>{d.crop.top, d.crop.left, d.crop.height,
                                                     d.crop.width})
                   .add("flip", d.crop.flip)
                   .add("jitter", d.jitter)
                   .add("order", std::vector<int64_t>(d.order.begin(), d.order.end()))
                   .add("brightness", cfg.brightness > 0 ? d.brightness : 1.0)
                   .add("contrast", cfg.contrast > 0 ? d.contrast : 1.0)
                   .add("saturation", cfg.saturation > 0 ? d.saturation : 1.0)
                   .add("hue", cfg.hue > 0 ? d.hue : 0.0)
                   .add("grayscale", d.grayscale)
                   .add("blur", d.blur)
                   .add("sigma", d.sigma)
                   .add("kernel", cfg.blurKernel > 0 ? cfg.blurKernel
                                                     : std::max<int64_t>(3, (side / 10) | 1))
                   .add("mean", std::vector<double>(norm.mean.begin(), norm.mean.end()))
                   .add("std", std::vector<double>(norm.stddev.begin(), norm.stddev.end()))
                   .str());
  }
  std::fclose(draws);
  std::fclose(views);
  std::fclose(sources);
  fmt::print("{} views of {}x{} written to {}\n", 2 * b, side, side, dir);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string dataText, views, dump;
  int64_t side = 0, channels = 3, batch = 32, steps = 50, workers = 1;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string name = argv[i];
    if (i + 1 >= argc)
      return usage(("missing a value after " + name).c_str());
    std::string value = argv[++i];
    char *end = nullptr;
    long long n = std::strtoll(value.c_str(), &end, 10);
    bool integer = !value.empty() && *end == '\0' && n >= 0;
    if (name == "--data")
      dataText = value;
    else if (name == "--views")
      views = value;
    else if (name == "--dump")
      dump = value;
    else if (!integer)
      return usage((name + " " + value + ": expected a non-negative integer").c_str());
    else if (name == "--side")
      side = n;
    else if (name == "--channels")
      channels = n;
    else if (name == "--batch")
      batch = n;
    else if (name == "--steps")
      steps = n;
    else if (name == "--workers")
      workers = n;
    else if (name == "--seed")
      seed = static_cast<uint64_t>(n);
    else
      return usage(("unknown option " + name).c_str());
  }
  if (dataText.empty() || side <= 0 || batch <= 0 || steps <= 0)
    return usage("--data, --side, a positive --batch and --steps are needed");
  DataSpec spec;
  Dataset data;
  Status s = parseDataSpec(dataText, spec);
  if (s.isOk())
    s = loadDataset(spec, channels, side, side, seed, data);
  AugmentConfig cfg = data.train.channels == 3
                          ? simclrViews(data.name.rfind("cifar", 0) == 0 ? 0.25 : 0.08)
                          : cropViews();
  if (s.isOk() && !views.empty())
    s = parseViewOption("--views", views, cfg);
  if (!s.isOk()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return 1;
  }
  const ImageSet &set = data.steps();
  if (set.count < batch) {
    fmt::print(stderr, "error: {} images, fewer than one batch of {}\n", set.count, batch);
    return 1;
  }
  std::vector<int64_t> order(set.count);
  std::iota(order.begin(), order.end(), 0);
  Rng(mixSeed(seed, Stream::Shuffle, 0)).shuffle(order.data(), set.count);
  const int64_t perEpoch = set.count / batch;
  if (!dump.empty())
    return dumpViews(dump, set, data.norm, cfg, order.data(), batch, side, seed);
  ViewPipeline pipeline(workers, 2 * batch, channels * side * side,
                        [&](int64_t step, int64_t row, float *out) {
                          return renderViewRow(set, data.norm,
                                               order.data() + (step % perEpoch) * batch, batch,
                                               row, mixSeed(seed, Stream::Augment, step), cfg,
                                               side, side, out);
                        });
  // The first steps fill the pipeline; the timing starts after them.
  const int64_t warmup = std::min<int64_t>(3, steps);
  pipeline.start(0, warmup + steps);
  double checksum = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < warmup + steps; ++step) {
    if (step == warmup)
      start = std::chrono::steady_clock::now();
    const float *views = nullptr;
    if (Status r = pipeline.next(step, views); !r.isOk()) {
      fmt::print(stderr, "error: step {}: {}\n", step, r.message());
      return 1;
    }
    checksum += views[step % (2 * batch)];
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double images = double(steps * batch) / seconds;
  fmt::print("{}\n", JsonWriter()
                         .add("data", data.name)
                         .add("side", side)
                         .add("workers", workers)
                         .add("batch", batch)
                         .add("steps", steps)
                         .add("images_per_s", images)
                         .add("views_per_s", 2 * images)
                         .add("views", describeViews(cfg, side))
                         .add("checksum", checksum)
                         .str());
  return 0;
}
