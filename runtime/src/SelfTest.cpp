#include "locus/runtime/SelfTest.h"

#if !defined(LOCUS_HAVE_CUDA)

namespace locus::rt {

Status cudaSelfTest(int) {
  return Status::error("CUDA self-test: locus was built without the CUDA back end");
}

} // namespace locus::rt

#else

#include "cuda/Kernels.h"
#include "locus/runtime/CudaError.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cuda_runtime.h> // the typed cudaMalloc(T **, size_t) overload
#include <fmt/format.h>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace locus::rt {

namespace {

/// Owns a CUDA, cuBLAS or cuDNN object and releases it with `Destroy` on every return path.
/// Release errors are ignored: there is nothing useful to do with them while unwinding.
template <class T, auto Destroy> class Owned {
public:
  Owned() = default;
  Owned(const Owned &) = delete;
  Owned &operator=(const Owned &) = delete;
  ~Owned() {
    if (value)
      (void)Destroy(value);
  }
  T value{};
};

using DeviceFloats = Owned<float *, cudaFree>;
using Stream = Owned<cudaStream_t, cudaStreamDestroy>;
using CublasHandle = Owned<cublasHandle_t, cublasDestroy>;
using CudnnHandle = Owned<cudnnHandle_t, cudnnDestroy>;
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = Owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

/// Makes `device` current for the lifetime of the guard, then restores the caller's device.
class DeviceGuard {
public:
  ~DeviceGuard() {
    if (previous >= 0)
      (void)cudaSetDevice(previous);
  }
  Status enter(int device) {
    LOCUS_CUDA_CHECK(cudaGetDevice(&previous));
    LOCUS_CUDA_CHECK(cudaSetDevice(device));
    return Status::success();
  }

private:
  int previous = -1;
};

const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> randomFloats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float &v : values)
    v = dist(rng);
  return values;
}

/// Allocates `count` floats on the device, poisoned with NaN so that an element a library call
/// forgets to write can never match the reference.
Status allocatePoisoned(DeviceFloats &buffer, size_t count, cudaStream_t stream) {
  LOCUS_CUDA_CHECK(cudaMalloc(&buffer.value, count * sizeof(float)));
  LOCUS_CUDA_CHECK(cuda::launchFill(buffer.value, count, kNaN, stream));
  return Status::success();
}

Status upload(DeviceFloats &buffer, const std::vector<float> &host, cudaStream_t stream) {
  LOCUS_RETURN_IF_ERROR(allocatePoisoned(buffer, host.size(), stream));
  LOCUS_CUDA_CHECK(cudaMemcpyAsync(buffer.value, host.data(), host.size() * sizeof(float),
                                   cudaMemcpyHostToDevice, stream));
  return Status::success();
}

Status download(std::vector<float> &host, const DeviceFloats &buffer, cudaStream_t stream) {
  LOCUS_CUDA_CHECK(cudaMemcpyAsync(host.data(), buffer.value, host.size() * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream));
  LOCUS_CUDA_CHECK(cudaStreamSynchronize(stream));
  return Status::success();
}

/// Compares `got` with a float64 reference element by element. `tolerance[i]` bounds the error
/// of a correct float32 computation of element i; the comparison is written so NaN never passes.
/// `where(i)` names element i in the message.
Status compare(const char *step, const std::vector<float> &got, const std::vector<double> &want,
               const std::vector<double> &tolerance,
               const std::function<std::string(size_t)> &where) {
  for (size_t i = 0; i < got.size(); ++i) {
    double error = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(error <= tolerance[i]))
      return Status::error(fmt::format(
          "CUDA self-test: {} gives a wrong result: {} = {:.9g}, but the float64 reference is "
          "{:.9g} (error {:.3g} > tolerance {:.3g})",
          step, where(i), got[i], want[i], error, tolerance[i]));
  }
  return Status::success();
}

