//===- ReluPoolKernels.h - the block epilogues locusc compiles -*- C++ -*-===//
//
// locus-generate-relu-pool-kernels compiles a forward and a backward kernel
// per (C, H, W, kh, kw) relu + max-pool whose window tiles the map; the
// object lists them in the table `locus_relu_pool_kernels`. Their arg-max is
// the position inside the window (ki * kw + kj), not the runtime kernels'
// flat index: a layer's two calls must come from the same table record.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_RELUPOOLKERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_RELUPOOLKERNELS_H

#include "locus/runtime/backend/cpu/PoolKernels.h"

#include <cstdint>

namespace locus::rt::cpu {

/// MLIR's descriptor of a memref<?xCxHxWxi32> (identity layout, offset 0).
struct MemRef4I32 {
  int32_t *allocated, *aligned;
  int64_t offset, sizes[4], strides[4];
};

inline MemRef4I32 memref4(int32_t *data, int64_t n, int64_t c, int64_t h, int64_t w) {
  return MemRef4I32{data, data, 0, {n, c, h, w}, {c * h * w, h * w, w, 1}};
}

/// One record: h = max(0, window maxima of a) with their in-window arg-max,
/// and da = dh at the arg-max where h > 0 (0 elsewhere). Where the windows
/// cover the map, also the pair without an arg-max: h alone, and da written
/// over a, each window's arg-max found again from a (null otherwise).
struct ReluPoolKernel {
  int64_t c, h, w, kh, kw;
  void (*forward)(MemRef4F32 *a, MemRef4F32 *h, MemRef4I32 *argmax);
  void (*backward)(MemRef4F32 *dh, MemRef4F32 *h, MemRef4I32 *argmax, MemRef4F32 *da);
  void (*forwardUnindexed)(MemRef4F32 *a, MemRef4F32 *h);
  void (*backwardInPlace)(MemRef4F32 *dh, MemRef4F32 *aThenDa);
};

struct ReluPoolKernels {
  const ReluPoolKernel *entries = nullptr;
  int64_t count = 0;
  const ReluPoolKernel *find(int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw) const {
    for (int64_t i = 0; i < count; ++i) {
      const ReluPoolKernel &e = entries[i];
      if (e.c == c && e.h == h && e.w == w && e.kh == kh && e.kw == kw)
        return &e;
    }
    return nullptr;
  }
};

/// kernel.forward on n samples of a [n, C, H, W], the batch split across the
/// thread pool.
void reluPoolForward(const ReluPoolKernel &kernel, const float *a, float *h, int32_t *argmax,
                     int64_t n);
/// kernel.backward likewise.
void reluPoolBackward(const ReluPoolKernel &kernel, const float *dh, const float *h,
                      const int32_t *argmax, float *da, int64_t n);
/// kernel.forwardUnindexed and kernel.backwardInPlace likewise.
void reluPoolForwardUnindexed(const ReluPoolKernel &kernel, const float *a, float *h, int64_t n);
void reluPoolBackwardInPlace(const ReluPoolKernel &kernel, const float *dh, float *aThenDa,
                             int64_t n);

} // namespace locus::rt::cpu

#endif
