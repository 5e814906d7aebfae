#include "locus/runtime/train/Engine.h"

#include "StepContext.h"
#include "locus/runtime/backend/cpu/CpuBackend.h"
#include "locus/runtime/train/Random.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <vector>

namespace locus::rt::train {

namespace {

constexpr double kNoLoss = std::numeric_limits<double>::quiet_NaN();

} // namespace

Engine::Engine(const ModelDesc &model, const EngineOptions &options)
    : model_(model), options_(options) {}

Engine::~Engine() = default;

MemoryTracker &Engine::memory() { return *backend_->memory(); }
const std::shared_ptr<MemoryTracker> &Engine::memoryHandle() const { return backend_->memory(); }

Shape4 Engine::viewShape() const {
  const auto &s = model_.inputShape;
  return Shape4{s[0], s[1], s[2], s[3]};
}

Status Engine::create(const ModelDesc &model, const EngineOptions &options,
                      std::unique_ptr<Engine> &out) {
  if (model.blocks.empty())
    return Status::error("the model has no blocks");
  if (!options.program)
    return Status::error("the model has no step program: recompile it with this locusc");
  if (options.moments == MomentFormat::BFloat16 && options.kind != OptimizerKind::AdamW)
    return Status::error("bfloat16 optimizer state is for AdamW's moments; SGD and LARS keep "
                         "their momentum in float32");
  if (options.program->version != abi::kStepProgramVersion)
    return Status::error(fmt::format("the model's step program has version {}, this runtime "
                                     "runs version {}: relink the binary with this locusc",
                                     options.program->version, abi::kStepProgramVersion));
  std::unique_ptr<Engine> engine(new Engine(model, options));
  if (options.backend) {
    engine->backend_ = options.backend;
  } else {
    if (!options.kernels.update)
      return Status::error("the compiled model has no update kernels; recompile it with this "
                           "locusc");
    engine->backend_ = cpu::makeCpuBackend(options.kernels);
  }
  engine->initParameters();
  engine->lossSeen_.assign(model.blocks.size(), 0);
  // The one arena of every step, sized by the compiler's plan, allocated
  // once: a step allocates nothing. The same for cuDNN's workspace.
  engine->reserveArena(engine->plannedArenaBytes());
  engine->reservedWorkspace_ = engine->backend_->reserveConvolutions(engine->convolutions());
  out = std::move(engine);
  return Status::success();
}

void Engine::initParameters() {
  size_t count = model_.params.size();
  // Which parameters the step trains, and so keep optimizer state, is the
  // compiler's (the descriptor's trained flags).
  trained_.assign(count, false);
  for (size_t i = 0; i < count; ++i)
    trained_[i] = model_.params[i].trained;

  params_.resize(count);
  adamM_.resize(count);
  adamV_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const ParamDesc &p = model_.params[i];
    Shape4 shape{p.count(), 1, 1, 1};
    Tensor t = backend_->allocate(shape);
    // Drawn on the host, then copied into the backend's memory (a GPU's).
    std::vector<float> host(static_cast<size_t>(shape.n));
    float *data = host.data();
    switch (p.init) {
    case ParamInit::KaimingUniform:
    case ParamInit::FanInUniform: {
      // Kaiming-uniform with a = sqrt(5) reduces to the same bound as
      // PyTorch's bias init: 1/sqrt(fan_in). One stream per parameter, so
      // adding a parameter does not change the others' values.
      double bound = 1.0 / std::sqrt(static_cast<double>(p.fanIn));
      Rng rng(mixSeed(options_.seed, Stream::Init, i));
      for (int64_t k = 0; k < shape.n; ++k)
        data[k] = static_cast<float>(rng.uniform(-bound, bound));
      break;
    }
    case ParamInit::Zeros:
      std::memset(data, 0, sizeof(float) * shape.n);
      break;
    case ParamInit::Value:
      std::memcpy(data, p.value.data(), sizeof(float) * shape.n);
      break;
    }
    backend_->copyToDevice(t.data(), data, static_cast<int64_t>(sizeof(float)) * shape.n);
    params_[i] = t;
    if (trained_[i]) {
      // AdamW keeps two moments, SGD and LARS one momentum buffer; bfloat16
      // moments take half the floats (zero bits are bfloat16 zeros too).
      Shape4 state = shape;
      if (options_.moments == MomentFormat::BFloat16)
        state.n = (shape.n + 1) / 2;
      adamM_[i] = backend_->zeros(state);
      if (options_.kind == OptimizerKind::AdamW)
        adamV_[i] = backend_->zeros(state);
    }
  }
}

