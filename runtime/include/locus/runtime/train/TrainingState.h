//===- TrainingState.h - a run's whole state, to resume it exactly -*- C++ -*-===//
//
// A training-state checkpoint is a safetensors file (Checkpoint.h) holding
// every parameter under its name, the optimizer's state of every trained
// one (`optimizer.m.<name>`, `optimizer.v.<name>`: float32, or BF16 for
// bfloat16 moments) and, in its metadata, the step reached and the run's
// configuration. Everything else a step depends on (the data order, the
// views, the random negatives, the rounding bits) is a function of the seed
// and the step, so a run resumed from it continues bit for bit as the
// uninterrupted run would have.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_TRAININGSTATE_H
#define LOCUS_RUNTIME_TRAIN_TRAININGSTATE_H

#include "locus/runtime/Error.h"
#include "locus/runtime/train/Engine.h"

#include <deque>
#include <map>
#include <string>

namespace locus::rt::train {

/// What must match for a checkpoint to resume a run: the model, the
/// optimizer and its state format, the seed and the batch (name -> value).
using RunConfig = std::map<std::string, std::string>;

/// Writes the engine's parameters, optimizer state and `step` to `path`
/// (a temporary file, fsync, rename: a crash leaves the last one whole).
Status saveTrainingState(const std::string &path, Engine &engine, const RunConfig &config,
                         int64_t step);

/// Restores what saveTrainingState wrote into the engine (and its steps
/// taken), checking the configuration and every tensor's name, dtype and
/// shape first: a mismatch names it and changes nothing. `step` is the step
/// the run continues after.
Status loadTrainingState(const std::string &path, Engine &engine, const RunConfig &config,
                         int64_t &step);

/// A run's checkpoints: the newest training state at `path`, and with
/// keep > 1 the keep - 1 before it as `path.step<N>`. Each new state is
/// written whole before any older file is renamed or removed, so a failed
/// write changes none of them.
class CheckpointWriter {
public:
  /// `resumedFrom`/`resumedStep`: the checkpoint the run continued (or
  /// empty / -1), the last good state until this writer writes one.
  CheckpointWriter(std::string path, int64_t keep, std::string resumedFrom, int64_t resumedStep)
      : path_(std::move(path)), keep_(keep), last_(std::move(resumedFrom)),
        lastStep_(resumedStep) {}
  Status write(Engine &engine, const RunConfig &config, int64_t step);
  /// The newest good checkpoint and its step (-1: none yet).
  const std::string &last() const { return last_; }
  int64_t lastStep() const { return lastStep_; }

private:
  std::string path_;
  int64_t keep_;
  std::string last_;
  int64_t lastStep_;
  std::deque<std::string> kept_; ///< the older ones, oldest first
};

} // namespace locus::rt::train

#endif
