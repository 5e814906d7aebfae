//===- CudaBackendMaker.cpp - the backend a --target=cuda model runs on ---===//
#include "locus/runtime/train/CudaBackendMaker.h"

#include "locus/runtime/backend/cuda/CudaBackend.h"

namespace locus::rt::train {

BackendMaker cudaBackendMaker() {
  return [](const cpu::ModelKernels &kernels, const Options &options, std::string &error) {
    cuda::CudaOptions cuda;
    cuda.device = options.device < 0 ? 0 : static_cast<int>(options.device);
    cuda.precision = options.precision == "fp32"   ? cuda::Precision::FP32
                     : options.precision == "bf16" ? cuda::Precision::BF16
                                                   : cuda::Precision::TF32;
    std::unique_ptr<Backend> backend = cuda::makeCudaBackend(kernels, cuda, error);
    if (!backend)
      error += "; this binary trains on an NVIDIA GPU (its model was compiled with "
               "--target=cuda): compile it with --target=cpu to train on this machine's CPU";
    return backend;
  };
}

} // namespace locus::rt::train
