//===- UpdateKernels.h - the optimizer updates locusc compiles --*- C++ -*-===//
//
// locusc generates the parameter updates as linalg kernels
// (locus-generate-update-kernels), lowers them to host code and puts them in
// the model's object file; the training binary's main hands their C entry
// points (`_mlir_ciface_<name>`, taking MLIR memref descriptors) to the engine.
// The functions here compute each step's scalars (as AdamW::step and
// PyTorch's SGD do) and run a kernel over slices of a parameter from the
// thread pool.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_UPDATEKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_UPDATEKERNELS_H

#include "locus/runtime/backend/cpu/Optimizer.h"
#include "locus/runtime/backend/cpu/Sgd.h"

#include <cstdint>

namespace locus::rt::cpu {

/// MLIR's descriptor of a memref<?xf32>. The identity layout makes the offset
/// statically 0 (the kernels ignore the field): a slice is a moved `aligned`.
struct MemRefF32 {
  float *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<?xi16> holding bfloat16 bit patterns.
struct MemRefBf16 {
  BFloat16 *allocated, *aligned;
  int64_t offset, size, stride;
};
/// MLIR's descriptor of a memref<f64>.
struct MemRefScalarF64 {
  double *allocated, *aligned;
  int64_t offset;
};

/// The compiled kernels' entry points; argument order as the pass documents.
struct UpdateKernels {
  void (*adamw)(MemRefF32 *grad, MemRefF32 *param, MemRefF32 *m, MemRefF32 *v, float decay,
                float w1, float b1, float b2, float c2, float negStep, float bc2Sqrt, float eps);
  /// AdamW with bfloat16 moments: `key` is the step's rounding key, `base`
  /// the index of the slice's first element (the rounding bits hash both).
  void (*adamwBf16)(MemRefF32 *grad, MemRefF32 *param, MemRefBf16 *m, MemRefBf16 *v,
                    float decay, float w1, float b1, float b2, float c2, float negStep,
                    float bc2Sqrt, float eps, uint32_t key, int64_t base);
  void (*sgd)(MemRefF32 *grad, MemRefF32 *param, MemRefF32 *buf, float weightDecay, float scale,
              float momentum, float lr);
  void (*larsNorms)(MemRefF32 *param, MemRefF32 *grad, MemRefScalarF64 *paramSq,
                    MemRefScalarF64 *gradSq, double weightDecay);
};

/// AdamW::step through the compiled kernel.
void adamwStep(const UpdateKernels &kernels, const AdamW &opt, int64_t t, int64_t count,
               float *param, const float *grad, float *m, float *v);
/// AdamW::step with either kind of moments through the compiled kernels.
void adamwStep(const UpdateKernels &kernels, const AdamW &opt, int64_t t, int64_t count,
               float *param, const float *grad, const AdamMoments &moments);
/// SGD with momentum (Sgd.h) through the compiled kernels (LARS norms included).
void sgdStep(const UpdateKernels &kernels, const SgdMomentum &opt, int64_t count, float *param,
             const float *grad, float *buf, bool adapt);

} // namespace locus::rt::cpu

#endif
