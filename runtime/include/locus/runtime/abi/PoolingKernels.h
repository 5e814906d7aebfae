//===- PoolingKernels.h - the general pooling kernels' ABI ------*- C++ -*-===//
//
// locus-generate-pooling-kernels emits max and average pooling and their
// vjps, with dynamic shapes and the window as arguments, into every model's
// object, exported as the one record of `locus_pooling_kernels`. Buffers are
// planes [N C, H, W]; the runtime calls the kernels per plane from its
// threads. The window: kernel (kh, kw), stride (sh, sw), top and left
// padding (pt, pl).
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_ABI_POOLINGKERNELS_H
#define LOCUS_RUNTIME_ABI_POOLINGKERNELS_H

#include "locus/runtime/abi/MemRef.h"

namespace locus::abi {

/// MLIR's descriptor of a memref<?x?x?xi32>.
struct MemRef3I32 {
  int32_t *allocated, *aligned;
  int64_t offset, sizes[3], strides[3];
};

inline MemRef3I32 memref3(int32_t *data, int64_t n, int64_t c, int64_t hw) {
  return MemRef3I32{data, data, 0, {n, c, hw}, {c * hw, hw, 1}};
}

struct PoolingKernels {
  /// y = window maxima (relu'd if relu), argmax = base + their flat index.
  void (*maxForward)(MemRef3F32 *x, MemRef3F32 *y, MemRef3I32 *argmax, int64_t kh, int64_t kw,
                     int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t base, bool relu);
  /// dx = 0, dx[argmax - base] += dy (where h > 0 if relu).
  void (*maxBackward)(MemRef3F32 *dy, MemRef3F32 *h, MemRef3I32 *argmax, MemRef3F32 *dx,
                      int64_t base, bool relu);
  /// y = window means.
  void (*avgForward)(MemRef3F32 *x, MemRef3F32 *y, int64_t kh, int64_t kw, int64_t sh,
                     int64_t sw, int64_t pt, int64_t pl);
  /// dx = the means' adjoint of dy, zero where y <= 0 if relu (y shaped as dx).
  void (*avgBackward)(MemRef3F32 *dy, MemRef3F32 *y, MemRef3F32 *dx, int64_t kh, int64_t kw,
                      int64_t sh, int64_t sw, int64_t pt, int64_t pl, bool relu);
};

} // namespace locus::abi

#endif
