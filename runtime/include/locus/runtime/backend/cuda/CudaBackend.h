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
#include "locus/runtime/backend/cuda/ConvStaging.h"
#include "locus/runtime/backend/cpu/ModelKernels.h"

#include <memory>
#include <string>

namespace locus::rt::cuda {

/// The arithmetic of the convolutions and GEMMs; every buffer of the step,
/// the master weights, the optimizer and the losses stay float32 in all three.
enum class Precision {
  FP32, ///< full float32: for exact comparisons with the CPU
  TF32, ///< TF32 tensor cores on float32 operands (PyTorch's default for convolutions)
  BF16, ///< bfloat16 tensor cores, float32 accumulation (PyTorch's bf16 autocast): the
        ///< convolutions run on bfloat16 copies of their operands (ConvStaging.h), the
        ///< GEMMs let cuBLAS round their float32 operands to bfloat16
};

/// "fp32", "tf32" or "bf16".
const char *precisionName(Precision precision);

struct CudaOptions {
  int device = 0;
  Precision precision = Precision::TF32;
  /// Choose each convolution's algorithms by running them once (cuDNN's
  /// Find, as torch.backends.cudnn.benchmark) instead of by cuDNN's
  /// heuristics.
  bool findAlgorithms = false;
  /// The most workspace bytes a convolution's algorithm may ask for (-1: no
  /// limit): the fastest algorithm within it is taken, or, where none is,
  /// the one needing least. The largest workspace is part of the peak.
  int64_t workspaceLimit = -1;
  /// Precision::BF16: the most bytes of a convolution's bfloat16 copies
  /// (ConvStaging.h); a smaller one only for tests of the row chunks (the
  /// compiler's memory plan assumes the default).
  int64_t stagingLimit = kStagingLimit;
};

/// The backend on device options.device, or null with `error` saying why
/// (no driver, no such device).
std::unique_ptr<Backend> makeCudaBackend(const cpu::ModelKernels &kernels,
                                         const CudaOptions &options, std::string &error);

} // namespace locus::rt::cuda

#endif
