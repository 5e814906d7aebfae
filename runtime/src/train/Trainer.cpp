#include "locus/runtime/train/Trainer.h"

#include "locus/runtime/CpuFeatures.h"

#include "locus/runtime/train/AtomicFile.h"
#include "locus/runtime/train/Augment.h"
#include "locus/runtime/train/Checkpoint.h"
#include "locus/runtime/train/Data.h"
#include "locus/runtime/train/Engine.h"
#include "locus/runtime/train/Metrics.h"
#include "locus/runtime/train/OnnxExport.h"
#include "locus/runtime/train/Plot.h"
#include "locus/runtime/train/Probe.h"
#include "locus/runtime/train/ProgressBar.h"
#include "locus/runtime/train/Random.h"
#include "locus/runtime/train/TrainingState.h"
#include "locus/runtime/train/ViewPipeline.h"

#include <chrono>
#include <filesystem>
#include <cmath>
#include <fmt/format.h>
#include <new>
#include <numeric>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace locus::rt::train {

namespace {
/// A relu + max-pool whose windows tile the map: locusc compiles a
/// static-shape kernel for it (the backend's general kernel runs the rest).
bool tilesItsMap(const LayerDesc &layer) {
  return layer.kernel == layer.stride && layer.pad == std::array<int64_t, 4>{0, 0, 0, 0};
}
} // namespace

namespace {

/// Held-out views use their own fixed seed: before/after and separate runs
/// compare on identical views whatever --seed is.
constexpr uint64_t kHeldOutSeed = 0x5eed;

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string mib(int64_t bytes) { return fmt::format("{:.1f} MiB", bytes / 1048576.0); }

std::string lossText(const std::vector<double> &losses) {
  std::string text;
  for (double l : losses)
    text += std::isnan(l) ? " -" : fmt::format(" {:.4f}", l);
  return text;
}

std::vector<std::string> ruleNames(const ModelDesc &model) {
  std::vector<std::string> rules;
  for (const BlockDesc &b : model.blocks)
    if (rules.empty() || rules.back() != b.loss.rule)
      rules.push_back(b.loss.rule);
  return rules;
}

/// The terminal's live bar while training runs; lines go above it.
ProgressBar *liveBar = nullptr;

void progress(const std::string &line) {
  if (liveBar)
    liveBar->print(line);
  else
    fmt::print(stderr, "{}\n", line);
}

std::string blockLrText(const std::vector<std::pair<std::string, double>> &rates) {
  std::string text;
  for (const auto &[name, rate] : rates)
    text += fmt::format("{}{}={}", text.empty() ? "" : ",", name, rate);
  return text;
}

std::vector<std::string> blockNames(const ModelDesc &model) {
  std::vector<std::string> names;
  for (const BlockDesc &block : model.blocks)
    names.push_back(block.name);
  return names;
}

/// Mean per-block loss over the held-out views (chunks of B test images),
/// made with the run's views and a fixed seed.
Status heldOutLosses(Engine &engine, const Dataset &data, const AugmentConfig &cfg, int64_t images,
                     std::vector<double> &mean) {
  Shape4 vs = engine.viewShape();
  int64_t b = vs.n / 2, chunks = images / b;
  mean.assign(engine.model().blocks.size(), 0.0);
  // Made on the host, then copied into the backend's views buffer.
  Tensor views = engine.backend().allocate(vs);
  std::vector<float> host(static_cast<size_t>(vs.count()));
  std::vector<int64_t> indices(b);
  for (int64_t k = 0; k < chunks; ++k) {
    std::iota(indices.begin(), indices.end(), k * b);
    LOCUS_RETURN_IF_ERROR(makeViews(data.test, data.norm, indices.data(), b,
                                    mixSeed(kHeldOutSeed, Stream::HeldOut, k), cfg, vs.h, vs.w,
                                    host.data()));
    engine.backend().copyToDevice(views.data(), host.data(), 4 * vs.count());
    std::vector<double> losses;
    LOCUS_RETURN_IF_ERROR(engine.evaluate(views, losses, k));
    for (size_t l = 0; l < losses.size(); ++l)
      mean[l] += losses[l] / double(chunks);
  }
  return Status::success();
}

/// The data set's views (METHOD.md §5: SimCLR's for colour images, crop
/// scale (0.25, 1) on CIFAR; crop and flip for grey ones; STL-10's test
/// transform Resize(105) + CenterCrop(96)), then the command line's options.
Status viewsFor(const Options &options, const Dataset &data, int64_t side, AugmentConfig &out) {
  const bool cifar = data.name.rfind("cifar", 0) == 0;
  out = data.train.channels == 3 ? simclrViews(cifar ? 0.25 : 0.08) : cropViews();
  if (data.name == "stl10")
    out.testResize = (side * 105 + 48) / 96;
  for (const auto &[name, value] : options.viewOptions)
    LOCUS_RETURN_IF_ERROR(parseViewOption(name, value, out));
  return Status::success();
}

/// The training steps' views: the shuffled order of each epoch (a function
/// of (seed, epoch)), rendered row by row from (seed, step).
class StepViews {
public:
  StepViews(const Dataset &data, const AugmentConfig &cfg, uint64_t seed, int64_t b,
            int64_t stepsPerEpoch, Shape4 vs)
      : data_(data), cfg_(cfg), seed_(seed), b_(b), stepsPerEpoch_(stepsPerEpoch), vs_(vs) {}

