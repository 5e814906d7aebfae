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
#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/train/Options.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace locus::rt::train {

/// Makes the backend a --target=cuda model runs on, from its kernels and the
/// command line (--device, --precision); null with `error` saying why (no
/// driver, no such device).
using BackendMaker = std::function<std::unique_ptr<Backend>(
    const cpu::ModelKernels &kernels, const Options &options, std::string &error)>;

/// What locusc compiled into the model's object: the kernels and the step
/// program (required), and for a GPU model how its backend is made (the
/// CUDA binary's main brings it; null: the CPU backend).
struct CompiledModel {
  cpu::ModelKernels kernels;
  const abi::StepProgram *program = nullptr;
  BackendMaker makeBackend;
};

/// The kernels and program of a compiled model's record (abi/Model.h).
CompiledModel compiledModelOf(const abi::ModelRecord &record);

/// The binary's main on the record of the object it is linked with. A
/// --target=cuda record needs `makeBackend` (the CUDA binary's main).
int trainMain(int argc, char **argv, const abi::ModelRecord &record,
              BackendMaker makeBackend = nullptr);

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
