//===- ConvStaging.h - the bfloat16 copies a convolution runs on -*- C++ -*-===//
//
// Under --precision bf16 the CUDA backend converts a convolution's float32
// operands to bfloat16, runs cuDNN on the copies and widens the result
// (CudaBackend.cpp). The copies live in one device buffer, laid out here for
// both the backend, which allocates it, and the compiler's memory report
// (PlanMemory.cpp), so the two cannot disagree. One pass of a convolution
// uses at most an input-sized, a weight-sized and an output-sized copy
// (forward: x, w, y; weight gradient: x, dy, dw; data gradient: dy, w, dx).
// No CUDA header: the compiler includes it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CUDA_CONVSTAGING_H
#define LOCUS_RUNTIME_BACKEND_CUDA_CONVSTAGING_H

#include <cstdint>

namespace locus::rt::cuda {

/// Byte offsets of the three copies in the staging buffer and its size.
struct ConvStaging {
  int64_t input = 0, weights = 0, output = 0, bytes = 0;
};

/// A convolution of an [n, c, h, w] input with `outChannels` filters of kh x
/// kw, strides sh x sw and padding (top + bottom, left + right); each copy
/// starts on a 256-byte boundary (cudaMalloc's alignment, which cuDNN's
/// vectorised kernels want).
inline ConvStaging convStaging(int64_t n, int64_t c, int64_t h, int64_t w, int64_t outChannels,
                               int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t padH,
                               int64_t padW) {
  auto copy = [](int64_t elements) { return (2 * elements + 255) / 256 * 256; };
  const int64_t oh = (h + padH - kh) / sh + 1, ow = (w + padW - kw) / sw + 1;
  ConvStaging s;
  s.weights = copy(n * c * h * w);
  s.output = s.weights + copy(outChannels * c * kh * kw);
  s.bytes = s.output + copy(n * outChannels * oh * ow);
  return s;
}

} // namespace locus::rt::cuda

#endif
