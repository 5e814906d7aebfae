//===- RecordingBackend.h - a Backend that counts the engine's calls -*- C++ -*-===//
//
// Forwards every call to another backend and counts it by name: tests run an
// engine on it to show that the engine works through the Backend it is given
// and through nothing else. It also keeps the step's place (setPlace) at
// each convolution and relu call, as "call block layer".
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_TEST_UNIT_RECORDINGBACKEND_H
#define LOCUS_TEST_UNIT_RECORDINGBACKEND_H

#include "locus/runtime/backend/Backend.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace locus::test {

using rt::Shape4;
using rt::Tensor;
using rt::Window;
namespace cpu = rt::cpu;

class RecordingBackend final : public rt::Backend {
public:
  explicit RecordingBackend(std::shared_ptr<rt::Backend> inner) : inner_(std::move(inner)) {
    memory_ = inner_->memory(); // one tracker: the engine's peak is the inner backend's
  }
  const char *name() const override { return "recording"; }
  std::string describe() override { return "recording, over " + inner_->describe(); }
  ~RecordingBackend() override {
    if (callsAtEnd)
      *callsAtEnd = calls;
  }
  std::map<std::string, int64_t> calls;
  /// Where the counts go when the backend goes (an engine that owns it).
  std::map<std::string, int64_t> *callsAtEnd = nullptr;
  std::vector<std::string> places;

  /// Emulates a GPU's overlapped uploads, strictly: uploadAsync only queues
  /// the copy and waitForUploads makes it, so a trainer that read the views
  /// before waiting, or let their host buffer be refilled, trains on other
  /// data than the plain backend.
  bool deferUploads = false;
  bool uploadsOverlap() const override { return deferUploads; }
  std::shared_ptr<void> pinHostMemory(void *p, int64_t bytes) override {
    ++calls["pinHostMemory"];
    return inner_->pinHostMemory(p, bytes);
  }
  void uploadAsync(void *dst, const void *src, int64_t bytes) override {
    ++calls["uploadAsync"];
    if (!deferUploads)
      return inner_->uploadAsync(dst, src, bytes);
    queued_.push_back({dst, src, bytes});
  }
  void waitForUploads() override {
    ++calls["waitForUploads"];
    for (const Upload &u : queued_)
      inner_->copyToDevice(u.dst, u.src, u.bytes);
    queued_.clear();
    inner_->waitForUploads();
  }
  void setPlace(StepPlace place) override {
    place_ = place;
    inner_->setPlace(place);
  }