  Status render(int64_t step, int64_t row, float *out) {
    const int64_t epoch = step / stepsPerEpoch_, s = step % stepsPerEpoch_;
    std::shared_ptr<const std::vector<int64_t>> order = orderOf(epoch);
    return renderViewRow(data_.steps(), data_.norm, order->data() + s * b_, b_, row,
                         mixSeed(seed_, Stream::Augment, step), cfg_, vs_.h, vs_.w, out);
  }

private:
  std::shared_ptr<const std::vector<int64_t>> orderOf(int64_t epoch) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto &[e, order] : orders_)
      if (e == epoch)
        return order;
    auto order = std::make_shared<std::vector<int64_t>>(data_.steps().count);
    std::iota(order->begin(), order->end(), 0);
    Rng(mixSeed(seed_, Stream::Shuffle, epoch)).shuffle(order->data(), data_.steps().count);
    // Two epochs at most are rendered at once (the end of one, the start of
    // the next).
    if (orders_.size() == 2)
      orders_.erase(orders_.begin());
    orders_.emplace_back(epoch, order);
    return order;
  }

  const Dataset &data_;
  const AugmentConfig cfg_;
  const uint64_t seed_;
  const int64_t b_, stepsPerEpoch_;
  const Shape4 vs_;
  std::mutex mutex_;
  std::vector<std::pair<int64_t, std::shared_ptr<const std::vector<int64_t>>>> orders_;
};

/// `--block-lr`: the factor on the base rate of every parameter of the
/// named blocks (their layers' weights and biases, their projections).
Status blockLrScales(const ModelDesc &model, const std::vector<std::pair<std::string, double>> &rates,
                     double base, std::vector<double> &scale) {
  scale.assign(model.params.size(), 1.0);
  for (const auto &[name, rate] : rates) {
    auto block = std::find_if(model.blocks.begin(), model.blocks.end(),
                              [&](const BlockDesc &b) { return b.name == name; });
    if (block == model.blocks.end())
      return Status::error(fmt::format("--block-lr: the model has no block '{}' (its blocks: {})",
                                       name, fmt::join(blockNames(model), ", ")));
    const double factor = base > 0 ? rate / base : 0.0;
    auto set = [&](int32_t param) {
      if (param >= 0)
        scale[param] = factor;
    };
    for (const LayerDesc &layer : block->layers) {
      set(layer.weight);
      set(layer.bias);
    }
    set(block->projection);
    set(block->lateralProjection);
  }
  return Status::success();
}

/// `--features-of IN --features-out OUT`: the probe's features of the
/// images in IN, written to OUT (temporary file + rename).
Status writeFeatures(Engine &engine, const std::string &in, const std::string &out) {
  const Shape4 vs = engine.viewShape();
  const int64_t image = vs.c * vs.h * vs.w;
  std::error_code error;
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(in, error));
  if (error)
    return Status::error(fmt::format("{}: cannot read: {}", in, error.message()));
  if (bytes == 0 || bytes % (4 * image) != 0)
    return Status::error(fmt::format("{}: {} bytes is not a whole number of float32 images "
                                     "[{}, {}, {}]",
                                     in, bytes, vs.c, vs.h, vs.w));
  const int64_t n = bytes / (4 * image);
  Tensor images = Tensor::allocate(engine.memoryHandle(), Shape4{n, vs.c, vs.h, vs.w});
  LOCUS_RETURN_IF_ERROR(readFloatFile(in, n * image, images.data()));
  std::vector<float> features(static_cast<size_t>(n * engine.featureCount()));
  LOCUS_RETURN_IF_ERROR(engine.features(images, features.data()));
  LOCUS_RETURN_IF_ERROR(writeFileAtomically(
      out, {std::string_view(reinterpret_cast<const char *>(features.data()),
                             4 * features.size())}));
  progress(fmt::format("features of {} image(s) from {}: [{}, {}] float32 in {}", n, in, n,
                       engine.featureCount(), out));
  return Status::success();
}

} // namespace

