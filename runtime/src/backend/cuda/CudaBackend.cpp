//===- CudaBackend.cpp - the Backend of a GPU ------------------------------===//
//
// Every call runs on the legacy default stream, in order: cuDNN and cuBLAS
// for the library work, the model's --target=cuda kernels for the rest (one
// launch over the whole tensor: the planes, rows and elements the CPU
// backend hands its threads are GPU threads here). The step's losses are read
// back once, at its end (locus_rt_add_losses). Every buffer of a step is the
// program's, in the arena, except cuDNN's workspace: one buffer that grows to
// the largest request and stays, charged to the tracker as external bytes,
// and under --precision bf16 the bfloat16 copies the convolutions run on
// (ConvStaging.h; converted by the model's generated kernels). A CUDA, cuDNN
// or cuBLAS error stops the binary with the call and what it was doing: a
// Backend call cannot return an error into the generated step.
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/backend/cuda/CudaBackend.h"

#include "locus/runtime/CudaError.h"
#include "locus/runtime/backend/cuda/ConvStaging.h"
#include "locus/runtime/backend/cuda/KernelLaunch.h"

#include "backend/cpu/AdamMath.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <tuple>
#include <vector>

namespace locus::rt::cuda {
namespace {

using cpu::LossPoolKernel;
using cpu::MemRef4F32;
using cpu::MemRef4I32;
using cpu::ModelKernels;
using cpu::ReluPoolKernel;

[[noreturn]] void fail(const std::string &what) {
  std::fprintf(stderr, "locus: CUDA backend: %s%s\n", what.c_str(), stepPlace().c_str());
  std::fflush(stderr);
  std::exit(1);
}

/// A step program whose call no --target=cuda program makes (`what` it does).
[[noreturn]] void notACudaProgram(const std::string &what) {
  fail("the step program " + what + ", which --target=cuda programs never do: recompile the "
       "model with locusc --target=cuda");
}

void check(cudaError_t e, const char *call, const char *doing) {
  if (e != cudaSuccess)
    fail(std::string(call) + " failed while " + doing + ": " + rt::describe(e));
}
void check(cudnnStatus_t s, const char *call, const char *doing) {
  if (s != CUDNN_STATUS_SUCCESS)
    fail(std::string(call) + " failed while " + doing + ": " + rt::describe(s));
}
void check(cublasStatus_t s, const char *call, const char *doing) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(std::string(call) + " failed while " + doing + ": " + rt::describe(s));
}
#define LOCUS_CHECK(expr, doing) check((expr), #expr, doing)

template <typename Table> const Table &need(const Table *table, const char *what) {
  if (!table)
    fail(std::string("the compiled model has no ") + what + "; recompile it with this locusc");
  return *table;
}

MemRef4F32 memref4(const float *p, Shape4 s) {
  return cpu::memref4(const_cast<float *>(p), s.n, s.c, s.h, s.w);
}
MemRef4I32 memref4(const int32_t *p, Shape4 s) {
  return cpu::memref4(const_cast<int32_t *>(p), s.n, s.c, s.h, s.w);
}
/// [N C, H, W] planes: the general pooling kernels take every plane at once.
abi::MemRef3F32 planes(const float *p, Shape4 s) {
  return abi::memref3(const_cast<float *>(p), s.n * s.c, s.h, s.w);
}
abi::MemRef3I32 planes(const int32_t *p, Shape4 s) {
  return abi::memref3(const_cast<int32_t *>(p), s.n * s.c, s.h, s.w);
}

/// Device memory that grows to the largest request and stays.
class Scratch {
public:
  ~Scratch() { cudaFree(data_); }
  void *get(int64_t bytes) {
    if (bytes > bytes_) {
      cudaFree(data_);
      data_ = nullptr;
      LOCUS_CHECK(cudaMalloc(&data_, static_cast<size_t>(bytes)), "growing a scratch buffer");
      bytes_ = bytes;
    }
    return data_;
  }
  int64_t bytes() const { return bytes_; }

private:
  void *data_ = nullptr;
  int64_t bytes_ = 0;
};

/// A convolution's descriptors and algorithms, made once per shape. x, w and
/// y describe the operands cuDNN runs on (bfloat16 copies under
/// --precision bf16); `out` the float32 output in the arena, which the bias
/// is added to and reduced from.
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, out = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  int64_t rows = 0, inputCount = 0, weightCount = 0, outputCount = 0;
  ConvStaging staging; ///< the bfloat16 copies' layout (bf16 only)
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t forward{};
  cudnnConvolutionBwdFilterAlgo_t backwardFilter{};
  cudnnConvolutionBwdDataAlgo_t backwardData{};
  size_t forwardBytes = 0, backwardFilterBytes = 0, backwardDataBytes = 0;
};

