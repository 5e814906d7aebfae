//===- CpuBackend.cpp - the Backend of a CPU training binary --------------===//
//
// Each call forwards to the runtime's CPU primitives (Kernels.h) or launches
// the model's compiled kernel over the thread pool. Where the object has a
// static-shape kernel for a shape (the loss poolings, the relu + max-pool
// epilogues whose window tiles the map) it runs instead of the general one;
// a layer's forward and backward calls then pick the same record, so the two
// arg-max formats never meet. The convolutions' scratch is one Workspace,
// charged to the tracker after every call that may grow it.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cpu/CpuBackend.h"

#include "locus/runtime/backend/cpu/Kernels.h"
#include "locus/runtime/backend/cpu/Optimizer.h"
#include "locus/runtime/backend/cpu/UpdateKernels.h"

#include "backend/cpu/BlasSetup.h"
#include "backend/cpu/Blocked.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace locus::rt {

Backend::~Backend() = default;

namespace cpu {

namespace {

/// A kernel the step program launches is not in the model's object: the
/// object is not one locusc wrote for this runtime. Nothing can run in its
/// place (the runtime has no math of its own), and a Backend call cannot
/// return an error into the generated step: stop, naming the kernel.
[[noreturn]] void missingKernel(const std::string &what) {
  std::fprintf(stderr,
               "error: the compiled model has no %s; recompile it with this locusc\n",
               what.c_str());
  std::exit(1);
}

template <typename Table> const Table &need(const Table *table, const char *what) {
  if (!table)
    missingKernel(what);
  return *table;
}

/// Windows of k x k (k = 0: the whole map) over h: the loss pooling.
Window lossPoolWindow(Shape4 h, int64_t k) {
  Window w;
  w.kh = w.sh = k == 0 ? h.h : k;
  w.kw = w.sw = k == 0 ? h.w : k;
  return w;
}

class CpuBackend final : public Backend {
public:
  explicit CpuBackend(const ModelKernels &kernels) : k_(kernels) {}

  const char *name() const override { return "cpu"; }
  std::string describe() override { return "backend cpu; " + blasSetup().describe(); }

  Tensor allocate(Shape4 shape) override { return Tensor::allocate(memory_, shape); }
  Tensor zeros(Shape4 shape) override { return Tensor::zeros(memory_, shape); }
  void copyToDevice(void *dst, const void *src, int64_t bytes) override { copy(dst, src, bytes); }
  void copyToHost(void *dst, const void *src, int64_t bytes) override { copy(dst, src, bytes); }
  void copy2d(float *dst, int64_t dstStride, const float *src, int64_t srcStride, int64_t rows,
              int64_t cols) override {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + r * dstStride, src + r * srcStride, sizeof(float) * cols);
  }
  void fillZero(float *x, int64_t count) override {
    std::memset(x, 0, sizeof(float) * static_cast<size_t>(count));
  }
  void synchronize() override {} // every call returns when it is done

