//===- Model.h - the one record a compiled model's object exports -*- C++ -*-===//
//
// An object locusc writes exports exactly one symbol, `locus_model`: this
// record, which points at everything else the runtime needs (the model
// descriptor, the step program, the kernel tables). Every other symbol of
// the object is hidden, so objects of several models can live in one process
// (the unit tests dlopen one shared library per test model) and a training
// binary finds its model the same way a loader does.
//
// The layout is the compiler's (lib/Target/ObjectEmitter.cpp builds it as an
// LLVM constant) and the runtime's; kModelRecordVersion guards it: raise it
// with every change of this struct or of a record it points to.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_MODEL_H
#define LOCUS_RUNTIME_ABI_MODEL_H

#include "locus/runtime/abi/ActivationKernels.h"
#include "locus/runtime/abi/GoodnessInputKernels.h"
#include "locus/runtime/abi/LossKernels.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/backend/cpu/PoolKernels.h"
#include "locus/runtime/backend/cpu/ReluPoolKernels.h"
#include "locus/runtime/backend/cpu/UpdateKernels.h"

#include <cstdint>

namespace locus::abi {

constexpr int64_t kModelRecordVersion = 1;

/// The symbol the record is exported as.
constexpr const char *kModelSymbol = "locus_model";

struct ModelRecord {
  int64_t version;
  /// The model descriptor (ModelDescriptor.h's text format).
  const unsigned char *descriptor;
  int64_t descriptorSize;
  /// The generated training step (StepCalls.h).
  const StepProgram *program;
  /// The generated kernels the program's calls launch. The static-shape
  /// tables may be empty, the others are null where the model has no use
  /// for them (e.g. no InfoNCE loss).
  rt::cpu::UpdateKernels update;
  rt::cpu::LossPoolKernels lossPools;
  rt::cpu::ReluPoolKernels reluPools;
  LossKernels losses;
  const ActivationKernels *activations;
  const PoolingKernels *pooling;
  const GoodnessInputKernels *goodnessInputs;
};

} // namespace locus::abi

#endif