/// The first algorithm of one convolution pass that runs for a shape, from
/// cuDNN's measurements (`measure`: its Find call) or its heuristics, among
/// those whose workspace is within `limit` bytes (-1: any); where none is,
/// the one that runs with the least workspace.
template <typename Perf, typename Find, typename Get>
auto chooseAlgorithm(bool measure, int64_t limit, const char *pass, Find find, Get get) {
  constexpr int kCandidates = 16;
  Perf perf[kCandidates];
  int count = 0;
  check(measure ? find(kCandidates, &count, perf) : get(kCandidates, &count, perf),
        measure ? "cudnnFindConvolution*Algorithm" : "cudnnGetConvolution*Algorithm_v7",
        "planning a convolution");
  const Perf *leanest = nullptr;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS)
      continue;
    if (limit < 0 || perf[i].memory <= static_cast<size_t>(limit))
      return perf[i].algo;
    if (!leanest || perf[i].memory < leanest->memory)
      leanest = &perf[i];
  }
  if (!leanest)
    fail(std::string("cuDNN has no ") + pass + " convolution algorithm for a shape");
  return leanest->algo;
}

Window lossPoolWindow(Shape4 h, int64_t k) {
  Window w;
  w.kh = w.sh = k == 0 ? h.h : k;
  w.kw = w.sw = k == 0 ? h.w : k;
  return w;
}

/// cuBLAS's math mode for a precision (bf16 names its compute type per
/// call instead: cublasGemmEx's CUBLAS_COMPUTE_32F_FAST_16BF).
cublasMath_t cublasMath(Precision precision) {
  switch (precision) {
  case Precision::FP32:
    return CUBLAS_PEDANTIC_MATH;
  case Precision::TF32:
    return CUBLAS_TF32_TENSOR_OP_MATH;
  case Precision::BF16:
    break;
  }
  return CUBLAS_DEFAULT_MATH;
}

/// cuDNN's math type for a precision: FP32 forbids tensor cores (TF32
/// included); the default lets float32 convolutions use TF32.
cudnnMathType_t cudnnMath(Precision precision) {
  switch (precision) {
  case Precision::FP32:
    return CUDNN_FMA_MATH;
  case Precision::TF32:
    break;
  case Precision::BF16:
    return CUDNN_TENSOR_OP_MATH;
  }
  return CUDNN_DEFAULT_MATH;
}

class CudaBackend final : public Backend {
public:
  CudaBackend(const ModelKernels &kernels, const CudaOptions &options)
      : k_(kernels), options_(options) {
    LOCUS_CHECK(cudaSetDevice(options.device), "selecting the device");
    LOCUS_CHECK(cudnnCreate(&cudnn_), "starting cuDNN");
    LOCUS_CHECK(cublasCreate(&cublas_), "starting cuBLAS");
    LOCUS_CHECK(cublasSetMathMode(cublas_, cublasMath(options.precision)),
                "choosing cuBLAS's math mode");
    if (bf16())
      need(k_.precision, "float32 <-> bfloat16 kernels (--precision bf16)");
    LOCUS_CHECK(cudaMalloc(reinterpret_cast<void **>(&lossScalar_), 2 * sizeof(double)),
                "allocating the LARS norms");
    // Uploads run on their own stream, which does not wait for the legacy
    // stream the step's work runs on.
    LOCUS_CHECK(cudaStreamCreateWithFlags(&uploads_, cudaStreamNonBlocking),
                "creating the upload stream");
    LOCUS_CHECK(cudaEventCreateWithFlags(&uploaded_, cudaEventDisableTiming),
                "creating the upload event");
    setLaunchStream(nullptr);
  }
  ~CudaBackend() override {
    for (auto &[key, plan] : convPlans_) {
      cudnnDestroyTensorDescriptor(plan.x);
      cudnnDestroyTensorDescriptor(plan.y);
      cudnnDestroyTensorDescriptor(plan.out);
      cudnnDestroyTensorDescriptor(plan.bias);
      cudnnDestroyFilterDescriptor(plan.w);
      cudnnDestroyConvolutionDescriptor(plan.conv);
    }
    cudaFree(lossScalar_);
    cudaEventDestroy(uploaded_);
    cudaStreamDestroy(uploads_);
    cublasDestroy(cublas_);
    cudnnDestroy(cudnn_);
  }

