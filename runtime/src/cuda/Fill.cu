// The fill kernel: the simplest device code we own. It proves that nvcc builds sm_90 code into
// the runtime, and the self-test uses it to poison output buffers with NaN before library calls.
#include "cuda/Kernels.h"

#include <algorithm>

namespace locus::rt::cuda {

namespace {

__global__ void fillKernel(float *data, size_t count, float value) {
  // Grid-stride loop: any grid size covers any count.
  size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride)
    data[i] = value;
}

} // namespace

cudaError_t launchFill(float *data, size_t count, float value, cudaStream_t stream) {
  if (count == 0)
    return cudaSuccess;
  constexpr unsigned threads = 256;
  // Enough blocks to fill an H100/H200 several times over; the loop handles the rest.
  constexpr size_t maxBlocks = 4096;
  unsigned blocks = static_cast<unsigned>(std::min(maxBlocks, (count + threads - 1) / threads));
  fillKernel<<<blocks, threads, 0, stream>>>(data, count, value);
  return cudaGetLastError();
}

} // namespace locus::rt::cuda
