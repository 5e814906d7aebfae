// Launchers for the runtime's own CUDA kernels, callable from host C++ files.
//
// Kernels live in .cu files compiled by nvcc; everything else in the runtime is plain C++ built by
// the host compiler, so these declarations use only CUDA runtime API types.
#ifndef LOCUS_RUNTIME_CUDA_KERNELS_H
#define LOCUS_RUNTIME_CUDA_KERNELS_H

#include <cstddef>
#include <cuda_runtime_api.h>

namespace locus::rt::cuda {

/// Sets `count` floats at `data` (device memory) to `value`, asynchronously on `stream`.
/// Returns the launch error, if any.
cudaError_t launchFill(float *data, size_t count, float value, cudaStream_t stream);

} // namespace locus::rt::cuda

#endif // LOCUS_RUNTIME_CUDA_KERNELS_H