Status Engine::step(const Tensor &views, std::vector<double> &losses) {
  return run(views, Phase::Train, nullptr, losses, mixSeed(options_.seed, Stream::Negatives, steps_));
}

Status Engine::gradients(const Tensor &views, const GradientObserver &observer,
                         std::vector<double> &losses) {
  return run(views, Phase::Gradients, &observer, losses,
             mixSeed(options_.seed, Stream::Negatives, steps_));
}

Status Engine::evaluate(const Tensor &views, std::vector<double> &losses, uint64_t drawIndex) {
  return run(views, Phase::Evaluate, nullptr, losses,
             mixSeed(options_.seed, Stream::HeldOut, drawIndex));
}

int64_t Engine::plannedPeakBytes() const {
  const abi::StepProgram &p = *options_.program;
  const int64_t resident = options_.kind != OptimizerKind::AdamW ? p.residentSgdBytes
                           : options_.moments == MomentFormat::BFloat16
                               ? p.residentAdamWBf16Bytes
                               : p.residentAdamWBytes;
  return resident + p.workspaceBytes + reservedWorkspace_ + plannedArenaBytes();
}

std::vector<Backend::ConvolutionShape> Engine::convolutions() const {
  // The training steps may run every block on more rows than the views
  // (FF, SCFF: their negatives below), the probe's features on the views;
  // global mode also forms every convolution's data gradient.
  const int64_t rowsPerView = options_.program->rowsPerView;
  const bool global = model_.blocks.back().loss.mode == "global";
  std::vector<Backend::ConvolutionShape> out;
  for (const BlockDesc &block : model_.blocks)
    for (const LayerDesc &layer : block.layers) {
      if (!hasConvWeights(layer.kind))
        continue;
      Backend::ConvolutionShape c;
      c.x = Shape4{layer.inShape[0], layer.inShape[1], layer.inShape[2], layer.inShape[3]};
      c.outChannels = layer.outShape[1];
      c.window = Window{layer.kernel[0], layer.kernel[1], layer.stride[0], layer.stride[1],
                        layer.pad[0], layer.pad[1], layer.pad[2], layer.pad[3]};
      c.dataGradient = global;
      out.push_back(c);
      if (rowsPerView > 1) {
        c.x.n *= rowsPerView;
        out.push_back(c);
      }
    }
  return out;
}

Status Engine::run(const Tensor &views, Phase phase, const GradientObserver *observer,
                   std::vector<double> &losses, uint64_t negativesSeed) {
  Shape4 vs = viewShape();
  if (!views.defined() || views.count() != vs.count())
    return Status::error(fmt::format(
        "the step's views have {} values, the model takes [{}, {}, {}, {}] = {}", views.count(),
        vs.n, vs.c, vs.h, vs.w, vs.count()));
  // The program adds each loss term into its block's entry (addLoss); a
  // block it computes no loss for (below the top in global mode) keeps NaN.
  losses.assign(model_.blocks.size(), kNoLoss);
  if (phase == Phase::Train)
    ++steps_;
  const Tensor input = views.reshaped(vs);
  const abi::StepProgram &program = *options_.program;
  const bool fused = phase == Phase::Train && options_.kind == OptimizerKind::AdamW;
  auto *entry = phase == Phase::Evaluate ? program.evaluate
                : fused                  ? program.trainFused
                                         : program.train;
  const int64_t bytes = phase == Phase::Evaluate ? program.evaluateArenaBytes
                        : fused                  ? program.trainFusedArenaBytes
                                                 : program.trainArenaBytes;
  reserveArena(bytes);
  StepContext context;
  context.engine = this;
  context.backend = backend_.get();
  context.losses = &losses;
  std::fill(lossSeen_.begin(), lossSeen_.end(), 0);
  context.lossSeen = lossSeen_.data();
  context.negativesSeed = negativesSeed;
  context.observer = phase == Phase::Gradients ? observer : nullptr;
  abi::Buf4 in{input.data(), input.data(), 0, {vs.n, vs.c, vs.h, vs.w},
               {vs.c * vs.h * vs.w, vs.h * vs.w, vs.w, 1}};
  auto *base = reinterpret_cast<uint8_t *>(arena_.data());
  abi::Bytes arena{base, base, 0, {bytes}, {1}};
  entry(&context, &in, &arena);
  return Status::success();
}

