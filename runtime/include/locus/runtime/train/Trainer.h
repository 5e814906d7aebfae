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
#include "locus/runtime/cpu/PoolKernels.h"
#include "locus/runtime/abi/ActivationKernels.h"
#include "locus/runtime/abi/GoodnessInputKernels.h"
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/cpu/ReluPoolKernels.h"
#include "locus/runtime/cpu/UpdateKernels.h"
#include "locus/runtime/train/Options.h"

#include <cstdint>
#include <string>

namespace locus::rt::train {

/// The kernels locusc compiled into the model's object (CompiledKernels.h
/// fills it in a training binary). A null table is one the program was not
/// linked with: tests that link no model run the runtime's own updates,
/// poolings and epilogues; the bilinear rules have no such fallback.
struct CompiledKernels {
  const cpu::UpdateKernels *update = nullptr;
  const cpu::LossPoolKernels *lossPools = nullptr;
  const cpu::ReluPoolKernels *reluPools = nullptr;
  const abi::LossKernels *losses = nullptr;
  const abi::ActivationKernels *activations = nullptr;
  const abi::PoolingKernels *pooling = nullptr;
  const abi::GoodnessInputKernels *goodnessInputs = nullptr;
};

int trainMain(int argc, char **argv, const unsigned char *blob, unsigned long long size,
              const CompiledKernels &kernels);

/// Checks the options against the compiled model (batch size); an error here
/// is a command-line error.
Status checkOptionsForModel(const Options &options, const ModelDesc &model);

/// Everything after option parsing.
Status runTraining(const ModelDesc &model, const Options &options,
                   const CompiledKernels &kernels = {});

/// One line describing the compiled model, for --help and the log.
std::string describeModel(const ModelDesc &model);

} // namespace locus::rt::train

#endif