/// Our own kernel: fill more elements than one grid covers, so the grid-stride loop is exercised.
Status checkFill(cudaStream_t stream) {
  constexpr size_t count = (size_t{1} << 21) + 3;
  constexpr float value = 1.5f;
  DeviceFloats data;
  LOCUS_RETURN_IF_ERROR(allocatePoisoned(data, count, stream));
  LOCUS_CUDA_CHECK(cuda::launchFill(data.value, count, value, stream));
  std::vector<float> host(count);
  LOCUS_RETURN_IF_ERROR(download(host, data, stream));
  for (size_t i = 0; i < count; ++i)
    if (host[i] != value)
      return Status::error(fmt::format(
          "CUDA self-test: fill kernel gives a wrong result: element {} of {} is {:.9g}, not {}", i,
          count, host[i], value));
  return Status::success();
}

/// C = A * B in column-major storage, as cuBLAS sees it. The shape is not square so that a
/// transposed operand or a wrong leading dimension cannot go unnoticed.
Status checkSgemm(cublasHandle_t cublas, cudaStream_t stream) {
  constexpr int m = 64, n = 40, k = 72;
  std::vector<float> a = randomFloats(size_t{m} * k, 1), b = randomFloats(size_t{k} * n, 2);
  std::vector<double> want(size_t{m} * n), tolerance(size_t{m} * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = 0, sumAbs = 0;
      for (int p = 0; p < k; ++p) {
        double term = double(a[i + size_t{m} * p]) * double(b[p + size_t{k} * j]);
        sum += term;
        sumAbs += std::fabs(term);
      }
      want[i + size_t{m} * j] = sum;
      // Float32 summation of k terms errs by at most about k * eps/2 * sum|terms|; allow 4x.
      tolerance[i + size_t{m} * j] = 2.0 * k * FLT_EPSILON * sumAbs;
    }

  DeviceFloats da, db, dc;
  LOCUS_RETURN_IF_ERROR(upload(da, a, stream));
  LOCUS_RETURN_IF_ERROR(upload(db, b, stream));
  LOCUS_RETURN_IF_ERROR(allocatePoisoned(dc, size_t{m} * n, stream));
  const float alpha = 1.0f, beta = 0.0f;
  LOCUS_CUBLAS_CHECK(cublasSgemm(cublas, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da.value, m,
                                 db.value, k, &beta, dc.value, m));
  std::vector<float> got(size_t{m} * n);
  LOCUS_RETURN_IF_ERROR(download(got, dc, stream));
  return compare("cuBLAS SGEMM (64x72 times 72x40)", got, want, tolerance, [](size_t index) {
    return fmt::format("C[row {}, column {}]", index % m, index / m);
  });
}

