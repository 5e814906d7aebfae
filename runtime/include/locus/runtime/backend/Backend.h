//===- Backend.h - what the training engine asks of a target ----*- C++ -*-===//
//
// The step program locusc generates (abi/StepCalls.h, through
// runtime/src/train/StepCalls.cpp) runs a block step as a sequence of calls
// on one Backend: its memory, its primitives (the library work a target brings:
// convolutions and GEMMs, cuDNN and cuBLAS on a GPU, Winograd/direct/im2col
// and OpenBLAS on the CPU) and launches of the kernels locusc generated (the
// activations, poolings and updates; the program calls its loss and
// goodness-input kernels itself). The engine never sees a
// kernel table or a thread pool: how a kernel is found, tiled and launched
// is the backend's. A backend for a new target (backend/cuda, issue 12)
// implements this interface and nothing in train/ changes.
//
// All pointers are the backend's memory (host memory on the CPU); shapes are
// NCHW float32. Every call writes its outputs completely unless it says it
// accumulates. Calls may be asynchronous; synchronize() waits for them.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_BACKEND_H
#define LOCUS_RUNTIME_BACKEND_BACKEND_H

#include "locus/runtime/backend/Types.h"
#include "locus/runtime/train/Tensor.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace locus::rt {

using train::MemoryTracker;
using train::Tensor;

class Backend {
public:
  virtual ~Backend();
  /// "cpu", "cuda": for messages.
  virtual const char *name() const = 0;
  /// One line for the log: what the backend runs on and with which libraries.
  virtual std::string describe() = 0;

  // --- Memory. Every buffer is charged to memory(); its peak is the
  // measured peak the binary prints beside the plan.
  virtual Tensor allocate(Shape4 shape) = 0;
  virtual Tensor zeros(Shape4 shape) = 0;
  const std::shared_ptr<MemoryTracker> &memory() const { return memory_; }
  int64_t peakBytes() const { return memory_->peak(); }
  /// Copies between host memory and the backend's (plain copies on the CPU).
  virtual void copyToDevice(void *dst, const void *src, int64_t bytes) = 0;
  virtual void copyToHost(void *dst, const void *src, int64_t bytes) = 0;
  /// Waits until every call issued so far has finished.
  virtual void synchronize() = 0;
  /// Whether uploadAsync runs beside the step's work (a GPU's copy engine):
  /// the trainer then uploads the next step's views while one step trains,
  /// into a second views buffer, which the compiler plans for such targets
  /// (--target=cuda).
  virtual bool uploadsOverlap() const { return false; }
  /// Host memory [p, p + bytes) pinned, so that uploads from it run
  /// asynchronously, for the life of the handle; null where pinning gains
  /// nothing (the CPU's "device" is the host).
  virtual std::shared_ptr<void> pinHostMemory(void *p, int64_t bytes) { return nullptr; }
  /// Starts copying `bytes` from host `src` to `dst` beside the work already
  /// issued; the copy has landed, and `src` may change, once waitForUploads
  /// returns. Backends without overlap copy at once.
  virtual void uploadAsync(void *dst, const void *src, int64_t bytes) {
    copyToDevice(dst, src, bytes);
  }
  virtual void waitForUploads() {}
  /// x[0, count) = 0.
  virtual void fillZero(float *x, int64_t count) = 0;
  /// rows x cols floats from src (rows srcStride apart) to dst (dstStride).
  virtual void copy2d(float *dst, int64_t dstStride, const float *src, int64_t srcStride,
                      int64_t rows, int64_t cols) = 0;

  /// Where in the step the next calls come from: the block's name (from
  /// the program's locus_rt_enter_block) and, during a convolution call, its
  /// weight's parameter name (null: not known). A backend whose calls can
  /// fail inside (a GPU's) names them in its errors; the strings are the
  /// model descriptor's and outlive the run.
  struct StepPlace {
    const char *block = nullptr;
    const char *layer = nullptr;
  };
  virtual void setPlace(StepPlace) {}

  /// One convolution the step program will run: its input, output channels
  /// and window, and whether its data gradient runs too (global mode).
  struct ConvolutionShape {
    Shape4 x;
    int64_t outChannels = 0;
    Window window;
    bool dataGradient = false;
  };
  /// Before the first step: a backend whose library chooses its
  /// convolutions' algorithms and workspace at run time (cuDNN) chooses them
  /// now for every convolution of the program and allocates the largest
  /// workspace once. Returns those bytes (the memory plan's workspace for
  /// this backend); 0 where the compiler planned the workspace (the CPU).
  virtual int64_t reserveConvolutions(const std::vector<ConvolutionShape> &convolutions) {
    return 0;
  }