  const char *name() const override { return "cuda"; }
  void setPlace(StepPlace place) override { setStepPlace(place.block, place.layer); }
  std::string describe() override {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, options_.device);
    return "backend cuda: device " + std::to_string(options_.device) + " " + prop.name +
           ", cuDNN " + std::to_string(cudnnGetVersion()) + ", " +
           (bf16() ? "BF16" : options_.precision == Precision::TF32 ? "TF32" : "FP32") +
           (options_.findAlgorithms ? ", algorithms measured" : ", algorithms by heuristics");
  }

  // --- Memory.
  Tensor allocate(Shape4 shape) override {
    const int64_t bytes = std::max<int64_t>(256, (shape.count() * 4 + 255) / 256 * 256);
    void *p = nullptr;
    LOCUS_CHECK(cudaMalloc(&p, static_cast<size_t>(bytes)), "allocating device memory");
    memory_->allocated(bytes);
    std::shared_ptr<MemoryTracker> tracker = memory_;
    return Tensor::adopt(static_cast<float *>(p), shape, [tracker, bytes](float *q) {
      cudaFree(q);
      tracker->released(bytes);
    });
  }
  Tensor zeros(Shape4 shape) override {
    Tensor t = allocate(shape);
    fillZero(t.data(), shape.count());
    return t;
  }
  void copyToDevice(void *dst, const void *src, int64_t bytes) override {
    if (bytes > 0)
      LOCUS_CHECK(cudaMemcpy(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault),
                  "copying to the device");
  }
  void copyToHost(void *dst, const void *src, int64_t bytes) override {
    if (bytes > 0)
      LOCUS_CHECK(cudaMemcpy(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault),
                  "copying to the host");
  }
  void synchronize() override {
    LOCUS_CHECK(cudaDeviceSynchronize(), "waiting for the step's kernels");
  }
  bool uploadsOverlap() const override { return true; }
  std::shared_ptr<void> pinHostMemory(void *p, int64_t bytes) override {
    LOCUS_CHECK(cudaHostRegister(p, static_cast<size_t>(bytes), cudaHostRegisterDefault),
                "pinning the views' host buffers");
    return std::shared_ptr<void>(p, [](void *q) { cudaHostUnregister(q); });
  }
  void uploadAsync(void *dst, const void *src, int64_t bytes) override {
    if (bytes <= 0)
      return;
    LOCUS_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice,
                                uploads_),
                "uploading the next step's views");
    LOCUS_CHECK(cudaEventRecord(uploaded_, uploads_), "uploading the next step's views");
  }
  // A host wait: the step's work is issued after it, so it reads the views.
  void waitForUploads() override {
    LOCUS_CHECK(cudaEventSynchronize(uploaded_), "waiting for the views' upload");
  }
  void fillZero(float *x, int64_t count) override {
    if (count > 0)
      LOCUS_CHECK(cudaMemsetAsync(x, 0, sizeof(float) * static_cast<size_t>(count)),
                  "zeroing a buffer");
  }
  void copy2d(float *dst, int64_t dstStride, const float *src, int64_t srcStride, int64_t rows,
              int64_t cols) override {
    if (rows > 0 && cols > 0)
      LOCUS_CHECK(cudaMemcpy2DAsync(dst, sizeof(float) * dstStride, src, sizeof(float) * srcStride,
                                    sizeof(float) * cols, rows, cudaMemcpyDeviceToDevice),
                  "copying feature columns");
  }

  int64_t reserveConvolutions(const std::vector<ConvolutionShape> &convolutions) override {
    int64_t bytes = 0, staged = 0;
    for (const ConvolutionShape &c : convolutions)
      for (int64_t rows : chunkSizes(c.x, c.outChannels, c.window)) {
        Shape4 chunk = c.x;
        chunk.n = rows;
        const ConvPlan &p = plan(chunk, c.outChannels, c.window);
        bytes = std::max<int64_t>({bytes, static_cast<int64_t>(p.forwardBytes),
                                   static_cast<int64_t>(p.backwardFilterBytes),
                                   c.dataGradient ? static_cast<int64_t>(p.backwardDataBytes) : 0});
        staged = std::max(staged, p.staging.bytes);
      }
    workspace(static_cast<size_t>(bytes));
    if (bf16())
      staging(staged);
    return bytes + (bf16() ? staged : 0);
  }

  // --- Primitives: cuDNN and cuBLAS.
  // Each pass runs on the convolution's row chunks (forChunks): all rows at
  // once but under --precision bf16, where the bfloat16 copies of a chunk
  // fit ConvStaging.h's limit.
  void conv2dForward(const float *x, Shape4 xs, const float *w, int64_t outChannels,
                     const float *b, float biasScale, const Window &win, float *y) override {
    ProfileScope profile("cudnn convolution forward");
    const float one = 1.0f, zero = 0.0f;
    forChunks(xs, outChannels, win, [&](ConvPlan &p, int64_t first) {
      const float *xc = x + first * (p.inputCount / p.rows);
      float *yc = y + first * (p.outputCount / p.rows);
      Operands o{xc, w, yc};
      if (bf16()) {
        char *base = staging(p.staging.bytes);
        o = Operands{toBf16(xc, p.inputCount, base + p.staging.input),
                     toBf16(w, p.weightCount, base + p.staging.weights), base + p.staging.output};
      }
      LOCUS_CHECK(cudnnConvolutionForward(cudnn_, &one, p.x, o.input, p.w, o.weights, p.conv,
                                          p.forward, workspace(p.forwardBytes), p.forwardBytes,
                                          &zero, p.y, const_cast<void *>(o.output)),
                  "running a convolution");
      if (bf16())
        toF32(o.output, p.outputCount, yc);
      if (b)
        LOCUS_CHECK(cudnnAddTensor(cudnn_, &biasScale, p.bias, b, &one, p.out, yc),
                    "adding a convolution's bias");
    });
  }
  void conv2dBackwardWeight(const float *x, Shape4 xs, const float *dy, Shape4 ys,
                            const Window &win, float *dw, float *db, float biasScale) override {
    ProfileScope profile("cudnn convolution weight gradient");
    const float one = 1.0f, zero = 0.0f;
    forChunks(xs, ys.c, win, [&](ConvPlan &p, int64_t first) {
      const float *xc = x + first * (p.inputCount / p.rows);
      const float *dyc = dy + first * (p.outputCount / p.rows);
      Operands o{xc, dw, dyc};
      if (bf16()) {
        char *base = staging(p.staging.bytes);
        o = Operands{toBf16(xc, p.inputCount, base + p.staging.input), base + p.staging.weights,
                     toBf16(dyc, p.outputCount, base + p.staging.output)};
      }
      LOCUS_CHECK(cudnnConvolutionBackwardFilter(
                      cudnn_, &one, p.x, o.input, p.y, o.output, p.conv, p.backwardFilter,
                      workspace(p.backwardFilterBytes), p.backwardFilterBytes, &zero, p.w,
                      const_cast<void *>(o.weights)),
                  "forming a convolution's weight gradient");
      // The chunks' gradients are summed in float32.
      if (bf16() && first == 0)
        toF32(o.weights, p.weightCount, dw);
      else if (bf16())
        addToF32(o.weights, p.weightCount, dw);
      // The bias gradient from the float32 dy: a sum, no tensor core to gain.
      const float *sumSoFar = first == 0 ? &zero : &one;
      if (db)
        LOCUS_CHECK(cudnnConvolutionBackwardBias(cudnn_, &biasScale, p.out, dyc, sumSoFar,
                                                 p.bias, db),
                    "forming a convolution's bias gradient");
    });
  }
  void conv2dBackwardData(const float *dy, Shape4 ys, const float *w, const Window &win,
                          float *dx, Shape4 xs) override {
    ProfileScope profile("cudnn convolution input gradient");
    const float one = 1.0f, zero = 0.0f;
    forChunks(xs, ys.c, win, [&](ConvPlan &p, int64_t first) {
      const float *dyc = dy + first * (p.outputCount / p.rows);
      float *dxc = dx + first * (p.inputCount / p.rows);
      Operands o{dxc, w, dyc};
      if (bf16()) {
        char *base = staging(p.staging.bytes);
        o = Operands{base + p.staging.input, toBf16(w, p.weightCount, base + p.staging.weights),
                     toBf16(dyc, p.outputCount, base + p.staging.output)};
      }
      LOCUS_CHECK(cudnnConvolutionBackwardData(
                      cudnn_, &one, p.w, o.weights, p.y, o.output, p.conv, p.backwardData,
                      workspace(p.backwardDataBytes), p.backwardDataBytes, &zero, p.x,
                      const_cast<void *>(o.input)),
                  "forming a convolution's input gradient");
      if (bf16())
        toF32(o.input, p.inputCount, dxc);
    });
  }
  // The CPU's fused forms: locusc compiles a CUDA model's convolution and
  // relu + max-pool apart (their buffers are the arena's, planned), so a
  // program that calls these was not compiled for this backend.
  void convReluPoolForward(const float *, Shape4, const float *, int64_t, const float *, float,
                           float *, int32_t *) override {
    notACudaProgram("calls the fused conv + relu + max-pool");
  }
  void convReluPoolBackwardWeight(const float *, Shape4, const float *, const float *,
                                  const int32_t *, int64_t, float *, float *, float) override {
    notACudaProgram("calls the fused conv + relu + max-pool");
  }
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
            const float *b, float beta, float *c) override {
    ProfileScope profile("cublas gemm");
    if (m <= 0 || n <= 0)
      return;
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
    if (bf16()) {
      // Float32 operands and result; cuBLAS rounds the operands to bfloat16
      // for the tensor cores and accumulates in float32.
      LOCUS_CHECK(cublasGemmEx(cublas_, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                               transA ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                               static_cast<int>(m), static_cast<int>(k), &alpha, b, CUDA_R_32F,
                               static_cast<int>(transB ? k : n), a, CUDA_R_32F,
                               static_cast<int>(transA ? m : k), &beta, c, CUDA_R_32F,
                               static_cast<int>(n), CUBLAS_COMPUTE_32F_FAST_16BF,
                               CUBLAS_GEMM_DEFAULT),
                  "running a GEMM");
      return;
    }
    LOCUS_CHECK(cublasSgemm(cublas_, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                            transA ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                            static_cast<int>(m), static_cast<int>(k), &alpha, b,
                            static_cast<int>(transB ? k : n), a, static_cast<int>(transA ? m : k),
                            &beta, c, static_cast<int>(n)),
                "running a GEMM");
  }
  // A CUDA model's program forms dB in its arena and applies it (locusc's
  // factor-update=false for --target=cuda): no unplanned dB here.
  void adamwFromFactors(const AdamW &, int64_t, int64_t, int64_t, int64_t, const float *,
                        const float *, float *, const AdamMoments &) override {
    notACudaProgram("updates B from the loss's factors");
  }

  // --- Generated kernels, one launch over the whole tensor.
  void reluForward(const float *x, float *y, int64_t count) override {
    abi::MemRef1F32 in = abi::memref1(const_cast<float *>(x), count), out = abi::memref1(y, count);
    activations().reluForward(&in, &out);
  }
  void reluBackward(const float *y, const float *dy, float *dx, int64_t count) override {
    abi::MemRef1F32 out = abi::memref1(const_cast<float *>(y), count);
    abi::MemRef1F32 g = abi::memref1(const_cast<float *>(dy), count), d = abi::memref1(dx, count);
    activations().reluBackward(&out, &g, &d);
  }
  void triangleForward(const float *x, Shape4 xs, float *y) override {
    abi::MemRef3F32 in = abi::memref3(const_cast<float *>(x), xs.n, xs.c, xs.h * xs.w);
    abi::MemRef3F32 out = abi::memref3(y, xs.n, xs.c, xs.h * xs.w);
    activations().triangleForward(&in, &out);
  }
  void triangleBackward(const float *x, Shape4 xs, const float *dy, float *dx) override {
    abi::MemRef3F32 in = abi::memref3(const_cast<float *>(x), xs.n, xs.c, xs.h * xs.w);
    abi::MemRef3F32 g = abi::memref3(const_cast<float *>(dy), xs.n, xs.c, xs.h * xs.w);
    abi::MemRef3F32 d = abi::memref3(dx, xs.n, xs.c, xs.h * xs.w);
    activations().triangleBackward(&in, &g, &d);
  }
  void maxPool2dForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys,
                        int32_t *argmax) override {
    maxForward(x, xs, win, y, ys, argmax, false);
  }
  void maxPool2dBackward(const float *dy, Shape4 ys, const int32_t *argmax, float *dx,
                         Shape4 xs) override {
    maxBackward(dy, dy, ys, argmax, dx, xs, false);
  }
  void avgPool2dForward(const float *x, Shape4 xs, const Window &win, float *y,
                        Shape4 ys) override {
    abi::MemRef3F32 in = planes(x, xs), out = planes(y, ys);
    pooling().avgForward(&in, &out, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl);
  }
  void avgPool2dBackward(const float *dy, Shape4 ys, const Window &win, float *dx,
                         Shape4 xs) override {
    // Without relu the kernel does not read y: dx stands in for it.
    abi::MemRef3F32 g = planes(dy, ys), o = planes(dx, xs), d = planes(dx, xs);
    pooling().avgBackward(&g, &o, &d, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl, false);
  }
  void reluMaxPool2dForward(const float *a, Shape4 as, const Window &win, float *h, Shape4 hs,
                            int32_t *argmax) override {
    if (const ReluPoolKernel *kernel = staticReluPool(as, win)) {
      MemRef4F32 in = memref4(a, as), out = memref4(h, hs);
      MemRef4I32 at = memref4(argmax, hs);
      kernel->forward(&in, &out, &at);
      return;
    }
    maxForward(a, as, win, h, hs, argmax, true);
  }
  void reluMaxPool2dBackward(const float *dh, const float *h, Shape4 hs, const Window &win,
                             const int32_t *argmax, float *da, Shape4 as) override {
    if (const ReluPoolKernel *kernel = staticReluPool(as, win)) {
      MemRef4F32 g = memref4(dh, hs), out = memref4(h, hs), d = memref4(da, as);
      MemRef4I32 at = memref4(argmax, hs);
      kernel->backward(&g, &out, &at, &d);
      return;
    }
    maxBackward(dh, h, hs, argmax, da, as, true);
  }
  void reluMaxPool2dForwardUnindexed(const float *a, Shape4 as, const Window &win,
                                     float *h) override {
    const ReluPoolKernel &kernel = inPlaceReluPool(as, win);
    Shape4 hs = win.outputShape(as, as.c);
    MemRef4F32 in = memref4(a, as), out = memref4(h, hs);
    kernel.forwardUnindexed(&in, &out);
  }
  void reluMaxPool2dBackwardInPlace(const float *dh, const Window &win, float *aThenDa,
                                    Shape4 as) override {
    const ReluPoolKernel &kernel = inPlaceReluPool(as, win);
    Shape4 hs = win.outputShape(as, as.c);
    MemRef4F32 g = memref4(dh, hs), map = memref4(aThenDa, as);
    kernel.backwardInPlace(&g, &map);
  }
  void lossPool(const float *h, Shape4 hs, int64_t k, float *z, Shape4 zs) override {
    if (const LossPoolKernel *kernel = staticLossPool(hs, k)) {
      MemRef4F32 in = memref4(h, hs), out = memref4(z, zs);
      kernel->pool(&in, &out);
      return;
    }
    avgPool2dForward(h, hs, lossPoolWindow(hs, k), z, zs);
  }
  void lossUnpool(const float *dz, Shape4 zs, int64_t k, float *dh, Shape4 hs) override {
    if (const LossPoolKernel *kernel = staticLossPool(hs, k)) {
      MemRef4F32 in = memref4(dz, zs), out = memref4(dh, hs);
      kernel->unpool(&in, &out);
      return;
    }
    avgPool2dBackward(dz, zs, lossPoolWindow(hs, k), dh, hs);
  }

  void adamwStep(const AdamW &adam, int64_t t, int64_t count, float *param, const float *grad,
                 const AdamMoments &moments) override {
    if (count <= 0)
      return;
    const cpu::UpdateKernels &u = need(k_.update, "update kernels");
    // The step's scalars as PyTorch computes them (AdamMath.h), one launch.
    const cpu::AdamCoefficients k = moments.bf16() ? cpu::adamCoefficients(adam, t, moments)
                                                   : cpu::adamCoefficients(adam, t);
    const float decay = k.doDecay ? k.decay : 1.0f;
    cpu::MemRefF32 g{const_cast<float *>(grad), const_cast<float *>(grad), 0, count, 1};
    cpu::MemRefF32 p{param, param, 0, count, 1};
    if (!moments.bf16()) {
      cpu::MemRefF32 m{moments.m, moments.m, 0, count, 1}, v{moments.v, moments.v, 0, count, 1};
      u.adamw(&g, &p, &m, &v, decay, k.w1, k.b1, k.b2, k.c2, k.negStep, k.bc2Sqrt, k.eps);
      return;
    }
    cpu::MemRefBf16 m{moments.mBf16, moments.mBf16, 0, count, 1};
    cpu::MemRefBf16 v{moments.vBf16, moments.vBf16, 0, count, 1};
    u.adamwBf16(&g, &p, &m, &v, decay, k.w1, k.b1, k.b2, k.c2, k.negStep, k.bc2Sqrt, k.eps,
                k.key, 0);
  }
  void sgdStep(const SgdMomentum &sgd, int64_t count, float *param, const float *grad,
               float *momentum, bool adapt) override {
    if (count <= 0)
      return;
    const cpu::UpdateKernels &u = need(k_.update, "update kernels");
    const double wd = adapt || !sgd.lars ? sgd.weightDecay : 0.0;
    cpu::MemRefF32 g{const_cast<float *>(grad), const_cast<float *>(grad), 0, count, 1};
    cpu::MemRefF32 p{param, param, 0, count, 1}, b{momentum, momentum, 0, count, 1};
    double scale = 1.0;
    if (sgd.lars && adapt) {
      LOCUS_CHECK(cudaMemsetAsync(lossScalar_, 0, 2 * sizeof(double)), "zeroing the LARS norms");
      cpu::MemRefScalarF64 pp{lossScalar_, lossScalar_, 0}, gg{lossScalar_ + 1, lossScalar_ + 1, 0};
      u.larsNorms(&p, &g, &pp, &gg, wd);
      double sums[2] = {0.0, 0.0};
      copyToHost(sums, lossScalar_, sizeof(sums));
      if (sums[0] > 0.0 && sums[1] > 0.0)
        scale = sgd.trust * std::sqrt(sums[0]) / std::sqrt(sums[1]);
    }
    u.sgd(&g, &p, &b, float(wd), float(scale), float(sgd.momentum), float(sgd.lr));
  }

