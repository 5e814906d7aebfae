//===- Options.h - the training binary's command line ----------*- C++ -*-===//
#ifndef LOCUS_RUNTIME_TRAIN_OPTIONS_H
#define LOCUS_RUNTIME_TRAIN_OPTIONS_H

#include "locus/runtime/Error.h"
#include "locus/runtime/train/Data.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace locus::rt::train {

struct Options {
  DataSpec data;
  bool dataGiven = false;
  int64_t epochs = 1;
  int64_t maxSteps = -1;        ///< -1: no limit
  int64_t batchSize = -1;       ///< images; -1: the compiled views / 2
  std::optional<double> lr;     ///< default: 2e-4 for AdamW, 0.1 for SGD and LARS
  /// `--block-lr NAME=LR,...`: a block's own base rate (its layers' weights
  /// and its projections), scheduled as --lr is.
  std::vector<std::pair<std::string, double>> blockLr;
  double weightDecay = 0.0;
  std::string optimizer = "adamw"; ///< adamw, sgd, lars
  std::string optimizerState = "float32"; ///< adamw's moments: float32, bfloat16
  double momentum = 0.9, larsTrust = 1e-3;
  std::string schedule = "constant"; ///< constant, cosine
  int64_t warmupSteps = 0;
  int64_t warmupEpochs = 0; ///< added to warmupSteps once the epoch length is known
  double minLr = 0.0;
  uint64_t seed = 0;
  std::string init, save, metrics, fixedBatch;
  /// `--export-onnx FILE`: the encoder as a standard ONNX model (OnnxExport.h).
  std::string exportOnnx;
  /// `--features-of IN --features-out OUT`: the probe's features of the
  /// normalised float32 images [N, C, H, W] in IN, as float32 [N, F] in OUT.
  std::string featuresOf, featuresOut;
  /// Training-state checkpoints (TrainingState.h): written to `checkpoint`
  /// every `checkpointEvery` steps and at the last; `resume` continues one.
  std::string checkpoint, resume;
  int64_t checkpointEvery = 0;
  /// How many training-state checkpoints stay: `checkpoint` is the newest,
  /// the K - 1 before it stay as `checkpoint.step<N>`.
  int64_t keepCheckpoints = 1;
  /// A non-finite block loss: "stop" (name the step, block and last good
  /// checkpoint; exit 1) or "skip" (say so, write no checkpoint of that
  /// step, go on).
  std::string onNonfinite = "stop";
  int64_t probeEpochs = 10;     ///< 0 skips the probe
  int64_t probeTrain = -1, probeTest = -1;
  bool probeAugment = false; ///< the paper's per-epoch crop + flip probe views
  int64_t heldOut = 512;        ///< test images for the held-out loss; 0 skips it
  int64_t logEvery = 50;
  /// --target=cuda binaries: the GPU and the precision of its convolutions
  /// and GEMMs (tf32: TF32 tensor cores, PyTorch's default for convolutions;
  /// fp32: full float32). -1 / empty: not given (a CPU binary refuses both).
  int64_t device = -1;
  std::string precision;
  /// No training: the held-out losses and the probe of the weights
  /// --init or --resume loads (or of the initial ones).
  bool evalOnly = false;
  bool help = false;
  /// The view options (Augment.h) in command-line order, applied over the
  /// data set's default views once it is loaded.
  std::vector<std::pair<std::string, std::string>> viewOptions;
  /// Threads rendering views ahead of the step (ViewPipeline.h); -1: chosen
  /// by the target (1 on the CPU, up to 4 beside a GPU).
  int64_t workers = -1;
  /// `--preset NAME`: the options it stood for, as they were applied.
  std::string preset;
  std::vector<std::string> presetArgs;
};

/// `--preset NAME`: METHOD.md §5's protocol for a data set as command-line
/// options, which options given after it override. Empty if NAME is unknown.
std::vector<std::string> presetOptions(const std::string &name);

/// Parses argv. On a bad option returns an error saying which and why.
Status parseOptions(int argc, const char *const *argv, Options &out);

/// The --help text; `modelLine` describes the compiled model (may be empty).
std::string helpText(const std::string &program, const std::string &modelLine);

} // namespace locus::rt::train

#endif