  Tensor allocate(Shape4 shape) override {
    ++calls["allocate"];
    return inner_->allocate(shape);
  }
  Tensor zeros(Shape4 shape) override {
    ++calls["zeros"];
    return inner_->zeros(shape);
  }
  void copyToDevice(void *dst, const void *src, int64_t bytes) override {
    ++calls["copyToDevice"];
    inner_->copyToDevice(dst, src, bytes);
  }
  void copy2d(float *dst, int64_t dstStride, const float *src, int64_t srcStride, int64_t rows,
              int64_t cols) override {
    ++calls["copy2d"];
    inner_->copy2d(dst, dstStride, src, srcStride, rows, cols);
  }
  void fillZero(float *x, int64_t count) override {
    ++calls["fillZero"];
    inner_->fillZero(x, count);
  }
  void copyToHost(void *dst, const void *src, int64_t bytes) override {
    ++calls["copyToHost"];
    inner_->copyToHost(dst, src, bytes);
  }
  void synchronize() override {
    ++calls["synchronize"];
    inner_->synchronize();
  }
  void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels, const float *b,
                     float biasScale, const Window &win, float *y) override {
    ++calls["conv2dForward"];
    notePlace("conv2dForward");
    inner_->conv2dForward(x, xs, w, outChannels, b, biasScale, win, y);
  }
  void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                            const Window &win, float *dw, float *db, float biasScale) override {
    ++calls["conv2dBackwardWeight"];
    notePlace("conv2dBackwardWeight");
    inner_->conv2dBackwardWeight(x, xs, dy, ys, win, dw, db, biasScale);
  }
  void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win, float *dx,
                          Shape4 xs) override {
    ++calls["conv2dBackwardData"];
    notePlace("conv2dBackwardData");
    inner_->conv2dBackwardData(dy, ys, w, win, dx, xs);
  }
  void convReluPoolForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                           const float *b, float biasScale, float *h, int32_t *argmax) override {
    ++calls["convReluPoolForward"];
    inner_->convReluPoolForward(x, xs, w, outChannels, b, biasScale, h, argmax);
  }
  void convReluPoolBackwardWeight(const float *x, Shape4 xs, const float *dh, const float *h,
                                  const int32_t *argmax, int64_t outChannels, float *dw,
                                  float *db, float biasScale) override {
    ++calls["convReluPoolBackwardWeight"];
    inner_->convReluPoolBackwardWeight(x, xs, dh, h, argmax, outChannels, dw, db, biasScale);
  }
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
            const float *b, float beta, float *c) override {
    ++calls["gemm"];
    inner_->gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
  }
  void projectRows(int64_t n, int64_t d, int64_t dc, const float *proj, const float *c,
                   float *out) override {
    ++calls["projectRows"];
    inner_->projectRows(n, d, dc, proj, c, out);
  }
  void projectionGradient(int64_t d, int64_t dc, int64_t n, const float *factors, const float *c,
                          float *grad) override {
    ++calls["projectionGradient"];
    inner_->projectionGradient(d, dc, n, factors, c, grad);
  }
  void adamwFromFactors(const rt::AdamW &adam, int64_t t, int64_t rows, int64_t cols, int64_t k,
                        const float *a, const float *b, float *param,
                        const rt::AdamMoments &moments) override {
    ++calls["adamwFromFactors"];
    inner_->adamwFromFactors(adam, t, rows, cols, k, a, b, param, moments);
  }
  void reluForward(const float *x, float *y, int64_t count) override {
    ++calls["reluForward"];
    notePlace("reluForward");
    inner_->reluForward(x, y, count);
  }
  void reluBackward(const float *y, const float *dy, float *dx, int64_t count) override {
    ++calls["reluBackward"];
    inner_->reluBackward(y, dy, dx, count);
  }
  void triangleForward(const float *x, Shape4 xs, float *y) override {
    ++calls["triangleForward"];
    inner_->triangleForward(x, xs, y);
  }
  void triangleBackward(const float *x, Shape4 xs, const float *dy, float *dx) override {
    ++calls["triangleBackward"];
    inner_->triangleBackward(x, xs, dy, dx);
  }
  void maxPool2dForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys,
                        int32_t *argmax) override {
    ++calls["maxPool2dForward"];
    inner_->maxPool2dForward(x, xs, win, y, ys, argmax);
  }
  void maxPool2dBackward(const float *dy, Shape4 ys, const int32_t *argmax, float *dx,
                         Shape4 xs) override {
    ++calls["maxPool2dBackward"];
    inner_->maxPool2dBackward(dy, ys, argmax, dx, xs);
  }
  void avgPool2dForward(const float *x, Shape4 xs, const Window &win, float *y,
                        Shape4 ys) override {
    ++calls["avgPool2dForward"];
    inner_->avgPool2dForward(x, xs, win, y, ys);
  }
  void avgPool2dBackward(const float *dy, Shape4 ys, const Window &win, float *dx,
                         Shape4 xs) override {
    ++calls["avgPool2dBackward"];
    inner_->avgPool2dBackward(dy, ys, win, dx, xs);
  }
  void reluMaxPool2dForward(const float *a, Shape4 as, const Window &win, float *h, Shape4 hs,
                            int32_t *argmax) override {
    ++calls["reluMaxPool2dForward"];
    inner_->reluMaxPool2dForward(a, as, win, h, hs, argmax);
  }
  void reluMaxPool2dBackward(const float *dh, const float *h, Shape4 hs, const Window &win,
                             const int32_t *argmax, float *da, Shape4 as) override {
    ++calls["reluMaxPool2dBackward"];
    inner_->reluMaxPool2dBackward(dh, h, hs, win, argmax, da, as);
  }
  void reluMaxPool2dForwardUnindexed(const float *a, Shape4 as, const Window &win,
                                     float *h) override {
    ++calls["reluMaxPool2dForwardUnindexed"];
    inner_->reluMaxPool2dForwardUnindexed(a, as, win, h);
  }
  void reluMaxPool2dBackwardInPlace(const float *dh, const Window &win, float *aThenDa,
                                    Shape4 as) override {
    ++calls["reluMaxPool2dBackwardInPlace"];
    inner_->reluMaxPool2dBackwardInPlace(dh, win, aThenDa, as);
  }
  void lossPool(const float *h, Shape4 hs, int64_t k, float *z, Shape4 zs) override {
    ++calls["lossPool"];
    inner_->lossPool(h, hs, k, z, zs);
  }
  void lossUnpool(const float *dz, Shape4 zs, int64_t k, float *dh, Shape4 hs) override {
    ++calls["lossUnpool"];
    inner_->lossUnpool(dz, zs, k, dh, hs);
  }
  void adamwStep(const rt::AdamW &adam, int64_t t, int64_t count, float *param, const float *grad,
                 const rt::AdamMoments &moments) override {
    ++calls["adamwStep"];
    inner_->adamwStep(adam, t, count, param, grad, moments);
  }
  void sgdStep(const rt::SgdMomentum &sgd, int64_t count, float *param, const float *grad,
               float *momentum, bool adapt) override {
    ++calls["sgdStep"];
    inner_->sgdStep(sgd, count, param, grad, momentum, adapt);
  }

private:
  void notePlace(const char *call) {
    places.push_back(std::string(call) + " " + (place_.block ? place_.block : "-") + " " +
                     (place_.layer ? place_.layer : "-"));
  }
  std::shared_ptr<rt::Backend> inner_;
  StepPlace place_;
  struct Upload {
    void *dst;
    const void *src;
    int64_t bytes;
  };
  std::vector<Upload> queued_;
};

} // namespace locus::test

#endif
