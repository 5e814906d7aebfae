//===- Trainer.h - what a compiled training binary does ---------*- C++ -*-===//
//
// trainMain is the binary's whole `main`: read the embedded descriptor and
// the command line, then train (Engine), evaluate (held-out local losses,
// linear probe), checkpoint and log. Exit status: 0 done, 1 runtime error,
// 2 bad command line.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_TRAIN_TRAINER_H
#define LOCUS_RUNTIME_TRAIN_TRAINER_H

#include "locus/runtime/Error.h"
#include "locus/runtime/ModelDescriptor.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/train/Options.h"

#include <cstdint>
#include <string>

namespace locus::rt::train {

/// What locusc compiled into the model's object: the kernels and the step
/// program (required).
struct CompiledModel {
  cpu::ModelKernels kernels;
  const abi::StepProgram *program = nullptr;
};

/// The kernels and program of a compiled model's record (abi/Model.h).
CompiledModel compiledModelOf(const abi::ModelRecord &record);

/// The binary's main on the record of the object it is linked with.
int trainMain(int argc, char **argv, const abi::ModelRecord &record);

/// Checks the options against the compiled model (batch size); an error here
/// is a command-line error.
Status checkOptionsForModel(const Options &options, const ModelDesc &model);

/// Everything after option parsing.
Status runTraining(const ModelDesc &model, const Options &options,
                   const CompiledModel &compiled);

/// One line describing the compiled model, for --help and the log.
std::string describeModel(const ModelDesc &model);

} // namespace locus::rt::train

#endif
