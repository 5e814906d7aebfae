#include "locus/runtime/CudaError.h"

#include <fmt/format.h>

namespace locus::rt {

std::string describe(cudaError_t error) {
  return fmt::format("{} ({} = {})", cudaGetErrorString(error), cudaGetErrorName(error),
                     static_cast<int>(error));
}

std::string describe(cublasStatus_t status) {
  return fmt::format("{} ({} = {})", cublasGetStatusString(status), cublasGetStatusName(status),
                     static_cast<int>(status));
}

std::string describe(cudnnStatus_t status) {
  std::string text = fmt::format("{} ({})", cudnnGetErrorString(status), static_cast<int>(status));
  // cuDNN 9 keeps a per-thread explanation of its last failure (and clears it on read); it is
  // usually far more precise than the status name, e.g. which descriptor field was wrong.
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  if (detail[0] != '\0')
    text += fmt::format(": {}", detail);
  return text;
}

Status checkCuda(cudaError_t result, const char *call, const char *file, int line) {
  if (result == cudaSuccess)
    return Status::success();
  // Reading the error resets the runtime's last-error slot, so a later, unrelated
  // cudaGetLastError() does not report this failure a second time.
  (void)cudaGetLastError();
  return Status::error(formatCallFailure(call, file, line, describe(result)));
}

Status checkCublas(cublasStatus_t result, const char *call, const char *file, int line) {
  if (result == CUBLAS_STATUS_SUCCESS)
    return Status::success();
  return Status::error(formatCallFailure(call, file, line, describe(result)));
}

Status checkCudnn(cudnnStatus_t result, const char *call, const char *file, int line) {
  if (result == CUDNN_STATUS_SUCCESS)
    return Status::success();
  return Status::error(formatCallFailure(call, file, line, describe(result)));
}

} // namespace locus::rt