std::string describeModel(const ModelDesc &model) {
  const auto &s = model.inputShape;
  return fmt::format("model '{}': {} blocks, rule {}, {} mode, views [{}, {}, {}, {}] ({} images "
                     "per step), target {}",
                     model.name, model.blocks.size(), fmt::join(ruleNames(model), "/"),
                     model.blocks.empty() ? "?" : model.blocks.back().loss.mode, s[0], s[1], s[2],
                     s[3], s[0] / 2, model.target);
}

Status checkOptionsForModel(const Options &options, const ModelDesc &model) {
  int64_t compiled = model.inputShape[0] / 2;
  if (options.batchSize >= 0 && options.batchSize != compiled)
    return Status::error(fmt::format(
        "--batch-size {}: this binary was compiled for {} images per step ({} views); recompile "
        "the model with a {}-view input to change it",
        options.batchSize, compiled, model.inputShape[0], 2 * options.batchSize));
  if (model.target != "cuda" && (options.device >= 0 || !options.precision.empty()))
    return Status::error(fmt::format(
        "{}: this binary trains on the CPU (its model was compiled with --target={}); compile "
        "it with locusc --target=cuda to train on a GPU",
        options.device >= 0 ? "--device" : "--precision", model.target));
  return Status::success();
}

namespace {

/// The engine's parameters copied to host buffers `host` (views of them):
/// what checkpoints read and write, whatever memory the backend keeps them in.
std::vector<Tensor> hostCopies(Engine &engine, std::vector<std::vector<float>> &host) {
  std::vector<Tensor> views;
  host.clear();
  for (const Tensor &p : engine.params()) {
    host.emplace_back(static_cast<size_t>(p.count()));
    engine.backend().copyToHost(host.back().data(), p.data(), 4 * p.count());
    views.push_back(Tensor::borrowed(host.back().data(), p.shape()));
  }
  return views;
}

} // namespace

