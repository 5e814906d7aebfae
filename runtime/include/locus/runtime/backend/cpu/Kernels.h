//===- Kernels.h - CPU kernels of the block step ---------------*- C++ -*-===//
//
// The layer kernels a block step needs on the CPU, NCHW float32. Convolutions
// go through OpenBLAS SGEMM: Winograd F(4x4, 3x3) or F(2x2, 3x3) for 3x3
// "same" convolutions with >= 16 channels each side (forward and weight
// gradient; Winograd.h), im2col otherwise; 3x3 "same" layers with fewer input
// channels take direct AVX2 kernels (DirectConv.h) for the forward pass and
// the weight gradient. The rest are plain loops the compiler vectorises. Every
// function writes its outputs completely (no accumulation unless the name
// says so). Shapes are checked by the caller.
//
// Threads: large loops and GEMMs run on the runtime's own workers
// (LOCUS_CPU_THREADS, default: every CPU the process may use; 1 = serial);
// OpenBLAS is set to one thread and each worker calls it on its panel.
// Kernels may be called from several threads; their parallel loops then take
// turns.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CPU_KERNELS_H
#define LOCUS_RUNTIME_BACKEND_CPU_KERNELS_H

#include "locus/runtime/abi/ActivationKernels.h"
#include "locus/runtime/abi/PoolingKernels.h"
#include "locus/runtime/backend/Types.h"

#include <cstdint>
#include <vector>

namespace locus::rt::cpu {

using rt::Shape4;
using rt::Window;

/// Scratch memory reused across calls (im2col buffers); grows, never shrinks
/// until release().
class Workspace {
public:
  float *get(int64_t floats);
  void release();
  int64_t bytes() const { return static_cast<int64_t>(buffer_.capacity() * sizeof(float)); }

private:
  std::vector<float> buffer_;
};

/// Floats of Workspace the convolution kernels below take for this shape
/// (the largest of forward, weight gradient and data gradient).
int64_t conv2dWorkspaceFloats(Shape4 xs, const Window &win, int64_t outChannels);

// y = conv(x, w) + b. w is [O, C, kh, kw]; b may be null.
void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                   const float *b, const Window &win, float *y, Workspace &ws);
// dW = sum over n of dy (x) im2col(x); db = sum of dy. db may be null.
void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                          const Window &win, float *dw, float *db, Workspace &ws);
// dx = conv^T(dy, w): only the global (backprop) mode needs it.
void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win,
                        float *dx, Shape4 xs, Workspace &ws);

// relu and its vjp: locusc's kernels `k`, over the runtime's threads.
void reluForward(const abi::ActivationKernels &k, const float *x, float *y, int64_t count);
// dx = dy * 1[y > 0] (y is the relu output; relu'(0) = 0). dx may alias dy.
void reluBackward(const abi::ActivationKernels &k, const float *y, const float *dy, float *dx,
                  int64_t count);

// The poolings below run locusc's kernels `k` (abi/PoolingKernels.h) plane
// by plane over the runtime's threads.
// Max pooling (padding counts as -inf); argmax holds the flat input index
// (into the whole tensor x) of each output's maximum, the first one on ties
// (NaN wins, as in PyTorch), for the backward pass.
void maxPool2dForward(const abi::PoolingKernels &k, const float *x, Shape4 xs,
                      const Window &win, float *y, Shape4 ys, int32_t *argmax);
// dx = 0, then dx[argmax[i]] += dy[i].
void maxPool2dBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                       const int32_t *argmax, float *dx, Shape4 xs);

// Average pooling, floor mode, divisor always kh*kw (padded positions add
// zero; PyTorch's count_include_pad=True). No padding in the loss pooling.
void avgPool2dForward(const abi::PoolingKernels &k, const float *x, Shape4 xs,
                      const Window &win, float *y, Shape4 ys);
void avgPool2dBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                       const Window &win, float *dx, Shape4 xs);

// Fused block epilogues (one pass over the large pre-activation instead of
// two or three; the results equal the unfused compositions):
// h = maxpool(relu(a)) without materialising relu(a). argmax points at the
// first maximum of a in each window; a window whose maximum is <= 0 has h = 0
// and receives no gradient.
void reluMaxPool2dForward(const abi::PoolingKernels &k, const float *a, Shape4 as,
                          const Window &win, float *h, Shape4 hs, int32_t *argmax);
// da = maxpool^T(dh) * relu'(a), from the forward's argmax and h:
// da = 0, then da[argmax[i]] += dh[i] where h[i] > 0.
void reluMaxPool2dBackward(const abi::PoolingKernels &k, const float *dh, const float *h,
                           Shape4 hs, const int32_t *argmax, float *da, Shape4 as);
// Conv + relu + max-pool in one pass (locus.conv_relu_max_pool2d): a 3x3
// convolution with padding 1 and stride 1, then relu and a 2x2 stride-2
// max-pool, on maps of even height and width. The convolution output is never
// stored: h [N, O, H/2, W/2] and the window arg-max (the flat index in the
// H x W plane, first maximum as reluMaxPool2dForward takes it) equal the
// unfused composition's. The weight gradient expands dh one plane at a time.
bool convReluPoolApplies(Shape4 xs, const Window &conv, const Window &pool);
int64_t convReluPoolWorkspaceFloats(Shape4 xs, int64_t outChannels);
void convReluPoolForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                         const float *b, float *h, int32_t *argmax, Workspace &ws);
// dw (and db unless null) for the pooled output gradient dh.
void convReluPoolBackwardWeight(const float *x, Shape4 xs, const float *dh, const float *h,
                                const int32_t *argmax, int64_t outChannels, float *dw,
                                float *db, Workspace &ws);
// dx = avgpool^T(dy) * 1[y > 0] for y = relu(x) (a block without max-pool
// whose loss pools its relu output y).
void avgPool2dReluBackward(const abi::PoolingKernels &k, const float *dy, Shape4 ys,
                           const Window &win, const float *y,
                           float *dx, Shape4 xs);

// relu(x - mean over channels) and its backward (needs x; dx may alias dy),
// through locusc's kernels `k`.
void triangleForward(const abi::ActivationKernels &k, const float *x, Shape4 xs, float *y);
void triangleBackward(const abi::ActivationKernels &k, const float *x, Shape4 xs,
                      const float *dy, float *dx);

// C = alpha * op(A) op(B) + beta * C, row-major, through OpenBLAS (split in
// panels over the runtime's workers when large).
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
          const float *a, const float *b, float beta, float *c);

} // namespace locus::rt::cpu

#endif