  void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels, const float *b,
                     float biasScale, const Window &win, float *y) override {
    cpu::conv2dForward(x, xs, w, outChannels, scaledBias(b, biasScale, outChannels), win, y,
                       workspace_);
    noteWorkspace();
  }
  void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                            const Window &win, float *dw, float *db, float biasScale) override {
    cpu::conv2dBackwardWeight(x, xs, dy, ys, win, dw, db, workspace_);
    scaleBiasGradient(db, biasScale, ys.c);
    noteWorkspace();
  }
  void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win, float *dx,
                          Shape4 xs) override {
    cpu::conv2dBackwardData(dy, ys, w, win, dx, xs, workspace_);
    noteWorkspace();
  }
  void convReluPoolForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                           const float *b, float biasScale, float *h, int32_t *argmax) override {
    cpu::convReluPoolForward(x, xs, w, outChannels, scaledBias(b, biasScale, outChannels), h,
                             argmax, workspace_);
    noteWorkspace();
  }
  void convReluPoolBackwardWeight(const float *x, Shape4 xs, const float *dh, const float *h,
                                  const int32_t *argmax, int64_t outChannels, float *dw,
                                  float *db, float biasScale) override {
    cpu::convReluPoolBackwardWeight(x, xs, dh, h, argmax, outChannels, dw, db, workspace_);
    scaleBiasGradient(db, biasScale, outChannels);
    noteWorkspace();
  }
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
            const float *b, float beta, float *c) override {
    cpu::gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
  }
  // The bilinear rules' thin products stream the projection once (Blocked.h)
  // where OpenBLAS packs it.
  void projectRows(int64_t n, int64_t d, int64_t dc, const float *proj, const float *c,
                   float *out) override {
    cpu::projectRows(n, d, dc, proj, c, out);
  }
  void projectionGradient(int64_t d, int64_t dc, int64_t n, const float *factors, const float *c,
                          float *grad) override {
    cpu::outerProduct(d, dc, n, factors, c, /*accumulate=*/false, grad);
  }
  void adamwFromFactors(const AdamW &adam, int64_t t, int64_t rows, int64_t cols, int64_t k,
                        const float *a, const float *b, float *param,
                        const AdamMoments &moments) override {
    adamwStepOuterProduct(adam, t, rows, cols, k, a, b, param, moments);
  }

  void reluForward(const float *x, float *y, int64_t count) override {
    cpu::reluForward(activations(), x, y, count);
  }
  void reluBackward(const float *y, const float *dy, float *dx, int64_t count) override {
    cpu::reluBackward(activations(), y, dy, dx, count);
  }
  void triangleForward(const float *x, Shape4 xs, float *y) override {
    cpu::triangleForward(activations(), x, xs, y);
  }
  void triangleBackward(const float *x, Shape4 xs, const float *dy, float *dx) override {
    cpu::triangleBackward(activations(), x, xs, dy, dx);
  }
  void maxPool2dForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys,
                        int32_t *argmax) override {
    cpu::maxPool2dForward(pooling(), x, xs, win, y, ys, argmax);
  }
  void maxPool2dBackward(const float *dy, Shape4 ys, const int32_t *argmax, float *dx,
                         Shape4 xs) override {
    cpu::maxPool2dBackward(pooling(), dy, ys, argmax, dx, xs);
  }
  void avgPool2dForward(const float *x, Shape4 xs, const Window &win, float *y,
                        Shape4 ys) override {
    cpu::avgPool2dForward(pooling(), x, xs, win, y, ys);
  }
  void avgPool2dBackward(const float *dy, Shape4 ys, const Window &win, float *dx,
                         Shape4 xs) override {
    cpu::avgPool2dBackward(pooling(), dy, ys, win, dx, xs);
  }
  void reluMaxPool2dForward(const float *a, Shape4 as, const Window &win, float *h, Shape4 hs,
                            int32_t *argmax) override {
    if (const ReluPoolKernel *kernel = staticReluPool(as, win))
      cpu::reluPoolForward(*kernel, a, h, argmax, as.n);
    else
      cpu::reluMaxPool2dForward(pooling(), a, as, win, h, hs, argmax);
  }
  void reluMaxPool2dBackward(const float *dh, const float *h, Shape4 hs, const Window &win,
                             const int32_t *argmax, float *da, Shape4 as) override {
    if (const ReluPoolKernel *kernel = staticReluPool(as, win))
      cpu::reluPoolBackward(*kernel, dh, h, argmax, da, as.n);
    else
      cpu::reluMaxPool2dBackward(pooling(), dh, h, hs, argmax, da, as);
  }
  void reluMaxPool2dForwardUnindexed(const float *a, Shape4 as, const Window &win,
                                     float *h) override {
    cpu::reluPoolForwardUnindexed(inPlaceReluPool(as, win), a, h, as.n);
  }
  void reluMaxPool2dBackwardInPlace(const float *dh, const Window &win, float *aThenDa,
                                    Shape4 as) override {
    cpu::reluPoolBackwardInPlace(inPlaceReluPool(as, win), dh, aThenDa, as.n);
  }
  void lossPool(const float *h, Shape4 hs, int64_t k, float *z, Shape4 zs) override {
    if (const LossPoolKernel *kernel = staticLossPool(hs, k))
      cpu::lossPool(*kernel, h, z, hs.n);
    else
      cpu::avgPool2dForward(pooling(), h, hs, lossPoolWindow(hs, k), z, zs);
  }
  void lossUnpool(const float *dz, Shape4 zs, int64_t k, float *dh, Shape4 hs) override {
    if (const LossPoolKernel *kernel = staticLossPool(hs, k))
      cpu::lossUnpool(*kernel, dz, dh, hs.n);
    else
      cpu::avgPool2dBackward(pooling(), dz, zs, lossPoolWindow(hs, k), dh, hs);
  }

  void adamwStep(const AdamW &adam, int64_t t, int64_t count, float *param, const float *grad,
                 const AdamMoments &moments) override {
    cpu::adamwStep(need(k_.update, "update kernels"), adam, t, count, param, grad, moments);
  }
  void sgdStep(const SgdMomentum &sgd, int64_t count, float *param, const float *grad,
               float *momentum, bool adapt) override {
    cpu::sgdStep(need(k_.update, "update kernels"), sgd, count, param, grad, momentum, adapt);
  }

private:
  static void copy(void *dst, const void *src, int64_t bytes) {
    if (bytes > 0 && dst != src)
      std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
  const abi::ActivationKernels &activations() const {
    return need(k_.activations, "activation kernels");
  }
  const abi::PoolingKernels &pooling() const { return need(k_.pooling, "pooling kernels"); }
  void noteWorkspace() { memory_->setExternal(workspace_.bytes()); }
  /// b times scale (SCFF: 2) in scaledBias_ when the scale is not 1.
  const float *scaledBias(const float *b, float scale, int64_t channels) {
    if (!b || scale == 1.0f)
      return b;
    scaledBias_.assign(b, b + channels);
    for (float &v : scaledBias_)
      v *= scale;
    return scaledBias_.data();
  }
  static void scaleBiasGradient(float *db, float scale, int64_t channels) {
    if (db && scale != 1.0f)
      for (int64_t c = 0; c < channels; ++c)
        db[c] *= scale;
  }
  const ReluPoolKernel *staticReluPool(Shape4 as, const Window &win) const {
    if (!k_.reluPools || !win.tiles())
      return nullptr;
    return k_.reluPools->find(as.c, as.h, as.w, win.kh, win.kw);
  }
  const LossPoolKernel *staticLossPool(Shape4 hs, int64_t k) const {
    return k_.lossPools ? k_.lossPools->find(hs.c, hs.h, hs.w, k) : nullptr;
  }
  /// The compiled relu + max-pool without an arg-max (the program calls it
  /// only where locusc compiled one).
  const ReluPoolKernel &inPlaceReluPool(Shape4 as, const Window &win) const {
    const ReluPoolKernel *kernel = staticReluPool(as, win);
    if (!kernel || !kernel->forwardUnindexed || !kernel->backwardInPlace)
      missingKernel("relu + max-pool kernel without an arg-max for this layer");
    return *kernel;
  }

  ModelKernels k_;
  Workspace workspace_;
  std::vector<float> scaledBias_; // at most one layer's channels
};

} // namespace

std::unique_ptr<Backend> makeCpuBackend(const ModelKernels &kernels) {
  return std::make_unique<CpuBackend>(kernels);
}

} // namespace cpu
} // namespace locus::rt
