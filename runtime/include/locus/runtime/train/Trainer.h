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
#include "locus/runtime/cpu/ReluPoolKernels.h"
#include "locus/runtime/cpu/UpdateKernels.h"
#include "locus/runtime/train/Options.h"

#include <cstdint>
#include <string>

namespace locus::rt::train {

/// `kernels`, `poolKernels`, `reluPoolKernels`: the optimizer updates, loss
/// poolings and relu + max-pool epilogues compiled into the model's object.
int trainMain(int argc, char **argv, const unsigned char *blob, unsigned long long size,
              const cpu::UpdateKernels &kernels, const cpu::LossPoolKernels &poolKernels,
              const cpu::ReluPoolKernels &reluPoolKernels);

/// Checks the options against the compiled model (batch size); an error here
/// is a command-line error.
Status checkOptionsForModel(const Options &options, const ModelDesc &model);

/// Everything after option parsing; `kernels` null uses the runtime's own
/// optimizer updates.
Status runTraining(const ModelDesc &model, const Options &options,
                   const cpu::UpdateKernels *kernels = nullptr,
                   const cpu::LossPoolKernels *poolKernels = nullptr,
                   const cpu::ReluPoolKernels *reluPoolKernels = nullptr);

/// One line describing the compiled model, for --help and the log.
std::string describeModel(const ModelDesc &model);

} // namespace locus::rt::train

#endif
