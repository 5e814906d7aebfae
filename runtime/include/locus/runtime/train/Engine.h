//===- Engine.h - the block-by-block training engine (CPU) ------*- C++ -*-===//
//
// Runs the step program locusc generated for the model (abi/StepCalls.h,
// EngineOptions::program): parameters, optimizer state and the one arena
// are the engine's, every call of the program goes to its Backend. The
// program decides everything a rule does; the engine holds no rule.
//
// What the program does (DESIGN.md "Execution model"): in the local mode
// each block runs forward, computes its local loss and gradient,
// backpropagates inside itself only (never into its input), updates W, b
// and B, and its buffers are dead before the next block starts; only its
// detached output travels on. Direct feedback ("top"/"both" context) first
// runs a forward-only pass that keeps nothing but the pooled context. The
// global mode (backprop baselines) keeps every block's activations, puts the
// loss on the top block only, and backpropagates end to end.
//
// All blocks see the parameters as they were at the start of the step (a
// block's output is computed before its update), which is exactly the
// official code's "sum the losses, one backward, one optimizer step".
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_ENGINE_H
#define LOCUS_RUNTIME_TRAIN_ENGINE_H

#include "locus/runtime/Error.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/train/Schedule.h"
#include "locus/runtime/train/Tensor.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace locus::rt::train {

enum class OptimizerKind { AdamW, Sgd, Lars };

struct EngineOptions {
  OptimizerKind kind = OptimizerKind::AdamW;
  AdamW optimizer; ///< lr 2e-4, weight decay 0 by default (METHOD.md §2)
  /// AdamW's moments in float32 (PyTorch's), or in bfloat16 with stochastic
  /// rounding: half the optimizer state, for the large projections.
  MomentFormat moments = MomentFormat::Float32;
  SgdMomentum sgd; ///< SGD with momentum; LARS when kind is Lars
  LrSchedule schedule;  ///< the learning rate of each step (base = optimizer.lr)
  /// Per parameter, the factor on the scheduled rate (--block-lr); empty:
  /// 1 for every parameter.
  std::vector<double> lrScale;
  uint64_t seed = 0;    ///< parameter initialisation and random negatives
  /// The kernels compiled into the model's object (ModelKernels.h): the
  /// training binary has all of them; only the static-shape pooling tables
  /// may be null (the general pooling kernels then run). The engine runs
  /// them on a CPU backend it makes, after checking them against the model.
  cpu::ModelKernels kernels;
  /// Or the backend to run on (then `kernels` is not read).
  std::shared_ptr<Backend> backend;
  /// The step program locusc generated for the model (abi/StepCalls.h):
  /// every training, gradient, evaluation and features step runs it.
  /// Required.
  const abi::StepProgram *program = nullptr;
};

/// Receives each trained parameter's gradient of a step (before any update).
using GradientObserver = std::function<void(int32_t param, const Tensor &grad)>;

class Engine {
public:
  /// Checks the program and kernels, allocates and initialises the parameters from
  /// options.seed (PyTorch's default init: U(+-1/sqrt(fan_in))) and the
  /// AdamW state of every trained parameter.
  static Status create(const ModelDesc &model, const EngineOptions &options,
                       std::unique_ptr<Engine> &out);
  ~Engine();

  const ModelDesc &model() const { return model_; }
  /// The views of one step (N = 2B) and their shape [N, C, H, W].
  Shape4 viewShape() const;
  int64_t stepsTaken() const { return steps_; }

  /// One training step on views [N, C, H, W] (X = [v1; v2]). losses[l] is
  /// block l's loss; NaN for a block whose loss is not optimised (the lower
  /// blocks in global mode).
  Status step(const Tensor &views, std::vector<double> &losses);
  /// The same computation as step() without any update: every trained
  /// parameter's gradient goes to `observer` (the local mode calls it block
  /// by block, before that block's tensors are released).
  Status gradients(const Tensor &views, const GradientObserver &observer,
                   std::vector<double> &losses);
  /// Loss values only (held-out evaluation); `drawIndex` fixes the random
  /// negatives so repeated evaluations compare.
  Status evaluate(const Tensor &views, std::vector<double> &losses, uint64_t drawIndex = 0);

