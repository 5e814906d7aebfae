// Turning CUDA runtime, cuBLAS and cuDNN status codes into Status values.
//
// Only available when the CUDA back end is built (LOCUS_HAVE_CUDA). Each library has its own
// status enum, so each gets its own describe() overload and check macro; passing the wrong
// library's status to a macro is a compile error rather than a garbled message.
#ifndef LOCUS_RUNTIME_CUDAERROR_H
#define LOCUS_RUNTIME_CUDAERROR_H

#if !defined(LOCUS_HAVE_CUDA)
#error "locus/runtime/CudaError.h needs the CUDA back end (LOCUS_HAVE_CUDA)"
#endif

#include "locus/runtime/Error.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

namespace locus::rt {

/// "<description> (<name> = <code>)", e.g.
/// "out of memory (cudaErrorMemoryAllocation = 2)".
std::string describe(cudaError_t error);
/// e.g. "the resource allocation failed (CUBLAS_STATUS_ALLOC_FAILED = 3)".
std::string describe(cublasStatus_t status);
/// e.g. "CUDNN_STATUS_BAD_PARAM (2000)"; cuDNN only gives the status's name.
std::string describe(cudnnStatus_t status);

/// Ok when `result` is the library's success code, otherwise an error whose message is
/// formatCallFailure(call, file, line, describe(result)).
Status checkCuda(cudaError_t result, const char *call, const char *file, int line);
Status checkCublas(cublasStatus_t result, const char *call, const char *file, int line);
Status checkCudnn(cudnnStatus_t result, const char *call, const char *file, int line);

} // namespace locus::rt

/// Evaluate a CUDA runtime call; on failure return a Status naming the call, file and line.
#define LOCUS_CUDA_CHECK(expr)                                                                     \
  LOCUS_RETURN_IF_ERROR(::locus::rt::checkCuda((expr), #expr, __FILE__, __LINE__))
/// The same for a cuBLAS call.
#define LOCUS_CUBLAS_CHECK(expr)                                                                   \
  LOCUS_RETURN_IF_ERROR(::locus::rt::checkCublas((expr), #expr, __FILE__, __LINE__))
/// The same for a cuDNN call.
#define LOCUS_CUDNN_CHECK(expr)                                                                    \
  LOCUS_RETURN_IF_ERROR(::locus::rt::checkCudnn((expr), #expr, __FILE__, __LINE__))

#endif // LOCUS_RUNTIME_CUDAERROR_H
