//===- PoolKernels.h - the loss poolings locusc compiles per model -*- C++ -*-===//
//
// locus-generate-pool-kernels compiles one pooling and one unpooling kernel
// per (C, H, W, k) the model uses; the object lists them in the table
// `locus_loss_pool_kernels`. The engine looks each loss pooling up here.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_POOLKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_POOLKERNELS_H

#include <cstdint>

namespace locus::rt::cpu {

/// MLIR's descriptor of a memref<?xCxHxWxf32> (identity layout, offset 0).
struct MemRef4F32 {
  float *allocated, *aligned;
  int64_t offset, sizes[4], strides[4];
};

/// One record of the table: z = mean over k x k windows of h (k = 0: the
/// whole map), and its adjoint dh = dz / k^2 on each window.
struct LossPoolKernel {
  int64_t c, h, w, k;
  void (*pool)(MemRef4F32 *h, MemRef4F32 *z);
  void (*unpool)(MemRef4F32 *dz, MemRef4F32 *dh);
};

struct LossPoolKernels {
  const LossPoolKernel *entries = nullptr;
  int64_t count = 0;
  const LossPoolKernel *find(int64_t c, int64_t h, int64_t w, int64_t k) const {
    for (int64_t i = 0; i < count; ++i)
      if (entries[i].c == c && entries[i].h == h && entries[i].w == w && entries[i].k == k)
        return &entries[i];
    return nullptr;
  }
};

/// A dense [n, c, h, w] buffer as the kernels' argument.
inline MemRef4F32 memref4(float *data, int64_t n, int64_t c, int64_t h, int64_t w) {
  return MemRef4F32{data, data, 0, {n, c, h, w}, {c * h * w, h * w, w, 1}};
}

/// z = kernel.pool(h) for n samples, the batch split across the thread pool.
void lossPool(const LossPoolKernel &kernel, const float *h, float *z, int64_t n);
/// dh = kernel.unpool(dz) for n samples, likewise.
void lossUnpool(const LossPoolKernel &kernel, const float *dz, float *dh, int64_t n);

} // namespace locus::rt::cpu

#endif
