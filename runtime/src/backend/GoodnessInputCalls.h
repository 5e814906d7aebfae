//===- GoodnessInputCalls.h - FF's and SCFF's input kernels, whole --------===//
//
// The goodness rules' input kernels run on whole tensors on every target (no
// slicing: each row's work is the kernel's parallel loop), so the CPU and
// CUDA backends call them the same way: one definition here.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_SRC_BACKEND_GOODNESSINPUTCALLS_H
#define LOCUS_RUNTIME_SRC_BACKEND_GOODNESSINPUTCALLS_H

#include "locus/runtime/abi/GoodnessInputKernels.h"
#include "locus/runtime/backend/Types.h"

namespace locus::rt {

/// out [2N, C, H, W] = the views, then their hybrids (masks blurred in place).
inline void hybridNegatives(const abi::GoodnessInputKernels &k, const float *views, Shape4 vs,
                            const float *masks, const int32_t *partners, float *out) {
  const int64_t plane = vs.h * vs.w;
  abi::MemRef3F32 in = abi::memref3(const_cast<float *>(views), vs.n, vs.c, plane);
  abi::MemRef3F32 maskRef = abi::memref3(const_cast<float *>(masks), vs.n, vs.h, vs.w);
  abi::MemRef1I32 partnerRef = abi::memref1(const_cast<int32_t *>(partners), vs.n);
  abi::MemRef3F32 outRef = abi::memref3(out, 2 * vs.n, vs.c, plane);
  k.hybridNegatives(&in, &maskRef, &partnerRef, &outRef);
}

/// y = x's rows scaled to unit length.
inline void lengthNormalizeRows(const abi::GoodnessInputKernels &k, const float *x, int64_t n,
                                int64_t row, float *y) {
  abi::MemRef2F32 in = abi::memref2(const_cast<float *>(x), n, row);
  abi::MemRef2F32 out = abi::memref2(y, n, row);
  k.lengthNormalizeRows(&in, &out);
}

/// st = x's rows standardised; y = [st + st; st + roll(st)] with pairs.
inline void standardizePairs(const abi::GoodnessInputKernels &k, const float *x, int64_t n,
                             int64_t row, float *st, float *y, bool pairs) {
  abi::MemRef2F32 in = abi::memref2(const_cast<float *>(x), n, row);
  abi::MemRef2F32 stRef = abi::memref2(st, n, row);
  abi::MemRef2F32 out = abi::memref2(y, pairs ? 2 * n : n, row);
  k.standardizePairs(&in, &stRef, &out, pairs);
}

} // namespace locus::rt

#endif