private:
  const abi::ActivationKernels &activations() const {
    return need(k_.activations, "activation kernels");
  }
  const abi::PoolingKernels &pooling() const { return need(k_.pooling, "pooling kernels"); }
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
      fail("the compiled model has no relu + max-pool kernel without an arg-max for a layer "
           "of " + std::to_string(as.c) + " x " + std::to_string(as.h) + " x " +
           std::to_string(as.w) + "; recompile it with this locusc");
    return *kernel;
  }

  void maxForward(const float *x, Shape4 xs, const Window &win, float *y, Shape4 ys,
                  int32_t *argmax, bool relu) {
    abi::MemRef3F32 in = planes(x, xs), out = planes(y, ys);
    abi::MemRef3I32 at = planes(argmax, ys);
    pooling().maxForward(&in, &out, &at, win.kh, win.kw, win.sh, win.sw, win.pt, win.pl, 0, relu);
  }
  void maxBackward(const float *dy, const float *h, Shape4 ys, const int32_t *argmax, float *dx,
                   Shape4 xs, bool relu) {
    abi::MemRef3F32 g = planes(dy, ys), o = planes(h, ys), d = planes(dx, xs);
    abi::MemRef3I32 at = planes(argmax, ys);
    pooling().maxBackward(&g, &o, &at, &d, 0, relu);
  }

  ConvPlan &plan(Shape4 xs, int64_t outChannels, const Window &win) {
    if (win.pt != win.pb || win.pl != win.pr)
      fail("a convolution with asymmetric padding (cuDNN pads both sides alike)");
    auto key = std::make_tuple(xs.n, xs.c, xs.h, xs.w, outChannels, win.kh, win.kw, win.sh,
                               win.sw, win.pt, win.pl);
    auto found = convPlans_.find(key);
    if (found != convPlans_.end())
      return found->second;
    ConvPlan &p = convPlans_[key];
    const char *doing = "planning a convolution";
    LOCUS_CHECK(cudnnCreateTensorDescriptor(&p.x), doing);
    LOCUS_CHECK(cudnnCreateTensorDescriptor(&p.y), doing);
    LOCUS_CHECK(cudnnCreateTensorDescriptor(&p.out), doing);
    LOCUS_CHECK(cudnnCreateTensorDescriptor(&p.bias), doing);
    LOCUS_CHECK(cudnnCreateFilterDescriptor(&p.w), doing);
    LOCUS_CHECK(cudnnCreateConvolutionDescriptor(&p.conv), doing);
    auto i = [](int64_t v) { return static_cast<int>(v); };
    // bfloat16 operands with float32 accumulation (the convolution's compute
    // type): cuDNN's pseudo-bfloat16 configuration.
    const cudnnDataType_t operand = bf16() ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    LOCUS_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, operand, i(xs.n), i(xs.c),
                                           i(xs.h), i(xs.w)),
                doing);
    LOCUS_CHECK(cudnnSetFilter4dDescriptor(p.w, operand, CUDNN_TENSOR_NCHW, i(outChannels),
                                           i(xs.c), i(win.kh), i(win.kw)),
                doing);
    LOCUS_CHECK(cudnnSetConvolution2dDescriptor(p.conv, i(win.pt), i(win.pl), i(win.sh),
                                                i(win.sw), 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT),
                doing);
    LOCUS_CHECK(cudnnSetConvolutionMathType(p.conv, cudnnMath(options_.precision)), doing);
    int n = 0, c = 0, h = 0, w = 0;
    LOCUS_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &c, &h, &w), doing);
    LOCUS_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, operand, n, c, h, w), doing);
    LOCUS_CHECK(cudnnSetTensor4dDescriptor(p.out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w),
                doing);
    p.rows = xs.n;
    p.inputCount = xs.count();
    p.weightCount = outChannels * xs.c * win.kh * win.kw;
    p.outputCount = int64_t{n} * c * h * w;
    p.staging = convStaging(xs.n, xs.c, xs.h, xs.w, outChannels, win.kh, win.kw, win.sh, win.sw,
                            win.pt + win.pb, win.pl + win.pr, options_.stagingLimit);
    if (p.staging.bytes - p.staging.output < 2 * p.outputCount ||
        (bf16() && p.staging.rows != xs.n))
      fail("a convolution's chunk does not fit its bfloat16 copies (ConvStaging.h)");
    LOCUS_CHECK(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                           i(outChannels), 1, 1),
                doing);
    // The first algorithm of each pass that runs (cuDNN sorts them by its
    // heuristics, or with findAlgorithms by their measured time).
    const bool measure = options_.findAlgorithms;
    p.forward = chooseAlgorithm<cudnnConvolutionFwdAlgoPerf_t>(
        measure, options_.workspaceLimit, "forward",
        [&](int count, int *got, auto *perf) {
          return cudnnFindConvolutionForwardAlgorithm(cudnn_, p.x, p.w, p.conv, p.y, count, got,
                                                      perf);
        },
        [&](int count, int *got, auto *perf) {
          return cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, p.x, p.w, p.conv, p.y, count, got,
                                                        perf);
        });
    LOCUS_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, p.x, p.w, p.conv, p.y, p.forward,
                                                        &p.forwardBytes),
                doing);
    p.backwardFilter = chooseAlgorithm<cudnnConvolutionBwdFilterAlgoPerf_t>(
        measure, options_.workspaceLimit, "weight-gradient",
        [&](int count, int *got, auto *perf) {
          return cudnnFindConvolutionBackwardFilterAlgorithm(cudnn_, p.x, p.y, p.conv, p.w, count,
                                                             got, perf);
        },
        [&](int count, int *got, auto *perf) {
          return cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_, p.x, p.y, p.conv, p.w,
                                                               count, got, perf);
        });
    LOCUS_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                    cudnn_, p.x, p.y, p.conv, p.w, p.backwardFilter, &p.backwardFilterBytes),
                doing);
    p.backwardData = chooseAlgorithm<cudnnConvolutionBwdDataAlgoPerf_t>(
        measure, options_.workspaceLimit, "input-gradient",
        [&](int count, int *got, auto *perf) {
          return cudnnFindConvolutionBackwardDataAlgorithm(cudnn_, p.w, p.y, p.conv, p.x, count,
                                                           got, perf);
        },
        [&](int count, int *got, auto *perf) {
          return cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn_, p.w, p.y, p.conv, p.x, count,
                                                             got, perf);
        });
    LOCUS_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn_, p.w, p.y, p.conv, p.x,
                                                             p.backwardData, &p.backwardDataBytes),
                doing);
    return p;
  }
  void *workspace(size_t bytes) {
    void *p = bytes ? workspace_.get(static_cast<int64_t>(bytes)) : nullptr;
    memory_->setExternal(workspace_.bytes() + staging_.bytes());
    return p;
  }
  /// The bfloat16 copies' buffer, at least `bytes` long.
  char *staging(int64_t bytes) {
    char *p = static_cast<char *>(staging_.get(bytes));
    memory_->setExternal(workspace_.bytes() + staging_.bytes());
    return p;
  }

  bool bf16() const { return options_.precision == Precision::BF16; }
  /// What cuDNN reads and writes: the arena's float32 buffers, or their
  /// bfloat16 copies.
  struct Operands {
    const void *input, *weights, *output;
  };
  /// `count` floats to bfloat16 at `bits`; returns `bits`.
  void *toBf16(const float *x, int64_t count, char *bits) {
    abi::MemRef1F32 in = abi::memref1(const_cast<float *>(x), count);
    abi::MemRef1U16 out = abi::memref1(reinterpret_cast<uint16_t *>(bits), count);
    k_.precision->toBf16(&in, &out);
    return bits;
  }
  void toF32(const void *bits, int64_t count, float *y) {
    abi::MemRef1U16 in =
        abi::memref1(static_cast<uint16_t *>(const_cast<void *>(bits)), count);
    abi::MemRef1F32 out = abi::memref1(y, count);
    k_.precision->toF32(&in, &out);
  }
  void addToF32(const void *bits, int64_t count, float *y) {
    abi::MemRef1U16 in =
        abi::memref1(static_cast<uint16_t *>(const_cast<void *>(bits)), count);
    abi::MemRef1F32 out = abi::memref1(y, count);
    k_.precision->addToF32(&in, &out);
  }

  /// The row counts of a convolution's chunks: every row at once, or under
  /// bf16 ConvStaging's rows (and what is left at the end).
  std::vector<int64_t> chunkSizes(Shape4 xs, int64_t outChannels, const Window &win) const {
    const int64_t rows =
        bf16() ? convStaging(xs.n, xs.c, xs.h, xs.w, outChannels, win.kh, win.kw, win.sh, win.sw,
                             win.pt + win.pb, win.pl + win.pr, options_.stagingLimit)
                     .rows
               : xs.n;
    std::vector<int64_t> sizes;
    for (int64_t first = 0; first < xs.n; first += rows)
      sizes.push_back(std::min(rows, xs.n - first));
    return sizes;
  }
  /// pass(plan of the chunk, its first row) for each chunk, in row order.
  template <typename Pass>
  void forChunks(Shape4 xs, int64_t outChannels, const Window &win, Pass pass) {
    int64_t first = 0;
    for (int64_t rows : chunkSizes(xs, outChannels, win)) {
      Shape4 chunk = xs;
      chunk.n = rows;
      pass(plan(chunk, outChannels, win), first);
      first += rows;
    }
  }

  ModelKernels k_;
  CudaOptions options_;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  double *lossScalar_ = nullptr; // two float64 scalars LARS's norms reduce into
  cudaStream_t uploads_ = nullptr; // the views' uploads, beside the step's work
  cudaEvent_t uploaded_ = nullptr; // the last upload's end
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                      int64_t, int64_t, int64_t>,
           ConvPlan>
      convPlans_;
  Scratch workspace_; // cuDNN's, the largest any convolution asked for
  Scratch staging_;   // --precision bf16: the largest convolution's bfloat16 copies
};

} // namespace

const char *precisionName(Precision precision) {
  switch (precision) {
  case Precision::FP32:
    return "fp32";
  case Precision::TF32:
    break;
  case Precision::BF16:
    return "bf16";
  }
  return "tf32";
}

std::unique_ptr<Backend> makeCudaBackend(const ModelKernels &kernels, const CudaOptions &options,
                                         std::string &error) {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    error = "no CUDA device: " + rt::describe(e);
    return nullptr;
  }
  if (options.device < 0 || options.device >= count) {
    error = "no CUDA device " + std::to_string(options.device) + " (this machine has " +
            std::to_string(count) + ")";
    return nullptr;
  }
  return std::make_unique<CudaBackend>(kernels, options);
}

} // namespace locus::rt::cuda
