//===- CudaBackend.h - the Backend of a GPU ---------------------*- C++ -*-===//
//
// The step program's calls on one NVIDIA GPU: buffers in device memory,
// convolutions through cuDNN, GEMMs through cuBLAS, and the kernels locusc
// generated for --target=cuda (their host entry points launch PTX through
// KernelLaunch.h). The generated kernels come in the same tables as the CPU's
// (the model record's), so this backend takes the same ModelKernels.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CUDA_CUDABACKEND_H
#define LOCUS_RUNTIME_BACKEND_CUDA_CUDABACKEND_H

#include "locus/runtime/backend/Backend.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"

#include <memory>
#include <string>

namespace locus::rt::cuda {

struct CudaOptions {
  int device = 0;
  /// TF32 tensor cores in FP32 convolutions and GEMMs (PyTorch's default for
  /// convolutions); off: full FP32, for exact comparisons with the CPU.
  bool tf32 = true;
  /// Choose each convolution's algorithms by running them once (cuDNN's
  /// Find, as torch.backends.cudnn.benchmark) instead of by cuDNN's
  /// heuristics.
  bool findAlgorithms = false;
  /// The most workspace bytes a convolution's algorithm may ask for (-1: no
  /// limit): the fastest algorithm within it is taken, or, where none is,
  /// the one needing least. The largest workspace is part of the peak.
  int64_t workspaceLimit = -1;
};

/// The backend on device options.device, or null with `error` saying why
/// (no driver, no such device).
std::unique_ptr<Backend> makeCudaBackend(const cpu::ModelKernels &kernels,
                                         const CudaOptions &options, std::string &error);

} // namespace locus::rt::cuda

#endif
