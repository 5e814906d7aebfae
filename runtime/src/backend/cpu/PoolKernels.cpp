//===- PoolKernels.cpp - running the compiled loss poolings ---------------===//
//
// A compiled pooling kernel handles any batch, so the batch is split into one
// slice per thread of the pool, each a [n_i, C, H, W] memref starting at its
// first sample.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/PoolKernels.h"

#include "backend/cpu/Parallel.h"

#include <algorithm>

namespace locus::rt::cpu {

namespace {
void runSliced(void (*kernel)(MemRef4F32 *, MemRef4F32 *), const float *in,
               const int64_t inDims[3], float *out, const int64_t outDims[3], int64_t n) {
  const int64_t inRow = inDims[0] * inDims[1] * inDims[2];
  const int64_t outRow = outDims[0] * outDims[1] * outDims[2];
  const int64_t slices = std::min<int64_t>(n, parallelThreads());
  parallelFor(slices, slices > 1, [&](int64_t s) {
    const int64_t lo = n * s / slices, hi = n * (s + 1) / slices;
    MemRef4F32 a = memref4(const_cast<float *>(in) + lo * inRow, hi - lo, inDims[0], inDims[1],
                           inDims[2]);
    MemRef4F32 b = memref4(out + lo * outRow, hi - lo, outDims[0], outDims[1], outDims[2]);
    kernel(&a, &b);
  });
}
} // namespace

void lossPool(const LossPoolKernel &kernel, const float *h, float *z, int64_t n) {
  const int64_t kh = kernel.k == 0 ? kernel.h : kernel.k, kw = kernel.k == 0 ? kernel.w : kernel.k;
  const int64_t in[3] = {kernel.c, kernel.h, kernel.w};
  const int64_t out[3] = {kernel.c, kernel.h / kh, kernel.w / kw};
  runSliced(kernel.pool, h, in, z, out, n);
}

void lossUnpool(const LossPoolKernel &kernel, const float *dz, float *dh, int64_t n) {
  const int64_t kh = kernel.k == 0 ? kernel.h : kernel.k, kw = kernel.k == 0 ? kernel.w : kernel.k;
  const int64_t in[3] = {kernel.c, kernel.h / kh, kernel.w / kw};
  const int64_t out[3] = {kernel.c, kernel.h, kernel.w};
  runSliced(kernel.unpool, dz, in, dh, out, n);
}

} // namespace locus::rt::cpu
