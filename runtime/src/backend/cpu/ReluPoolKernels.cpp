//===- ReluPoolKernels.cpp - running the compiled block epilogues ---------===//
//
// As the loss poolings: a compiled kernel handles any batch, so each thread
// of the pool runs it on its own slice of samples.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/ReluPoolKernels.h"

#include "backend/cpu/Parallel.h"

#include <algorithm>

namespace locus::rt::cpu {

namespace {

/// Calls body(lo, hi) on [lo, hi) sample slices, one per worker.
template <typename Body> void sliced(int64_t n, Body &&body) {
  const int64_t slices = std::min<int64_t>(n, parallelThreads());
  parallelFor(slices, slices > 1, [&](int64_t s) { body(n * s / slices, n * (s + 1) / slices); });
}

} // namespace

void reluPoolForward(const ReluPoolKernel &k, const float *a, float *h, int32_t *argmax,
                     int64_t n) {
  const int64_t oh = k.h / k.kh, ow = k.w / k.kw;
  const int64_t inRow = k.c * k.h * k.w, outRow = k.c * oh * ow;
  sliced(n, [&](int64_t lo, int64_t hi) {
    MemRef4F32 in = memref4(const_cast<float *>(a) + lo * inRow, hi - lo, k.c, k.h, k.w);
    MemRef4F32 out = memref4(h + lo * outRow, hi - lo, k.c, oh, ow);
    MemRef4I32 at = memref4(argmax + lo * outRow, hi - lo, k.c, oh, ow);
    k.forward(&in, &out, &at);
  });
}

void reluPoolBackward(const ReluPoolKernel &k, const float *dh, const float *h,
                      const int32_t *argmax, float *da, int64_t n) {
  const int64_t oh = k.h / k.kh, ow = k.w / k.kw;
  const int64_t inRow = k.c * k.h * k.w, outRow = k.c * oh * ow;
  sliced(n, [&](int64_t lo, int64_t hi) {
    MemRef4F32 grad = memref4(const_cast<float *>(dh) + lo * outRow, hi - lo, k.c, oh, ow);
    MemRef4F32 out = memref4(const_cast<float *>(h) + lo * outRow, hi - lo, k.c, oh, ow);
    MemRef4I32 at = memref4(const_cast<int32_t *>(argmax) + lo * outRow, hi - lo, k.c, oh, ow);
    MemRef4F32 in = memref4(da + lo * inRow, hi - lo, k.c, k.h, k.w);
    k.backward(&grad, &out, &at, &in);
  });
}

void reluPoolForwardUnindexed(const ReluPoolKernel &k, const float *a, float *h, int64_t n) {
  const int64_t oh = k.h / k.kh, ow = k.w / k.kw;
  const int64_t inRow = k.c * k.h * k.w, outRow = k.c * oh * ow;
  sliced(n, [&](int64_t lo, int64_t hi) {
    MemRef4F32 in = memref4(const_cast<float *>(a) + lo * inRow, hi - lo, k.c, k.h, k.w);
    MemRef4F32 out = memref4(h + lo * outRow, hi - lo, k.c, oh, ow);
    k.forwardUnindexed(&in, &out);
  });
}

void reluPoolBackwardInPlace(const ReluPoolKernel &k, const float *dh, float *aThenDa,
                             int64_t n) {
  const int64_t oh = k.h / k.kh, ow = k.w / k.kw;
  const int64_t inRow = k.c * k.h * k.w, outRow = k.c * oh * ow;
  sliced(n, [&](int64_t lo, int64_t hi) {
    MemRef4F32 grad = memref4(const_cast<float *>(dh) + lo * outRow, hi - lo, k.c, oh, ow);
    MemRef4F32 map = memref4(aThenDa + lo * inRow, hi - lo, k.c, k.h, k.w);
    k.backwardInPlace(&grad, &map);
  });
}

} // namespace locus::rt::cpu