  /// Frozen-encoder features (METHOD.md §5): every block's output pooled
  /// with its own loss kernel, flattened, concatenated: out is [n, F] for
  /// images [n, C, H, W] (any n).
  int64_t featureCount() const;
  Status features(const Tensor &images, float *out);

  /// The optimizer's state of a trained parameter, in the backend's memory:
  /// which = 0 AdamW's first moment (SGD/LARS: the momentum), 1 its second;
  /// an undefined tensor where there is none. Bfloat16 moments are packed two
  /// to a float (the tensor's floats are their bits).
  const Tensor &optimizerState(int32_t param, int which) const {
    return which == 0 ? adamM_[param] : adamV_[param];
  }
  /// Resuming a run: the steps already taken (AdamW's bias correction, the
  /// schedule and the random streams continue from there).
  void setStepsTaken(int64_t steps) { steps_ = steps; }

  const std::vector<Tensor> &params() const { return params_; }
  Tensor &param(int32_t index) { return params_[index]; }
  bool trained(int32_t index) const { return trained_[index]; }
  /// The tracker every tensor of this engine is charged to.
  MemoryTracker &memory();
  /// What the engine runs its calls on.
  Backend &backend() { return *backend_; }
  /// The arena the step program's plan needs for this engine's optimizer:
  /// the training entry point's and the evaluation's, whichever is larger.
  int64_t plannedArenaBytes() const;
  /// The compiler's plan of this engine's peak (StepProgram): the resident
  /// bytes for its optimizer, the primitives' workspace and the arena; on a
  /// backend that chooses its convolutions at run time (cuDNN), their
  /// workspace as it chose it before the first step.
  int64_t plannedPeakBytes() const;
  /// That backend-chosen workspace (0 on the CPU, whose the compiler plans).
  int64_t reservedWorkspaceBytes() const { return reservedWorkspace_; }
  /// The number of steps the learning-rate schedule spans (known once the
  /// data and the step limit are).
  void setScheduleLength(int64_t totalSteps) { options_.schedule.totalSteps = totalSteps; }
  void setWarmupSteps(int64_t steps) { options_.schedule.warmupSteps = steps; }
  const std::shared_ptr<MemoryTracker> &memoryHandle() const;

private:
  friend struct StepContext;
  enum class Phase { Train, Gradients, Evaluate };
  Engine(const ModelDesc &model, const EngineOptions &options);
  void initParameters();
  Status run(const Tensor &views, Phase phase, const GradientObserver *observer,
             std::vector<double> &losses, uint64_t negativesSeed);
  /// The arena for an entry point that needs `bytes` (it grows only when a
  /// gradient check runs the larger unfused program).
  void reserveArena(int64_t bytes);
  /// Every convolution of the model, as the step program runs them.
  std::vector<Backend::ConvolutionShape> convolutions() const;
  /// AdamW at this step's scheduled learning rate for parameter `param`.
  AdamW scheduledAdamW(int32_t param) const;
  /// Where parameter `param`'s AdamW moments are (float32 or bfloat16).
  AdamMoments momentsOf(int32_t param);
  /// The optimizer's step on one trained parameter with its whole gradient.
  void updateOne(int32_t param, const float *grad);

  ModelDesc model_;
  EngineOptions options_;
  std::shared_ptr<Backend> backend_;
  int64_t steps_ = 0;
  std::vector<Tensor> params_, adamM_, adamV_;
  std::vector<bool> trained_;
  Tensor arena_;                 ///< the step program's buffers
  int64_t reservedWorkspace_ = 0; ///< Backend::reserveConvolutions
  std::vector<char> lossSeen_;   ///< per block: a loss term added this step
};

} // namespace locus::rt::train

#endif