Status runTraining(const ModelDesc &model, const Options &options,
                   const CompiledModel &compiled) {
  const cpu::ModelKernels &kernels = compiled.kernels;
  EngineOptions engineOptions;
  engineOptions.kernels = kernels;
  engineOptions.program = compiled.program;
  engineOptions.seed = options.seed;
  engineOptions.kind = options.optimizer == "sgd"    ? OptimizerKind::Sgd
                       : options.optimizer == "lars" ? OptimizerKind::Lars
                                                     : OptimizerKind::AdamW;
  bool adam = engineOptions.kind == OptimizerKind::AdamW;
  bool bf16Moments = options.optimizerState == "bfloat16"; // only with adamw (parseOptions)
  engineOptions.moments =
      bf16Moments ? MomentFormat::BFloat16 : MomentFormat::Float32;
  double lr = options.lr ? *options.lr : adam ? engineOptions.optimizer.lr : 0.1;
  engineOptions.optimizer.lr = engineOptions.sgd.lr = lr;
  engineOptions.optimizer.weightDecay = engineOptions.sgd.weightDecay = options.weightDecay;
  engineOptions.sgd.momentum = options.momentum;
  engineOptions.sgd.trust = options.larsTrust;
  engineOptions.schedule.base = lr;
  engineOptions.schedule.min = options.minLr;
  engineOptions.schedule.warmupSteps = options.warmupSteps;
  engineOptions.schedule.kind = options.schedule == "cosine" ? LrSchedule::Kind::Cosine
                                                             : LrSchedule::Kind::Constant;
  if (!options.blockLr.empty())
    LOCUS_RETURN_IF_ERROR(blockLrScales(model, options.blockLr, lr, engineOptions.lrScale));
  if (compiled.makeBackend) {
    std::string error;
    std::unique_ptr<Backend> backend = compiled.makeBackend(kernels, options, error);
    if (!backend)
      return Status::error(error);
    engineOptions.backend = std::move(backend);
  }
  if (!options.preset.empty())
    progress(fmt::format("preset {}: {} (options given with it override these)", options.preset,
                         fmt::join(options.presetArgs, " ")));
  std::unique_ptr<Engine> engine;
  LOCUS_RETURN_IF_ERROR(Engine::create(model, engineOptions, engine));
  if (!options.init.empty()) {
    // Read on the host, then copied into the backend's parameters.
    std::vector<std::vector<float>> host;
    std::vector<Tensor> params = hostCopies(*engine, host);
    LOCUS_RETURN_IF_ERROR(loadCheckpoint(options.init, model, params));
    for (size_t i = 0; i < params.size(); ++i)
      engine->backend().copyToDevice(engine->params()[i].data(), host[i].data(),
                                     4 * params[i].count());
    progress(fmt::format("loaded parameters from {}", options.init));
  }
  Shape4 vs = engine->viewShape();
  int64_t b = vs.n / 2;
  // What a training-state checkpoint must agree on to resume this run.
  const RunConfig runConfig = {
      {"model", model.name},
      {"rules", fmt::format("{}", fmt::join(ruleNames(model), "/"))},
      {"optimizer", options.optimizer},
      {"optimizer_state", options.optimizerState},
      {"seed", std::to_string(options.seed)},
      {"batch", std::to_string(b)},
      {"data", options.fixedBatch.empty() ? options.data.kind : "fixed-batch"},
      {"warmup_epochs", std::to_string(options.warmupEpochs)},
      {"block_lr", blockLrText(options.blockLr)}};
  int64_t startStep = 0;
  if (!options.resume.empty()) {
    LOCUS_RETURN_IF_ERROR(loadTrainingState(options.resume, *engine, runConfig, startStep));
    progress(fmt::format("resumed from {} after step {}", options.resume, startStep));
  }

  MetricsLog metrics;
  // A resumed run adds to its metrics: nothing the first part wrote is lost.
  LOCUS_RETURN_IF_ERROR(metrics.open(options.metrics, /*append=*/!options.resume.empty()));
  if (!options.resume.empty())
    metrics.write(JsonWriter().add("type", "resume").add("from", options.resume).add("step",
                                                                                     startStep));

  // Data: the training split unless --fixed-batch replaces it, the test
  // split for the held-out loss and the probe.
  bool needData = options.fixedBatch.empty() || options.heldOut > 0 || options.probeEpochs > 0;
  Dataset data;
  if (needData) {
    LOCUS_RETURN_IF_ERROR(loadDataset(options.data, vs.c, vs.h, vs.w, options.seed, data));
    const std::string size =
        data.train.inMemory()
            ? fmt::format("{}x{}x{}", data.train.channels, data.train.height, data.train.width)
            : fmt::format("{} channel(s), files decoded as views need them", data.train.channels);
    progress(fmt::format("data: {} ({} training, {} test images of {}{})", data.name,
                         data.train.count, data.test.count, size,
                         data.pretrain.count
                             ? fmt::format("; pretraining on {} images with the unlabeled ones",
                                           data.pretrain.count)
                             : std::string()));
  }
  AugmentConfig augment;
  if (needData) {
    LOCUS_RETURN_IF_ERROR(viewsFor(options, data, std::min(vs.h, vs.w), augment));
    progress(fmt::format("normalisation: mean [{:.4f}], std [{:.4f}]",
                         fmt::join(data.norm.mean, ", "), fmt::join(data.norm.stddev, ", ")));
    if (options.fixedBatch.empty())
      progress(describeViews(augment, std::min(vs.h, vs.w)));
  }
  // Views are made on the host, then copied into the backend's buffer. A
  // backend whose uploads overlap the step's work (a GPU's) gets a second
  // buffer, which the next step's views upload into while one step trains
  // (the compiler plans both for --target=cuda).
  Backend &backend = engine->backend();
  const bool overlapUploads = backend.uploadsOverlap();
  Tensor views = backend.allocate(vs);
  Tensor aheadViews = overlapUploads ? backend.allocate(vs) : Tensor();
  std::vector<float> hostViews(static_cast<size_t>(vs.count()));
  if (!options.fixedBatch.empty()) {
    LOCUS_RETURN_IF_ERROR(readFloatFile(options.fixedBatch, vs.count(), hostViews.data()));
    engine->backend().copyToDevice(views.data(), hostViews.data(), 4 * vs.count());
  } else if (data.steps().count < b) {
    return Status::error(fmt::format("the training split has {} images, fewer than one step's {}",
                                     data.steps().count, b));
  }

  progress(describeModel(model));
  metrics.write(JsonWriter()
                    .add("type", "run")
                    .add("model", model.name)
                    .add("rules", ruleNames(model))
                    .add("blocks", blockNames(model))
                    .add("mode", model.blocks.back().loss.mode)
                    .add("views", vs.n)
                    .add("seed", static_cast<int64_t>(options.seed))
                    .add("data", options.fixedBatch.empty() ? data.name : "fixed-batch")
                    .add("lr", lr)
                    .add("optimizer", options.optimizer)
                    .add("optimizer_state", options.optimizerState)
                    .add("schedule", options.schedule)
                    .add("preset", options.preset)
                    .add("block_lr", blockLrText(options.blockLr))
                    .add("augment", options.fixedBatch.empty() && needData
                                      ? describeViews(augment, std::min(vs.h, vs.w))
                                      : std::string("fixed batch")));

  // Held-out local losses before training.
  int64_t heldOutImages = needData ? std::min(options.heldOut, data.test.count) / b * b : 0;
  std::vector<double> heldBefore, heldAfter;
  if (options.evalOnly)
    progress(options.init.empty() && options.resume.empty()
                 ? "evaluation only, of the initial weights (no --init or --resume)"
                 : fmt::format("evaluation only, of {}",
                               options.init.empty() ? options.resume : options.init));
  if (heldOutImages > 0 && !options.evalOnly)
    LOCUS_RETURN_IF_ERROR(heldOutLosses(*engine, data, augment, heldOutImages, heldBefore));

  // Training.
  int64_t stepsPerEpoch = options.fixedBatch.empty() ? data.steps().count / b : 1;
  int64_t totalSteps = options.evalOnly ? startStep : options.epochs * stepsPerEpoch;
  if (options.maxSteps >= 0 && !options.evalOnly) {
    totalSteps = std::min(totalSteps, options.maxSteps);
    if (!options.fixedBatch.empty())
      totalSteps = options.maxSteps;
  }
  int64_t epochs = stepsPerEpoch ? (totalSteps + stepsPerEpoch - 1) / stepsPerEpoch : 0;
  if (startStep > totalSteps)
    return Status::error(fmt::format("{}: its run reached step {}, past this run's {} steps",
                                     options.resume, startStep, totalSteps));
  engine->setScheduleLength(totalSteps);
  if (options.warmupEpochs > 0)
    engine->setWarmupSteps(options.warmupSteps + options.warmupEpochs * stepsPerEpoch);
  progress(fmt::format(
      "training: {} steps ({} per epoch, {} images per step), {} update {}", totalSteps,
      stepsPerEpoch, b, options.optimizer,
      bf16Moments ? "compiled by locusc (bfloat16 moments, stochastic rounding)"
                  : "compiled by locusc"));
  progress(engine->backend().describe());
  progress("step: the program locusc generated (one function a block)");
  int64_t compiledPools = 0, runtimePools = 0;
  for (const BlockDesc &block : model.blocks)
    for (const LayerDesc &layer : block.layers)
      if (layer.kind == LayerKind::ReluMaxPool2D)
        ++(kernels.reluPools && tilesItsMap(layer) ? compiledPools : runtimePools);
  if (compiledPools + runtimePools > 0)
    progress(fmt::format("relu + max-pool: {} layer(s) compiled by locusc, {} by the runtime's "
                         "general kernel (windows that overlap or pad)",
                         compiledPools, runtimePools));
  MemoryTracker &memory = engine->memory();
  memory.resetPeak();
  int64_t baseline = memory.tracked();
  int64_t step = startStep;
  // The step of the last training state written (or resumed from); -1: none.
  CheckpointWriter checkpoints(options.checkpoint, options.keepCheckpoints, options.resume,
                               options.resume.empty() ? -1 : startStep);
  // --workers: views rendered ahead on their own threads (the same views
  // for any count).
  const int64_t workers =
      options.workers >= 0 ? options.workers
      : model.target == "cuda"
          ? std::clamp<int64_t>(int64_t(std::thread::hardware_concurrency()) - 1, 1, 4)
          : 1;
  StepViews stepViews(data, augment, options.seed, b, std::max<int64_t>(1, stepsPerEpoch), vs);
  std::unique_ptr<ViewPipeline> pipeline;
  if (options.fixedBatch.empty() && startStep < totalSteps) {
    pipeline = std::make_unique<ViewPipeline>(
        workers, vs.n, vs.c * vs.h * vs.w,
        [&](int64_t at, int64_t row, float *out) { return stepViews.render(at, row, out); });
    pipeline->start(startStep, totalSteps);
    progress(fmt::format("views: {} worker thread(s){}{}", workers,
                         workers ? " rendering ahead of the step" : " (on the training thread)",
                         overlapUploads ? ", uploaded from pinned memory while the step before "
                                          "trains"
                                        : ""));
  }
  // The pipeline's buffers stay pinned while uploads may read them, and no
  // upload is in flight when they go (destroyed in reverse order).
  const bool overlapping = pipeline && overlapUploads;
  std::vector<std::shared_ptr<void>> pinned;
  if (overlapping)
    for (auto [data, bytes] : pipeline->buffers())
      pinned.push_back(backend.pinHostMemory(data, bytes));
  struct UploadsLanded {
    Backend &backend;
    ~UploadsLanded() { backend.waitForUploads(); }
  } uploadsLanded{backend};
  // Overlapped: `views` holds this step's views (or is being filled with
  // them), `aheadViews` receives the next step's; `pending` is an error
  // rendering this step's views, reported when the step comes.
  Status pending;
  auto uploadViews = [&](int64_t at, Tensor &into) {
    const float *batch = nullptr;
    pending = pipeline->next(at, batch);
    if (pending.isOk())
      backend.uploadAsync(into.data(), batch, 4 * vs.count());
  };
  if (overlapping)
    uploadViews(startStep, views);
  auto viewsError = [&](const Status &rendered) {
    return Status::error(fmt::format(
        "step {}: {}{}", step + 1, rendered.message(),
        checkpoints.lastStep() >= 0 ? fmt::format("; the last checkpoint is {} (step {})",
                                                  checkpoints.last(), checkpoints.lastStep())
                                    : std::string()));
  };
  ProgressBar bar(/*enabled=*/!options.evalOnly);
  liveBar = &bar;
  struct BarRelease {
    ~BarRelease() { liveBar = nullptr; }
  } barRelease;
  Clock::time_point start = Clock::now(), lastLog = start;
  int64_t lastLogStep = 0;
  // A resumed run continues inside the epoch it stopped in: the order and
  // views are functions of (seed, epoch) and (seed, step).
  const int64_t firstEpoch = stepsPerEpoch ? startStep / stepsPerEpoch : 0;
  for (int64_t epoch = firstEpoch; epoch < epochs && step < totalSteps; ++epoch) {
    Clock::time_point epochStart = Clock::now();
    std::vector<double> epochSum(model.blocks.size(), 0.0);
    int64_t epochSteps = 0;
    for (int64_t s = epoch == firstEpoch ? startStep - firstEpoch * stepsPerEpoch : 0;
         s < stepsPerEpoch && step < totalSteps; ++s) {
      if (overlapping) {
        // This step's views have landed (and their host buffer is free);
        // the next step's start uploading while this one trains.
        backend.waitForUploads();
        if (!pending.isOk())
          return viewsError(pending);
        if (step + 1 < totalSteps)
          uploadViews(step + 1, aheadViews);
      } else if (pipeline) {
        const float *batch = nullptr;
        if (Status rendered = pipeline->next(step, batch); !rendered.isOk())
          return viewsError(rendered);
        backend.copyToDevice(views.data(), batch, 4 * vs.count());
      }
      std::vector<double> losses;
      LOCUS_RETURN_IF_ERROR(engine->step(views, losses));
      if (overlapping)
        std::swap(views, aheadViews); // the next step's views
      ++step;
      ++epochSteps;
      // A loss that is NaN or infinite (global mode's lower blocks have none:
      // NaN by design) must not reach a checkpoint.
      std::optional<size_t> bad;
      for (size_t l = 0; l < losses.size() && !bad; ++l)
        if (!std::isfinite(losses[l]) &&
            (model.blocks[l].loss.mode != "global" || l + 1 == losses.size()))
          bad = l;
      if (bad) {
        const std::string what =
            fmt::format("step {}: block '{}' has a non-finite loss ({})", step,
                        model.blocks[*bad].name, losses[*bad]);
        metrics.write(JsonWriter()
                          .add("type", "nonfinite")
                          .add("step", step)
                          .add("block", model.blocks[*bad].name));
        if (options.onNonfinite == "stop")
          return Status::error(
              what + (checkpoints.lastStep() >= 0
                          ? fmt::format("; training stopped, the last good checkpoint is {} "
                                        "(step {})",
                                        checkpoints.last(), checkpoints.lastStep())
                          : std::string("; training stopped (no checkpoint was written: "
                                        "--checkpoint FILE --checkpoint-every N)")));
        progress(what + "; going on (--on-nonfinite skip), no checkpoint of this step");
      } else if (!options.checkpoint.empty() &&
                 ((options.checkpointEvery > 0 && step % options.checkpointEvery == 0) ||
                  step == totalSteps)) {
        if (Status written = checkpoints.write(*engine, runConfig, step); !written.isOk())
          return Status::error(fmt::format(
              "step {}: the training state was not written: {}; training stopped, {}", step,
              written.message(),
              checkpoints.lastStep() >= 0
                  ? fmt::format("the last good checkpoint is {} (step {})", checkpoints.last(),
                                checkpoints.lastStep())
                  : std::string("no earlier checkpoint")));
      }
      for (size_t l = 0; l < losses.size(); ++l)
        epochSum[l] += losses[l];
      {
        const double elapsed = seconds(start);
        const double done = double(step - startStep);
        bar.update(step, totalSteps, losses, done * double(b) / std::max(1e-9, elapsed),
                   done > 0 ? elapsed / done * double(totalSteps - step) : 0.0);
      }
      if (step % options.logEvery == 0 || step == totalSteps) {
        double rate = (step - lastLogStep) / std::max(1e-9, seconds(lastLog));
        // Images per second and the time left, from this process's steps so far.
        const double elapsed = seconds(start);
        const int64_t done = step - startStep;
        const int64_t left = static_cast<int64_t>(
            done > 0 ? elapsed / double(done) * double(totalSteps - step) : 0.0);
        progress(fmt::format("step {}/{} epoch {}/{} loss{}  {:.2f} steps/s, {:.0f} images/s, "
                             "ETA {}:{:02d}:{:02d}",
                             step, totalSteps, epoch + 1, epochs, lossText(losses), rate,
                             rate * double(b), left / 3600, left / 60 % 60, left % 60));
        metrics.write(JsonWriter()
                          .add("type", "step")
                          .add("step", step)
                          .add("epoch", epoch + 1)
                          .add("loss", losses)
                          .add("steps_per_s", rate));
        lastLog = Clock::now();
        lastLogStep = step;
      }
    }
    std::vector<double> mean(epochSum.size());
    for (size_t l = 0; l < mean.size(); ++l)
      mean[l] = epochSum[l] / double(std::max<int64_t>(1, epochSteps));
    double took = seconds(epochStart);
    progress(fmt::format("epoch {}/{} done: {} steps, mean loss{}, {:.1f} s", epoch + 1, epochs,
                         epochSteps, lossText(mean), took));
    metrics.write(JsonWriter()
                      .add("type", "epoch")
                      .add("epoch", epoch + 1)
                      .add("steps", epochSteps)
                      .add("mean_loss", mean)
                      .add("seconds", took));
  }
  bar.finish();
  liveBar = nullptr;
  double trainSeconds = seconds(start);

  // Memory: the peak over the training steps (parameters, optimizer state,
  // the views buffer, the arena, workspace) beside the compiler's plan for
  // this optimizer (the step program's record).
  if (!options.evalOnly) { // no steps ran: nothing measured to set beside the plan
    const int64_t planned = engine->plannedPeakBytes();
    const std::string planFor = bf16Moments ? "adamw, bfloat16 moments" : options.optimizer;
    std::string planKind = fmt::format("step program: arena {}", mib(engine->plannedArenaBytes()));
    if (engine->reservedWorkspaceBytes() > 0)
      planKind += fmt::format(", convolution workspace{} {} as the backend chose it",
                              options.precision == "bf16" ? " and bfloat16 copies" : "",
                              mib(engine->reservedWorkspaceBytes()));
    int64_t measured = step > 0 ? memory.peak() : 0;
    int64_t workspace = step > 0 ? memory.peakExternal() : 0;
    progress(fmt::format("memory: planned peak {} ({}, {}), measured peak {} (parameters, "
                         "optimizer state and views {}, kernel workspace up to {})",
                         mib(planned), planKind, planFor,
                         mib(measured), mib(baseline), mib(workspace)));
    metrics.write(JsonWriter()
                      .add("type", "memory")
                      .add("planned_peak_bytes", planned)
                      .add("planned_arena_bytes", engine->plannedArenaBytes())
                      .add("measured_peak_bytes", measured)
                      .add("persistent_bytes", baseline)
                      .add("workspace_peak_bytes", workspace)
                      .add("steps", step)
                      .add("train_seconds", trainSeconds));
  }

  if (heldOutImages > 0) {
    LOCUS_RETURN_IF_ERROR(heldOutLosses(*engine, data, augment, heldOutImages, heldAfter));
    if (options.evalOnly) // one evaluation: the weights did not change
      heldBefore = heldAfter;
    for (size_t l = 0; l < model.blocks.size(); ++l) {
      if (std::isnan(heldAfter[l]))
        progress(fmt::format("held-out loss {}: none (global mode optimises the top block's loss "
                             "only)",
                             model.blocks[l].name));
      else if (options.evalOnly)
        progress(fmt::format("held-out loss {} ({} images): {:.4f}", model.blocks[l].name,
                             heldOutImages, heldAfter[l]));
      else
        progress(fmt::format("held-out loss {} ({} images): before {:.4f}, after {:.4f}",
                             model.blocks[l].name, heldOutImages, heldBefore[l], heldAfter[l]));
      metrics.write(JsonWriter()
                        .add("type", "heldout")
                        .add("block", model.blocks[l].name)
                        .add("images", heldOutImages)
                        .add("before", heldBefore[l])
                        .add("after", heldAfter[l]));
    }
  }

  if (!options.save.empty()) {
    std::vector<std::vector<float>> host;
    LOCUS_RETURN_IF_ERROR(saveCheckpoint(options.save, model, hostCopies(*engine, host)));
    progress(fmt::format("saved parameters to {}", options.save));
  }

  if (!options.exportOnnx.empty()) {
    std::vector<std::vector<float>> host;
    hostCopies(*engine, host);
    LOCUS_RETURN_IF_ERROR(exportOnnx(model, host, options.exportOnnx));
    progress(fmt::format("exported the encoder to {} (ONNX, input \"images\" [N, {}, {}, {}], "
                         "output \"features\" [N, {}])",
                         options.exportOnnx, vs.c, vs.h, vs.w, engine->featureCount()));
  }
  if (!options.featuresOf.empty())
    LOCUS_RETURN_IF_ERROR(writeFeatures(*engine, options.featuresOf, options.featuresOut));

  if (options.probeEpochs > 0) {
    ProbeOptions probe;
    probe.epochs = options.probeEpochs;
    probe.trainImages = options.probeTrain;
    probe.testImages = options.probeTest;
    probe.seed = options.seed;
    probe.backend = &engine->backend();
    probe.views = augment;
    probe.augment = options.probeAugment;
    ProbeResult result;
    Clock::time_point probeStart = Clock::now();
    LOCUS_RETURN_IF_ERROR(runLinearProbe(*engine, data, probe, result, progress));
    progress(fmt::format("probe: train accuracy {:.2f}%, test accuracy {:.2f}% ({} features, {} "
                         "epochs, {:.1f} s)",
                         100 * result.trainAccuracy, 100 * result.testAccuracy, result.features,
                         probe.epochs, seconds(probeStart)));
    metrics.write(JsonWriter()
                      .add("type", "probe")
                      .add("train_acc", result.trainAccuracy)
                      .add("test_acc", result.testAccuracy)
                      .add("features", result.features)
                      .add("train_images", result.trainCount)
                      .add("test_images", result.testCount)
                      .add("epochs", probe.epochs)
                      .add("final_loss", result.finalLoss));
  }
  // The loss curves (and the probe) as an SVG beside the metrics; a run
  // that trained no step has no curve to draw.
  if (!options.metrics.empty() && !options.evalOnly && step > 0) {
    const std::string plot = defaultPlotPath(options.metrics);
    LOCUS_RETURN_IF_ERROR(writePlot(options.metrics, plot));
    progress(fmt::format("plot: {} (locus-plot {} redraws it)", plot, options.metrics));
  }
  return Status::success();
}

