//===- ModelKernels.h - every kernel table of a compiled model --*- C++ -*-===//
//
// What locusc compiled into a model's object, as the runtime receives it: a
// training binary's main fills it from the object (CompiledKernels.h), the
// trainer hands it to the engine, the engine to each kernel call. Only the
// static-shape pooling tables may be null (the general pooling kernels serve
// their layers); Engine::create names any other table that is missing.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_MODELKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_MODELKERNELS_H

#include "locus/runtime/abi/ActivationKernels.h"
#include "locus/runtime/abi/Model.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/abi/PrecisionKernels.h"
#include "locus/runtime/backend/cpu/PoolKernels.h"
#include "locus/runtime/backend/cpu/ReluPoolKernels.h"
#include "locus/runtime/backend/cpu/UpdateKernels.h"

namespace locus::rt::cpu {

struct ModelKernels {
  const UpdateKernels *update = nullptr;
  const LossPoolKernels *lossPools = nullptr; ///< null: the general average pooling
  const ReluPoolKernels *reluPools = nullptr; ///< null: the general relu + max-pool
  const abi::ActivationKernels *activations = nullptr;
  const abi::PoolingKernels *pooling = nullptr;
  const abi::PrecisionKernels *precision = nullptr; ///< float32 <-> bfloat16 (the GPU's bf16)
};

/// A compiled model's tables (they point into its record, which lives as
/// long as its object is loaded).
inline ModelKernels modelKernelsOf(const abi::ModelRecord &model) {
  ModelKernels kernels;
  kernels.update = &model.update;
  kernels.lossPools = &model.lossPools;
  kernels.reluPools = &model.reluPools;
  kernels.activations = model.activations;
  kernels.pooling = model.pooling;
  kernels.precision = model.precision;
  return kernels;
}

} // namespace locus::rt::cpu

#endif
