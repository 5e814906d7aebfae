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

} // namespace locus::rt::train

#endif