CompiledModel compiledModelOf(const abi::ModelRecord &record) {
  return CompiledModel{cpu::modelKernelsOf(record), record.program};
}

int trainMain(int argc, char **argv, const abi::ModelRecord &record, BackendMaker makeBackend) {
#if defined(__GLIBC__)
  // Every step frees and re-allocates the same host buffers. By default glibc
  // maps large ones fresh and trims the heap after each free, so every step
  // paid page faults on zeroed pages (~6% of a Fashion-MNIST step, perf).
  // Keep freed memory for reuse: the peak is unchanged, it is reached anyway.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  std::string program = argc > 0 ? argv[0] : "locus-train";
  ModelDesc model;
  std::string error;
  if (!readModel(record, model, error)) {
    // The file the record came from: this binary, or locus-train-model's MODEL.so.
    fmt::print(stderr, "error: {}: {}\n", program, error);
    return 1;
  }
  CompiledModel compiled = compiledModelOf(record);
  compiled.makeBackend = std::move(makeBackend);
  if (model.target == "cuda" && !compiled.makeBackend) {
    fmt::print(stderr, "error: this binary's model was compiled with --target=cuda but linked "
                       "without the CUDA runtime: link it with locusc --target=cuda -o NAME\n");
    return 1;
  }
  if (model.target != "cuda" && compiled.makeBackend) {
    fmt::print(stderr, "error: this binary's model was compiled with --target={} but linked with "
                       "the CUDA runtime: link it with locusc --target={} -o NAME\n",
               model.target, model.target);
    return 1;
  }
  // The compiled kernels run only on a CPU with the extensions they were
  // compiled for: say so instead of dying on an illegal instruction.
  std::vector<std::string> missing = missingCpuFeatures(model.cpuFeatures);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &f : missing)
      list += (list.empty() ? "" : ", ") + f;
    fmt::print(stderr,
               "error: this binary's kernels were compiled for CPU '{}' and need {}, which this "
               "CPU lacks; recompile the model with locusc --mcpu=generic (or this machine's "
               "CPU name)\n",
               model.cpu, list);
    return 1;
  }
  if (!compiled.program) {
    fmt::print(stderr, "error: this binary has no step program (an object from a locusc before "
                       "step programs): recompile the model with this locusc\n");
    return 1;
  }
  Options options;
  Status parsed = parseOptions(argc, argv, options);
  if (parsed.isOk() && options.help) {
    fmt::print("{}", helpText(program, describeModel(model)));
    return 0;
  }
  if (parsed.isOk())
    parsed = checkOptionsForModel(options, model);
  if (!parsed.isOk()) {
    fmt::print(stderr, "error: {}\n(run {} --help for the options)\n", parsed.message(), program);
    return 2;
  }
  try {
    Status status = runTraining(model, options, compiled);
    if (!status.isOk()) {
      fmt::print(stderr, "error: {}\n", status.message());
      return 1;
    }
  } catch (const std::bad_alloc &) {
    fmt::print(stderr, "error: out of memory\n");
    return 1;
  }
  return 0;
}

} // namespace locus::rt::train
