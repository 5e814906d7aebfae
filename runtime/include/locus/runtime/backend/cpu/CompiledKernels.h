//===- CompiledKernels.h - the kernels in a model's object -------*- C++ -*-===//
//
// The C entry points that locus-generate-update-kernels emits (with
// llvm.emit_c_interface) into the object locusc writes, and the tables of
// locus-generate-pool-kernels' loss poolings, locus-generate-relu-pool-kernels'
// block epilogues and the loss kernels (abi/LossKernels.h). Only a
// program linked with such an object may call these functions: the training
// binary's main and the tests of the compiled kernels.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_COMPILEDKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_COMPILEDKERNELS_H

#include "locus/runtime/backend/cpu/ModelKernels.h"

extern "C" {
void _mlir_ciface_locus_adamw_update(locus::rt::cpu::MemRefF32 *, locus::rt::cpu::MemRefF32 *,
                                     locus::rt::cpu::MemRefF32 *, locus::rt::cpu::MemRefF32 *,
                                     float, float, float, float, float, float, float, float);
void _mlir_ciface_locus_adamw_bf16_update(locus::rt::cpu::MemRefF32 *,
                                          locus::rt::cpu::MemRefF32 *,
                                          locus::rt::cpu::MemRefBf16 *,
                                          locus::rt::cpu::MemRefBf16 *, float, float, float,
                                          float, float, float, float, float, uint32_t, int64_t);
void _mlir_ciface_locus_sgd_update(locus::rt::cpu::MemRefF32 *, locus::rt::cpu::MemRefF32 *,
                                   locus::rt::cpu::MemRefF32 *, float, float, float, float);
void _mlir_ciface_locus_lars_norms(locus::rt::cpu::MemRefF32 *, locus::rt::cpu::MemRefF32 *,
                                   locus::rt::cpu::MemRefScalarF64 *,
                                   locus::rt::cpu::MemRefScalarF64 *, double);
extern const locus::rt::cpu::LossPoolKernel locus_loss_pool_kernels[];
extern const int64_t locus_loss_pool_kernel_count;
extern const locus::rt::cpu::ReluPoolKernel locus_relu_pool_kernels[];
extern const int64_t locus_relu_pool_kernel_count;
extern const locus::abi::BilinearLossKernel locus_bilinear_loss_kernels[];
extern const int64_t locus_bilinear_loss_kernel_count;
extern const locus::abi::GoodnessLossKernel locus_goodness_loss_kernels[];
extern const int64_t locus_goodness_loss_kernel_count;
extern const locus::abi::ActivationKernels locus_activation_kernels[];
extern const int64_t locus_activation_kernel_count;
extern const locus::abi::GoodnessInputKernels locus_goodness_input_kernels[];
extern const int64_t locus_goodness_input_kernel_count;
extern const locus::abi::PoolingKernels locus_pooling_kernels[];
extern const int64_t locus_pooling_kernel_count;
extern const locus::abi::InfoNceKernels locus_infonce_kernels[];
extern const int64_t locus_infonce_kernel_count;
}

namespace locus::rt::cpu {

inline UpdateKernels compiledUpdateKernels() {
  return UpdateKernels{_mlir_ciface_locus_adamw_update, _mlir_ciface_locus_adamw_bf16_update,
                       _mlir_ciface_locus_sgd_update, _mlir_ciface_locus_lars_norms};
}

inline LossPoolKernels compiledLossPoolKernels() {
  return LossPoolKernels{locus_loss_pool_kernels, locus_loss_pool_kernel_count};
}

inline ReluPoolKernels compiledReluPoolKernels() {
  return ReluPoolKernels{locus_relu_pool_kernels, locus_relu_pool_kernel_count};
}

/// The record of a table of at most one (ObjectEmitter's addRecordTable):
/// null where the object has none.
template <typename Record>
inline const Record *onlyRecord(const Record *records, int64_t count) {
  return count ? &records[0] : nullptr;
}

inline const abi::ActivationKernels *compiledActivationKernels() {
  return onlyRecord(locus_activation_kernels, locus_activation_kernel_count);
}

inline const abi::PoolingKernels *compiledPoolingKernels() {
  return onlyRecord(locus_pooling_kernels, locus_pooling_kernel_count);
}

inline const abi::GoodnessInputKernels *compiledGoodnessInputKernels() {
  return onlyRecord(locus_goodness_input_kernels, locus_goodness_input_kernel_count);
}

inline abi::LossKernels compiledLossKernels() {
  return abi::LossKernels{{locus_bilinear_loss_kernels, locus_bilinear_loss_kernel_count},
                          {locus_goodness_loss_kernels, locus_goodness_loss_kernel_count},
                          onlyRecord(locus_infonce_kernels, locus_infonce_kernel_count)};
}

/// Every table of the linked object, for the engine.
inline ModelKernels compiledModelKernels() {
  static const UpdateKernels update = compiledUpdateKernels();
  static const LossPoolKernels lossPools = compiledLossPoolKernels();
  static const ReluPoolKernels reluPools = compiledReluPoolKernels();
  static const abi::LossKernels losses = compiledLossKernels();
  ModelKernels kernels;
  kernels.update = &update;
  kernels.lossPools = &lossPools;
  kernels.reluPools = &reluPools;
  kernels.losses = &losses;
  kernels.activations = compiledActivationKernels();
  kernels.pooling = compiledPoolingKernels();
  kernels.goodnessInputs = compiledGoodnessInputKernels();
  return kernels;
}

} // namespace locus::rt::cpu

#endif
