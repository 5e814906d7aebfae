//===- Model.h - the one record a compiled model's object exports -*- C++ -*-===//
//
// An object locusc writes exports exactly one symbol, `locus_model`: this
// record, which points at everything else the runtime needs: the model (its
// parameters with names, shapes and initialisers, its blocks with their
// layers and losses), the step program and the kernel tables. It is typed
// data, not text to parse: the runtime reads it with bounds checks
// (rt::readModel, ModelDescriptor.h). Every other symbol of
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
#include "locus/runtime/abi/PrecisionKernels.h"
#include "locus/runtime/abi/StepCalls.h"
#include "locus/runtime/backend/cpu/PoolKernels.h"
#include "locus/runtime/backend/cpu/ReluPoolKernels.h"
#include "locus/runtime/backend/cpu/UpdateKernels.h"

#include <cstdint>

namespace locus::abi {

constexpr int64_t kModelRecordVersion = 4;

/// The symbol the record is exported as.
constexpr const char *kModelSymbol = "locus_model";

// Every field below is 8 bytes (pointers, int64_t, double), so the layout
// has no padding and the compiler writes it as a plain LLVM struct. Enums
// are rt::ParamInit and rt::LayerKind; strings are NUL-terminated.

struct ParamRecord {
  const char *name;
  int64_t init;    ///< rt::ParamInit
  int64_t trained; ///< 1: the step updates it (it has optimizer state)
  int64_t fanIn;
  int64_t rank; ///< 1 to 4
  int64_t shape[4];
  const float *values; ///< rt::ParamInit::Value: its elements; else null
};

struct LayerRecord {
  int64_t kind; ///< rt::LayerKind
  int64_t weight, bias; ///< parameter indices, -1: none
  int64_t kernel[2], stride[2], pad[4], poolKernel[2], poolStride[2];
  double eps;
  int64_t inShape[4], outShape[4];
  double scale, biasScale; ///< rt::LayerDesc's
};

/// The block's #locus.loss, spelled as the dialect spells it (for logs and
/// checks; the step program computes it).
struct LossRecord {
  const char *rule, *score, *f, *form, *projection, *context, *negatives, *mode;
  int64_t contextBlock, pool, contextPool;
  double theta, theta2, lambda, temperature, weight;
  int64_t dim, contextDim; ///< D of the loss (the block's feature width) and of its context
};

struct BlockRecord {
  const char *name;
  int64_t outShape[4];
  int64_t projection, lateralProjection; ///< parameter indices, -1: none
  const LayerRecord *layers;
  int64_t layerCount;
  /// rt::BlockDesc::inputLayers: applied to the input before `layers` when
  /// the block computes features.
  const LayerRecord *inputLayers;
  int64_t inputLayerCount;
  LossRecord loss;
};

struct ModelRecord {
  int64_t version;
  const char *name, *target;
  /// The CPU the kernels were compiled for and the checked ISA extensions it
  /// has (CpuFeatures.h): the binary refuses a CPU without them.
  const char *cpu;
  const char *const *cpuFeatures;
  int64_t cpuFeatureCount;
  int64_t inputShape[4]; ///< [views, C, H, W]
  const ParamRecord *params;
  int64_t paramCount;
  const BlockRecord *blocks;
  int64_t blockCount;
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
  const PrecisionKernels *precision;
};

} // namespace locus::abi

#endif