  // --- Primitives: the target's library work.
  /// y = conv(x, w) + biasScale * b; w [O, C, kh, kw]; b may be null.
  /// biasScale is 1 but for SCFF, whose paired inputs sum two images (2).
  virtual void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                             const float *b, float biasScale, const Window &win, float *y) = 0;
  /// dW and db (db may be null; scaled by biasScale) from the layer input
  /// and dL/dy.
  virtual void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                                    const Window &win, float *dw, float *db,
                                    float biasScale) = 0;
  /// dx = conv^T(dy, w) (global mode only).
  virtual void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win,
                                  float *dx, Shape4 xs) = 0;
  /// h = maxpool(relu(conv(x, w) + b)) with its window arg-max, the conv
  /// output never stored (Kernels.h: convReluPoolForward).
  virtual void convReluPoolForward(const float *x, Shape4 xs, const float *w,
                                   int64_t outChannels, const float *b, float biasScale,
                                   float *h, int32_t *argmax) = 0;
  virtual void convReluPoolBackwardWeight(const float *x, Shape4 xs, const float *dh,
                                          const float *h, const int32_t *argmax,
                                          int64_t outChannels, float *dw, float *db,
                                          float biasScale) = 0;
  /// C = alpha op(A) op(B) + beta C, row-major.
  virtual void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, const float *b, float beta, float *c) = 0;
  /// A bilinear rule's B c for every row: out [n, d] = c B^T (B [d, dc],
  /// c [n, dc]); and its dL/dB [d, dc] = factors^T c (factors [n, d]). Thin
  /// products (n = 2B rows) against a projection of up to 8192^2: a backend
  /// may stream B once instead of running a general GEMM (by default it does).
  virtual void projectRows(int64_t n, int64_t d, int64_t dc, const float *proj, const float *c,
                           float *out) {
    gemm(false, true, n, d, dc, 1.0f, c, proj, 0.0f, out);
  }
  virtual void projectionGradient(int64_t d, int64_t dc, int64_t n, const float *factors,
                                  const float *c, float *grad) {
    gemm(true, false, d, dc, n, 1.0f, factors, c, 0.0f, grad);
  }
  /// AdamW on param [rows, cols] whose gradient is a^T b (a [k, rows],
  /// b [k, cols]) without forming it: a bilinear rule's projection B.
  virtual void adamwFromFactors(const AdamW &adam, int64_t t, int64_t rows, int64_t cols,
                                int64_t k, const float *a, const float *b, float *param,
                                const AdamMoments &moments) = 0;

  // --- Generated kernels (the math is locusc's; the backend launches it).
  virtual void reluForward(const float *x, float *y, int64_t count) = 0;
  /// dx = dy * 1[y > 0] (y: the relu output); dx may alias dy.
  virtual void reluBackward(const float *y, const float *dy, float *dx, int64_t count) = 0;
  virtual void triangleForward(const float *x, Shape4 xs, float *y) = 0;
  virtual void triangleBackward(const float *x, Shape4 xs, const float *dy, float *dx) = 0;
  /// argmax holds what the matching backward call reads (its format is the
  /// backend's).
  virtual void maxPool2dForward(const float *x, Shape4 xs, const Window &win, float *y,
                                Shape4 ys, int32_t *argmax) = 0;
  virtual void maxPool2dBackward(const float *dy, Shape4 ys, const int32_t *argmax, float *dx,
                                 Shape4 xs) = 0;
  virtual void avgPool2dForward(const float *x, Shape4 xs, const Window &win, float *y,
                                Shape4 ys) = 0;
  virtual void avgPool2dBackward(const float *dy, Shape4 ys, const Window &win, float *dx,
                                 Shape4 xs) = 0;
  /// h = maxpool(relu(a)) and its adjoint from (h, argmax).
  virtual void reluMaxPool2dForward(const float *a, Shape4 as, const Window &win, float *h,
                                    Shape4 hs, int32_t *argmax) = 0;
  virtual void reluMaxPool2dBackward(const float *dh, const float *h, Shape4 hs,
                                     const Window &win, const int32_t *argmax, float *da,
                                     Shape4 as) = 0;
  /// The same without an arg-max: h alone, then da written over a (each
  /// window's arg-max found again from a). Only for windows that tile and
  /// cover the map, whose kernels the model compiled (the step program
  /// calls these only then).
  virtual void reluMaxPool2dForwardUnindexed(const float *a, Shape4 as, const Window &win,
                                             float *h) = 0;
  virtual void reluMaxPool2dBackwardInPlace(const float *dh, const Window &win, float *aThenDa,
                                            Shape4 as) = 0;
  /// The loss pooling of a block output h with kernel k (k x k average
  /// windows; k = 0: the whole map) and its adjoint.
  virtual void lossPool(const float *h, Shape4 hs, int64_t k, float *z, Shape4 zs) = 0;
  virtual void lossUnpool(const float *dz, Shape4 zs, int64_t k, float *dh, Shape4 hs) = 0;

  /// The optimizer updates of one parameter from its gradient.
  virtual void adamwStep(const AdamW &adam, int64_t t, int64_t count, float *param,
                         const float *grad, const AdamMoments &moments) = 0;
  virtual void sgdStep(const SgdMomentum &sgd, int64_t count, float *param,
                       const float *grad, float *momentum, bool adapt) = 0;

protected:
  std::shared_ptr<MemoryTracker> memory_ = std::make_shared<MemoryTracker>();
};

} // namespace locus::rt

#endif
