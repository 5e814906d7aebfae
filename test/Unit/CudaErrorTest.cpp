// CUDA, cuBLAS and cuDNN status codes turned into messages. These need the CUDA libraries but
// no driver or GPU, so they run on every machine of a CUDA build.
#if defined(LOCUS_HAVE_CUDA)

#include "locus/runtime/CudaError.h"

#include <gtest/gtest.h>

using locus::rt::Status;

namespace {

TEST(CudaError, DescribesRuntimeErrors) {
  EXPECT_EQ(locus::rt::describe(cudaErrorMemoryAllocation),
            "out of memory (cudaErrorMemoryAllocation = 2)");
  EXPECT_EQ(locus::rt::describe(cudaErrorInsufficientDriver),
            "CUDA driver version is insufficient for CUDA runtime version "
            "(cudaErrorInsufficientDriver = 35)");
}

TEST(CudaError, DescribesCublasStatus) {
  EXPECT_EQ(locus::rt::describe(CUBLAS_STATUS_ALLOC_FAILED),
            "the resource allocation failed (CUBLAS_STATUS_ALLOC_FAILED = 3)");
}

TEST(CudaError, DescribesCudnnStatus) {
  EXPECT_EQ(locus::rt::describe(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM (2000)");
}

// Each helper fails on a known line so the whole message can be checked exactly.
Status failingCudaCall(int &line) {
  line = __LINE__ + 1;
  LOCUS_CUDA_CHECK(cudaErrorMemoryAllocation);
  return Status::success();
}

Status failingCublasCall(int &line) {
  line = __LINE__ + 1;
  LOCUS_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED);
  return Status::success();
}

Status failingCudnnCall(int &line) {
  line = __LINE__ + 1;
  LOCUS_CUDNN_CHECK(CUDNN_STATUS_NOT_SUPPORTED);
  return Status::success();
}

TEST(CudaCheck, NamesCallFileLineAndError) {
  int line = 0;
  Status status = failingCudaCall(line);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "cudaErrorMemoryAllocation failed at CudaErrorTest.cpp:" +
                                  std::to_string(line) +
                                  ": out of memory (cudaErrorMemoryAllocation = 2)");
}

TEST(CudaCheck, CublasMessage) {
  int line = 0;
  Status status = failingCublasCall(line);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "CUBLAS_STATUS_NOT_INITIALIZED failed at CudaErrorTest.cpp:" +
                                  std::to_string(line) +
                                  ": the library was not initialized "
                                  "(CUBLAS_STATUS_NOT_INITIALIZED = 1)");
}

TEST(CudaCheck, CudnnMessage) {
  int line = 0;
  Status status = failingCudnnCall(line);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "CUDNN_STATUS_NOT_SUPPORTED failed at CudaErrorTest.cpp:" +
                                  std::to_string(line) + ": CUDNN_STATUS_NOT_SUPPORTED (3000)");
}

TEST(CudaCheck, SuccessIsOk) {
  EXPECT_TRUE(locus::rt::checkCuda(cudaSuccess, "f()", "x.cpp", 1).isOk());
  EXPECT_TRUE(locus::rt::checkCublas(CUBLAS_STATUS_SUCCESS, "f()", "x.cpp", 1).isOk());
  EXPECT_TRUE(locus::rt::checkCudnn(CUDNN_STATUS_SUCCESS, "f()", "x.cpp", 1).isOk());
}

// A real failing call, through the macro, shows the call's source text.
Status realCudnnFailure() {
  LOCUS_CUDNN_CHECK(cudnnCreateTensorDescriptor(nullptr));
  return Status::success();
}

TEST(CudaCheck, RealCudnnFailureNamesTheCall) {
  Status status = realCudnnFailure();
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind("cudnnCreateTensorDescriptor(nullptr) failed at "
                                   "CudaErrorTest.cpp:",
                                   0),
            0u)
      << status.message();
  EXPECT_NE(status.message().find("CUDNN_STATUS_BAD_PARAM"), std::string::npos)
      << status.message();
}

} // namespace

#endif // LOCUS_HAVE_CUDA