void Engine::reserveArena(int64_t bytes) {
  if (static_cast<int64_t>(sizeof(float)) * arena_.count() >= bytes)
    return;
  arena_.reset();
  arena_ = backend_->allocate(Shape4{(bytes + 3) / 4, 1, 1, 1});
}

AdamMoments Engine::momentsOf(int32_t param) {
  AdamMoments moments;
  if (options_.moments == MomentFormat::BFloat16) {
    // Tensors hold floats; these two hold bfloat16 pairs, only ever read as such.
    moments.mBf16 = reinterpret_cast<BFloat16 *>(adamM_[param].data());
    moments.vBf16 = reinterpret_cast<BFloat16 *>(adamV_[param].data());
    moments.stream = mixSeed(options_.seed, Stream::Rounding, static_cast<uint64_t>(param));
  } else {
    moments.m = adamM_[param].data();
    moments.v = adamV_[param].data();
  }
  return moments;
}

AdamW Engine::scheduledAdamW(int32_t param) const {
  AdamW adam = options_.optimizer;
  adam.lr = options_.schedule.at(std::max<int64_t>(steps_ - 1, 0)); // steps_ counts from 1 here
  if (static_cast<size_t>(param) < options_.lrScale.size())
    adam.lr *= options_.lrScale[param];
  return adam;
}

void Engine::updateOne(int32_t i, const float *grad) {
  if (!trained_[i])
    return;
  const int64_t count = params_[i].count();
  AdamW adam = scheduledAdamW(i);
  if (options_.kind == OptimizerKind::AdamW) {
    backend_->adamwStep(adam, steps_, count, params_[i].data(), grad, momentsOf(i));
    return;
  }
  SgdMomentum sgd = options_.sgd;
  sgd.lr = adam.lr;
  sgd.lars = options_.kind == OptimizerKind::Lars;
  const bool adapt = model_.params[i].shape.size() > 1; // LARS: matrices and kernels, not biases
  backend_->sgdStep(sgd, count, params_[i].data(), grad, adamM_[i].data(), adapt);
}

int64_t Engine::plannedArenaBytes() const {
  const abi::StepProgram *p = options_.program;
  int64_t train =
      options_.kind == OptimizerKind::AdamW ? p->trainFusedArenaBytes : p->trainArenaBytes;
  return std::max(train, p->evaluateArenaBytes);
}

int64_t Engine::featureCount() const {
  int64_t total = 0;
  for (const BlockDesc &block : model_.blocks)
    total += block.loss.dim; // each block's output pooled with its loss kernel
  return total;
}

Status Engine::features(const Tensor &images, float *out) {
  const Shape4 vs = viewShape(), is = images.shape();
  if (is.c != vs.c || is.h != vs.h || is.w != vs.w)
    return Status::error(fmt::format("probe images are [{}, {}, {}, {}], the model takes [n, {}, "
                                     "{}, {}]",
                                     is.n, is.c, is.h, is.w, vs.c, vs.h, vs.w));
  // The program's features entry takes N images (the views of a step): run
  // it chunk by chunk, the last chunk padded with zero images.
  const abi::StepProgram &program = *options_.program;
  const int64_t total = featureCount(), image = vs.c * vs.h * vs.w;
  const int64_t bytes = program.featuresArenaBytes;
  reserveArena(bytes);
  Tensor chunk = backend_->zeros(vs), features = backend_->allocate(Shape4{vs.n, total, 1, 1});
  StepContext context;
  context.engine = this;
  context.backend = backend_.get();
  abi::Buf4 in{chunk.data(), chunk.data(), 0, {vs.n, vs.c, vs.h, vs.w},
               {image, vs.h * vs.w, vs.w, 1}};
  abi::Buf2 result{features.data(), features.data(), 0, {vs.n, total}, {total, 1}};
  auto *base = reinterpret_cast<uint8_t *>(arena_.data());
  abi::Bytes arena{base, base, 0, {bytes}, {1}};
  for (int64_t first = 0; first < is.n; first += vs.n) {
    const int64_t n = std::min(vs.n, is.n - first);
    backend_->copyToDevice(chunk.data(), images.data() + first * image,
                           static_cast<int64_t>(sizeof(float)) * n * image);
    if (n < vs.n)
      backend_->fillZero(chunk.data() + n * image, (vs.n - n) * image);
    program.features(&context, &in, &result, &arena);
    backend_->copyToHost(out + first * total, features.data(),
                         static_cast<int64_t>(sizeof(float)) * n * total);
  }
  return Status::success();
}

} // namespace locus::rt::train
