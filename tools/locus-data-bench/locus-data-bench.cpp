//===- locus-data-bench.cpp - images/s of the views pipeline --------------===//
//
// Renders the views of consecutive training steps exactly as the training
// binary does (StepViews: the epoch's shuffle, each row's own seed, the data
// set's default views and normalisation) with --workers N threads ahead of a
// consumer that only takes each batch, and prints one JSON line:
//   {"data": ..., "workers": N, "images_per_s": X, "views_per_s": 2X, ...}
// `--data` takes what the training binary's --data takes.
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

} // namespace

int main(int argc, char **argv) {
  std::string dataText, views;
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
