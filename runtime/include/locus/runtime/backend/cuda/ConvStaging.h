//===- ConvStaging.h - the bfloat16 copies a convolution runs on -*- C++ -*-===//
//
// Under --precision bf16 the CUDA backend converts a convolution's float32
// operands to bfloat16, runs cuDNN on the copies and widens the result
// (CudaBackend.cpp). The copies live in one device buffer, laid out here for
// both the backend, which allocates it, and the compiler's memory report
// (PlanMemory.cpp), so the two cannot disagree. One pass of a convolution
// uses at most an input-sized, a weight-sized and an output-sized copy
// (forward: x, w, y; weight gradient: x, dy, dw; data gradient: dy, w, dx).
// Copies of a whole batch would be large (VGG-6's second convolution at
// STL-10's 96 x 96, 64 rows: 433 MiB), so a convolution whose copies exceed
// kStagingLimit runs on chunks of rows, halving the rows until they fit (one
// row at least): its weight gradient is then summed over the chunks in
// float32. No CUDA header: the compiler includes it.
//
//===----------------------------------------------------------------------===//
#ifndef LOCUS_RUNTIME_BACKEND_CUDA_CONVSTAGING_H
#define LOCUS_RUNTIME_BACKEND_CUDA_CONVSTAGING_H

#include <cstdint>

namespace locus::rt::cuda {

/// The most bytes a convolution's bfloat16 copies may take (but one row's).
constexpr int64_t kStagingLimit = int64_t{64} << 20;

/// How a convolution runs under --precision bf16: `rows` at a time, with
/// the copies at these byte offsets of a buffer of `bytes`.
struct ConvStaging {
  int64_t rows = 0;
  int64_t input = 0, weights = 0, output = 0, bytes = 0;
};

/// A convolution of an [n, c, h, w] input with `outChannels` filters of kh x
/// kw, strides sh x sw and padding (top + bottom, left + right); each copy
/// starts on a 256-byte boundary (cudaMalloc's alignment, which cuDNN's
/// vectorised kernels want).
/// `limit` other than kStagingLimit is for tests (the compiler's plan
/// assumes kStagingLimit).
inline ConvStaging convStaging(int64_t n, int64_t c, int64_t h, int64_t w, int64_t outChannels,
                               int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t padH,
                               int64_t padW, int64_t limit = kStagingLimit) {
  auto copy = [](int64_t elements) { return (2 * elements + 255) / 256 * 256; };
  const int64_t oh = (h + padH - kh) / sh + 1, ow = (w + padW - kw) / sw + 1;
  auto layout = [&](int64_t rows) {
    ConvStaging s;
    s.rows = rows;
    s.weights = copy(rows * c * h * w);
    s.output = s.weights + copy(outChannels * c * kh * kw);
    s.bytes = s.output + copy(rows * outChannels * oh * ow);
    return s;
  };
  ConvStaging s = layout(n);
  while (s.rows > 1 && s.bytes > limit)
    s = layout((s.rows + 1) / 2);
  return s;
}

} // namespace locus::rt::cuda

#endif