/// A 3x3 "same" cross-correlation (deep-learning convolution) in NCHW with an odd, non-square
/// image, on the implicit-GEMM algorithm in strict float32 arithmetic.
Status checkConvolution(cudnnHandle_t cudnn, cudaStream_t stream) {
  constexpr int batch = 2, inChannels = 3, height = 9, width = 7;
  constexpr int outChannels = 4, kernelH = 3, kernelW = 3, pad = 1;
  std::vector<float> x = randomFloats(size_t{batch} * inChannels * height * width, 3);
  std::vector<float> w = randomFloats(size_t{outChannels} * inChannels * kernelH * kernelW, 4);

  const size_t outCount = size_t{batch} * outChannels * height * width;
  std::vector<double> want(outCount), tolerance(outCount);
  for (int nb = 0; nb < batch; ++nb)
    for (int ko = 0; ko < outChannels; ++ko)
      for (int oy = 0; oy < height; ++oy)
        for (int ox = 0; ox < width; ++ox) {
          double sum = 0, sumAbs = 0;
          for (int c = 0; c < inChannels; ++c)
            for (int r = 0; r < kernelH; ++r)
              for (int s = 0; s < kernelW; ++s) {
                int iy = oy + r - pad, ix = ox + s - pad;
                if (iy < 0 || iy >= height || ix < 0 || ix >= width)
                  continue;
                double term = double(x[((nb * inChannels + c) * height + iy) * width + ix]) *
                              double(w[((ko * inChannels + c) * kernelH + r) * kernelW + s]);
                sum += term;
                sumAbs += std::fabs(term);
              }
          int o = ((nb * outChannels + ko) * height + oy) * width + ox;
          want[o] = sum;
          tolerance[o] = 2.0 * inChannels * kernelH * kernelW * FLT_EPSILON * sumAbs;
        }

  TensorDesc xDesc, yDesc;
  FilterDesc wDesc;
  ConvDesc convDesc;
  LOCUS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xDesc.value));
  LOCUS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yDesc.value));
  LOCUS_CUDNN_CHECK(cudnnCreateFilterDescriptor(&wDesc.value));
  LOCUS_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&convDesc.value));
  LOCUS_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xDesc.value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                               batch, inChannels, height, width));
  LOCUS_CUDNN_CHECK(cudnnSetFilter4dDescriptor(wDesc.value, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                               outChannels, inChannels, kernelH, kernelW));
  LOCUS_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(convDesc.value, pad, pad, 1, 1, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // The default math type lets cuDNN use TF32 tensor cores on sm_80+, which would fail a
  // float32 tolerance; the self-test checks float32 arithmetic.
  LOCUS_CUDNN_CHECK(cudnnSetConvolutionMathType(convDesc.value, CUDNN_FMA_MATH));

  int dims[4] = {};
  LOCUS_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(convDesc.value, xDesc.value, wDesc.value,
                                                          &dims[0], &dims[1], &dims[2], &dims[3]));
  if (dims[0] != batch || dims[1] != outChannels || dims[2] != height || dims[3] != width)
    return Status::error(fmt::format(
        "CUDA self-test: cuDNN reports convolution output shape {}x{}x{}x{}, expected {}x{}x{}x{}",
        dims[0], dims[1], dims[2], dims[3], batch, outChannels, height, width));
  LOCUS_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yDesc.value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                               batch, outChannels, height, width));

  const cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspaceBytes = 0;
  LOCUS_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
      cudnn, xDesc.value, wDesc.value, convDesc.value, yDesc.value, algo, &workspaceBytes));

  DeviceFloats dx, dw, dy, workspace;
  LOCUS_RETURN_IF_ERROR(upload(dx, x, stream));
  LOCUS_RETURN_IF_ERROR(upload(dw, w, stream));
  LOCUS_RETURN_IF_ERROR(allocatePoisoned(dy, outCount, stream));
  if (workspaceBytes > 0)
    LOCUS_CUDA_CHECK(cudaMalloc(&workspace.value, workspaceBytes));
  const float alpha = 1.0f, beta = 0.0f;
  LOCUS_CUDNN_CHECK(cudnnConvolutionForward(cudnn, &alpha, xDesc.value, dx.value, wDesc.value,
                                            dw.value, convDesc.value, algo, workspace.value,
                                            workspaceBytes, &beta, yDesc.value, dy.value));
  std::vector<float> got(outCount);
  LOCUS_RETURN_IF_ERROR(download(got, dy, stream));
  return compare("cuDNN convolution forward (2x3x9x7 input, 4x3x3x3 filter, pad 1)", got, want,
                 tolerance, [](size_t index) {
                   return fmt::format("y[n {}, k {}, y {}, x {}]",
                                      index / (outChannels * height * width),
                                      index / (height * width) % outChannels,
                                      index / width % height, index % width);
                 });
}

} // namespace

Status cudaSelfTest(int device) {
  int count = 0;
  LOCUS_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    return Status::error(fmt::format("CUDA self-test: there is no CUDA device {} ({} present)",
                                     device, count));

  DeviceGuard guard;
  LOCUS_RETURN_IF_ERROR(guard.enter(device));

  // Declared before the buffers the checks allocate, so it is destroyed after them.
  Stream stream;
  LOCUS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream.value, cudaStreamNonBlocking));
  CublasHandle cublas;
  LOCUS_CUBLAS_CHECK(cublasCreate(&cublas.value));
  LOCUS_CUBLAS_CHECK(cublasSetStream(cublas.value, stream.value));
  CudnnHandle cudnn;
  LOCUS_CUDNN_CHECK(cudnnCreate(&cudnn.value));
  LOCUS_CUDNN_CHECK(cudnnSetStream(cudnn.value, stream.value));

  LOCUS_RETURN_IF_ERROR(checkFill(stream.value));
  LOCUS_RETURN_IF_ERROR(checkSgemm(cublas.value, stream.value));
  LOCUS_RETURN_IF_ERROR(checkConvolution(cudnn.value, stream.value));
  return Status::success();
}

} // namespace locus::rt

#endif // LOCUS_HAVE_CUDA
